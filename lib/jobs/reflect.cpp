#include "jobs/reflect.hpp"

namespace buildme::jobs {

Status reflect(history::History& history, const Job& job, const std::vector<Build>& builds,
               std::int64_t now, const SlotNames& names)
{
  history::JobRecord row{job.number,      job.product,  job.source,
                         job.version,     job.uploader, std::string(to_string(job.state)),
                         job.accepted_at, now};
  std::vector<history::LatestAttempt> latest;
  for (const auto& build : builds) {
    if (build.attempts == 0) {
      continue;
    }
    history::LatestAttempt attempt;
    attempt.arch = build.arch;
    attempt.attempt = build.attempts;
    if (names) {
      std::tie(attempt.builder, attempt.slot) = names(build.slot);
    } else {
      const auto dot = build.slot.find('.');
      attempt.builder = build.slot.substr(0, dot);
      attempt.slot = build.slot;
    }
    attempt.started_at = build.started_at;
    attempt.running = build.state == BuildState::building;
    attempt.reason = build.reason;
    if (build.state == BuildState::queued) {
      // Requeued after a builder fault: that attempt ended as one.
      attempt.result = std::string(to_string(BuildState::builder_error));
      attempt.finished_at = now;
    } else {
      attempt.result = std::string(to_string(build.state));
      attempt.finished_at = build.finished_at ? build.finished_at : now;
    }
    latest.push_back(std::move(attempt));
  }
  return history.reflect(row, latest);
}

Status reflect(history::History& history, const std::filesystem::path& job_dir, std::int64_t now,
               const SlotNames& names)
{
  auto job = load_job(job_dir);
  if (!job) {
    return job.error();
  }
  auto builds = load_builds(job_dir);
  if (!builds) {
    return builds.error();
  }
  return reflect(history, *job, *builds, now, names);
}

} // namespace buildme::jobs
