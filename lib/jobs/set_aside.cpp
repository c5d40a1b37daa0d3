#include "jobs/set_aside.hpp"

#include "jobs/journal.hpp"
#include "util/failpoint.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace buildme::jobs {

namespace fs = std::filesystem;

namespace {

// The journal's own word for a set-aside: intake's rejects wrote it first.
constexpr std::string_view action = "reject";
// Journals without Journal-Format are those of older runs: they carry the
// header inside Reason, and no End line.
constexpr std::string_view format = "2";

enum class Replay
{
  no,
  yes
};

// Is `path` the file this move is about? Unknown inodes trust the name.
bool same_file(const fs::path& path, unsigned long inode)
{
  auto info = util::stat_no_follow(path);
  return info && *info && (inode == 0 || (*info)->inode == inode);
}

std::string numbered(std::string_view name, unsigned n)
{
  return n == 0 ? std::string(name) : fmt::format("{}.{}", name, n);
}

// The first of NAME, NAME.1, ... that is free in `dir` together with its
// .reason: a .reason left without its file is never taken for ours.
std::string free_target(const fs::path& dir, std::string_view name)
{
  for (unsigned n = 0;; ++n) {
    const std::string candidate = numbered(name, n);
    if (!util::present(dir / candidate) && !util::present(dir / (candidate + ".reason"))) {
      return candidate;
    }
  }
}

debian::FieldList journal_fields(const SetAside& move)
{
  std::vector<std::string> inodes;
  for (auto inode : move.inodes) {
    inodes.push_back(std::to_string(inode));
  }
  std::vector<std::string> header;
  for (const auto& [name, value] : move.header) {
    header.push_back(fmt::format("{}: {}", name, value));
  }
  return {
    {"Action", std::string(action)},
    {"Journal-Format", std::string(format)},
    {"From", move.from_dir.string()},
    {"Rejected-Dir", move.rejected_dir.string()},
    {"Control", move.control},
    {"Control-Inode", move.control_inode ? std::to_string(move.control_inode) : ""},
    {"Control-Target", move.control_target},
    {"Files", debian::list_value(move.files)},
    {"Inodes", util::join(inodes, " ")},
    {"Header", debian::list_value(header)},
    {"Reason", "\n" + move.reason},
    // Last: a journal cut short (by hand, or a disk's fault) lacks it.
    {"End", "yes"},
  };
}

// A name the journal may move: a plain name in its folder, never a path.
bool plain_name(std::string_view name)
{
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos;
}

Result<unsigned long> inode_value(std::string_view word)
{
  auto number = util::parse_count(word);
  if (!number) {
    return fail("'{}' is not an inode number", util::printable(word));
  }
  return static_cast<unsigned long>(*number);
}

// What a journal says, checked: an Error says what is wrong with it.
Result<SetAside> read_move(const debian::Paragraph& record)
{
  auto field = [&](std::string_view name) { return record.get(name).value_or(""); };
  const std::string written_as = field("Journal-Format");
  if (!written_as.empty() && written_as != format) {
    return fail("it was written by a newer buildme (Journal-Format {})",
                util::printable(written_as));
  }
  if (!written_as.empty() && field("End") != "yes") {
    return fail("it is cut short (it lacks its last line, End: yes)");
  }
  SetAside move;
  move.from_dir = field("From");
  move.rejected_dir = field("Rejected-Dir");
  move.control = field("Control");
  move.control_target = field("Control-Target");
  move.files = util::split_words(field("Files"));
  if (move.from_dir.empty() || move.rejected_dir.empty() || move.control.empty()) {
    return fail("it lacks From, Rejected-Dir or Control");
  }
  std::vector<std::string> names = move.files;
  names.push_back(move.control);
  if (!move.control_target.empty()) {
    names.push_back(move.control_target);
  }
  for (const auto& name : names) {
    if (!plain_name(name)) {
      return fail("'{}' is not a plain file name", util::printable(name));
    }
  }
  for (const auto& word : util::split_words(field("Inodes"))) {
    TRY_ASSIGN(const unsigned long inode, inode_value(word));
    move.inodes.push_back(inode);
  }
  if (!move.inodes.empty() && move.inodes.size() != move.files.size()) {
    return fail("it lists {} Files but {} Inodes", move.files.size(), move.inodes.size());
  }
  if (const std::string inode = field("Control-Inode"); !inode.empty()) {
    TRY_ASSIGN(move.control_inode, inode_value(inode));
  }
  const std::string header = field("Header");
  for (const auto& line : util::split(header, "\n")) {
    const std::string_view text = util::trim(line);
    const auto colon = text.find(':');
    if (text.empty()) {
      continue;
    }
    if (colon == std::string_view::npos || colon == 0) {
      return fail("its Header line '{}' is not 'Field: value'", util::printable(text));
    }
    move.header.emplace_back(std::string(text.substr(0, colon)),
                             std::string(util::trim(text.substr(colon + 1))));
  }
  move.reason = debian::unescape_value(field("Reason"));
  while (!move.reason.empty() && move.reason.front() == '\n') {
    move.reason.erase(0, 1);
  }
  return move;
}

// Where a file that the interrupted run had already moved ended up: the
// numbered name in rejected/ with its inode, when the journal knows it.
MovedName earlier_move(const SetAside& move, const std::string& name)
{
  const auto at = std::find(move.files.begin(), move.files.end(), name);
  const std::size_t index = static_cast<std::size_t>(at - move.files.begin());
  const unsigned long inode = index < move.inodes.size() ? move.inodes[index] : 0;
  for (unsigned n = 0; n < 100000; ++n) {
    const std::string candidate = numbered(name, n);
    auto info = util::stat_no_follow(move.rejected_dir / candidate);
    if (!info || !*info) {
      break;
    }
    if (inode == 0 || (*info)->inode == inode) {
      return {name, candidate, (*info)->type == util::FileInfo::Type::directory};
    }
  }
  return {name, "", false};
}

// Has the control moved to its journalled name already? The name is
// trusted unless the journal knows the control's inode, the control is
// still where it was, and another file stands at the name.
Result<bool> control_moved_before(const SetAside& move)
{
  if (move.control_target.empty()) {
    return false;
  }
  TRY_ASSIGN(const auto there, util::stat_no_follow(move.rejected_dir / move.control_target));
  if (!there) {
    return false;
  }
  if (move.control_inode == 0 || there->inode == move.control_inode) {
    return true;
  }
  return !same_file(move.from_dir / move.control, move.control_inode);
}

Result<SetAsideOutcome> perform(SetAside move, const fs::path& journal, Replay replay)
{
  SetAsideOutcome outcome;
  TRY(util::make_dirs(move.rejected_dir, 0755));
  std::vector<MovedName> earlier; // moved by the run that was interrupted
  for (std::size_t i = 0; i < move.files.size(); ++i) {
    const std::string& name = move.files[i];
    const fs::path from = move.from_dir / name;
    if (!same_file(from, i < move.inodes.size() ? move.inodes[i] : 0)) {
      earlier.push_back(earlier_move(move, name)); // (a new file of that name stays)
      continue;
    }
    TRY_ASSIGN(const fs::path to, util::move_no_clobber(from, move.rejected_dir / name));
    outcome.moved.emplace_back(name, to.filename().string());
    util::failpoint("set-aside:file-moved");
  }

  // The control goes last, to a name chosen and journalled first, so a
  // replay knows where to put the .reason even when the move already happened.
  const fs::path control_from = move.from_dir / move.control;
  bool moved_before = false;
  if (replay == Replay::yes) {
    TRY_ASSIGN(moved_before, control_moved_before(move));
  }
  while (!moved_before && same_file(control_from, move.control_inode)) {
    if (move.control_target.empty() || util::present(move.rejected_dir / move.control_target) ||
        util::present(move.rejected_dir / (move.control_target + ".reason"))) {
      move.control_target = free_target(move.rejected_dir, move.control);
      TRY(write_journal(journal, journal_fields(move)));
    }
    auto moved = util::move_exclusive(control_from, move.rejected_dir / move.control_target);
    if (moved) {
      util::failpoint("set-aside:control-moved");
      break;
    }
    if (!util::present(move.rejected_dir / move.control_target)) {
      return Error{moved.error()};
    }
    // The name was taken between choosing and moving: choose again.
  }
  if (move.control_target.empty() || !util::present(move.rejected_dir / move.control_target)) {
    return fail("{}: {} vanished before it could be moved to {} (delete this journal once you "
                "have looked for it)",
                journal.string(), move.control, move.rejected_dir.string());
  }
  outcome.control = move.rejected_dir / move.control_target;
  outcome.moved.emplace_back(move.control, move.control_target);

  std::vector<MovedName> listed;
  for (const auto& [name, as] : outcome.moved) {
    auto info = util::stat_no_follow(move.rejected_dir / as);
    listed.push_back({name, as, info && *info && (*info)->type == util::FileInfo::Type::directory});
  }
  listed.insert(listed.end(), earlier.begin(), earlier.end());
  outcome.reason = move.rejected_dir / (move.control_target + ".reason");
  if (!util::present(outcome.reason)) {
    TRY(util::write_file_exclusive(outcome.reason, reason_text(move.header, move.reason, listed)));
  }
  TRY(util::sync_dir(move.rejected_dir));
  TRY(remove_journal(journal));
  return outcome;
}

} // namespace

Result<SetAsideOutcome> set_aside(const fs::path& journal_dir, SetAside move)
{
  for (const auto& [name, value] : move.header) {
    if (name.empty() || name.find_first_of(":\n") != std::string::npos ||
        value.find('\n') != std::string::npos) {
      return fail("setting aside {}: the .reason header line '{}: {}' is not one 'Field: value' "
                  "line",
                  move.control, util::printable(name), util::printable(value));
    }
  }
  TRY(util::make_dirs(journal_dir, 0755));
  const fs::path journal = journal_dir / journal_name(action);
  TRY(write_journal(journal, journal_fields(move)));
  return perform(std::move(move), journal, Replay::no);
}

bool is_set_aside_journal(const debian::Paragraph& record)
{
  return record.get("Action") == action;
}

Result<SetAsideOutcome> replay_set_aside(const fs::path& journal, const debian::Paragraph& record,
                                         std::string_view advice)
{
  if (!is_set_aside_journal(record)) {
    return fail("cannot replay {}: its Action is '{}', not '{}' ({})", journal.string(),
                util::printable(record.get("Action").value_or("")), action, advice);
  }
  auto move = read_move(record);
  if (!move) {
    return fail("cannot replay {}: {} ({})", journal.string(), move.message(), advice);
  }
  return perform(std::move(*move), journal, Replay::yes);
}

Result<std::vector<std::string>> replay_set_asides(const fs::path& journal_dir,
                                                   std::string_view advice)
{
  std::vector<std::string> done;
  TRY_ASSIGN(const std::vector<fs::path> journals, pending_journals(journal_dir));
  for (const auto& journal : journals) {
    auto record = read_journal(journal);
    if (!record) {
      return fail("cannot replay {}: {} ({})", journal.string(), record.message(), advice);
    }
    TRY_ASSIGN(const SetAsideOutcome outcome, replay_set_aside(journal, *record, advice));
    done.push_back(fmt::format("finished setting aside {} in {} (interrupted run)",
                               outcome.moved.back().first, outcome.control.parent_path().string()));
  }
  return done;
}

std::string reason_text(const ReasonHeader& header, std::string_view reason,
                        const std::vector<MovedName>& moved)
{
  std::string text;
  for (const auto& [name, value] : header) {
    text += fmt::format("{}: {}\n", name, value);
  }
  if (!header.empty()) {
    text += '\n';
  }
  text += reason;
  if (!text.empty() && text.back() != '\n') {
    text += '\n';
  }
  text += "\nFiles moved to this folder:\n";
  for (const auto& entry : moved) {
    const std::string_view slash = entry.folder ? "/" : "";
    if (entry.as.empty()) {
      text += fmt::format("  {}{} (moved before the run was interrupted)\n", entry.name, slash);
    } else if (entry.as == entry.name) {
      text += fmt::format("  {}{}\n", entry.name, slash);
    } else {
      text += fmt::format("  {}{} (as {}{})\n", entry.name, slash, entry.as, slash);
    }
  }
  return text;
}

} // namespace buildme::jobs
