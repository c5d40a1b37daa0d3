// What one queue-manage run did to a repository, counted for its report and
// its exit status. Every step of a run (taking the queue in, refreshing the
// cache, retention, regeneration) adds to the one summary, so an error in any
// of them makes the run exit non-zero even when the rest went well.
#pragma once

#include "util/log.hpp"
#include "util/result.hpp"

#include <set>
#include <string>
#include <string_view>

namespace buildme::repo {

struct RunSummary
{
  int added = 0;                 // packages (.debs and .dscs) taken into the pool
  int refused = 0;               // set aside with a reason
  int waiting = 0;               // sources whose files are still arriving
  int pruned = 0;                // versions that left the indices
  int removed = 0;               // members taken out by remove
  int deleted = 0;               // pool files deleted after delete_after
  std::set<std::string> changed; // distributions regenerated
  int errors = 0;
};

// The packages a promote or a remove concerned, each counted once however
// many distributions hold it, and the pool files they are made of (a source
// package: its .dsc and every file it lists).
struct PackageCount
{
  std::set<std::string> sources;  // their .dsc files
  std::set<std::string> binaries; // their .deb files
  std::set<std::string> files;    // every pool file, the above included
  std::set<std::string> dists;
};

// "1 source and 2 binary packages (5 files)".
std::string describe(const PackageCount& count);

// A catalog write that failed leaves the catalog behind the disk: said with
// the file it concerns and counted (the next run's refresh reads the file
// again).
void note_catalog(util::Log& log, const Status& written, std::string_view file,
                  RunSummary& summary);

} // namespace buildme::repo
