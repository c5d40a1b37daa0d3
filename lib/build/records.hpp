// The builds of a job, one record per architecture, kept beside the job:
//
//   state_dir/jobs/<N>/builds/<arch>.info   (deb822, written atomically)
//
// A record moves queued -> building -> one of the results (success,
// build-failed, depwait, bad-package, builder-error) or cancelled. Who may
// write it: the dispatcher (holding buildme.lock) for queued records and for
// building records whose slot lock is free (their worker is gone); the
// worker (holding the slot lock) for its own building record; cancel/retry
// (holding buildme.lock). A job's own State in job.info follows its builds,
// updated under the job's lock (jobs/<N>/.lock).
#pragma once

#include "intake/jobs.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace buildme::build {

struct BuildRecord
{
  std::string arch;
  std::string state = "queued";
  int attempts = 0;            // started attempts
  std::string slot;            // slot id of the current or last attempt
  long pid = 0;                // the worker, while building
  std::int64_t history_id = 0; // the attempt's row in the history
  std::int64_t started_at = 0;
  std::int64_t finished_at = 0;
  std::string reason;          // the last outcome, or why it waits
  std::vector<std::string> avoid; // slots where it failed for a builder fault
  bool with_indep = true;      // also build the arch-independent packages

  bool finished() const { return state != "queued" && state != "building"; }
};

std::filesystem::path builds_dir(const std::filesystem::path& job_dir);

Result<std::vector<BuildRecord>> load_builds(const std::filesystem::path& job_dir);
Result<BuildRecord> load_build(const std::filesystem::path& job_dir, const std::string& arch);
Status save_build(const std::filesystem::path& job_dir, const BuildRecord& record);

// Recomputes the job's State from its builds (queued, building, built,
// failed, cancelled) under the job's lock and writes job.info when it
// changed. Returns the new state.
Result<std::string> update_job_state(const std::filesystem::path& job_dir);

Result<intake::JobInfo> load_job(const std::filesystem::path& job_dir);
Status save_job(const std::filesystem::path& job_dir, const intake::JobInfo& job);

} // namespace buildme::build
