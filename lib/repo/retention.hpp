// What leaves a repository, and what moves on to the next one:
//  - prune: beyond keep_versions of one package (kind, name, arch), the
//    oldest versions leave the indices at once, but their pool files stay:
//    a client holding the old indices can still fetch them;
//  - delete_expired: after delete_after, those members are forgotten and
//    each of their pool files that no current member still uses is deleted;
//  - promote: a source version and its binaries are copied into another
//    repository with hard links, never over a different file there;
//  - remove (reprepro's removesrc): a source package and every binary built
//    from it leave the indices at once, all or nothing; like a pruned
//    version's, their pool files go with delete_expired.
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

// What remove takes out of a repository, as find_removal found it.
struct Removal
{
  std::string repository;
  std::string source;
  std::vector<std::string> versions; // the source versions found, in dpkg order
  std::vector<Member> members;       // the .dsc and .deb of each, per distribution
  PackageCount count;

  // "hello 1.0-1 from extras-devel (fremantle): 1 source and 1 binary
  // package (4 files)".
  std::string describe() const;
};

class Retention
{
public:
  // `root` is the staging folder.
  Retention(const config::Repository& repository, Catalog& catalog,
            const std::filesystem::path& root, const util::Clock& clock, util::Log& log);

  void prune(const std::string& dist, RunSummary& summary, const std::function<void()>& changing);
  void delete_expired(RunSummary& summary);

  // Copies SOURCE VERSION (the .dsc, the files it lists and every binary
  // built from it) from each of `dists` into `to`, and returns what it
  // copied; `changing(dist)` runs before `to` gains one. Error when nothing
  // matches.
  Result<PackageCount> promote(const std::string& source, const std::string& version,
                               const std::vector<std::string>& dists, Retention& to,
                               const std::function<void(const std::string&)>& changing);

  // The current members of source package SOURCE in `dists`: its .dsc and
  // every binary built from it, of VERSION (dpkg's equality: 1.0 is 0:1.0)
  // or, when VERSION is empty, of every version. When nothing matches, an
  // Error that names what `dists` do hold: the versions of SOURCE, the
  // source a binary package of that name comes from, or the sources there.
  Result<Removal> find_removal(const std::string& source, const std::string& version,
                               const std::vector<std::string>& dists);
  // Takes `removal` out of the indices now, in one transaction (nothing is
  // taken out on an Error); `changing(dist)` runs for each distribution
  // first.
  Status remove(const Removal& removal, RunSummary& summary,
                const std::function<void(const std::string&)>& changing);

private:
  std::int64_t now() const;
  // The pool files `member` is made of: its .deb, or its .dsc and the files
  // the .dsc lists.
  Result<std::vector<std::string>> pool_files(const Member& member);

  const config::Repository& m_repository;
  Catalog& m_catalog;
  const std::filesystem::path& m_root;
  const util::Clock& m_clock;
  util::Log& m_log;
};

} // namespace buildme::repo
