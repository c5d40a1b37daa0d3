#include "repo/staging.hpp"

#include "config/arches.hpp"
#include "debian/deb822.hpp"
#include "debian/syntax.hpp"
#include "debian/upload.hpp"
#include "debian/version.hpp"
#include "debian/verify.hpp"
#include "repo/deb.hpp"
#include "repo/distribution.hpp"
#include "repo/index.hpp"
#include "jobs/handover.hpp"
#include "util/digest.hpp"
#include "util/failpoint.hpp"
#include "util/fs.hpp"
#include "util/parallel.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <future>
#include <map>

namespace buildme::repo {

namespace fs = std::filesystem;

namespace {

// Seconds since it was made, for the --verbose timings of long work.
class Stopwatch
{
public:
  double seconds() const
  {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
  }

private:
  std::chrono::steady_clock::time_point m_start = std::chrono::steady_clock::now();
};

std::int64_t nanoseconds(std::chrono::system_clock::time_point when)
{
  return std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count();
}

Result<FileStamp> stamp_of(const fs::path& path)
{
  auto info = util::stat_no_follow(path);
  if (!info) {
    return Error{info.error()};
  }
  if (!*info || (*info)->type != util::FileInfo::Type::regular) {
    return fail("{} is missing or not a regular file", path.string());
  }
  return FileStamp{(*info)->size, nanoseconds((*info)->mtime), nanoseconds((*info)->ctime),
                   static_cast<std::uint64_t>((*info)->inode)};
}

// "foo (1.2-3)" -> {"foo", "1.2-3"}; "foo" -> {"foo", ""}.
std::pair<std::string, std::string> split_source_field(std::string_view field)
{
  field = util::trim(field);
  const auto open = field.find('(');
  if (open == std::string_view::npos) {
    return {std::string(field), ""};
  }
  const auto close = field.find(')', open);
  return {
    std::string(util::trim(field.substr(0, open))),
    std::string(util::trim(field.substr(
      open + 1, close == std::string_view::npos ? std::string_view::npos : close - open - 1)))};
}

// A binary's control data, checked: what the index needs of it.
struct BinaryInfo
{
  util::Digests digests; // of the whole .deb
  std::string control_text;
  debian::Paragraph control;
  std::string package, version, arch, source, source_version, section;
};

Result<BinaryInfo> read_binary(const fs::path& path)
{
  auto deb = read_deb(path, util::DigestSet::all());
  if (!deb) {
    return Error{deb.error()};
  }
  auto parsed = debian::parse_control(deb->control, path.filename().string() + " (control)");
  if (!parsed) {
    return Error{parsed.error()};
  }
  if (parsed->paragraphs.size() != 1) {
    return fail("{}: the control file has {} paragraphs, not one", path.filename().string(),
                parsed->paragraphs.size());
  }
  BinaryInfo info;
  info.digests = std::move(deb->digests);
  info.control_text = std::move(deb->control);
  info.control = parsed->paragraphs.front();
  for (auto [field, target] :
       {std::pair{"Package", &info.package}, std::pair{"Version", &info.version},
        std::pair{"Architecture", &info.arch}}) {
    auto value = info.control.get(field);
    if (!value || value->empty()) {
      return fail("{}: the control file has no {} field", path.filename().string(), field);
    }
    *target = *value;
  }
  if (auto valid = debian::check_package_name(info.package); !valid) {
    return fail("{}: {}", path.filename().string(), valid.message());
  }
  if (auto version = debian::Version::parse(info.version); !version) {
    return fail("{}: {}", path.filename().string(), version.message());
  }
  if (!debian::is_valid_architecture(info.arch) || info.arch == "any" || info.arch == "source") {
    return fail("{}: '{}' is not a binary package's architecture", path.filename().string(),
                util::printable(info.arch));
  }
  auto [source, source_version] = split_source_field(info.control.get("Source").value_or(""));
  info.source = source.empty() ? info.package : source;
  info.source_version = source_version.empty() ? info.version : source_version;
  if (auto valid = debian::check_package_name(info.source); !valid) {
    return fail("{}: Source: {}", path.filename().string(), valid.message());
  }
  info.section = info.control.get("Section").value_or("");
  return info;
}

int compare_versions(const std::string& a, const std::string& b)
{
  auto va = debian::Version::parse(a);
  auto vb = debian::Version::parse(b);
  if (!va || !vb) {
    return a.compare(b);
  }
  return debian::compare(*va, *vb);
}

// Compressed index pieces from earlier runs, kept in the catalog: adding one
// package recompresses one piece of each index, not the whole.
struct CatalogChunks : ChunkCache
{
  Catalog& catalog;
  std::int64_t now;
  CatalogChunks(Catalog& c, std::int64_t n) : catalog(c), now(n) {}
  std::optional<std::string> get(const std::string& key) override
  {
    return catalog.chunk(key, now);
  }
  void put(const std::string& key, const std::string& value) override
  {
    catalog.put_chunk(key, value, now);
  }
};

} // namespace

std::string pool_dir(const std::string& component, const std::string& source)
{
  const std::string prefix =
    source.starts_with("lib") && source.size() > 3 ? source.substr(0, 4) : source.substr(0, 1);
  return fmt::format("pool/{}/{}/{}", component, prefix, source);
}

Staging::Staging(const config::Config& config, const config::Repository& repository,
                 std::unique_ptr<sign::Signer> signer, Catalog catalog, const util::Clock& clock,
                 util::Log& log)
  : m_config(config), m_repository(repository), m_signer(std::move(signer)),
    m_catalog(std::move(catalog)), m_clock(clock), m_log(log), m_root(repository.staging_dir)
{
}

Result<std::unique_ptr<Staging>> Staging::open(const config::Config& config,
                                               const config::Repository& repository,
                                               std::unique_ptr<sign::Signer> signer,
                                               const util::Clock& clock, util::Log& log)
{
  for (const auto& dir : {repository.staging_dir, config.state_dir / "repo"}) {
    TRY(util::make_dirs(dir));
  }
  auto catalog =
    Catalog::open((config.state_dir / "repo" / (repository.name + ".sqlite")).string());
  if (!catalog) {
    return Error{catalog.error()};
  }
  return std::unique_ptr<Staging>(
    new Staging(config, repository, std::move(signer), std::move(*catalog), clock, log));
}

std::int64_t Staging::now() const
{
  return std::chrono::duration_cast<std::chrono::seconds>(m_clock.now().time_since_epoch()).count();
}

Status Staging::ensure_dir(const fs::path& dir)
{
  if (m_made.count(dir)) {
    return {};
  }
  TRY(util::make_dirs(dir));
  m_made.insert(dir);
  return {};
}

Status Staging::sync_touched()
{
  Status result;
  if (m_touched.size() > 32) {
    // Many folders: one syncfs per filesystem costs less than an fsync each.
    std::set<dev_t> done;
    for (const auto& dir : m_touched) {
      auto info = util::stat_no_follow(dir);
      if (info && *info && done.insert((*info)->device).second) {
        if (auto synced = util::sync_filesystem(dir); !synced && result) {
          result = synced;
        }
      }
    }
    m_touched.clear();
    return result;
  }
  // Each folder, and in the staging folder its parents too: a pool folder
  // made by this run is an entry in its parent.
  std::set<fs::path> folders;
  for (const auto& dir : m_touched) {
    folders.insert(dir);
    for (fs::path up = dir.parent_path();
         up != m_root && up.has_relative_path() && up.native().starts_with(m_root.native());
         up = up.parent_path()) {
      folders.insert(up);
    }
  }
  for (const auto& dir : folders) {
    if (auto synced = util::sync_dir(dir); !synced && result) {
      result = synced;
    }
  }
  m_touched.clear();
  return result;
}

Status Staging::wait_for_sync()
{
  if (m_syncing.valid()) {
    m_synced = m_syncing.get();
  }
  return m_synced;
}

std::string Staging::component_for(const std::string& section) const
{
  const auto slash = section.find('/');
  if (slash != std::string::npos) {
    const std::string component = section.substr(0, slash);
    if (std::find(m_repository.components.begin(), m_repository.components.end(), component) !=
        m_repository.components.end()) {
      return component;
    }
  }
  return m_repository.components.front();
}

void Staging::note_catalog(const Status& written, std::string_view file, RunSummary& summary)
{
  if (written) {
    return;
  }
  m_log.verdict(
    "ERROR", util::Log::Tone::bad,
    fmt::format("{}: the repository database was not updated: {}", file, written.message()));
  ++summary.errors;
}

void Staging::set_aside(const fs::path& queue, const std::vector<std::string>& names,
                        const std::string& reason, RunSummary& summary)
{
  ++summary.refused;
  const fs::path rejected = queue / "rejected";
  m_log.heading((queue / names.front()).string());
  m_log.verdict("REFUSED", util::Log::Tone::bad, reason);
  if (auto made = util::make_dirs(rejected); !made) {
    m_log.verdict("ERROR", util::Log::Tone::bad, made.message());
    ++summary.errors;
    return;
  }
  std::string first;
  std::string moved;
  for (const auto& name : names) {
    auto to = util::move_no_clobber(queue / name, rejected / name);
    if (!to) {
      m_log.verdict("ERROR", util::Log::Tone::bad, to.message());
      ++summary.errors;
      continue;
    }
    if (first.empty()) {
      first = to->filename().string();
    }
    moved += fmt::format("  {}\n", to->filename().string());
  }
  if (first.empty()) {
    return;
  }
  const std::string body =
    fmt::format("Repository: {}\nRefused: {}\n\n{}\n\nFiles moved to this folder:\n{}",
                m_repository.name, util::format_local_time(m_clock.now()), reason, moved);
  const std::string reason_name = util::free_name(rejected, first + ".reason");
  if (auto written = util::write_file_exclusive(rejected / reason_name, body); !written) {
    m_log.verdict("ERROR", util::Log::Tone::bad, written.message());
    ++summary.errors;
  }
}

// What reading one queued .deb found: everything the catalog needs, or why
// it cannot be taken. Made on worker threads, which only read, except that
// they make the pool folder a new file will go to.
struct Staging::PreparedDeb
{
  std::string name;
  std::string error;      // set aside with this reason
  bool duplicate = false; // the pool holds this very file already
  bool folder_ready = false;
  CachedFile file;
  Member member;
};

void Staging::take_debs(const fs::path& queue, const std::vector<std::string>& names,
                        const std::string& dist, RunSummary& summary)
{
  // Batches go through two stages at once: workers read batch k+1 on every
  // core while this thread records batch k in one transaction and then
  // moves its files. The catalog knows a file before it leaves the queue,
  // so a run that dies mid-batch leaves the rest in the queue for the next.
  constexpr std::size_t batch_size = 512;
  const unsigned threads = util::core_count();
  const Stopwatch watch;
  const int added_before = summary.added;

  auto prepare = [&](const std::string& name) {
    PreparedDeb deb;
    deb.name = name;
    const fs::path from = queue / name;
    auto binary = read_binary(from);
    if (!binary) {
      deb.error = fmt::format("cannot read {}: {}", name, binary.message());
      return deb;
    }
    const util::Digests& digests = binary->digests;
    const std::string component = component_for(binary->section);
    const std::string rel = pool_dir(component, binary->source) + "/" + name;
    const fs::path to = m_root / rel;
    // A pool name taken by other content is refused; the same content is
    // simply taken off the queue.
    auto present = util::stat_no_follow(to);
    if (present && *present) {
      if (!util::same_content(from, to)) {
        deb.error = fmt::format("{} is already in the pool with different content; it is "
                                "never overwritten (upload a new version)",
                                rel);
        return deb;
      }
      deb.duplicate = true;
    } else {
      deb.folder_ready = static_cast<bool>(util::make_dirs(to.parent_path()));
    }
    deb.file = {rel,
                {},
                packages_stanza(binary->control_text, binary->control, rel, digests),
                *digests.sha256};
    deb.member = {dist,
                  "binary",
                  component,
                  binary->arch,
                  binary->package,
                  binary->version,
                  binary->source,
                  binary->source_version,
                  rel,
                  0,
                  0};
    return deb;
  };
  auto read_batch = [&](std::size_t first) {
    std::vector<PreparedDeb> batch(std::min(batch_size, names.size() - first));
    util::parallel_for(batch.size(), threads,
                       [&](std::size_t i) { batch[i] = prepare(names[first + i]); });
    return batch;
  };

  std::future<std::vector<PreparedDeb>> reading;
  if (!names.empty()) {
    reading = std::async(std::launch::async, read_batch, 0);
  }
  for (std::size_t first = 0; first < names.size(); first += batch_size) {
    std::vector<PreparedDeb> batch = reading.get();
    if (first + batch_size < names.size()) {
      reading = std::async(std::launch::async, read_batch, first + batch_size);
    }
    if (!take_batch(queue, batch, summary)) {
      return; // the catalog failed: the rest stays in the queue
    }
  }
  if (!names.empty()) {
    m_log.detail(fmt::format("took {} of {} .debs from {} in {:.2f} s",
                             summary.added - added_before, names.size(), queue.string(),
                             watch.seconds()));
  }
}

bool Staging::take_batch(const fs::path& queue, std::vector<PreparedDeb>& batch,
                         RunSummary& summary)
{
  if (auto begun = m_catalog.begin(); !begun) {
    m_log.verdict("ERROR", util::Log::Tone::bad, begun.message());
    ++summary.errors;
    return false;
  }
  for (auto& deb : batch) {
    if (!deb.error.empty()) {
      continue;
    }
    deb.member.added_at = now();
    auto put = m_catalog.put_file(deb.file);
    auto added = put ? m_catalog.add_member(deb.member) : Status(put.error());
    if (!added) {
      m_catalog.rollback();
      m_log.verdict("ERROR", util::Log::Tone::bad, added.message());
      ++summary.errors;
      return false;
    }
  }
  if (auto committed = m_catalog.commit(); !committed) {
    m_log.verdict("ERROR", util::Log::Tone::bad, committed.message());
    ++summary.errors;
    return false;
  }

  std::vector<std::pair<const PreparedDeb*, FileStamp>> moved;
  for (auto& deb : batch) {
    if (!deb.error.empty()) {
      set_aside(queue, {deb.name}, deb.error, summary);
      continue;
    }
    if (deb.duplicate) {
      std::error_code ignored;
      fs::remove(queue / deb.name, ignored);
      ++summary.added;
      summary.changed.insert(deb.member.dist);
      continue;
    }
    const fs::path to = m_root / deb.file.path;
    if (!deb.folder_ready) {
      if (auto made = ensure_dir(to.parent_path()); !made) {
        m_log.verdict("ERROR", util::Log::Tone::bad, made.message());
        ++summary.errors;
        continue;
      }
    }
    if (auto done = util::move_exclusive(queue / deb.name, to, false); !done) {
      m_log.verdict("ERROR", util::Log::Tone::bad, done.message());
      ++summary.errors;
      continue;
    }
    m_touched.insert(to.parent_path());
    m_log.detail(fmt::format("{} {} {} -> {}", deb.member.name, deb.member.version, deb.member.arch,
                             deb.file.path));
    // The stamp of the file where it now is (a refresh would otherwise read
    // it once more).
    if (auto stamp = stamp_of(to)) {
      moved.emplace_back(&deb, *stamp);
    }
    ++summary.added;
    summary.changed.insert(deb.member.dist);
  }
  m_touched.insert(queue);
  if (m_catalog.begin()) {
    for (const auto& [deb, stamp] : moved) {
      if (m_catalog.set_stamp(deb->file.path, stamp)) {
        m_fresh.insert(deb->file.path);
      }
    }
    note_catalog(m_catalog.commit(), queue.string(), summary);
  }
  return true;
}

bool Staging::take_dsc(const fs::path& queue, const std::string& name, const std::string& dist,
                       RunSummary& summary, KeepSource keep)
{
  const auto verified =
    debian::verify_upload(debian::Upload{queue, name}, {m_clock.now(), m_config.grace_period});
  if (verified.verdict == debian::Verdict::waiting) {
    ++summary.waiting;
    return false;
  }
  // The files other sources in the queue still list stay for them.
  std::set<std::string> needed;
  auto entries = util::list_dir(queue);
  for (const auto& other : entries ? *entries : std::vector<std::string>{}) {
    if (other != name && other.ends_with(".dsc") && !other.starts_with('.')) {
      for (auto& listed : debian::listed_files(debian::Upload{queue, other})) {
        needed.insert(std::move(listed));
      }
    }
  }
  std::vector<std::string> own;
  for (const auto& [file, info] : verified.files) {
    if (!needed.count(file)) {
      own.push_back(file);
    }
  }
  if (verified.verdict == debian::Verdict::rejected) {
    std::vector<std::string> names{name};
    names.insert(names.end(), own.begin(), own.end());
    set_aside(queue, names, verified.reason, summary);
    return false;
  }

  const debian::Dsc& dsc = *verified.dsc;
  const debian::Paragraph& paragraph = dsc.control.paragraphs.front();
  const std::string component = component_for(paragraph.get("Section").value_or(""));
  const std::string dir = pool_dir(component, dsc.source);
  std::vector<std::string> listed;
  for (const auto& file : dsc.files) {
    listed.push_back(file.name);
  }
  // Refuse before linking anything: no pool file is ever replaced.
  for (const auto& file : listed) {
    const fs::path to = m_root / dir / file;
    auto present = util::stat_no_follow(to);
    if (present && *present && !util::same_content(queue / file, to)) {
      std::vector<std::string> names{name};
      names.insert(names.end(), own.begin(), own.end());
      set_aside(queue, names,
                fmt::format("{}/{} is already in the pool with different content; it is never "
                            "overwritten",
                            dir, file),
                summary);
      return false;
    }
  }
  // The .dsc's digests from the text read here, the listed files' from the
  // read that verified them: each file is read once.
  auto dsc_text = util::read_file(queue / name, 16 * 1024 * 1024);
  if (!dsc_text) {
    set_aside(queue, {name}, dsc_text.message(), summary);
    return false;
  }
  std::vector<SourceFile> files;
  files.push_back({name, util::digest_bytes(*dsc_text, util::DigestSet::all())});
  for (const auto& file : listed) {
    auto verified_digests = verified.digests.find(file);
    if (verified_digests != verified.digests.end()) {
      files.push_back({file, verified_digests->second});
      continue;
    }
    auto digests = util::digest_file(queue / file, util::DigestSet::all());
    if (!digests) {
      set_aside(queue, {name}, digests.message(), summary);
      return false;
    }
    files.push_back({file, *digests});
  }
  const std::string rel = dir + "/" + name;
  std::vector<std::string> listed_rel;
  for (const auto& file : listed) {
    listed_rel.push_back(dir + "/" + file);
  }
  CachedFile cached{
    rel, {}, sources_stanza(*dsc_text, paragraph, dir, files), *files.front().digests.sha256};
  Member member{dist,       "source",
                component,  "source",
                dsc.source, dsc.version.to_string(),
                dsc.source, dsc.version.to_string(),
                rel,        now(),
                0};
  if (auto made = util::make_dirs(m_root / dir); !made) {
    m_log.verdict("ERROR", util::Log::Tone::bad, made.message());
    ++summary.errors;
    return false;
  }
  // The listed files first, the .dsc last.
  std::vector<std::string> order = listed;
  order.push_back(name);
  for (const auto& file : order) {
    const fs::path to = m_root / dir / file;
    auto present = util::stat_no_follow(to);
    if (present && *present) {
      continue;
    }
    if (auto linked = util::link_or_copy_exclusive(queue / file, to); !linked) {
      m_log.verdict("ERROR", util::Log::Tone::bad, linked.message());
      ++summary.errors;
      return false;
    }
  }
  if (auto stamp = stamp_of(m_root / rel)) {
    cached.stamp = *stamp;
  }
  if (auto put = m_catalog.put_file(cached); !put) {
    m_log.verdict("ERROR", util::Log::Tone::bad, put.message());
    ++summary.errors;
    return false;
  }
  if (auto set = m_catalog.set_source_files(rel, listed_rel); !set) {
    m_log.verdict("ERROR", util::Log::Tone::bad, set.message());
    ++summary.errors;
    return false;
  }
  if (auto added = m_catalog.add_member(member); !added) {
    m_log.verdict("ERROR", util::Log::Tone::bad, added.message());
    ++summary.errors;
    return false;
  }
  // Now the queue copies go, except those another source there still needs;
  // then the stamp (an unlink changes the linked inode's ctime).
  if (keep == KeepSource::no) {
    std::error_code ignored;
    fs::remove(queue / name, ignored);
    for (const auto& file : own) {
      fs::remove(queue / file, ignored);
    }
  }
  if (auto stamp = stamp_of(m_root / rel)) {
    cached.stamp = *stamp;
    note_catalog(m_catalog.put_file(cached), rel, summary);
  }
  m_log.detail(fmt::format("{} {} (source) -> {}", dsc.source, dsc.version.to_string(), rel));
  ++summary.added;
  summary.changed.insert(dist);
  return true;
}

void Staging::take_queue(const config::Product& product, RunSummary& summary)
{
  const fs::path& queue = product.repo_queue;
  auto info = util::stat_no_follow(queue);
  if (!info || !*info) {
    return; // nothing built yet
  }
  auto names = util::list_dir(queue);
  if (!names) {
    m_log.verdict("ERROR", util::Log::Tone::bad, names.message());
    ++summary.errors;
    return;
  }
  // Loose files (as an administrator may drop them) and units, the
  // builds' hand-overs (jobs/handover.hpp): a unit's packages are taken
  // only with its source. Loose binaries first, then loose sources: a
  // source's shared files stay until the last source in the queue that
  // lists them is taken.
  std::vector<std::string> debs;
  std::vector<std::string> units;
  bool any_dsc = false;
  for (const auto& name : *names) {
    if (name.starts_with('.') || name == "rejected") {
      continue;
    }
    auto entry = util::stat_no_follow(queue / name);
    if (!entry || !*entry) {
      continue;
    }
    const bool folder = (*entry)->type == util::FileInfo::Type::directory;
    if (folder && jobs::is_unit_name(name)) {
      units.push_back(name);
      continue;
    }
    any_dsc = any_dsc || name.ends_with(".dsc");
    auto kind = debian::binary_kind(name);
    if (!kind || !debian::check_file_name(name)) {
      continue;
    }
    if ((*entry)->type != util::FileInfo::Type::regular) {
      set_aside(queue, {name}, fmt::format("{} is not a regular file", name), summary);
      continue;
    }
    if (*kind == debian::BinaryKind::ddeb) {
      set_aside(queue, {name},
                fmt::format("{} is a debug symbol package (.ddeb); this archive does not "
                            "publish them (they stay with the build's results)",
                            name),
                summary);
      continue;
    }
    debs.push_back(name);
  }
  if (!debs.empty() || any_dsc || !units.empty()) {
    // Before anything enters the catalog: a run that stops between taking
    // files and regenerating leaves the next run a reason to regenerate.
    mark_pending(product.name);
  }
  take_debs(queue, debs, product.name, summary);
  for (const auto& name : *names) {
    if (name.starts_with('.') || !name.ends_with(".dsc")) {
      continue;
    }
    take_dsc(queue, name, product.name, summary);
  }
  for (const auto& unit : units) {
    take_unit(queue, unit, product.name, summary);
  }
}

// One build's hand-over: its source first, then its packages; a unit whose
// source is refused is set aside whole, so nothing is published without
// its source. A run killed half-way leaves the rest of the unit for the
// next, which takes the source again as the same bytes.
void Staging::take_unit(const fs::path& queue, const std::string& unit, const std::string& dist,
                        RunSummary& summary)
{
  const fs::path dir = queue / unit;
  auto names = util::list_dir(dir);
  if (!names) {
    m_log.verdict("ERROR", util::Log::Tone::bad, names.message());
    ++summary.errors;
    return;
  }
  std::vector<std::string> dscs;
  std::vector<std::string> debs;
  for (const auto& name : *names) {
    if (name.starts_with('.')) {
      continue;
    }
    if (name.ends_with(".dsc")) {
      dscs.push_back(name);
    } else if (debian::is_published_binary(name) && debian::check_file_name(name)) {
      debs.push_back(name);
    }
  }
  if (dscs.size() > 1 || (dscs.empty() && !debs.empty())) {
    set_aside_unit(queue, unit,
                   fmt::format("a build's unit holds its one source package; {} holds {} .dsc "
                               "files",
                               unit, dscs.size()),
                   summary);
    return;
  }
  if (!dscs.empty() && !take_dsc(dir, dscs.front(), dist, summary, KeepSource::yes)) {
    auto refused = util::stat_no_follow(dir / "rejected");
    if (refused && *refused) {
      set_aside_unit(queue, unit,
                     fmt::format("its source {} was refused (see rejected/{}/rejected); none of "
                                 "its packages is published",
                                 dscs.front(), unit),
                     summary);
    }
    return; // else waiting (or an error, said already): the whole unit waits
  }
  util::failpoint("queue-manage:unit-source-taken");
  take_debs(dir, debs, dist, summary);
  // The source's own copies go last: a run killed before here takes the
  // source again (the same bytes) before the packages.
  auto rest = util::list_dir(dir);
  bool refused = false;
  for (const auto& name : rest ? *rest : std::vector<std::string>()) {
    if (name == "rejected") {
      refused = true;
      continue;
    }
    std::error_code ignored;
    fs::remove(dir / name, ignored);
  }
  if (!refused) {
    std::error_code error;
    fs::remove(dir, error);
    // The folder's own sync is moot once it is gone; its removal is the
    // queue's to sync.
    m_touched.erase(dir);
    m_touched.insert(queue);
    if (error) {
      m_log.verdict("ERROR", util::Log::Tone::bad,
                    fmt::format("cannot remove {}: {}", dir.string(), error.message()));
      ++summary.errors;
    }
    return;
  }
  set_aside_unit(queue, unit,
                 fmt::format("{} was taken in part: its source and the packages not in "
                             "rejected/ are published; see the .reason files in rejected/",
                             unit),
                 summary);
}

// A whole unit folder, moved to queue/rejected/ with UNIT.reason beside it.
void Staging::set_aside_unit(const fs::path& queue, const std::string& unit,
                             const std::string& reason, RunSummary& summary)
{
  ++summary.refused;
  const fs::path rejected = queue / "rejected";
  m_log.heading((queue / unit).string());
  m_log.verdict("REFUSED", util::Log::Tone::bad, reason);
  if (auto made = util::make_dirs(rejected); !made) {
    m_log.verdict("ERROR", util::Log::Tone::bad, made.message());
    ++summary.errors;
    return;
  }
  auto to = util::move_no_clobber(queue / unit, rejected / unit);
  if (!to) {
    m_log.verdict("ERROR", util::Log::Tone::bad, to.message());
    ++summary.errors;
    return;
  }
  const std::string body =
    fmt::format("Repository: {}\nRefused: {}\n\n{}\n\nFolder moved here: {}\n", m_repository.name,
                util::format_local_time(m_clock.now()), reason, to->filename().string());
  const std::string reason_name = util::free_name(rejected, to->filename().string() + ".reason");
  if (auto written = util::write_file_exclusive(rejected / reason_name, body); !written) {
    m_log.verdict("ERROR", util::Log::Tone::bad, written.message());
    ++summary.errors;
  }
}

void Staging::refresh_cache(const std::string& dist, RunSummary& summary)
{
  const Stopwatch watch;
  auto members = m_catalog.members(dist);
  if (!members) {
    m_log.verdict("ERROR", util::Log::Tone::bad, members.message());
    ++summary.errors;
    return;
  }
  std::map<std::string, FileStamp> stamps;
  auto& stanzas = m_stanzas[dist];
  stanzas.clear();
  if (auto files = m_catalog.files_of(dist)) {
    for (auto& file : *files) {
      stamps.emplace(file.path, file.stamp);
      stanzas.emplace(std::move(file.path), std::move(file.stanza));
    }
  }
  // Every pool file's stamp, taken on every core: with a large pool these
  // stats are most of a run that adds one package. Files placed and stamped
  // by this very run are not looked at again.
  std::vector<const Member*> checked;
  for (const auto& member : *members) {
    if (!(m_fresh.count(member.path) && stamps.count(member.path))) {
      checked.push_back(&member);
    }
  }
  std::vector<std::optional<FileStamp>> found(checked.size());
  util::parallel_for(checked.size(), util::core_count(), [&](std::size_t i) {
    if (auto stamp = stamp_of(m_root / checked[i]->path)) {
      found[i] = *stamp;
    }
  });
  for (std::size_t i = 0; i < checked.size(); ++i) {
    const Member& member = *checked[i];
    const fs::path path = m_root / member.path;
    const auto& stamp = found[i];
    if (!stamp) {
      // Gone from the pool (deleted by hand): out of the index too.
      mark_pending(dist);
      m_log.verdict("REMOVED", util::Log::Tone::bad,
                    fmt::format("{} is no longer in the pool; dropped from {}", member.path, dist));
      note_catalog(m_catalog.delete_member(member), member.path, summary);
      summary.changed.insert(dist);
      continue;
    }
    const auto cached = stamps.find(member.path);
    if (cached != stamps.end() && cached->second == *stamp) {
      continue;
    }
    // Rewritten in place (or never stamped): read it again.
    mark_pending(dist);
    if (member.kind == "binary") {
      auto binary = read_binary(path);
      if (!binary) {
        m_log.verdict("REMOVED", util::Log::Tone::bad,
                      fmt::format("{} changed in the pool and cannot be read ({}); dropped "
                                  "from {}",
                                  member.path, binary.message(), dist));
        note_catalog(m_catalog.remove_member(member, now()), member.path, summary);
        summary.changed.insert(dist);
        continue;
      }
      CachedFile reread{
        member.path, *stamp,
        packages_stanza(binary->control_text, binary->control, member.path, binary->digests),
        *binary->digests.sha256};
      stanzas[member.path] = reread.stanza;
      note_catalog(m_catalog.put_file(reread), reread.path, summary);
    } else {
      auto text = util::read_file(path, 16 * 1024 * 1024);
      auto dsc = text ? debian::Dsc::parse(*text, member.path) : Result<debian::Dsc>(text.error());
      if (!dsc) {
        note_catalog(m_catalog.remove_member(member, now()), member.path, summary);
        summary.changed.insert(dist);
        continue;
      }
      const std::string dir = fs::path(member.path).parent_path().string();
      std::vector<SourceFile> files;
      // The .dsc may vanish between the read and its digests (deleted by
      // hand): then it is out of the index, like a source missing a file.
      auto own = util::digest_file(path, util::DigestSet::all());
      if (!own) {
        note_catalog(m_catalog.remove_member(member, now()), member.path, summary);
        summary.changed.insert(dist);
        continue;
      }
      files.push_back({path.filename().string(), *own});
      bool whole = true;
      for (const auto& file : dsc->files) {
        auto digests = util::digest_file(m_root / dir / file.name, util::DigestSet::all());
        if (!digests) {
          whole = false;
          break;
        }
        files.push_back({file.name, *digests});
      }
      if (!whole) {
        note_catalog(m_catalog.remove_member(member, now()), member.path, summary);
        summary.changed.insert(dist);
        continue;
      }
      CachedFile reread{member.path, *stamp,
                        sources_stanza(*text, dsc->control.paragraphs.front(), dir, files),
                        *files.front().digests.sha256};
      stanzas[member.path] = reread.stanza;
      note_catalog(m_catalog.put_file(reread), reread.path, summary);
    }
    m_log.info(fmt::format("{} changed in the pool: its index entry was read again", member.path));
    summary.changed.insert(dist);
  }
  m_log.detail(fmt::format("checked the {} files of {} against the cache in {:.2f} s",
                           members->size(), dist, watch.seconds()));
}

void Staging::prune(const std::string& dist, RunSummary& summary)
{
  auto members = m_catalog.members(dist);
  if (!members) {
    ++summary.errors;
    return;
  }
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<const Member*>> groups;
  for (const auto& member : *members) {
    groups[{member.kind, member.name, member.arch}].push_back(&member);
  }
  for (auto& [key, versions] : groups) {
    if (versions.size() <= static_cast<std::size_t>(m_repository.keep_versions)) {
      continue;
    }
    std::sort(versions.begin(), versions.end(), [](const Member* a, const Member* b) {
      return compare_versions(a->version, b->version) > 0;
    });
    for (std::size_t i = static_cast<std::size_t>(m_repository.keep_versions); i < versions.size();
         ++i) {
      mark_pending(dist);
      if (m_catalog.remove_member(*versions[i], now())) {
        m_log.detail(fmt::format("{} {} ({}) leaves {}: keep_versions = {}", versions[i]->name,
                                 versions[i]->version, versions[i]->arch, dist,
                                 m_repository.keep_versions));
        ++summary.pruned;
        summary.changed.insert(dist);
      }
    }
  }
}

void Staging::delete_expired(RunSummary& summary)
{
  auto expired = m_catalog.removed_before(now() - m_repository.delete_after.count());
  if (!expired) {
    ++summary.errors;
    return;
  }
  for (const auto& member : *expired) {
    note_catalog(m_catalog.delete_member(member), member.path, summary);
    std::vector<std::string> paths{member.path};
    if (member.kind == "source") {
      if (auto files = m_catalog.source_files(member.path)) {
        paths.insert(paths.end(), files->begin(), files->end());
      }
    }
    for (const auto& path : paths) {
      auto used = m_catalog.referenced(path);
      if (!used || *used) {
        continue;
      }
      std::error_code error;
      if (fs::remove(m_root / path, error)) {
        ++summary.deleted;
        m_log.detail(fmt::format("deleted {} (out of the indices for {})", path,
                                 m_repository.delete_after.count()));
      }
      note_catalog(m_catalog.forget_file(path), path, summary);
    }
    if (member.kind == "source") {
      note_catalog(m_catalog.set_source_files(member.path, {}), member.path, summary);
    }
  }
}

fs::path Staging::pending_marker(const std::string& dist) const
{
  return m_config.state_dir / "repo" / (m_repository.name + "." + dist + ".pending");
}

void Staging::mark_pending(const std::string& dist)
{
  if (!m_marked.insert(dist).second) {
    return;
  }
  if (auto written = util::write_file_atomic(pending_marker(dist), "regenerate\n"); !written) {
    m_log.verdict("ERROR", util::Log::Tone::bad,
                  fmt::format("{} (if this run stops before {} is regenerated, run queue-manage "
                              "regenerate)",
                              written.message(), dist));
  }
}

bool Staging::is_pending(const std::string& dist) const
{
  auto pending = util::stat_no_follow(pending_marker(dist));
  return pending && *pending;
}

void Staging::clear_pending(const std::string& dist)
{
  std::error_code ignored;
  fs::remove(pending_marker(dist), ignored);
  m_marked.erase(dist);
}

bool Staging::needs_refresh(const std::string& dist) const
{
  auto info = util::stat_no_follow(m_root / "dists" / dist / "Release");
  if (!info || !*info) {
    return true;
  }
  if (m_repository.valid_for.count() == 0) {
    return false;
  }
  return m_clock.now() - (*info)->mtime > m_repository.valid_for / 2;
}

Status Staging::regenerate(const std::string& dist)
{
  const Stopwatch watch;
  const config::Product* product = m_config.product(dist);
  std::vector<std::string> arches;
  if (product) {
    auto resolved = config::product_arches(*product);
    if (!resolved) {
      return Error{resolved.error()};
    }
    arches = *resolved;
  }
  auto members = m_catalog.members(dist);
  if (!members) {
    return Error{members.error()};
  }
  // Stanzas come from the cache, keyed by path; one query per member would
  // cost more than reading them as needed here.
  std::map<std::string, std::string> stanzas;
  if (auto loaded = m_stanzas.find(dist); loaded != m_stanzas.end()) {
    stanzas = std::move(loaded->second);
    m_stanzas.erase(loaded);
  } else {
    auto files = m_catalog.files_of(dist);
    if (!files) {
      return Error{files.error()};
    }
    for (auto& file : *files) {
      stanzas[file.path] = std::move(file.stanza);
    }
  }
  for (const auto& member : *members) {
    if (!stanzas.count(member.path)) {
      return fail("{}: no cached index entry for {}", m_repository.name, member.path);
    }
  }
  // The index texts; the distribution writer compresses, links, signs and
  // puts them in place in order.
  std::vector<IndexText> indices;
  for (const auto& component : m_repository.components) {
    for (const auto& arch : arches) {
      std::string text;
      for (const auto& member : *members) {
        if (member.kind == "binary" && member.component == component &&
            (member.arch == arch || member.arch == "all")) {
          text += stanzas[member.path];
          text += '\n';
        }
      }
      indices.push_back({component + "/binary-" + arch, "Packages", std::move(text)});
    }
    std::string sources;
    for (const auto& member : *members) {
      if (member.kind == "source" && member.component == component) {
        sources += stanzas[member.path];
        sources += '\n';
      }
    }
    indices.push_back({component + "/source", "Sources", std::move(sources)});
  }
  CatalogChunks chunks(m_catalog, now());
  DistributionWriter writer(m_repository, m_signer.get(), chunks, m_clock, m_log);
  TRY(writer.write(m_root / "dists" / dist, dist, arches, indices, [this]() -> Status {
    if (auto synced = wait_for_sync(); !synced) {
      return fail("the pool is not safely on disk, so no index names its new files yet: {}",
                  synced.message());
    }
    return {};
  }));

  m_log.detail(fmt::format("signed and put {} in place in {:.2f} s", dist, watch.seconds()));
  const fs::path flag = m_root / ("." + dist + ".changed");
  if (auto flagged = util::write_file_atomic(flag, util::format_local_time(m_clock.now()) + "\n");
      !flagged) {
    return flagged;
  }
  clear_pending(dist);
  return {};
}

RunSummary Staging::process_queue()
{
  RunSummary summary;
  // Distributions an earlier run changed and did not get to regenerate.
  std::set<std::string> pending;
  for (const auto& dist : m_repository.products) {
    if (is_pending(dist)) {
      pending.insert(dist);
    }
  }
  for (const auto& product : m_config.products) {
    if (product.repository == m_repository.name) {
      take_queue(product, summary);
    }
  }
  // The moves become durable while the indices are made; none is put in
  // place before they are (wait_for_sync).
  m_syncing = std::async(std::launch::async, [this] { return sync_touched(); });
  for (const auto& dist : m_repository.products) {
    refresh_cache(dist, summary);
    prune(dist, summary);
  }
  delete_expired(summary);
  bool regenerated = false;
  for (const auto& dist : m_repository.products) {
    if (!summary.changed.count(dist) && !pending.count(dist) && !needs_refresh(dist)) {
      // Nothing changed after all (the queue held only refused files): the
      // marker this run wrote goes.
      if (m_marked.count(dist)) {
        clear_pending(dist);
      }
      continue;
    }
    regenerated = true;
    if (auto done = regenerate(dist); !done) {
      // The marker stays: the next run regenerates it.
      m_log.verdict("ERROR", util::Log::Tone::bad,
                    fmt::format("{}; the next run tries again", done.message()));
      ++summary.errors;
      summary.changed.erase(dist);
      continue;
    }
    summary.changed.insert(dist);
    m_log.verdict("PUBLISHED", util::Log::Tone::good,
                  fmt::format("{}/dists/{} regenerated{}", m_repository.name, dist,
                              m_signer ? " and signed" : " (unsigned)"));
  }
  // (A regeneration that ran has reported a failed sync already.)
  if (auto synced = wait_for_sync(); !synced && !regenerated) {
    m_log.verdict("ERROR", util::Log::Tone::bad, synced.message());
    ++summary.errors;
  }
  if (regenerated) {
    // Pieces no index used for a week are not coming back.
    m_catalog.prune_chunks(now() - 7 * 24 * 3600);
  }
  return summary;
}

RunSummary Staging::regenerate_all()
{
  RunSummary summary;
  for (const auto& dist : m_repository.products) {
    refresh_cache(dist, summary);
    if (auto done = regenerate(dist); !done) {
      m_log.verdict("ERROR", util::Log::Tone::bad, done.message());
      ++summary.errors;
      continue;
    }
    summary.changed.insert(dist);
  }
  return summary;
}

Result<RunSummary> Staging::promote(const std::string& source, const std::string& version,
                                    Staging& to, const std::string& dist)
{
  RunSummary summary;
  std::vector<std::string> dists;
  for (const auto& candidate : m_repository.products) {
    if ((dist.empty() || candidate == dist) &&
        std::find(to.m_repository.products.begin(), to.m_repository.products.end(), candidate) !=
          to.m_repository.products.end()) {
      dists.push_back(candidate);
    }
  }
  if (dists.empty()) {
    return fail("{} and {} share no distribution{}", m_repository.name, to.m_repository.name,
                dist.empty() ? "" : " " + dist);
  }
  int copied = 0;
  for (const auto& name : dists) {
    auto members = m_catalog.members(name);
    if (!members) {
      return Error{members.error()};
    }
    for (const auto& member : *members) {
      if (member.source != source || compare_versions(member.source_version, version) != 0) {
        continue;
      }
      std::vector<std::string> paths{member.path};
      if (member.kind == "source") {
        auto files = m_catalog.source_files(member.path);
        if (files) {
          paths.insert(paths.end(), files->begin(), files->end());
        }
      }
      for (const auto& path : paths) {
        const fs::path target = to.m_root / path;
        auto present = util::stat_no_follow(target);
        if (present && *present) {
          if (!util::same_content(m_root / path, target)) {
            return fail("{} has a different {} already; it is never overwritten",
                        to.m_repository.name, path);
          }
          continue;
        }
        TRY(util::make_dirs(target.parent_path()));
        TRY(util::link_or_copy_exclusive(m_root / path, target));
      }
      auto cached = m_catalog.file(member.path);
      if (!cached || !*cached) {
        return fail("{}: no cached index entry for {}", m_repository.name, member.path);
      }
      CachedFile copy = **cached;
      if (auto stamp = stamp_of(to.m_root / member.path)) {
        copy.stamp = *stamp;
      }
      TRY(to.m_catalog.put_file(copy));
      if (member.kind == "source") {
        auto files = m_catalog.source_files(member.path);
        if (files) {
          TRY(to.m_catalog.set_source_files(member.path, *files));
        }
      }
      to.mark_pending(name);
      Member promoted = member;
      promoted.added_at = now();
      promoted.removed_at = 0;
      TRY(to.m_catalog.add_member(promoted));
      ++copied;
      m_log.detail(fmt::format("{} -> {} ({})", member.path, to.m_repository.name, name));
    }
  }
  if (copied == 0) {
    return fail("{} has no {} {} in {}", m_repository.name, source, version,
                util::join(dists, ", "));
  }
  summary.added = copied;
  for (const auto& name : dists) {
    to.prune(name, summary);
    for (Staging* side : {&to, this}) {
      TRY(side->regenerate(name));
    }
    summary.changed.insert(name);
  }
  return summary;
}

} // namespace buildme::repo
