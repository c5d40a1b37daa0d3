#include "jobs/transitions.hpp"

#include "util/lock.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace buildme::jobs {

namespace fs = std::filesystem;

Status plan(const fs::path& job_dir, Job& job, const std::vector<std::string>& arches,
            const std::string& reason)
{
  if (arches.empty()) {
    return fail_unbuilt(job_dir, job, reason);
  }
  bool first = true;
  for (const auto& arch : arches) {
    Build build;
    build.arch = arch;
    build.with_indep = first;
    first = false;
    TRY(save_build(job_dir, build));
  }
  return {};
}

Status fail_unbuilt(const fs::path& job_dir, Job& job, const std::string& reason)
{
  job.state = JobState::failed;
  job.reason = reason;
  return save_job(job_dir, job);
}

Status claim(const fs::path& job_dir, Build& build, const std::string& slot,
             const std::string& reason, std::int64_t now)
{
  if (build.state != BuildState::queued) {
    return fail("{}: build [{}] is {}, not queued; not claimed", job_dir.string(), build.arch,
                to_string(build.state));
  }
  Build claimed = build;
  claimed.state = BuildState::building;
  claimed.attempts += 1;
  claimed.slot = slot;
  claimed.started_at = now;
  claimed.finished_at = 0;
  claimed.pid = 0;
  claimed.handover = Handover::none;
  claimed.reason = reason;
  TRY(save_build(job_dir, claimed));
  build = std::move(claimed);
  return {};
}

Status unclaim(const fs::path& job_dir, Build& build, const std::string& why)
{
  Build back = build;
  back.state = BuildState::queued;
  back.attempts = std::max(0, back.attempts - 1);
  back.reason = why;
  back.pid = 0;
  TRY(save_build(job_dir, back));
  build = std::move(back);
  return {};
}

Status note_waiting(const fs::path& job_dir, Build& build, const std::string& why)
{
  Build waiting = build;
  waiting.reason = why;
  TRY(save_build(job_dir, waiting));
  build = std::move(waiting);
  return {};
}

Status start(const fs::path& job_dir, Build& build, long pid)
{
  Build started = build;
  started.pid = pid;
  TRY(save_build(job_dir, started));
  build = std::move(started);
  return {};
}

Status finish(const fs::path& job_dir, Build& build, BuildState result, const std::string& reason,
              std::int64_t now)
{
  if (result == BuildState::queued || result == BuildState::building ||
      result == BuildState::success) {
    return fail("{}: [{}] cannot finish as {}", job_dir.string(), build.arch, to_string(result));
  }
  Build done = build;
  done.state = result;
  done.reason = reason;
  done.finished_at = now;
  done.pid = 0;
  // A depwait is news only once it expires.
  done.announce = result != BuildState::cancelled && result != BuildState::depwait;
  TRY(save_build(job_dir, done));
  build = std::move(done);
  return {};
}

Result<FaultOutcome> requeue_or_give_up(const fs::path& job_dir, Build& build,
                                        const std::string& why, int max_attempts, std::int64_t now)
{
  Build next = build;
  if (!next.slot.empty() &&
      std::find(next.avoid.begin(), next.avoid.end(), next.slot) == next.avoid.end()) {
    next.avoid.push_back(next.slot);
  }
  next.pid = 0;
  FaultOutcome outcome = FaultOutcome::requeued;
  const int counted = next.attempts - next.uncounted;
  if (counted >= max_attempts) {
    next.state = BuildState::builder_error;
    next.finished_at = now;
    next.reason = fmt::format("gave up after {} attempts; last: {}", counted, why);
    next.announce = true;
    outcome = FaultOutcome::gave_up;
  } else {
    next.state = BuildState::queued;
    next.reason = fmt::format("requeued after attempt {}: {}", next.attempts, why);
  }
  TRY(save_build(job_dir, next));
  build = std::move(next);
  return outcome;
}

Status requeue_uncounted(const fs::path& job_dir, Build& build, const std::string& why)
{
  if (build.state != BuildState::building) {
    return fail("{}: [{}] is {}, not building; not requeued", job_dir.string(), build.arch,
                to_string(build.state));
  }
  Build next = build;
  next.state = BuildState::queued;
  next.pid = 0;
  next.uncounted = std::min(next.uncounted + 1, next.attempts);
  next.reason =
    fmt::format("waiting: attempt {} did not start ({}); it does not count", next.attempts, why);
  TRY(save_build(job_dir, next));
  build = std::move(next);
  return {};
}

Status retry_depwait(const fs::path& job_dir, Build& build, const std::string& why)
{
  if (build.state != BuildState::depwait) {
    return fail("{}: [{}] is {}, not depwait; not retried", job_dir.string(), build.arch,
                to_string(build.state));
  }
  Build next = build;
  next.state = BuildState::queued;
  // The attempt that waited ended as it should: it does not count.
  next.uncounted = std::min(next.uncounted + 1, next.attempts);
  next.reason = why;
  TRY(save_build(job_dir, next));
  build = std::move(next);
  return {};
}

Status expire_depwait(const fs::path& job_dir, Build& build, const std::string& why,
                      std::int64_t now)
{
  if (build.state != BuildState::depwait) {
    return fail("{}: [{}] is {}, not depwait", job_dir.string(), build.arch,
                to_string(build.state));
  }
  Build done = build;
  done.state = BuildState::depwait_expired;
  done.reason = why;
  done.finished_at = now;
  done.announce = true;
  TRY(save_build(job_dir, done));
  build = std::move(done);
  return {};
}

Status begin_handover(const fs::path& job_dir, Build& build, const std::string& reason,
                      std::int64_t now)
{
  if (build.state != BuildState::building) {
    return fail("{}: [{}] is {}, not building; its packages are not handed over", job_dir.string(),
                build.arch, to_string(build.state));
  }
  Build built = build;
  built.state = BuildState::success;
  built.handover = Handover::pending;
  built.announce = true;
  built.reason = reason;
  built.finished_at = now;
  built.pid = 0;
  TRY(save_build(job_dir, built));
  build = std::move(built);
  return {};
}

Status complete_handover(const fs::path& job_dir, Build& build)
{
  Build done = build;
  done.handover = Handover::done;
  TRY(save_build(job_dir, done));
  build = std::move(done);
  return {};
}

Status announced(const fs::path& job_dir, Build& build)
{
  Build done = build;
  done.announce = false;
  TRY(save_build(job_dir, done));
  build = std::move(done);
  return {};
}

Status hold(const fs::path& job_dir, Job& job, const std::string& reason)
{
  Job held = job;
  held.state = JobState::held;
  held.reason = reason;
  TRY(save_job(job_dir, held));
  job = std::move(held);
  return {};
}

Result<std::vector<std::string>> cancel_queued(const fs::path& job_dir, const std::string& reason)
{
  auto builds = load_builds(job_dir);
  if (!builds) {
    return builds.error();
  }
  std::vector<std::string> changed;
  for (auto& build : *builds) {
    if (build.state != BuildState::queued) {
      continue;
    }
    build.state = BuildState::cancelled;
    build.reason = reason;
    TRY(save_build(job_dir, build));
    changed.push_back(build.arch);
  }
  return changed;
}

Status cancel_orphan(const fs::path& job_dir, Build& build, const std::string& reason,
                     std::int64_t now)
{
  return finish(job_dir, build, BuildState::cancelled, reason, now);
}

Result<std::vector<std::string>> retry(const fs::path& job_dir)
{
  auto job = load_job(job_dir);
  if (!job) {
    return job.error();
  }
  auto builds = load_builds(job_dir);
  if (!builds) {
    return builds.error();
  }
  std::vector<std::string> changed;
  for (auto& build : *builds) {
    if (!build.finished() || build.state == BuildState::success) {
      continue;
    }
    build.state = BuildState::queued;
    // Attempts go on counting (each names its own unit and history row);
    // max_attempts counts from here.
    build.uncounted = build.attempts;
    build.avoid.clear();
    build.finished_at = 0;
    build.announce = false; // the old result is not news any more
    build.reason = "retried by an operator";
    TRY(save_build(job_dir, build));
    changed.push_back(fmt::format("[{}] {}", build.arch, build.reason));
  }
  const bool unplanned_failure = builds->empty() && job->state == JobState::failed;
  if (job->state == JobState::held || unplanned_failure) {
    changed.push_back(
      fmt::format("{} again (was {}{})", builds->empty() ? "to be planned" : "queued",
                  to_string(job->state), job->reason.empty() ? "" : ": " + job->reason));
    job->state = JobState::queued;
    job->reason.clear();
    TRY(save_job(job_dir, *job));
  }
  TRY(update_job_state(job_dir));
  return changed;
}

Result<JobState> update_job_state(const fs::path& job_dir)
{
  auto lock = util::FileLock::acquire(job_dir / ".lock", util::FileLock::Mode::wait);
  if (!lock) {
    return Error{lock.error()};
  }
  auto job = load_job(job_dir);
  if (!job) {
    return Error{job.error()};
  }
  if (job->state == JobState::held) {
    return job->state;
  }
  auto builds = load_builds(job_dir);
  if (!builds) {
    return Error{builds.error()};
  }
  if (builds->empty()) {
    return job->state;
  }
  auto any = [&](BuildState state) {
    return std::any_of(builds->begin(), builds->end(),
                       [state](const Build& build) { return build.state == state; });
  };
  auto all = [&](BuildState state) {
    return std::all_of(builds->begin(), builds->end(),
                       [state](const Build& build) { return build.state == state; });
  };
  // A build whose hand-over or announcement is not done still has a step to go.
  const bool handing_over = std::any_of(builds->begin(), builds->end(), [](const Build& build) {
    return (build.state == BuildState::success && build.handover == Handover::pending) ||
           build.announce;
  });
  const JobState state = any(BuildState::building) || handing_over             ? JobState::building
                         : any(BuildState::queued) || any(BuildState::depwait) ? JobState::queued
                         : all(BuildState::success)                            ? JobState::built
                         : all(BuildState::cancelled)                          ? JobState::cancelled
                                                                               : JobState::failed;
  if (state != job->state) {
    job->state = state;
    if (state != JobState::failed) {
      job->reason.clear();
    }
    TRY(save_job(job_dir, *job));
  }
  return state;
}

} // namespace buildme::jobs
