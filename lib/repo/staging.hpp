// A repository as queue-manage builds it in its staging folder:
//
//   staging_dir/pool/<component>/<prefix>/<source>/   the files
//   staging_dir/dists/<dist>/                          one per product:
//       Release, Release.gpg, InRelease
//       <component>/binary-<arch>/Packages{,.gz,.xz}
//       <component>/source/Sources{,.gz,.xz}
//       ... /by-hash/<Hash>/<digest>                   with by_hash
//   staging_dir/.<dist>.changed                        "publish me"
//
// Contract:
//  - A pool file is never overwritten: a queue file whose pool name is taken
//    by different content is refused (set aside with a reason).
//  - A client never sees a broken repository: every index is written under a
//    temporary name, then renamed into place after signing, Release.gpg,
//    Release and InRelease last; by-hash copies exist before the Release
//    that names them.
//  - Versions beyond keep_versions leave the indices at once; their pool
//    files are deleted only after delete_after.
//  - .<dist>.changed is touched only when that distribution changed.
// One queue-manage per repository at a time (the caller holds its lock).
#pragma once

#include "config/config.hpp"
#include "repo/catalog.hpp"
#include "sign/signer.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace buildme::repo {

struct RunSummary
{
  int added = 0;     // files taken into the pool
  int refused = 0;   // set aside with a reason
  int waiting = 0;   // sources whose files are still arriving
  int pruned = 0;    // versions that left the indices
  int deleted = 0;   // pool files deleted after delete_after
  std::set<std::string> changed; // distributions regenerated
  int errors = 0;
};

class Staging
{
public:
  // `signer` may be null for an unsigned repository (apt then needs
  // [trusted=yes]; the log says so).
  static Result<std::unique_ptr<Staging>> open(const config::Config& config,
                                               const config::Repository& repository,
                                               std::unique_ptr<sign::Signer> signer,
                                               const util::Clock& clock, util::Log& log);

  // Takes the repo_queue of every product that enters here, prunes old
  // versions, deletes expired pool files, and regenerates, signs and flags
  // every distribution that changed (or whose Release nears Valid-Until).
  RunSummary process_queue();

  // Copies SOURCE VERSION (the .dsc and every binary built from it) from
  // this repository into `to`, for each distribution both hold (or only
  // `dist`), with hard links, and regenerates both. Error when nothing
  // matches.
  Result<RunSummary> promote(const std::string& source, const std::string& version,
                             Staging& to, const std::string& dist);

  // Regenerates every distribution now.
  RunSummary regenerate_all();

  Catalog& catalog() { return m_catalog; }
  const config::Repository& repository() const { return m_repository; }

private:
  Staging(const config::Config& config, const config::Repository& repository,
          std::unique_ptr<sign::Signer> signer, Catalog catalog, const util::Clock& clock,
          util::Log& log);

  struct PreparedDeb;
  void take_queue(const config::Product& product, RunSummary& summary);
  void take_debs(const std::filesystem::path& queue, const std::vector<std::string>& names,
                 const std::string& dist, RunSummary& summary);
  // Records a batch read by take_debs in one transaction, then moves its
  // files into the pool; false when the catalog failed (nothing moved).
  bool take_batch(const std::filesystem::path& queue, std::vector<PreparedDeb>& batch,
                  RunSummary& summary);
  bool take_dsc(const std::filesystem::path& queue, const std::string& name,
                const std::string& dist, RunSummary& summary);
  void set_aside(const std::filesystem::path& queue, const std::vector<std::string>& names,
                 const std::string& reason, RunSummary& summary);
  void refresh_cache(const std::string& dist, RunSummary& summary);
  void prune(const std::string& dist, RunSummary& summary);
  void delete_expired(RunSummary& summary);
  bool needs_refresh(const std::string& dist) const;
  Status regenerate(const std::string& dist);
  std::string component_for(const std::string& section) const;
  std::int64_t now() const;
  // mkdir -p, once per folder per run.
  Status ensure_dir(const std::filesystem::path& dir);
  // Moves into the pool are synced once per folder at the end of a run, not
  // once per file.
  Status sync_touched();
  // The result of the sync process_queue started after taking the queues
  // (waiting for it to end); success when none was started.
  Status wait_for_sync();

  const config::Config& m_config;
  const config::Repository& m_repository;
  std::unique_ptr<sign::Signer> m_signer;
  Catalog m_catalog;
  const util::Clock& m_clock;
  util::Log& m_log;
  std::filesystem::path m_root;
  std::set<std::filesystem::path> m_made;
  std::set<std::filesystem::path> m_touched;
  std::future<Status> m_syncing;
  Status m_synced;
  // Pool files this run placed and stamped itself: no need to stat them again.
  std::set<std::string> m_fresh;
  // Each distribution's cached stanzas as refresh_cache read (and updated)
  // them, for regenerate to use instead of reading them all again.
  std::map<std::string, std::map<std::string, std::string>> m_stanzas;
};

// Where a source package's files go: pool/<component>/<prefix>/<source>,
// prefix "libf" for libfoo, else the first letter.
std::string pool_dir(const std::string& component, const std::string& source);

} // namespace buildme::repo
