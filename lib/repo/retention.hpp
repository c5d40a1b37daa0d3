// What leaves a repository, and what moves on to the next one:
//  - prune: beyond keep_versions of one package (kind, name, arch), the
//    oldest versions leave the indices at once, but their pool files stay:
//    a client holding the old indices can still fetch them;
//  - delete_expired: after delete_after, those members are forgotten and
//    each of their pool files that no current member still uses is deleted;
//  - promote: a source version and its binaries are copied into another
//    repository with hard links, never over a different file there.
// Each says, through `changing`, before it changes what a distribution
// holds, so that a run stopped half-way leaves the next one a reason to
// regenerate it. The caller holds the repository's lock (both, to promote).
#pragma once

#include "config/config.hpp"
#include "repo/catalog.hpp"
#include "repo/pool.hpp"
#include "repo/summary.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace buildme::repo {

class Retention
{
public:
  // `root` is the staging folder.
  Retention(const config::Repository& repository, Catalog& catalog,
            const std::filesystem::path& root, const util::Clock& clock, util::Log& log);

  void prune(const std::string& dist, RunSummary& summary, const std::function<void()>& changing);
  void delete_expired(RunSummary& summary);

  // Copies SOURCE VERSION (the .dsc, the files it lists and every binary
  // built from it) from each of `dists` into `to`, and returns how many
  // members it copied; `changing(dist)` runs before `to` gains one. Error
  // when nothing matches.
  Result<int> promote(const std::string& source, const std::string& version,
                      const std::vector<std::string>& dists, Retention& to,
                      const std::function<void(const std::string&)>& changing);

private:
  std::int64_t now() const;

  const config::Repository& m_repository;
  Catalog& m_catalog;
  const std::filesystem::path& m_root;
  const util::Clock& m_clock;
  util::Log& m_log;
};

} // namespace buildme::repo
