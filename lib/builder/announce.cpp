#include "builder/announce.hpp"

#include "jobs/transitions.hpp"
#include "mail/notify.hpp"
#include "util/fs.hpp"
#include "util/lock.hpp"

#include <chrono>

namespace buildme::builder {

namespace fs = std::filesystem;

namespace {

// The failure summary the worker wrote beside the log (the mail's excerpt),
// when this attempt wrote it: a worker killed before it did leaves an
// earlier attempt's.
std::string failure_summary(const config::Config& config, const jobs::Job& job,
                            const jobs::Build& build)
{
  const config::Product* product = config.product(job.product);
  if (!product) {
    return {};
  }
  const fs::path path =
    product->result_dir / std::to_string(job.number) / build.arch / "summary.log";
  auto info = util::stat_no_follow(path);
  if (!info || !*info || std::chrono::system_clock::to_time_t((*info)->ctime) < build.started_at) {
    return {};
  }
  auto text = util::read_file(path, 64 * 1024);
  return text ? *text : std::string();
}

} // namespace

Status announce(const config::Config& config, const fs::path& job_dir, const jobs::Job& job,
                const std::string& arch, const util::Clock& clock, util::Log& log)
{
  TRY_ASSIGN(auto lock,
             util::FileLock::acquire(job_dir / ".announce.lock", util::FileLock::Mode::try_once));
  if (!lock.locked()) {
    return {}; // another process is announcing this job now
  }
  TRY_ASSIGN(auto build, jobs::load_build(job_dir, arch));
  if (!build.announce || build.handover == jobs::Handover::pending ||
      build.state == jobs::BuildState::building || build.state == jobs::BuildState::queued) {
    return {};
  }
  if (config.mail) {
    const bool built = build.state == jobs::BuildState::success;
    const std::string verdict = built                                            ? "BUILT"
                                : build.state == jobs::BuildState::builder_error ? "GAVE UP"
                                                                                 : "FAILED";
    mail::Outbox outbox(config.state_dir, clock);
    mail::notify(*config.mail, outbox,
                 {verdict, job.source, job.version, job.product, arch, job.number, job.uploader,
                  build.reason, built ? std::string() : failure_summary(config, job, build)},
                 log);
  }
  return jobs::announced(job_dir, build);
}

} // namespace buildme::builder
