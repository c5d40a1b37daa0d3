// Every change of a job's or a build's state, in one place. Intake, the
// dispatcher, the worker and `buildme cancel/retry` call these; none of
// them sets a state itself.
//
// Who may call what (the locks are the callers'):
//   - the tick (holding buildme.lock): plan, claim, unclaim, requeue_or_give_up
//     for a build whose slot lock is free, hold, cancel, retry;
//   - the worker (holding its slot lock): start, finish, begin_handover,
//     complete_handover and requeue_or_give_up for its own build;
//   - the tick, for a build whose worker is gone: complete_handover.
// A job's own state follows its builds (update_job_state), under the job's
// lock (jobs/<N>/.lock), except held, which only hold and retry change.
//
// Each function writes the record (atomically) before it returns; on an
// Error nothing was written.
#pragma once

#include "jobs/job.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace buildme::jobs {

// A new job gets one queued build per architecture in `arches`; the first
// also builds the arch-independent packages, so that the repository gets one
// copy of each. With no arches the job fails with `reason`.
Status plan(const std::filesystem::path& job_dir, Job& job, const std::vector<std::string>& arches,
            const std::string& reason);

// The job fails before any build, with `reason` (its product is gone).
Status fail_unbuilt(const std::filesystem::path& job_dir, Job& job, const std::string& reason);

// queued -> building on `slot`: a new attempt. Written before the worker
// starts, so that a tick killed right after leaves a building record with a
// free slot, which the next tick requeues.
Status claim(const std::filesystem::path& job_dir, Build& build, const std::string& slot,
             const std::string& reason, std::int64_t now);
// building -> queued when the worker could not be started: the attempt does
// not count.
Status unclaim(const std::filesystem::path& job_dir, Build& build, const std::string& why);

// A queued build notes why it waits ("all builders for armel are busy").
Status note_waiting(const std::filesystem::path& job_dir, Build& build, const std::string& why);

// The worker of a building record notes its pid (for cancel).
Status start(const std::filesystem::path& job_dir, Build& build, long pid);

// building -> a result other than success (build-failed, depwait,
// bad-package, builder-error, cancelled).
Status finish(const std::filesystem::path& job_dir, Build& build, BuildState result,
              const std::string& reason, std::int64_t now);

// A builder fault: the slot is avoided from now on, and the build goes back
// to the queue, or ends as builder-error after `max_attempts` attempts.
enum class FaultOutcome
{
  requeued,
  gave_up
};
Result<FaultOutcome> requeue_or_give_up(const std::filesystem::path& job_dir, Build& build,
                                        const std::string& why, int max_attempts, std::int64_t now);

// A builder that could not take the build (unfit, unreachable): back to the
// queue without using an attempt; the builder is set aside instead of the
// slot being avoided.
Status requeue_uncounted(const std::filesystem::path& job_dir, Build& build,
                         const std::string& why);

// depwait -> queued: what it waited for may be there now (the product's
// distribution changed). The attempt that waited does not count.
Status retry_depwait(const std::filesystem::path& job_dir, Build& build, const std::string& why);
// depwait -> depwait-expired after depwait_expire: final, and announced.
Status expire_depwait(const std::filesystem::path& job_dir, Build& build, const std::string& why,
                      std::int64_t now);

// building -> success with its hand-over pending: the caller has assembled
// the build's unit under its temporary name in repo_queue, synced. From
// here on the build is built, whoever is killed when.
Status begin_handover(const std::filesystem::path& job_dir, Build& build, const std::string& reason,
                      std::int64_t now);
// The unit is in the queue: the hand-over is done.
Status complete_handover(const std::filesystem::path& job_dir, Build& build);
// Its result mail is in the outbox (finish, begin_handover and a give-up
// mark a result to announce).
Status announced(const std::filesystem::path& job_dir, Build& build);

// The job is set aside for a person: never dispatched until retried.
Status hold(const std::filesystem::path& job_dir, Job& job, const std::string& reason);

// cancel: queued builds -> cancelled. Building ones are the caller's to
// stop (it asks the worker, which records cancelled); one whose worker is
// gone is cancelled here when `worker_gone` says so. Returns the builds
// that changed.
Result<std::vector<std::string>> cancel_queued(const std::filesystem::path& job_dir,
                                               const std::string& reason);
Status cancel_orphan(const std::filesystem::path& job_dir, Build& build, const std::string& reason,
                     std::int64_t now);

// retry: every build that ended other than success goes back to the queue
// with its attempts and avoided slots forgotten; a held job, or one that
// failed before its builds were planned, is queued to be planned again.
// Returns what changed, one line each, for the log (empty: nothing to retry).
Result<std::vector<std::string>> retry(const std::filesystem::path& job_dir);

// Recomputes the job's state from its builds (queued, building, built,
// failed, cancelled) under the job's lock and writes job.info when it
// changed. A held job stays held. Returns the job's state.
Result<JobState> update_job_state(const std::filesystem::path& job_dir);

} // namespace buildme::jobs
