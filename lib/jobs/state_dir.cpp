#include "jobs/state_dir.hpp"

#include "debian/deb822.hpp"
#include "util/digest.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <unistd.h>

namespace buildme::jobs {

namespace fs = std::filesystem;

namespace {

using util::split_words;

Result<std::optional<util::FileInfo>> look(const fs::path& path)
{
  return util::stat_no_follow(path);
}

bool present(const fs::path& path)
{
  auto info = util::stat_no_follow(path);
  return info && *info;
}

Status remove_file(const fs::path& path)
{
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return fail("cannot remove {}: {}", path.string(), std::strerror(errno));
  }
  return {};
}

Result<debian::Paragraph> read_record(const fs::path& path)
{
  auto text = util::read_file(path, 16 * 1024 * 1024);
  if (!text) {
    return Error{text.error()};
  }
  auto control = debian::parse_one_paragraph(*text, path.string(), "a journal entry");
  if (!control) {
    return Error{control.error()};
  }
  return std::move(control->paragraphs.front());
}

std::string journal_name(std::string_view action)
{
  static std::atomic<unsigned> counter{0};
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return fmt::format("{}-{}-{}-{}", action,
                     std::chrono::duration_cast<std::chrono::microseconds>(now).count(), ::getpid(),
                     counter++);
}

} // namespace

fs::path StateDir::job_dir(long number) const
{
  return jobs_dir() / std::to_string(number);
}

fs::path StateDir::marker(std::string_view product, std::string_view source,
                          std::string_view version) const
{
  return m_root / "accepted" / std::string(product) / fmt::format("{}_{}", source, version);
}

Status StateDir::prepare() const
{
  for (const auto& dir : {m_root, jobs_dir(), txn_dir(), m_root / "accepted"}) {
    TRY(util::make_dirs(dir, 0755));
  }
  return {};
}

std::optional<long> StateDir::accepted_job(std::string_view product, std::string_view source,
                                           std::string_view version) const
{
  auto text = util::read_file(marker(product, source, version), 4096);
  if (!text) {
    return std::nullopt;
  }
  std::string_view number = *text;
  while (!number.empty() && std::isspace(static_cast<unsigned char>(number.back()))) {
    number.remove_suffix(1);
  }
  return static_cast<long>(util::parse_count(number).value_or(0));
}

Result<long> StateDir::allocate_job_number() const
{
  // The counter file, but never below a job that exists: a lost or stale
  // counter must not hand out a number twice.
  long next = 1;
  if (auto text = util::read_file(m_root / "next-job", 64)) {
    std::string_view value = *text;
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
      value.remove_suffix(1);
    }
    next = std::max(1L, static_cast<long>(util::parse_count(value).value_or(1)));
  }
  auto names = util::list_dir(jobs_dir());
  if (!names) {
    return Error{names.error()};
  }
  for (std::string_view name : *names) {
    if (name.starts_with('.')) {
      name.remove_prefix(1);
      if (auto dot = name.find('.'); dot != std::string_view::npos) {
        name = name.substr(0, dot);
      }
    }
    if (auto number = util::parse_count(name)) {
      next = std::max(next, static_cast<long>(*number) + 1);
    }
  }
  if (auto written = util::write_file_atomic(m_root / "next-job", fmt::format("{}\n", next + 1));
      !written) {
    return Error{written.error()};
  }
  return next;
}

Result<fs::path> StateDir::accept(const AcceptMove& move) const
{
  debian::FieldList fields = move.job.fields();
  fields.insert(fields.begin(), {{"Action", "accept"}, {"From", move.from_dir.string()}});
  fields.emplace_back("Move", debian::list_value(move.move));
  fields.emplace_back("Copy", debian::list_value(move.copy));
  const fs::path journal = txn_dir() / journal_name("accept");
  if (auto written = util::write_file_atomic(journal, debian::write_paragraph(fields), 0644);
      !written) {
    return Error{written.error()};
  }
  return run_accept(move, journal);
}

Result<fs::path> StateDir::run_accept(const AcceptMove& move, const fs::path& journal) const
{
  const Job& job = move.job;
  const fs::path final_dir = job_dir(job.number);
  const fs::path partial = jobs_dir() / fmt::format(".{}.partial", job.number);
  const fs::path upload = partial / "upload";

  if (!present(final_dir)) {
    TRY(util::make_dirs(upload, 0755));
    for (const auto& name : move.copy) {
      if (present(upload / name)) {
        continue; // copied before a crash: a copy appears whole or not at all
      }
      TRY(util::copy_exclusive(move.from_dir / name, upload / name));
    }
    for (const auto& name : move.move) {
      const fs::path from = move.from_dir / name;
      const fs::path to = upload / name;
      auto there = look(to);
      if (!there) {
        return Error{there.error()};
      }
      if (*there) {
        // Moved before a crash; a source still present is a finished copy
        // (across filesystems) or a link whose unlink did not happen.
        auto here = look(from);
        if (here && *here &&
            (((*here)->inode == (*there)->inode && (*here)->device == (*there)->device) ||
             util::same_content(from, to))) {
          TRY(remove_file(from));
        }
        continue;
      }
      TRY(util::move_exclusive(from, to));
    }
    if (auto written =
          util::write_file_atomic(partial / "job.info", debian::write_paragraph(job.fields()));
        !written) {
      return Error{written.error()};
    }
    TRY(util::make_dirs(marker(job.product, "", "").parent_path(), 0755));
    if (auto marked = util::write_file_atomic(marker(job.product, job.source, job.version),
                                              fmt::format("{}\n", job.number));
        !marked) {
      return Error{marked.error()};
    }
    TRY(util::move_exclusive(partial, final_dir));
    TRY(util::sync_dir(jobs_dir()));
  }
  TRY(remove_file(journal));
  return final_dir;
}

namespace {

debian::FieldList reject_fields(const RejectMove& move)
{
  std::vector<std::string> inodes;
  for (auto inode : move.inodes) {
    inodes.push_back(std::to_string(inode));
  }
  return {
    {"Action", "reject"},
    {"From", move.from_dir.string()},
    {"Rejected-Dir", move.rejected_dir.string()},
    {"Control", move.control},
    {"Control-Inode", move.control_inode ? std::to_string(move.control_inode) : ""},
    {"Control-Target", move.control_target},
    {"Files", debian::list_value(move.files)},
    {"Inodes", util::join(inodes, " ")},
    {"Reason", "\n" + move.reason},
  };
}

// Is `path` the file this move is about? Unknown inodes trust the name.
bool same_file(const fs::path& path, unsigned long inode)
{
  auto info = util::stat_no_follow(path);
  return info && *info && (inode == 0 || (*info)->inode == inode);
}

// Where a file that the interrupted run had already moved ended up: the
// numbered name in rejected/ with its inode, when the journal knows it.
std::string describe_earlier_move(const RejectMove& move, const std::string& name)
{
  const auto at = std::find(move.files.begin(), move.files.end(), name);
  const std::size_t index = static_cast<std::size_t>(at - move.files.begin());
  const unsigned long inode = index < move.inodes.size() ? move.inodes[index] : 0;
  for (unsigned n = 0; n < 100000; ++n) {
    const std::string candidate = n == 0 ? name : fmt::format("{}.{}", name, n);
    auto info = util::stat_no_follow(move.rejected_dir / candidate);
    if (!info || !*info) {
      break;
    }
    if (inode == 0 || (*info)->inode == inode) {
      return candidate == name ? name : fmt::format("{} (as {})", name, candidate);
    }
  }
  return fmt::format("{} (moved before buildme was interrupted)", name);
}

} // namespace

Result<RejectOutcome> StateDir::reject(RejectMove move) const
{
  const fs::path journal = txn_dir() / journal_name("reject");
  if (auto written = util::write_file_atomic(journal, debian::write_paragraph(reject_fields(move)));
      !written) {
    return Error{written.error()};
  }
  return run_reject(std::move(move), journal, false);
}

Result<RejectOutcome> StateDir::run_reject(RejectMove move, const fs::path& journal,
                                           bool replay) const
{
  RejectOutcome outcome;
  TRY(util::make_dirs(move.rejected_dir, 0755));
  std::vector<std::string> earlier; // moved by the run that was interrupted
  for (std::size_t i = 0; i < move.files.size(); ++i) {
    const std::string& name = move.files[i];
    const fs::path from = move.from_dir / name;
    if (!same_file(from, i < move.inodes.size() ? move.inodes[i] : 0)) {
      earlier.push_back(name); // moved before a crash (a new file of that name stays)
      continue;
    }
    auto moved = util::move_no_clobber(from, move.rejected_dir / name);
    if (!moved) {
      return Error{moved.error()};
    }
    outcome.moved.emplace_back(name, moved->filename().string());
  }

  // The control file goes last, to a name chosen and journalled first, so a
  // replay knows where to put the .reason even when the move already happened.
  const fs::path control_from = move.from_dir / move.control;
  const bool moved_before =
    replay && !move.control_target.empty() && present(move.rejected_dir / move.control_target);
  while (!moved_before && same_file(control_from, move.control_inode)) {
    if (move.control_target.empty() || present(move.rejected_dir / move.control_target)) {
      move.control_target = util::free_name(move.rejected_dir, move.control);
      if (auto written =
            util::write_file_atomic(journal, debian::write_paragraph(reject_fields(move)));
          !written) {
        return Error{written.error()};
      }
    }
    auto moved = util::move_exclusive(control_from, move.rejected_dir / move.control_target);
    if (moved) {
      break;
    }
    if (!present(move.rejected_dir / move.control_target)) {
      return Error{moved.error()};
    }
    // The name was taken between choosing and moving: choose again.
  }
  if (move.control_target.empty() || !present(move.rejected_dir / move.control_target)) {
    return fail("{}: {} vanished before it could be moved to {} (delete this journal once you "
                "have looked for it)",
                journal.string(), move.control, move.rejected_dir.string());
  }
  outcome.control = move.rejected_dir / move.control_target;
  outcome.moved.emplace_back(move.control, move.control_target);

  std::string body = move.reason;
  if (!body.empty() && body.back() != '\n') {
    body += '\n';
  }
  body += "\nFiles moved to this folder:\n";
  for (const auto& [from, to] : outcome.moved) {
    body += from == to ? fmt::format("  {}\n", from) : fmt::format("  {} (as {})\n", from, to);
  }
  for (std::size_t i = 0; i < earlier.size(); ++i) {
    body += fmt::format("  {}\n", describe_earlier_move(move, earlier[i]));
  }
  const std::string reason_name = move.control_target + ".reason";
  if (!present(move.rejected_dir / reason_name)) {
    if (auto written = util::write_file_exclusive(move.rejected_dir / reason_name, body);
        !written) {
      return Error{written.error()};
    }
  }
  outcome.reason = move.rejected_dir / reason_name;
  TRY(util::sync_dir(move.rejected_dir));
  TRY(remove_file(journal));
  return outcome;
}

Result<std::vector<std::string>> StateDir::recover() const
{
  // Intake stops at a journal it cannot replay: taking new uploads could
  // repeat half of that move. An operator has to look.
  constexpr std::string_view advice =
    "inspect it, finish the move by hand, then delete it; buildme takes no upload until then";
  std::vector<std::string> done;
  auto names = util::list_dir(txn_dir());
  if (!names) {
    return Error{names.error()};
  }
  for (const auto& name : *names) {
    if (name.starts_with('.')) {
      // A journal being written when a run died: nothing moved for it yet.
      TRY(remove_file(txn_dir() / name));
      continue;
    }
    const fs::path journal = txn_dir() / name;
    auto record = read_record(journal);
    if (!record) {
      return fail("cannot replay {}: {} ({})", journal.string(), record.message(), advice);
    }
    const std::string action = record->get("Action").value_or("");
    if (action == "accept") {
      auto text = util::read_file(journal, 16 * 1024 * 1024);
      auto job = Job::from_text(*text, journal.string());
      if (!job) {
        return fail("cannot replay {} ({})", job.message(), advice);
      }
      if (record->get("From").value_or("").empty()) {
        return fail("cannot replay {}: it lacks From ({})", journal.string(), advice);
      }
      AcceptMove move{record->get("From").value_or(""), std::move(*job),
                      split_words(record->get("Move").value_or("")),
                      split_words(record->get("Copy").value_or(""))};
      auto finished = run_accept(move, journal);
      if (!finished) {
        return Error{finished.error()};
      }
      done.push_back(fmt::format("finished accepting {} {} as job {} (interrupted run)",
                                 move.job.source, move.job.version, move.job.number));
    } else if (action == "reject") {
      RejectMove move{record->get("From").value_or(""),
                      record->get("Rejected-Dir").value_or(""),
                      record->get("Control").value_or(""),
                      split_words(record->get("Files").value_or("")),
                      debian::unescape_value(record->get("Reason").value_or("")),
                      record->get("Control-Target").value_or(""),
                      {},
                      0};
      for (const auto& word : split_words(record->get("Inodes").value_or(""))) {
        move.inodes.push_back(static_cast<unsigned long>(util::parse_count(word).value_or(0)));
      }
      move.control_inode = static_cast<unsigned long>(
        util::parse_count(record->get("Control-Inode").value_or("0")).value_or(0));
      if (move.from_dir.empty() || move.rejected_dir.empty() || move.control.empty()) {
        return fail("cannot replay {}: it lacks From, Rejected-Dir or Control ({})",
                    journal.string(), advice);
      }
      while (!move.reason.empty() && move.reason.front() == '\n') {
        move.reason.erase(0, 1);
      }
      auto finished = run_reject(move, journal, true);
      if (!finished) {
        return Error{finished.error()};
      }
      done.push_back(fmt::format("finished rejecting {} (interrupted run)", move.control));
    } else {
      return fail("cannot replay {}: unknown Action '{}' ({})", journal.string(),
                  util::printable(action), advice);
    }
  }
  return done;
}

Result<std::vector<Job>> StateDir::list_jobs() const
{
  std::vector<Job> jobs;
  auto names = util::list_dir(jobs_dir());
  if (!names) {
    return Error{names.error()};
  }
  for (const auto& name : *names) {
    if (!util::parse_count(name)) {
      continue;
    }
    const fs::path info = jobs_dir() / name / "job.info";
    auto text = util::read_file(info, 16 * 1024 * 1024);
    if (!text) {
      return Error{text.error()};
    }
    auto job = Job::from_text(*text, info.string());
    if (!job) {
      return Error{job.error()};
    }
    jobs.push_back(std::move(*job));
  }
  std::sort(jobs.begin(), jobs.end(),
            [](const Job& a, const Job& b) { return a.number < b.number; });
  return jobs;
}

} // namespace buildme::jobs
