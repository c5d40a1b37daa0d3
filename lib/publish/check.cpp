#include "publish/check.hpp"

#include "debian/deb822.hpp"
#include "debian/syntax.hpp"
#include "publish/checked_files.hpp"
#include "repo/index.hpp"
#include "repo/pool.hpp"
#include "util/digest.hpp"
#include "util/fs.hpp"
#include "util/parallel.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>

namespace buildme::publish {

namespace fs = std::filesystem;

namespace {

using util::printable;

constexpr std::uint64_t max_release_size = 64 * 1024 * 1024;
constexpr std::uint64_t max_signature_size = 1024 * 1024;
// A plain index is read whole; 64,000 packages make about 80 MB of it.
constexpr std::uint64_t max_index_size = 2ULL * 1024 * 1024 * 1024;

// Why `path` (from a Release or an index, relative to a folder of the tree)
// may not be followed; empty when it is a plain relative path of visible
// names.
std::string refuse_path(std::string_view path)
{
  if (path.empty() || path.front() == '/' || path.back() == '/' ||
      path.find("//") != std::string_view::npos) {
    return fmt::format("'{}' is not a relative path to a file", printable(path));
  }
  for (auto part : util::split(path, "/")) {
    if (auto bad = debian::check_file_name(part); !bad) {
      return fmt::format("'{}' is not a plain path inside the tree, or would not be published: "
                         "{}",
                         printable(path), bad.message());
    }
  }
  return {};
}

bool is_hex(std::string_view text, std::size_t length)
{
  return text.size() == length &&
         text.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
}

// What one Release lists of one file.
struct Listed
{
  std::optional<std::uint64_t> size;
  util::Digests digests; // the listed ones set, lower case
};

// A pool file as the indices list it.
struct PoolRef
{
  std::uint64_t size = 0;
  std::string sha256;
  std::string index; // the index that first named it, for messages
};

// The entries of `map` by address, in its order: work that parallel_for
// shares out by index.
template<typename Map>
std::vector<const typename Map::value_type*> entries_of(const Map& map)
{
  std::vector<const typename Map::value_type*> entries;
  entries.reserve(map.size());
  for (const auto& entry : map) {
    entries.push_back(&entry);
  }
  return entries;
}

// Calls `each(text, line)` for every paragraph of an index: the runs of
// lines between blank ones, cut as debian::parse_control cuts them; `line`
// is the paragraph's first line in the file.
void for_each_stanza(std::string_view text, const std::function<void(std::string_view, int)>& each)
{
  const auto lines = debian::control_lines(text);
  std::size_t first = 0; // index of the paragraph's first line, while one is open
  bool open = false;
  auto close = [&](std::size_t last) {
    const auto* begin = lines[first].data();
    const auto* end = lines[last].data() + lines[last].size();
    each(std::string_view(begin, static_cast<std::size_t>(end - begin)),
         static_cast<int>(first) + 1);
    open = false;
  };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const bool blank = debian::is_blank_line(lines[i]);
    if (blank && open) {
      close(i - 1);
    } else if (!blank && !open) {
      first = i;
      open = true;
    }
  }
  if (open) {
    close(lines.size() - 1);
  }
}

class TreeChecker
{
public:
  TreeChecker(const fs::path& root, const CheckOptions& options) : m_root(root), m_options(options)
  {
  }

  TreeCheck run();

private:
  template<typename... Args>
  void problem(fmt::format_string<Args...> format, Args&&... args)
  {
    m_result.problems.push_back(fmt::format(format, std::forward<Args>(args)...));
  }

  void check_dist(const std::string& dist);
  void check_signatures(const std::string& rel, const std::string& release);
  // The files `paragraph` (of rel/Release) lists, by path.
  std::map<std::string, Listed> listed_files(const std::string& rel,
                                             const debian::Paragraph& paragraph);
  void read_index(const std::string& index_rel, std::string_view kind, std::string_view text);
  void add_pool_ref(const std::string& path, std::uint64_t size, std::string sha256,
                    const std::string& index);
  void check_pool();

  fs::path m_root;
  const CheckOptions& m_options;
  TreeCheck m_result;
  std::map<std::string, PoolRef> m_pool;
};

TreeCheck TreeChecker::run()
{
  auto names = util::list_dir(m_root / "dists");
  if (!names) {
    problem("dists: cannot be listed: {}", names.message());
    return std::move(m_result);
  }
  for (const auto& name : *names) {
    auto info = util::stat_no_follow(m_root / "dists" / name);
    // Hidden names are never pushed; a symlink (a suite alias) points at a
    // distribution checked under its own name, or is left out by rsync.
    if (name.starts_with('.') || !info || !*info ||
        (*info)->type != util::FileInfo::Type::directory) {
      continue;
    }
    check_dist(name);
  }
  if (m_result.dists == 0 && m_result.problems.empty()) {
    problem("dists: holds no distribution");
  }
  check_pool();
  return std::move(m_result);
}

void TreeChecker::check_dist(const std::string& dist)
{
  const std::string rel = "dists/" + dist;
  auto release = util::read_file(m_root / rel / "Release", max_release_size);
  if (!release) {
    auto info = util::stat_no_follow(m_root / rel / "Release");
    if (info && !*info) {
      problem("{}/Release: missing", printable(rel));
    } else {
      problem("{}/Release: {}", printable(rel), release.message());
    }
    return;
  }
  ++m_result.dists;
  if (m_options.keyring) {
    check_signatures(rel, *release);
  }
  auto parsed = debian::parse_one_paragraph(*release, rel + "/Release", "a Release file");
  if (!parsed) {
    problem("{}", parsed.message());
    return;
  }
  const debian::Paragraph& paragraph = parsed->paragraphs.front();
  const auto listed = listed_files(rel, paragraph);

  // Every listed file, read on every core; the plain indices are kept to be
  // read for the pool files they name.
  struct Found
  {
    std::string problem;
    util::Digests digests;
    std::optional<util::FileInfo> info;
    std::string text; // a plain index
  };
  const auto files = entries_of(listed);
  std::vector<Found> found(files.size());
  util::parallel_for(files.size(), m_options.threads, [&](std::size_t i) {
    const auto& [path, wanted] = *files[i];
    const fs::path full = m_root / rel / path;
    Found& out = found[i];
    util::DigestSet kinds;
    for (auto kind : util::all_digest_kinds) {
      kinds[kind] = wanted.digests[kind].has_value();
    }
    auto info = util::stat_no_follow(full);
    if (!info) {
      out.problem = info.message();
      return;
    }
    if (!*info || (*info)->type != util::FileInfo::Type::regular) {
      out.problem = !*info ? "missing" : "not a regular file";
      return;
    }
    out.info = **info;
    const auto name = fs::path(path).filename().string();
    if (name == "Packages" || name == "Sources") {
      auto text = util::read_file(full, max_index_size);
      if (!text) {
        out.problem = text.message();
        return;
      }
      out.digests = util::digest_bytes(*text, kinds);
      out.text = std::move(*text);
      return;
    }
    auto digests = util::digest_file(full, kinds);
    if (!digests) {
      out.problem = digests.message();
      return;
    }
    out.digests = std::move(*digests);
  });

  const bool by_hash =
    util::to_lower(util::trim(paragraph.get("Acquire-By-Hash").value_or(""))) == "yes";
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto& [path, wanted] = *files[i];
    const std::string shown = printable(rel + "/" + path);
    Found& got = found[i];
    if (got.problem == "missing" && (listed.count(path + ".gz") || listed.count(path + ".xz"))) {
      continue; // listed uncompressed, published compressed (Contents, as Debian does)
    }
    if (!got.problem.empty()) {
      problem("{}: {} (the Release lists it)", shown, got.problem);
      continue;
    }
    if (wanted.size && got.digests.size != *wanted.size) {
      problem("{}: {} bytes, but the Release lists {}", shown, got.digests.size, *wanted.size);
      continue;
    }
    bool same = true;
    for (const auto& [kind, field] : repo::release_digest_lists) {
      if (wanted.digests[kind] && *wanted.digests[kind] != *got.digests[kind]) {
        problem("{}: {} {}, but the Release lists {}", shown, field, *got.digests[kind],
                *wanted.digests[kind]);
        same = false;
        break;
      }
    }
    if (!same) {
      continue;
    }
    if (by_hash) {
      const fs::path dir = fs::path(rel) / fs::path(path).parent_path();
      for (const auto& [kind, kind_name] : repo::by_hash_kinds) {
        if (!wanted.digests[kind]) {
          continue;
        }
        const fs::path copy = dir / "by-hash" / kind_name / *wanted.digests[kind];
        const std::string copy_shown = printable(copy.string());
        auto info = util::stat_no_follow(m_root / copy);
        if (!info || !*info || (*info)->type != util::FileInfo::Type::regular) {
          problem("{}: {} (Acquire-By-Hash: yes, and the Release lists {} with this {})",
                  copy_shown,
                  !info    ? info.message()
                  : !*info ? "missing"
                           : "not a regular file",
                  shown, kind_name);
          continue;
        }
        if ((*info)->device == got.info->device && (*info)->inode == got.info->inode) {
          continue; // a hard link to the very file checked
        }
        util::DigestSet one;
        one[kind] = true;
        auto digests = util::digest_file(m_root / copy, one);
        if (!digests) {
          problem("{}: {}", copy_shown, digests.message());
        } else if (digests->size != got.digests.size ||
                   *(*digests)[kind] != *wanted.digests[kind]) {
          problem("{}: not a copy of {} ({} bytes, {} {})", copy_shown, shown, digests->size,
                  kind_name, *(*digests)[kind]);
        }
      }
    }
    const auto name = fs::path(path).filename().string();
    if (name == "Packages" || name == "Sources") {
      read_index(rel + "/" + path, name, got.text);
      got.text = std::string();
    }
  }
  // The pool files are known from the plain indices only.
  for (const auto& [path, wanted] : listed) {
    const fs::path file(path);
    const std::string name = file.filename().string();
    const std::string plain = name.substr(0, name.find('.'));
    if ((plain == "Packages" || plain == "Sources") && plain != name &&
        !listed.count((file.parent_path() / plain).string())) {
      problem("{}/{}: the Release lists no plain {} beside it, which repo-publish reads for the "
              "pool files it names",
              printable(rel), printable(path), plain);
    }
  }
}

void TreeChecker::check_signatures(const std::string& rel, const std::string& release)
{
  auto detached = util::read_file(m_root / rel / "Release.gpg", max_signature_size);
  if (!detached) {
    problem("{}/Release.gpg: {}", printable(rel), detached.message());
  } else if (auto refused =
               m_options.keyring->check_detached(release, *detached, rel + "/Release.gpg");
             !refused.empty()) {
    problem("{}", refused);
  }
  auto inrelease = util::read_file(m_root / rel / "InRelease", max_release_size);
  if (!inrelease) {
    problem("{}/InRelease: {}", printable(rel), inrelease.message());
    return;
  }
  auto text = m_options.keyring->check_clearsigned(*inrelease, rel + "/InRelease");
  if (!text) {
    problem("{}", text.message());
  } else if (*text != release) {
    problem("{}/InRelease: signs other text than {}/Release (the two are from different runs of "
            "queue-manage)",
            printable(rel), printable(rel));
  }
}

std::map<std::string, Listed> TreeChecker::listed_files(const std::string& rel,
                                                        const debian::Paragraph& paragraph)
{
  std::map<std::string, Listed> listed;
  const std::string release = printable(rel) + "/Release";
  bool sha256 = false;
  for (const auto& [kind, field_name] : repo::release_digest_lists) {
    const debian::Field* field = paragraph.find(field_name);
    if (!field) {
      continue;
    }
    // The value's lines, each with its line in the file.
    std::string_view value = field->value;
    for (std::size_t index = 0; !value.empty(); ++index) {
      const auto end = std::min(value.find('\n'), value.size());
      const auto line = value.substr(0, end);
      value.remove_prefix(std::min(end + 1, value.size()));
      const int number =
        index < field->value_lines.size() ? field->value_lines[index] : field->line;
      if (util::trim(line).empty()) {
        continue;
      }
      const auto words = util::split(line, " \t");
      std::optional<long long> size;
      if (words.size() != 3 || !is_hex(words[0], util::digest_hex_length(kind)) ||
          !(size = util::parse_count(words[1]))) {
        problem("{}:{}: '{}' is not '{} SIZE PATH'", release, number, printable(line), field_name);
        continue;
      }
      const std::string path(words[2]);
      if (auto bad = refuse_path(path); !bad.empty()) {
        problem("{}:{}: {}", release, number, bad);
        continue;
      }
      Listed& entry = listed[path];
      if (entry.digests[kind]) {
        problem("{}:{}: {} lists {} twice", release, number, field_name, printable(path));
        continue;
      }
      if (entry.size && *entry.size != static_cast<std::uint64_t>(*size)) {
        problem("{}:{}: {} has size {} here and {} in another list", release, number,
                printable(path), *size, *entry.size);
        continue;
      }
      entry.size = static_cast<std::uint64_t>(*size);
      entry.digests[kind] = util::to_lower(words[0]);
      sha256 = sha256 || kind == util::DigestKind::sha256;
    }
  }
  if (!sha256) {
    problem("{}: lists no file with SHA256 (apt needs it)", release);
  }
  return listed;
}

void TreeChecker::read_index(const std::string& index_rel, std::string_view kind,
                             std::string_view text)
{
  const std::string shown = printable(index_rel);
  for_each_stanza(text, [&](std::string_view stanza, int line) {
    auto parsed =
      debian::parse_control(stanza, fmt::format("{} (the stanza on line {})", index_rel, line));
    if (!parsed) {
      problem("{}", parsed.message());
      return;
    }
    if (parsed->paragraphs.empty()) {
      return; // comment lines only
    }
    const debian::Paragraph& paragraph = parsed->paragraphs.front();
    const std::string package = printable(paragraph.get("Package").value_or("?"));
    if (kind == "Packages") {
      auto filename = paragraph.get("Filename");
      auto size = util::parse_count(paragraph.get("Size").value_or(""));
      auto sha256 = paragraph.get("SHA256");
      if (!filename || !size || !sha256 || !is_hex(*sha256, 64)) {
        problem("{}:{}: the stanza of {} lacks a Filename, a Size or a SHA256 that can be read",
                shown, line, package);
        return;
      }
      if (auto bad = refuse_path(*filename); !bad.empty()) {
        problem("{}:{}: Filename {}", shown, line, bad);
        return;
      }
      add_pool_ref(*filename, static_cast<std::uint64_t>(*size), util::to_lower(*sha256),
                   index_rel);
      return;
    }
    auto directory = paragraph.get("Directory");
    auto checksums = paragraph.get("Checksums-Sha256");
    if (!directory || !checksums) {
      problem("{}:{}: the stanza of {} lacks a Directory or a Checksums-Sha256", shown, line,
              package);
      return;
    }
    if (auto bad = refuse_path(*directory); !bad.empty()) {
      problem("{}:{}: Directory {}", shown, line, bad);
      return;
    }
    for (auto entry : util::split(*checksums, "\n")) {
      const auto words = util::split(entry, " \t");
      std::optional<long long> size;
      if (words.size() != 3 || !is_hex(words[0], 64) || !(size = util::parse_count(words[1]))) {
        problem("{}:{}: the Checksums-Sha256 of {} has a line that is not 'SHA256 SIZE NAME': "
                "'{}'",
                shown, line, package, printable(entry));
        continue;
      }
      if (auto bad = debian::check_file_name(words[2]); !bad) {
        problem("{}:{}: {}", shown, line, bad.message());
        continue;
      }
      add_pool_ref(*directory + "/" + std::string(words[2]), static_cast<std::uint64_t>(*size),
                   util::to_lower(words[0]), index_rel);
    }
  });
}

void TreeChecker::add_pool_ref(const std::string& path, std::uint64_t size, std::string sha256,
                               const std::string& index)
{
  auto at = m_pool.find(path);
  if (at == m_pool.end()) {
    m_pool.emplace(path, PoolRef{size, std::move(sha256), index});
    return;
  }
  if (at->second.size != size || at->second.sha256 != sha256) {
    problem("{}: {} lists it with {} bytes and SHA256 {}, {} with {} bytes and SHA256 {}",
            printable(path), printable(at->second.index), at->second.size, at->second.sha256,
            printable(index), size, sha256);
  }
}

void TreeChecker::check_pool()
{
  CheckedFiles record;
  if (!m_options.record.empty()) {
    if (auto text = util::read_file(m_options.record, 1ULL << 30)) {
      record = CheckedFiles::parse(*text, m_root);
    }
  }
  struct Outcome
  {
    std::optional<repo::FileStamp> stamp;
    std::string sha256;
    bool read = false;
    std::string problem;
  };
  const auto refs = entries_of(m_pool);
  std::vector<Outcome> outcomes(refs.size());
  util::parallel_for(refs.size(), m_options.threads, [&](std::size_t i) {
    const auto& [path, ref] = *refs[i];
    Outcome& out = outcomes[i];
    const std::string shown = printable(path);
    // The stamp before the read: a change during the read shows in the next
    // stamp, so the record never pairs a stamp with older bytes.
    auto stamp = repo::stamp_of(m_root / path);
    if (!stamp) {
      auto info = util::stat_no_follow(m_root / path);
      out.problem =
        fmt::format("{}: {} (named by {})", shown,
                    info && !*info ? "missing" : "not a regular file", printable(ref.index));
      return;
    }
    if (stamp->size != ref.size) {
      out.problem = fmt::format("{}: {} bytes, but {} lists {}", shown, stamp->size,
                                printable(ref.index), ref.size);
      return;
    }
    if (const std::string* known = record.sha256(path, *stamp)) {
      out.sha256 = *known;
    } else {
      auto digests = util::digest_file(m_root / path, {false, false, true, false});
      if (!digests) {
        out.problem = fmt::format("{}: {}", shown, digests.message());
        return;
      }
      out.read = true;
      if (digests->size != stamp->size) {
        out.problem = fmt::format("{}: changed while it was read", shown);
        return;
      }
      out.sha256 = *digests->sha256;
    }
    out.stamp = *stamp;
    if (out.sha256 != ref.sha256) {
      out.problem = fmt::format("{}: SHA256 {}, but {} lists {}", shown, out.sha256,
                                printable(ref.index), ref.sha256);
    }
  });

  CheckedFiles next;
  for (std::size_t i = 0; i < refs.size(); ++i) {
    Outcome& out = outcomes[i];
    m_result.read += out.read ? 1 : 0;
    if (!out.problem.empty()) {
      m_result.problems.push_back(std::move(out.problem));
    }
    if (out.stamp) {
      next.put(refs[i]->first, *out.stamp, out.sha256, m_options.now);
    }
  }
  m_result.pool_files = refs.size();
  if (!m_options.record.empty()) {
    auto written = util::make_dirs(m_options.record.parent_path());
    if (written) {
      written = util::write_file_atomic(m_options.record, next.write(m_root), 0644,
                                        util::Durability::unsynced);
    }
    if (!written) {
      m_result.record_error = written.message();
    }
  }
}

} // namespace

TreeCheck check_tree(const fs::path& root, const CheckOptions& options)
{
  return TreeChecker(root, options).run();
}

} // namespace buildme::publish
