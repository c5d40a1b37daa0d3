#include "repo/staging.hpp"

#include "config/arches.hpp"
#include "debian/deb822.hpp"
#include "debian/upload.hpp"
#include "jobs/set_aside.hpp"
#include "repo/deb.hpp"
#include "repo/distribution.hpp"
#include "repo/index.hpp"
#include "repo/take_in.hpp"
#include "util/digest.hpp"
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

// The records of the indices written, kept in the catalog: the files of an
// index are a digest manifest by file name (its folder is the index's).
struct CatalogRecords : IndexRecords
{
  Catalog& catalog;
  std::string dist;
  CatalogRecords(Catalog& c, std::string d) : catalog(c), dist(std::move(d)) {}

  static std::string folder_of(const std::string& path) { return path.substr(0, path.rfind('/')); }

  std::optional<IndexRecord> get(const std::string& path) override
  {
    auto written = catalog.written(dist, path);
    if (!written || !*written) {
      return std::nullopt;
    }
    auto files = util::parse_digest_manifest((*written)->files, "the written indices");
    if (!files) {
      return std::nullopt; // made again, and the record with it
    }
    IndexRecord record{(*written)->inputs, {}};
    for (auto& [name, digests] : *files) {
      record.files.push_back({folder_of(path) + "/" + name, std::move(digests)});
    }
    // Pieces that cannot be read are none: the index is then made whole.
    if (auto pieces = parse_piece_spans((*written)->pieces)) {
      record.pieces = std::move(*pieces);
    }
    return record;
  }
  Status forget(const std::string& path) override { return catalog.forget_written(dist, path); }
  void put(const std::string& path, const IndexRecord& record) override
  {
    std::map<std::string, util::Digests> files;
    const std::string folder = folder_of(path) + "/";
    for (const auto& file : record.files) {
      if (!file.path.starts_with(folder)) {
        return; // not an index of this folder: no record, so made again
      }
      files[file.path.substr(folder.size())] = file.digests;
    }
    (void)catalog.put_written(
      dist, path,
      {record.inputs, util::write_digest_manifest(files), write_piece_spans(record.pieces)});
  }
};

// Adds the members of an index one by one and tells where its pieces end
// (index.hpp's cuts_after on each pool path), naming each piece by what it
// is made from: the SHA256 of `header` (the settings and the stanza epoch)
// and its members' paths.
class PieceLabels
{
public:
  explicit PieceLabels(std::string header) : m_header(std::move(header)) { m_paths = m_header; }
  // True when a piece ends after `path`: take() then names it.
  bool add(std::string_view path)
  {
    m_paths.append(path);
    m_paths.push_back('\n');
    ++m_count;
    return cuts_after(path) || m_count >= max_piece_stanzas;
  }
  bool open() const { return m_count > 0; }
  // The piece so far: its members, their paths (one a line), its label.
  std::size_t count() const { return m_count; }
  std::string_view paths() const { return std::string_view(m_paths).substr(m_header.size()); }
  std::string label() const
  {
    return *util::digest_bytes(m_paths, {false, false, true, false}).sha256;
  }
  // The next piece begins.
  void next()
  {
    m_paths.resize(m_header.size());
    m_count = 0;
  }
  std::string take()
  {
    std::string taken = label();
    next();
    return taken;
  }

private:
  std::string m_header;
  std::string m_paths;
  std::size_t m_count = 0;
};

// A plan's pieces that are new may name this many members in all; past that
// the index is made from every stanza, in one ordered walk, rather than
// from as many lookups.
constexpr std::size_t max_planned_members = 4096;

} // namespace

fs::path repository_lock(const config::Config& config, const std::string& repository)
{
  return config.state_dir / "repo" / (repository + ".lock");
}

fs::path pending_marker(const config::Config& config, const std::string& repository,
                        const std::string& dist)
{
  return config.state_dir / "repo" / (repository + "." + dist + ".pending");
}

Staging::Staging(const config::Config& config, const config::Repository& repository,
                 std::unique_ptr<sign::Signer> signer, Catalog catalog, const util::Clock& clock,
                 util::Log& log, FolderSync& sync)
  : m_config(config), m_repository(repository), m_signer(std::move(signer)),
    m_catalog(std::move(catalog)), m_clock(clock), m_log(log), m_pool(repository.staging_dir, sync)
{
}

Result<std::unique_ptr<Staging>> Staging::open(const config::Config& config,
                                               const config::Repository& repository,
                                               std::unique_ptr<sign::Signer> signer,
                                               const util::Clock& clock, util::Log& log,
                                               FolderSync& sync)
{
  for (const auto& dir : {repository.staging_dir, config.state_dir / "repo"}) {
    TRY(util::make_dirs(dir));
  }
  TRY_ASSIGN(Catalog catalog,
             Catalog::open((config.state_dir / "repo" / (repository.name + ".sqlite")).string()));
  return std::unique_ptr<Staging>(
    new Staging(config, repository, std::move(signer), std::move(catalog), clock, log, sync));
}

std::int64_t Staging::now() const
{
  return util::unix_seconds(m_clock.now());
}

Status Staging::wait_for_sync()
{
  if (m_syncing.valid()) {
    m_synced = m_syncing.get();
  }
  return m_synced;
}

void Staging::refresh_cache(const std::string& dist, RunSummary& summary, bool every_file)
{
  const util::Stopwatch watch;
  // A sixteenth of the pool a run, in turn (every file within 16 runs), and
  // every file on `every_file` (queue-manage regenerate): statting every pool
  // file is most of a run with nothing to do at Debian's size. repo-publish
  // checks every file an index names before it pushes, so a file rewritten
  // by hand is never published whatever this finds.
  const int slices = every_file ? 1 : pool_check_slices;
  const int slice = every_file ? 0 : static_cast<int>(m_check_turn % pool_check_slices);
  auto listed = m_catalog.members_to_check(dist, slices, slice);
  if (!listed) {
    m_log.verdict("ERROR", util::Log::Tone::bad, listed.message());
    ++summary.errors;
    return;
  }
  // Their stamps, taken on every core. Files placed and stamped by this
  // very run are not looked at again.
  std::vector<std::pair<Member, std::optional<FileStamp>>*> checked;
  for (auto& entry : *listed) {
    if (!(m_pool.is_fresh(entry.first.path) && entry.second)) {
      checked.push_back(&entry);
    }
  }
  std::vector<std::optional<FileStamp>> found(checked.size());
  util::parallel_for(checked.size(), util::core_count(), [&](std::size_t i) {
    if (auto stamp = stamp_of(m_pool.root() / checked[i]->first.path)) {
      found[i] = *stamp;
    }
  });
  for (std::size_t i = 0; i < checked.size(); ++i) {
    const Member& member = checked[i]->first;
    const fs::path path = m_pool.root() / member.path;
    const auto& stamp = found[i];
    if (!stamp) {
      // Gone from the pool (deleted by hand): out of the index too.
      mark_pending(dist);
      m_log.verdict("REMOVED", util::Log::Tone::bad,
                    fmt::format("{} is no longer in the pool; dropped from {}", member.path, dist));
      note_catalog(m_log, m_catalog.delete_member(member), member.path, summary);
      summary.changed.insert(dist);
      continue;
    }
    if (checked[i]->second && *checked[i]->second == *stamp) {
      continue;
    }
    // Rewritten in place (or never stamped): read it again.
    mark_pending(dist);
    if (member.kind == "binary") {
      auto binary = read_binary(path, m_repository.contents);
      if (!binary) {
        m_log.verdict("REMOVED", util::Log::Tone::bad,
                      fmt::format("{} changed in the pool and cannot be read ({}); dropped "
                                  "from {}",
                                  member.path, binary.message(), dist));
        note_catalog(m_log, m_catalog.remove_member(member, now()), member.path, summary);
        summary.changed.insert(dist);
        continue;
      }
      CachedFile reread{
        member.path, *stamp,
        packages_stanza(binary->control_text, binary->control, member.path, binary->digests),
        *binary->digests.sha256};
      note_catalog(m_log, m_catalog.put_file(reread), reread.path, summary);
      if (m_repository.contents) {
        note_catalog(m_log, m_catalog.put_contents(member.path, binary->files), member.path,
                     summary);
      }
    } else {
      auto text = util::read_file(path, 16 * 1024 * 1024);
      auto dsc = text ? debian::Dsc::parse(*text, member.path) : Result<debian::Dsc>(text.error());
      if (!dsc) {
        note_catalog(m_log, m_catalog.remove_member(member, now()), member.path, summary);
        summary.changed.insert(dist);
        continue;
      }
      const std::string dir = fs::path(member.path).parent_path().string();
      std::vector<SourceFile> files;
      // The .dsc may vanish between the read and its digests (deleted by
      // hand): then it is out of the index, like a source missing a file.
      auto own = util::digest_file(path, util::DigestSet::all());
      if (!own) {
        note_catalog(m_log, m_catalog.remove_member(member, now()), member.path, summary);
        summary.changed.insert(dist);
        continue;
      }
      files.push_back({path.filename().string(), *own});
      bool whole = true;
      for (const auto& file : dsc->files) {
        auto digests = util::digest_file(m_pool.root() / dir / file.name, util::DigestSet::all());
        if (!digests) {
          whole = false;
          break;
        }
        files.push_back({file.name, *digests});
      }
      if (!whole) {
        note_catalog(m_log, m_catalog.remove_member(member, now()), member.path, summary);
        summary.changed.insert(dist);
        continue;
      }
      CachedFile reread{member.path, *stamp,
                        sources_stanza(*text, dsc->control.paragraphs.front(), dir, files),
                        *files.front().digests.sha256};
      note_catalog(m_log, m_catalog.put_file(reread), reread.path, summary);
    }
    m_log.info(fmt::format("{} changed in the pool: its index entry was read again", member.path));
    summary.changed.insert(dist);
  }
  m_log.detail(fmt::format(
    "checked {} files of {} against the cache ({}) in {:.2f} s", checked.size(), dist,
    every_file ? "all of them" : fmt::format("turn {} of {}", slice + 1, slices), watch.seconds()));
}

std::uint64_t Staging::next_check_turn()
{
  // state_dir/repo/<repository>.turn: the run's number, for the slice of the
  // pool it checks. Lost or unreadable, it starts again at 0 (a slice is
  // checked twice, none is skipped for long).
  const fs::path path = m_config.state_dir / "repo" / (m_repository.name + ".turn");
  std::uint64_t turn = 0;
  if (auto text = util::read_file(path, 64)) {
    try {
      turn = std::stoull(std::string(util::trim(*text)));
    } catch (const std::exception&) {
      turn = 0;
    }
  }
  if (auto written = util::write_file_atomic(path, fmt::format("{}\n", turn + 1)); !written) {
    // Not the run's failure, but not to be missed: until it can be
    // written, every run checks the same sixteenth of the pool.
    m_log.verdict("ERROR", util::Log::Tone::bad,
                  fmt::format("{}: every run checks the same sixteenth of the pool until "
                              "{} can be written (queue-manage regenerate checks all of it)",
                              written.message(), path.string()));
  }
  return turn;
}

fs::path Staging::journal_dir() const
{
  return m_config.state_dir / "repo" / (m_repository.name + ".txn");
}

fs::path Staging::pending_marker(const std::string& dist) const
{
  return repo::pending_marker(m_config, m_repository.name, dist);
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
  auto info = util::stat_no_follow(m_pool.root() / "dists" / dist / "Release");
  if (!info || !*info) {
    return true;
  }
  if (m_repository.valid_for.count() == 0) {
    return false;
  }
  return m_clock.now() - (*info)->mtime > m_repository.valid_for / 2;
}

Status Staging::write_archive_key()
{
  if (!m_signer || m_key_written) {
    return {};
  }
  TRY_ASSIGN(const std::string key, m_signer->public_key());
  const fs::path path = m_repository.staging_dir / config::archive_key_name;
  auto old = util::read_file(path);
  if (!old || *old != key) {
    TRY(util::write_file_atomic(path, key));
    m_log.info(fmt::format("wrote the public key {} to {}", m_repository.sign_with, path.string()));
  }
  m_key_written = true;
  return {};
}

Status Staging::fingerprint(const std::string& dist, const std::vector<Listing>& listings,
                            std::vector<IndexText>& indices, const std::vector<PiecePlan*>& plans,
                            const std::vector<std::set<std::string>>& known)
{
  // Pool paths name their content (the pool never overwrites a file), so
  // an index is made from the paths of its members, in its order, and the
  // stanza epoch, which counts every change to a current member's stanza or
  // names; and from the settings that shape its files. So is each piece.
  TRY_ASSIGN(const std::int64_t epoch, m_catalog.stanza_epoch());
  std::vector<util::Hasher> hashers(indices.size());
  std::vector<std::string> buffers(indices.size());
  std::vector<std::optional<PieceLabels>> labels(indices.size());
  std::vector<std::size_t> new_members(indices.size(), 0);
  constexpr std::size_t flush_at = 256 * 1024;
  const std::string settings =
    fmt::format("epoch {}\ngz {} xz {} by-hash {}\n", epoch, m_repository.gzip, m_repository.xz,
                m_repository.by_hash);
  for (std::size_t i = 0; i < indices.size(); ++i) {
    TRY(hashers[i].start({false, false, true, false}));
    buffers[i] =
      fmt::format("buildme index 1\n{}/{}\n{}", indices[i].rel_dir, indices[i].name, settings);
    if (plans[i]) {
      plans[i]->header = "buildme piece 1\n" + settings;
      plans[i]->pieces.clear();
      plans[i]->whole = known[i].empty();
      labels[i].emplace(plans[i]->header);
    }
  }
  // A piece ends: the plan keeps its label, and its paths when new.
  // (A plan made whole needs no labels: the index is labelled as it is made.)
  auto end_piece = [&](std::size_t i) {
    PiecePlan& plan = *plans[i];
    if (!plan.whole) {
      std::string label = labels[i]->label();
      if (known[i].count(label)) {
        plan.pieces.push_back({std::move(label), {}});
      } else if ((new_members[i] += labels[i]->count()) > max_planned_members) {
        plan.whole = true;
        plan.pieces.clear();
      } else {
        plan.pieces.push_back({std::move(label), std::string(labels[i]->paths())});
      }
    }
    labels[i]->next();
  };
  auto each = [&](std::string_view kind, std::string_view component, std::string_view arch,
                  std::string_view path) -> Status {
    for (std::size_t i = 0; i < indices.size(); ++i) {
      if (!listings[i].has(kind, component, arch)) {
        continue;
      }
      buffers[i].append(path);
      buffers[i].push_back('\n');
      if (buffers[i].size() >= flush_at) {
        TRY(hashers[i].update(buffers[i]));
        buffers[i].clear();
      }
      if (labels[i] && labels[i]->add(path)) {
        end_piece(i);
      }
    }
    return {};
  };
  TRY(m_catalog.each_listed(dist, each));
  for (std::size_t i = 0; i < indices.size(); ++i) {
    TRY(hashers[i].update(buffers[i]));
    TRY_ASSIGN(const util::Digests digests, hashers[i].finish());
    indices[i].inputs = *digests.sha256;
    if (labels[i] && labels[i]->open()) {
      end_piece(i);
    }
  }
  return {};
}

Status Staging::regenerate(const std::string& dist, bool remake_all)
{
  const util::Stopwatch watch;
  // Also when nothing in it changed (a refresh before Valid-Until, a
  // regenerate by hand): a run killed while it puts the new indices in
  // place leaves the marker, so repo-publish does not push the mix.
  mark_pending(dist);
  TRY(write_archive_key());
  const config::Product* product = m_config.product(dist);
  std::vector<std::string> arches;
  if (product) {
    TRY_ASSIGN(arches, config::product_arches(*product));
  }
  // Each index is made from the cached stanzas when the writer comes to it,
  // a piece at a time: the pieces its record has are copied from the files
  // in place, the others made from their members' stanzas (PiecePlan); or,
  // with no plan, from every stanza, streamed from the catalog in index
  // order.
  std::vector<std::unique_ptr<PiecePlan>> owned_plans;
  auto index_of = [this, dist, &owned_plans](std::string kind, std::string component,
                                             std::string arch) {
    owned_plans.push_back(std::make_unique<PiecePlan>());
    const PiecePlan* plan = owned_plans.back().get();
    return [this, dist, kind, component, arch, plan](IndexFiles& files,
                                                     PieceCopier* before) -> Status {
      auto mend = [this](const std::string& message) {
        return fail("{}: {}; queue-manage regenerate --repository {} reads every pool file "
                    "again",
                    m_repository.name, message, m_repository.name);
      };
      bool copying = before && !plan->whole;
      for (const auto& piece : plan->pieces) {
        copying = copying && (!piece.paths.empty() || before->find(piece.label));
      }
      if (copying) {
        std::string text;
        for (const auto& piece : plan->pieces) {
          if (piece.paths.empty()) {
            TRY(before->copy(*before->find(piece.label), files));
            continue;
          }
          text.clear();
          for (std::string_view path : util::split(piece.paths, "\n")) {
            TRY_ASSIGN(auto file, m_catalog.file(std::string(path)));
            if (!file) {
              return mend(fmt::format("no cached index entry for {}", path));
            }
            text += file->stanza;
            text.push_back('\n');
          }
          TRY(files.add(std::move(text), piece.label));
        }
        return {};
      }
      PieceLabels labels(plan->header);
      std::string text;
      auto made = m_catalog.each_stanza(
        dist, kind, component, arch, [&](std::string_view stanza, std::string_view path) -> Status {
          text.append(stanza);
          text.push_back('\n');
          if (labels.add(path)) {
            TRY(files.add(std::move(text), labels.take()));
            text.clear();
          }
          return Status();
        });
      if (!made) {
        return mend(made.message());
      }
      if (labels.open()) {
        TRY(files.add(std::move(text), labels.take()));
      }
      return {};
    };
  };
  std::vector<IndexText> indices;
  std::vector<Listing> listings;
  std::vector<PiecePlan*> plans;
  for (const auto& component : m_repository.components) {
    for (const auto& arch : arches) {
      indices.push_back({component + "/binary-" + arch, "Packages", {}, false});
      indices.back().stream = index_of("binary", component, arch);
      listings.push_back({"binary", component, arch});
      plans.push_back(owned_plans.back().get());
    }
    indices.push_back({component + "/source", "Sources", {}, false});
    indices.back().stream = index_of("source", component, {});
    listings.push_back({"source", component, {}});
    plans.push_back(owned_plans.back().get());
  }
  if (m_repository.contents) {
    TRY(add_contents(dist, arches, indices, listings));
  }
  plans.resize(indices.size(), nullptr);
  CatalogChunks chunks(m_catalog, now());
  CatalogRecords records(m_catalog, dist);
  // The labels of the pieces each index's record has (none when every index
  // is made again).
  std::vector<std::set<std::string>> known(indices.size());
  for (std::size_t i = 0; i < indices.size() && !remake_all; ++i) {
    if (!plans[i]) {
      continue;
    }
    if (auto record = records.get(indices[i].rel_dir + "/" + indices[i].name)) {
      for (auto& piece : record->pieces) {
        known[i].insert(std::move(piece.label));
      }
    }
  }
  TRY(fingerprint(dist, listings, indices, plans, known));
  DistributionWriter writer(m_repository, m_signer.get(), chunks, m_clock, m_log);
  // `regenerate` by hand makes every index again (and records each anew).
  writer.set_records(&records, !remake_all);
  TRY(writer.write(m_pool.root() / "dists" / dist, dist, arches, indices, [this]() -> Status {
    if (auto synced = wait_for_sync(); !synced) {
      return fail("the pool is not safely on disk, so no index names its new files yet: {}",
                  synced.message());
    }
    return {};
  }));

  if (!m_repository.contents) {
    // Contents written while contents was on: the Release in place now
    // lists none, so they go too (their by-hash copies expire as others do).
    for (const auto& component : m_repository.components) {
      std::error_code error;
      fs::directory_iterator entry(m_pool.root() / "dists" / dist / component, error);
      for (; !error && entry != fs::directory_iterator(); entry.increment(error)) {
        if (entry->path().filename().string().starts_with("Contents-")) {
          std::error_code ignored;
          fs::remove(entry->path(), ignored);
        }
      }
    }
  }
  m_log.detail(fmt::format("signed and put {} in place in {:.2f} s", dist, watch.seconds()));
  const fs::path flag = m_pool.root() / ("." + dist + ".changed");
  if (auto flagged = util::write_file_atomic(flag, util::format_local_time(m_clock.now()) + "\n");
      !flagged) {
    return flagged;
  }
  clear_pending(dist);
  // Staged, not published: clients see it once repo-publish has pushed it.
  m_log.verdict("STAGED", util::Log::Tone::good,
                fmt::format("{}/dists/{} regenerated{}, flagged for repo-publish",
                            m_repository.name, dist, m_signer ? " and signed" : " (unsigned)"));
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
  // Set-asides a killed run left half-done are finished first: until they
  // are, the queue may hold part of what they set aside, so nothing is taken.
  auto replayed = jobs::replay_set_asides(
    journal_dir(), "inspect it, finish the move by hand, then delete it; queue-manage takes "
                   "nothing from the queue until then");
  if (!replayed) {
    m_log.verdict("ERROR", util::Log::Tone::bad, replayed.message());
    ++summary.errors;
  } else {
    for (const auto& line : *replayed) {
      m_log.info(line);
    }
    QueueTaker taker(m_config, m_repository, m_catalog, m_pool, journal_dir(), m_clock, m_log);
    for (const auto& product : m_config.products) {
      if (product.repository == m_repository.name) {
        taker.take_queue(product, summary, [&] { mark_pending(product.name); });
      }
    }
  }
  // The moves become durable while the indices are made; none is put in
  // place before they are (wait_for_sync).
  m_syncing = std::async(std::launch::async, [this] { return m_pool.sync_touched(); });
  Retention retained = retention();
  m_check_turn = next_check_turn();
  // Members with no stamp are checked until a check has read them all.
  auto stamped = m_catalog.state("stamped");
  const int errors = summary.errors;
  for (const auto& dist : m_repository.products) {
    refresh_cache(dist, summary, false);
    retained.prune(dist, summary, [&] { mark_pending(dist); });
  }
  if (stamped && *stamped != 1 && summary.errors == errors) {
    (void)m_catalog.set_state("stamped", 1); // else looked for again next time
  }
  retained.delete_expired(summary);
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
    refresh_cache(dist, summary, true);
    if (auto done = regenerate(dist, true); !done) {
      m_log.verdict("ERROR", util::Log::Tone::bad, done.message());
      ++summary.errors;
      continue;
    }
    summary.changed.insert(dist);
  }
  return summary;
}

Status Staging::add_contents(const std::string& dist, const std::vector<std::string>& arches,
                             std::vector<IndexText>& indices, std::vector<Listing>& listings)
{
  TRY_ASSIGN(const std::vector<std::string> unlisted, m_catalog.unlisted());
  // The .debs with no names kept yet (of any distribution) are read on
  // every core, and kept in one transaction; once all are, the catalog
  // stops looking for them until a member comes without its names.
  if (!unlisted.empty()) {
    std::vector<Result<DebFile>> read(unlisted.size(), Result<DebFile>(DebFile{}));
    util::parallel_for(unlisted.size(), util::core_count(), [&](std::size_t i) {
      read[i] = read_deb(m_pool.root() / unlisted[i], util::DigestSet{}, {}, true);
    });
    TRY(m_catalog.begin());
    std::size_t kept = 0;
    for (std::size_t i = 0; i < unlisted.size(); ++i) {
      if (!read[i]) {
        // Still in Packages (its control data read well before): left out
        // of Contents until it can be read, and said.
        m_log.verdict("ERROR", util::Log::Tone::bad,
                      fmt::format("cannot list the files of {} for Contents: {}", unlisted[i],
                                  read[i].message()));
        continue;
      }
      if (auto put = m_catalog.put_contents(unlisted[i], read[i]->files); !put) {
        m_catalog.rollback();
        return put;
      }
      ++kept;
    }
    if (kept == unlisted.size()) {
      if (auto flagged = m_catalog.set_state("listed", 1); !flagged) {
        m_catalog.rollback();
        return flagged;
      }
    }
    TRY(m_catalog.commit());
    m_log.detail(fmt::format("listed the files of {} of {} unlisted .debs for Contents", kept,
                             unlisted.size()));
  }
  std::vector<std::string> contents_arches = arches;
  if (std::find(arches.begin(), arches.end(), "all") == arches.end()) {
    contents_arches.push_back("all");
  }
  for (const auto& component : m_repository.components) {
    for (const auto& arch : contents_arches) {
      // Made when written, as the other indices are, and handed to the
      // writer a line at a time, cut into pieces as it goes; the names of
      // this one index are in memory while they are sorted.
      auto stream = [this, dist, component, arch](IndexFiles& files, PieceCopier*) -> Status {
        std::vector<std::string> locations;
        std::vector<std::string> names;
        TRY(m_catalog.each_contents(
          dist, component, arch,
          [&](std::string_view name, std::string_view section, std::string_view listed) {
            locations.push_back(section.empty() ? std::string(name)
                                                : fmt::format("{}/{}", section, name));
            names.emplace_back(listed);
            return Status();
          }));
        std::vector<ContentsSource> sources;
        sources.reserve(names.size());
        for (std::size_t i = 0; i < names.size(); ++i) {
          sources.push_back({std::move(locations[i]), names[i]});
        }
        std::string piece;
        auto add_line = [&](std::string_view line) -> Status {
          piece.append(line);
          if (!cuts_after_line(line.substr(0, line.size() - 1), piece.size())) {
            return {};
          }
          Status added = files.add(std::move(piece));
          piece.clear();
          return added;
        };
        TRY(each_contents_line(sources, add_line));
        if (!piece.empty()) {
          TRY(files.add(std::move(piece)));
        }
        return {};
      };
      indices.push_back({component, "Contents-" + arch, {}, true});
      indices.back().stream = stream;
      listings.push_back({"binary", component, arch});
    }
  }
  return {};
}

Result<PackageCount> Staging::promote(const std::string& source, const std::string& version,
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
  Retention target = to.retention();
  TRY_ASSIGN(PackageCount copied,
             retention().promote(source, version, dists, target,
                                 [&to](const std::string& name) { to.mark_pending(name); }));
  for (const auto& name : copied.dists) {
    target.prune(name, summary, [&] { to.mark_pending(name); });
    for (Staging* side : {&to, this}) {
      TRY(side->regenerate(name));
    }
  }
  return copied;
}

Result<Removal> Staging::find_removal(const std::string& source, const std::string& version,
                                      const std::vector<std::string>& dists)
{
  return retention().find_removal(source, version, dists);
}

Result<RunSummary> Staging::remove(const Removal& removal)
{
  RunSummary summary;
  // A failure leaves the pending markers it wrote: the next run then
  // regenerates what did not change, which costs only time.
  TRY(
    retention().remove(removal, summary, [this](const std::string& dist) { mark_pending(dist); }));
  bool regenerated = true;
  for (const auto& dist : removal.count.dists) {
    if (auto done = regenerate(dist); !done) {
      // The marker stays: the next run regenerates it.
      m_log.verdict("ERROR", util::Log::Tone::bad,
                    fmt::format("{}; the next run tries again", done.message()));
      ++summary.errors;
      summary.changed.erase(dist);
      regenerated = false;
    }
  }
  m_log.verdict("REMOVED", regenerated ? util::Log::Tone::good : util::Log::Tone::bad,
                fmt::format("{}, {}; the first queue-manage run after delete_after ({}) deletes "
                            "the pool files no other package uses",
                            removal.describe(),
                            regenerated ? "out of the indices now"
                                        : "out of the catalog, and out of the indices once "
                                          "a run regenerates them",
                            util::age_text(m_repository.delete_after.count())));
  return summary;
}

} // namespace buildme::repo
