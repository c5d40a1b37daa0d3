// buildme's own state folder: accepted uploads become jobs, and every move
// out of an incoming folder is journalled first so that a run killed at any
// point is finished by the next one.
//
//   state_dir/buildme.lock                 held for the life of one tick
//   state_dir/next-job                     the next job number
//   state_dir/jobs/<N>/job.info            the job (jobs/job.hpp)
//   state_dir/jobs/<N>/builds/<arch>.info  its builds
//   state_dir/jobs/<N>/upload/             the upload's files, as verified
//   state_dir/jobs/.<N>.partial/           a job being assembled
//   state_dir/accepted/<product>/<source>_<version>   "this version was taken"
//   state_dir/signatures/<id>              "this signature was used" (replays)
//   state_dir/txn/<name>                   journal of a move in progress
//
// A journal entry is written (atomically) before the first file moves and
// removed after the last; executing one is idempotent, so replaying it after
// a crash completes exactly the moves that were still to do.
#pragma once

#include "jobs/job.hpp"
#include "jobs/set_aside.hpp"
#include "util/clock.hpp"
#include "util/result.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace buildme::jobs {

// Moving an accepted upload into a new job. `copy` names are files another
// pending upload also lists: they are copied, not moved (a copy, not a hard
// link, so that nothing done to the file left in incoming reaches the job).
struct AcceptMove
{
  std::filesystem::path from_dir;
  Job job;
  std::vector<std::string> move;
  std::vector<std::string> copy;
};

class StateDir
{
public:
  explicit StateDir(std::filesystem::path root) : m_root(std::move(root)) {}

  const std::filesystem::path& root() const { return m_root; }
  std::filesystem::path lock_path() const { return m_root / "buildme.lock"; }
  std::filesystem::path jobs_dir() const { return m_root / "jobs"; }
  std::filesystem::path job_dir(long number) const;

  // Creates the folders; Error names the one that failed.
  Status prepare() const;

  // The job number that accepted this version for this product, if any.
  std::optional<long> accepted_job(std::string_view product, std::string_view source,
                                   std::string_view version) const;

  // The job whose upload carried the signature `id` (Job::signature), if
  // any: a signature is good for one upload.
  std::optional<long> signature_used(std::string_view id) const;

  Result<long> allocate_job_number() const;

  // Journals and performs an accept: returns the job's folder.
  Result<std::filesystem::path> accept(const AcceptMove& move) const;
  // Journals (in txn/) and performs a reject: the upload's files into
  // `move.rejected_dir`, with a .reason (jobs/set_aside.hpp).
  Result<SetAsideOutcome> reject(SetAside move) const;

  // Finishes every journalled move a killed run left behind, and removes the
  // temporaries of next-job it left; returns one line per thing done for the
  // log. The caller holds buildme.lock.
  Result<std::vector<std::string>> recover() const;

  // All jobs, in number order; none before the first tick made jobs/.
  Result<std::vector<Job>> list_jobs() const;

private:
  std::filesystem::path txn_dir() const { return m_root / "txn"; }
  std::filesystem::path marker(std::string_view product, std::string_view source,
                               std::string_view version) const;
  std::filesystem::path signature_marker(std::string_view id) const;
  Result<std::filesystem::path> run_accept(const AcceptMove& move,
                                           const std::filesystem::path& journal) const;

  std::filesystem::path m_root;
};

} // namespace buildme::jobs
