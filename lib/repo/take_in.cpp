#include "repo/take_in.hpp"

#include "debian/syntax.hpp"
#include "debian/upload.hpp"
#include "debian/verify.hpp"
#include "jobs/handover.hpp"
#include "repo/deb.hpp"
#include "repo/index.hpp"
#include "util/digest.hpp"
#include "util/failpoint.hpp"
#include "util/fs.hpp"
#include "util/parallel.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <future>

namespace buildme::repo {

namespace fs = std::filesystem;

QueueTaker::QueueTaker(const config::Config& config, const config::Repository& repository,
                       Catalog& catalog, Pool& pool, fs::path journal_dir, const util::Clock& clock,
                       util::Log& log)
  : m_config(config), m_repository(repository), m_catalog(catalog), m_pool(pool),
    m_journal_dir(std::move(journal_dir)), m_clock(clock), m_log(log)
{
}

std::int64_t QueueTaker::now() const
{
  return util::unix_seconds(m_clock.now());
}

std::string QueueTaker::component_for(const std::string& section) const
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

bool QueueTaker::set_aside(const fs::path& queue, const std::vector<std::string>& names,
                           const std::string& reason, RunSummary& summary)
{
  ++summary.refused;
  m_log.heading((queue / names.front()).string());
  m_log.verdict("REFUSED", util::Log::Tone::bad, reason);
  // The first name is the control, moved last with NAME.reason beside it;
  // the inodes keep a replay off a new file of the same name.
  jobs::SetAside move;
  move.from_dir = queue;
  move.rejected_dir = queue / "rejected";
  move.header = {{"Repository", m_repository.name},
                 {"Refused", util::format_local_time(m_clock.now())}};
  move.reason = reason;
  for (const auto& name : names) {
    auto info = util::stat_no_follow(queue / name);
    if (!info || !*info) {
      continue; // (gone since it was listed: nothing to set aside)
    }
    const auto inode = static_cast<unsigned long>((*info)->inode);
    if (move.control.empty()) {
      move.control = name;
      move.control_inode = inode;
    } else {
      move.files.push_back(name);
      move.inodes.push_back(inode);
    }
  }
  if (move.control.empty()) {
    return true;
  }
  return finish_set_aside(std::move(move), summary).has_value();
}

std::optional<jobs::SetAsideOutcome> QueueTaker::finish_set_aside(jobs::SetAside move,
                                                                  RunSummary& summary)
{
  auto done = jobs::set_aside(m_journal_dir, std::move(move));
  if (!done) {
    // Its journal stays: the next run finishes it before taking anything.
    m_log.verdict("ERROR", util::Log::Tone::bad, done.message());
    ++summary.errors;
    m_journal_left = true;
    return std::nullopt;
  }
  m_log.detail(fmt::format("reason written to {}", done->reason.string()));
  return std::move(*done);
}

// What reading one queued .deb found: everything the catalog needs, or why
// it cannot be taken. Made on worker threads, which only read, except that
// they make the pool folder a new file will go to.
struct QueueTaker::PreparedDeb
{
  std::string name;
  std::string error;      // set aside with this reason
  bool duplicate = false; // the pool holds this very file already
  bool folder_ready = false;
  CachedFile file;
  Member member;
  std::string contents; // data.tar's names, when the repository has Contents
};

void QueueTaker::take_debs(const fs::path& queue, const std::vector<std::string>& names,
                           const std::string& dist, RunSummary& summary)
{
  // Batches go through two stages at once: workers read batch k+1 on every
  // core while this thread records batch k in one transaction and then
  // moves its files. The catalog knows a file before it leaves the queue,
  // so a run that dies mid-batch leaves the rest in the queue for the next.
  constexpr std::size_t batch_size = 512;
  const unsigned threads = util::core_count();
  const util::Stopwatch watch;
  const int added_before = summary.added;

  auto prepare = [&](const std::string& name) {
    PreparedDeb deb;
    deb.name = name;
    const fs::path from = queue / name;
    auto binary = read_binary(from, m_repository.contents);
    if (!binary) {
      deb.error = fmt::format("cannot read {}: {}", name, binary.message());
      return deb;
    }
    deb.contents = std::move(binary->files);
    const util::Digests& digests = binary->digests;
    const std::string component = component_for(binary->section);
    const std::string rel = pool_dir(component, binary->source) + "/" + name;
    const fs::path to = m_pool.root() / rel;
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

bool QueueTaker::take_batch(const fs::path& queue, std::vector<PreparedDeb>& batch,
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
    if (put && m_repository.contents) {
      put = m_catalog.put_contents(deb.file.path, deb.contents);
    }
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
    const fs::path to = m_pool.root() / deb.file.path;
    if (!deb.folder_ready) {
      if (auto made = m_pool.ensure_dir(to.parent_path()); !made) {
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
    m_pool.touch(to.parent_path());
    util::failpoint("queue-manage:deb-moved");
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
  m_pool.touch(queue);
  if (m_catalog.begin()) {
    for (const auto& [deb, stamp] : moved) {
      if (m_catalog.set_stamp(deb->file.path, stamp)) {
        m_pool.stamped(deb->file.path);
      }
    }
    note_catalog(m_log, m_catalog.commit(), queue.string(), summary);
  }
  return true;
}

bool QueueTaker::take_dsc(const fs::path& queue, const std::string& name, const std::string& dist,
                          RunSummary& summary, KeepSource keep,
                          const std::map<std::string, util::Digests>* known)
{
  debian::VerifyOptions options{m_clock.now(), m_config.grace_period};
  options.known_digests = known;
  const auto verified = debian::verify_upload(debian::Upload{queue, name}, options);
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
    const fs::path to = m_pool.root() / dir / file;
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
  if (auto made = util::make_dirs(m_pool.root() / dir); !made) {
    m_log.verdict("ERROR", util::Log::Tone::bad, made.message());
    ++summary.errors;
    return false;
  }
  // The listed files first, the .dsc last.
  std::vector<std::string> order = listed;
  order.push_back(name);
  for (const auto& file : order) {
    const fs::path to = m_pool.root() / dir / file;
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
  if (auto stamp = stamp_of(m_pool.root() / rel)) {
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
  if (auto stamp = stamp_of(m_pool.root() / rel)) {
    cached.stamp = *stamp;
    note_catalog(m_log, m_catalog.put_file(cached), rel, summary);
  }
  m_log.detail(fmt::format("{} {} (source) -> {}", dsc.source, dsc.version.to_string(), rel));
  ++summary.added;
  summary.changed.insert(dist);
  return true;
}

void QueueTaker::take_queue(const config::Product& product, RunSummary& summary,
                            const std::function<void()>& changing)
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
    changing();
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
void QueueTaker::take_unit(const fs::path& queue, const std::string& unit, const std::string& dist,
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
  auto refused_before = util::stat_no_follow(dir / "rejected");
  if (dscs.empty() && refused_before && *refused_before) {
    // A run killed after setting the source aside (the replay finished that).
    set_aside_unit(queue, unit,
                   fmt::format("its source was refused (see rejected/{}/rejected); none of its "
                               "packages is published",
                               unit),
                   summary);
    return;
  }
  if (dscs.size() > 1 || (dscs.empty() && !debs.empty())) {
    set_aside_unit(queue, unit,
                   fmt::format("a build's unit holds its one source package; {} holds {} .dsc "
                               "files",
                               unit, dscs.size()),
                   summary);
    return;
  }
  // The digests intake took travel in the unit; a manifest that does not
  // parse is only a lost shortcut.
  std::optional<std::map<std::string, util::Digests>> known;
  if (auto text = util::read_file(dir / jobs::digests_file, 1024 * 1024)) {
    auto parsed = util::parse_digest_manifest(*text, (dir / jobs::digests_file).string());
    if (parsed) {
      known = std::move(*parsed);
    } else {
      m_log.detail(fmt::format("{} (the source files are read again)", parsed.message()));
    }
  }
  if (!dscs.empty() &&
      !take_dsc(dir, dscs.front(), dist, summary, KeepSource::yes, known ? &*known : nullptr)) {
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
    m_pool.untouch(dir);
    m_pool.touch(queue);
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
void QueueTaker::set_aside_unit(const fs::path& queue, const std::string& unit,
                                const std::string& reason, RunSummary& summary)
{
  if (m_journal_left) {
    // A set-aside inside the unit may be unfinished: moving the unit would
    // take the files its journal names from where the replay looks.
    m_log.detail(fmt::format("{} waits for the next run: {}", (queue / unit).string(), reason));
    return;
  }
  ++summary.refused;
  m_log.heading((queue / unit).string());
  m_log.verdict("REFUSED", util::Log::Tone::bad, reason);
  auto info = util::stat_no_follow(queue / unit);
  if (!info || !*info) {
    m_log.verdict("ERROR", util::Log::Tone::bad,
                  fmt::format("{} is gone", (queue / unit).string()));
    ++summary.errors;
    return;
  }
  jobs::SetAside move;
  move.from_dir = queue;
  move.rejected_dir = queue / "rejected";
  move.control = unit;
  move.control_inode = static_cast<unsigned long>((*info)->inode);
  move.header = {{"Repository", m_repository.name},
                 {"Unit", unit},
                 {"Refused", util::format_local_time(m_clock.now())}};
  move.reason = reason;
  const fs::path dir = queue / unit;
  auto done = finish_set_aside(std::move(move), summary);
  if (done) {
    // The packages this run took out of the unit left entries to sync in
    // the folder, which is now in rejected/.
    m_pool.untouch(dir);
    m_pool.touch(done->control);
  }
}

} // namespace buildme::repo
