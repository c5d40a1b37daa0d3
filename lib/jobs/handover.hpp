// The hand-over of a successful build to the repository: one journalled
// step, so that a build whose packages reached repo_queue is built, and
// nothing reaches it without its source, whoever is killed when.
//
//   1. repo_queue/.job-N-ARCH-A.partial/  the unit: copies of the build's
//      packages and of the job's source (.dsc last is not needed: the
//      folder appears whole), each file and the folder synced; the folder
//      has the queue folder's permissions (less the sticky bit), so that a
//      queue shared with queue-manage's account through a group stays so;
//   2. the build record says success with Handover: pending (the commit
//      point: jobs::begin_handover);
//   3. the folder is renamed to repo_queue/job-N-ARCH-A/, where
//      queue-manage takes it as one unit;
//   4. the record says Handover: done.
//
// Killed before 2, the attempt is lost and requeued, and its partial folder
// (and only that) is removed. Killed between 2 and 4, whoever finds the
// record pending finishes 3 and 4: a partial folder that is gone was
// renamed. A unit is named for its attempt, so a retry never meets the
// job's own earlier result.
#pragma once

#include "util/result.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace buildme::jobs {

// The digests intake took of the upload's files (util::write_digest_manifest),
// kept in the job's folder and carried in each unit beside the source, so
// that queue-manage does not read the source files again.
inline constexpr const char* digests_file = "source.digests";

// "job-12-armel-2": the unit's name in repo_queue.
std::string unit_name(long job, const std::string& arch, int attempt);
// What a unit folder's name says; nullopt for a name of another form.
struct UnitName
{
  long job = 0;
  std::string arch;
  int attempt = 0;
};
std::optional<UnitName> parse_unit_name(std::string_view name);
bool is_unit_name(const std::string& name);

// Step 1: copies `files` into repo_queue/.NAME.partial (made anew), synced.
Status assemble_unit(const std::filesystem::path& queue, const std::string& name,
                     const std::vector<std::filesystem::path>& files);

// Step 3: renames the partial folder into place and syncs the queue. Done
// already (the partial folder gone) is success.
Status commit_unit(const std::filesystem::path& queue, const std::string& name);

// A lost attempt's partial folder, removed; none is fine.
Status discard_unit(const std::filesystem::path& queue, const std::string& name);

} // namespace buildme::jobs
