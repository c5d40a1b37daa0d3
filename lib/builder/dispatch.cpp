#include "builder/dispatch.hpp"

#include "builder/announce.hpp"
#include "builder/environment.hpp"
#include "builder/health.hpp"
#include "builder/slots.hpp"
#include "builder/waiting.hpp"
#include "jobs/handover.hpp"
#include "jobs/reflect.hpp"
#include "jobs/state_dir.hpp"
#include "jobs/transitions.hpp"
#include "history/history.hpp"
#include "util/fs.hpp"
#include "util/lock.hpp"
#include "util/process.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

namespace buildme::builder {

namespace fs = std::filesystem;

namespace {

std::int64_t seconds_since_epoch(util::Clock::time_point when)
{
  return std::chrono::duration_cast<std::chrono::seconds>(when.time_since_epoch()).count();
}

struct QueuedBuild
{
  jobs::Job job;
  fs::path job_dir;
  jobs::Build record;
};

struct FreeSlot
{
  const Slot* slot;
  util::FileLock lock;
  std::vector<std::string> arches;
};

class Dispatcher
{
public:
  Dispatcher(const config::Config& config, const DispatchOptions& options, const util::Clock& clock,
             util::Log& log)
    : m_config(config), m_options(options), m_clock(clock), m_log(log), m_state(config.state_dir),
      m_slots(all_slots(config))
  {
  }

  DispatchSummary run();

private:
  void error(const std::string& message)
  {
    m_log.verdict("ERROR", util::Log::Tone::bad, message);
    ++m_summary.errors;
  }
  std::int64_t now() const { return seconds_since_epoch(m_clock.now()); }

  void plan_job(const fs::path& job_dir, jobs::Job& job);
  void reconcile(const fs::path& job_dir, const jobs::Job& job, jobs::Build& record);
  void give_up_or_requeue(const fs::path& job_dir, const jobs::Job& job, jobs::Build& record,
                          const std::string& why);
  void discard_lost_units();
  void finish_handover(const fs::path& job_dir, const jobs::Job& job, jobs::Build& record);
  // A depwait build: retried when its product's distribution changed since
  // it began waiting, failed after depwait_expire.
  void revisit_depwait(const fs::path& job_dir, const jobs::Job& job, jobs::Build& record);
  void reflect(const fs::path& job_dir);
  void reflect_stale_history();
  std::vector<FreeSlot> lock_free_slots();
  void assign(std::vector<QueuedBuild>& queue, std::vector<FreeSlot>& free);
  bool start_worker(QueuedBuild& build, FreeSlot& slot);
  void note_waiting(QueuedBuild& build, const std::string& why);
  // For a build of a product that builds in a clean environment: whether
  // the base it needs on `builder` is in place (checked once per tick), and
  // a maker started in the background when one is due.
  const EnvNeed& env_need(const config::Builder& builder, const config::Product& product,
                          const std::string& arch);
  void start_env_maker(const config::Builder& builder, const config::Product& product,
                       const std::string& arch);
  std::map<std::string, EnvNeed> m_env_needs;
  // Builders set aside now, with why and until when (health.hpp).
  Availability m_available;

  const config::Config& m_config;
  const DispatchOptions& m_options;
  const util::Clock& m_clock;
  util::Log& m_log;
  jobs::StateDir m_state;
  std::vector<Slot> m_slots;
  std::optional<history::History> m_history;
  std::vector<pid_t> m_children;
  DispatchSummary m_summary;
};

void Dispatcher::reflect(const fs::path& job_dir)
{
  if (!m_history) {
    return;
  }
  if (auto reflected = jobs::reflect(*m_history, job_dir, now(), slot_names(m_slots)); !reflected) {
    error(reflected.message());
  }
}

void Dispatcher::plan_job(const fs::path& job_dir, jobs::Job& job)
{
  const config::Product* product = m_config.product(job.product);
  if (!product) {
    if (auto failed = jobs::fail_unbuilt(
          job_dir, job, fmt::format("product {} is no longer in {}", job.product, m_config.path));
        !failed) {
      error(failed.message());
    }
    reflect(job_dir);
    return;
  }
  auto arches = config::product_arches(*product);
  if (!arches) {
    error(arches.message());
    return;
  }
  const PlannedBuilds plan = plan_builds(job.architectures, *arches);
  if (auto planned = jobs::plan(job_dir, job, plan.arches, plan.reason); !planned) {
    error(planned.message());
    return;
  }
  if (plan.arches.empty()) {
    m_log.heading(fmt::format("job {}: {} {}", job.number, job.source, job.version));
    m_log.verdict("FAILED", util::Log::Tone::bad, plan.reason);
  }
  reflect(job_dir);
}

void Dispatcher::give_up_or_requeue(const fs::path& job_dir, const jobs::Job& job,
                                    jobs::Build& record, const std::string& why)
{
  const int attempt = record.attempts;
  auto outcome = jobs::requeue_or_give_up(job_dir, record, why, m_config.max_attempts, now());
  if (!outcome) {
    error(outcome.message());
    return;
  }
  // What the lost attempt may have left half-assembled in the queue.
  if (const config::Product* product = m_config.product(job.product)) {
    if (auto discarded = jobs::discard_unit(product->repo_queue,
                                            jobs::unit_name(job.number, record.arch, attempt));
        !discarded) {
      error(discarded.message());
    }
  }
  m_log.heading(
    fmt::format("job {}: {} {} [{}]", job.number, job.source, job.version, record.arch));
  if (*outcome == jobs::FaultOutcome::gave_up) {
    // The worker that would have mailed is gone: run() announces it.
    m_log.verdict("FAILED", util::Log::Tone::bad, record.reason);
  } else {
    m_log.verdict("REQUEUED", util::Log::Tone::pending, record.reason);
    ++m_summary.requeued;
  }
}

void Dispatcher::reconcile(const fs::path& job_dir, const jobs::Job& job, jobs::Build& record)
{
  const Slot* slot = find_slot(m_slots, record.slot);
  if (!slot) {
    give_up_or_requeue(job_dir, job, record,
                       fmt::format("its slot {} is no longer in the config", record.slot));
    return;
  }
  if (auto made = util::make_dirs(m_config.state_dir / "slots"); !made) {
    error(made.message());
    return;
  }
  auto lock =
    util::FileLock::acquire(slot->lock_path(m_config.state_dir), util::FileLock::Mode::try_once);
  if (!lock) {
    error(lock.message());
    return;
  }
  if (!lock->locked()) {
    return; // its worker is alive and building
  }
  // The slot is free, so the worker that held it is gone. Read the record
  // again: a worker that finished just now has written its result.
  auto fresh = jobs::load_build(job_dir, record.arch);
  if (fresh && fresh->state != jobs::BuildState::building) {
    record = std::move(*fresh);
    return;
  }
  give_up_or_requeue(
    job_dir, job, record,
    fmt::format("the worker on {} stopped before the build ended", slot->describe()));
}

// A build recorded as built whose hand-over its worker did not finish
// (killed, or the rename failed): the unit goes into the queue now.
void Dispatcher::finish_handover(const fs::path& job_dir, const jobs::Job& job, jobs::Build& record)
{
  const config::Product* product = m_config.product(job.product);
  if (!product) {
    error(fmt::format("job {} [{}] is built, but product {} is no longer in {}: its packages "
                      "wait in its queue's .{}.partial",
                      job.number, record.arch, job.product, m_config.path,
                      jobs::unit_name(job.number, record.arch, record.attempts)));
    return;
  }
  const std::string unit = jobs::unit_name(job.number, record.arch, record.attempts);
  if (auto committed = jobs::commit_unit(product->repo_queue, unit); !committed) {
    error(committed.message());
    return;
  }
  if (auto done = jobs::complete_handover(job_dir, record); !done) {
    error(done.message());
    return;
  }
  m_log.heading(
    fmt::format("job {}: {} {} [{}]", job.number, job.source, job.version, record.arch));
  m_log.verdict("QUEUED", util::Log::Tone::good,
                fmt::format("finished the hand-over of attempt {} to {}", record.attempts,
                            product->repo_queue.string()));
}

void Dispatcher::revisit_depwait(const fs::path& job_dir, const jobs::Job& job, jobs::Build& record)
{
  const std::string heading =
    fmt::format("job {}: {} {} [{}]", job.number, job.source, job.version, record.arch);
  if (now() - record.finished_at >= m_config.depwait_expire.count()) {
    const std::string why = fmt::format(
      "its build dependencies were not available for {} days (depwait_expire); last: {}",
      m_config.depwait_expire.count() / 86400, record.reason);
    if (auto expired = jobs::expire_depwait(job_dir, record, why, now()); !expired) {
      error(expired.message());
      return;
    }
    m_log.heading(heading);
    m_log.verdict("FAILED", util::Log::Tone::bad, why);
    return;
  }
  // The archive's own distribution of the product, as queue-manage last
  // wrote it: a Release newer than the wait may hold what it waits for.
  const config::Product* product = m_config.product(job.product);
  const config::Repository* repository =
    product ? m_config.repository(product->repository) : nullptr;
  if (!repository) {
    return;
  }
  const fs::path release = repository->staging_dir / "dists" / job.product / "Release";
  auto info = util::stat_no_follow(release);
  if (!info || !*info || seconds_since_epoch((*info)->mtime) < record.finished_at) {
    return;
  }
  const std::string why =
    fmt::format("retried: {} changed since it waited ({})", release.string(), record.reason);
  if (auto retried = jobs::retry_depwait(job_dir, record, why); !retried) {
    error(retried.message());
    return;
  }
  m_log.heading(heading);
  m_log.verdict("RETRY", util::Log::Tone::pending, why);
}

// What lost attempts left half-assembled: every .job-N-ARCH-A.partial folder
// in a product's queue whose attempt no longer runs (requeued, failed, or a
// later attempt) and is not built with its hand-over pending. Only those
// folders are touched.
void Dispatcher::discard_lost_units()
{
  for (const auto& product : m_config.products) {
    const fs::path& queue = product.repo_queue;
    auto present = util::stat_no_follow(queue);
    if (!present || !*present) {
      continue;
    }
    auto names = util::list_dir(queue);
    if (!names) {
      error(names.message());
      continue;
    }
    for (const auto& name : *names) {
      if (!name.starts_with('.') || !name.ends_with(".partial")) {
        continue;
      }
      const std::string unit =
        name.substr(1, name.size() - 1 - std::string_view(".partial").size());
      const auto parsed = jobs::parse_unit_name(unit);
      if (!parsed) {
        continue; // not a unit's name: not ours to touch
      }
      const long number = parsed->job;
      const std::string& arch = parsed->arch;
      const int attempt = parsed->attempt;
      const fs::path job_dir = m_state.job_dir(number);
      auto record = jobs::load_build(job_dir, arch);
      if (record && record->attempts == attempt && record->state == jobs::BuildState::building) {
        continue; // its worker is still assembling it, or reconcile requeues it next tick
      }
      if (record && record->attempts == attempt && record->state == jobs::BuildState::success &&
          record->handover == jobs::Handover::pending) {
        continue; // built: its job's pass finishes the move (it failed this tick, or comes next)
      }
      if (auto discarded = jobs::discard_unit(queue, unit); !discarded) {
        error(discarded.message());
      } else {
        m_log.detail(fmt::format("removed {}, left by a lost attempt", (queue / name).string()));
      }
    }
  }
}

// A record finished by a process killed before it told the history: every
// attempt the history says runs whose record says otherwise.
void Dispatcher::reflect_stale_history()
{
  if (!m_history) {
    return;
  }
  auto running = m_history->running();
  if (!running) {
    error(running.message());
    return;
  }
  std::set<long> stale;
  for (const auto& attempt : *running) {
    auto record = jobs::load_build(m_state.job_dir(attempt.job), attempt.arch);
    if (!record || record->state != jobs::BuildState::building ||
        record->attempts != attempt.attempt) {
      stale.insert(attempt.job);
    }
  }
  for (long number : stale) {
    const fs::path job_dir = m_state.job_dir(number);
    if (auto info = util::stat_no_follow(job_dir / "job.info"); info && *info) {
      reflect(job_dir);
    }
  }
}

std::vector<FreeSlot> Dispatcher::lock_free_slots()
{
  std::vector<FreeSlot> free;
  if (auto made = util::make_dirs(m_config.state_dir / "slots"); !made) {
    error(made.message());
    return free;
  }
  HealthStore health(m_config.state_dir);
  for (const auto& slot : m_slots) {
    const std::string& builder = slot.builder->name;
    if (!m_available.set_aside.count(builder)) {
      auto state = health.load(builder);
      if (!state) {
        error(state.message());
      } else if (state->set_aside(now())) {
        m_available.set_aside[builder] = set_aside_text(builder, *state, now());
      }
    }
    if (m_available.set_aside.count(builder)) {
      continue;
    }
    auto lock =
      util::FileLock::acquire(slot.lock_path(m_config.state_dir), util::FileLock::Mode::try_once);
    if (!lock) {
      error(lock.message());
      continue;
    }
    if (!lock->locked()) {
      continue;
    }
    auto arches = config::builder_arches(*slot.builder);
    if (!arches) {
      error(arches.message());
      continue;
    }
    free.push_back({&slot, std::move(*lock), std::move(*arches)});
  }
  return free;
}

void Dispatcher::note_waiting(QueuedBuild& build, const std::string& why)
{
  ++m_summary.waiting;
  if (build.record.reason == why) {
    return;
  }
  m_log.heading(fmt::format("job {}: {} {} [{}]", build.job.number, build.job.source,
                            build.job.version, build.record.arch));
  m_log.verdict("WAITING", util::Log::Tone::pending, why);
  if (auto noted = jobs::note_waiting(build.job_dir, build.record, why); !noted) {
    error(noted.message());
  }
}

bool Dispatcher::start_worker(QueuedBuild& build, FreeSlot& free)
{
  jobs::Build& record = build.record;
  const Slot& slot = *free.slot;
  // Written before the worker starts: if this tick dies right here, the next
  // one finds "building" with a free slot and requeues.
  if (auto claimed = jobs::claim(
        build.job_dir, record, slot.id(),
        fmt::format("building on {} (attempt {})", slot.describe(), record.attempts + 1), now());
      !claimed) {
    error(claimed.message());
    return false;
  }
  if (auto updated = jobs::update_job_state(build.job_dir); !updated) {
    error(updated.message());
  }
  reflect(build.job_dir);

  const config::Product* product = m_config.product(build.job.product);
  const fs::path result_dir = product->result_dir / std::to_string(build.job.number) / record.arch;
  auto unclaim = [&](const std::string& why) {
    error(why);
    if (auto back = jobs::unclaim(build.job_dir, record, why); !back) {
      error(back.message());
    }
    if (auto updated = jobs::update_job_state(build.job_dir); !updated) {
      error(updated.message());
    }
    reflect(build.job_dir);
    return false;
  };
  if (auto made = util::make_dirs(result_dir); !made) {
    return unclaim(made.message());
  }
  std::vector<std::string> argv = {m_options.program,
                                   "--config",
                                   m_options.config_path,
                                   "worker",
                                   std::to_string(build.job.number),
                                   record.arch,
                                   slot.id()};
  // In the foreground the worker's lines go to our terminal; detached, to
  // worker.log beside the build log.
  auto started = util::spawn(argv, {free.lock.fd(),
                                    m_options.foreground ? fs::path() : result_dir / "worker.log",
                                    !m_options.foreground});
  if (!started) {
    return unclaim(started.message());
  }
  if (m_options.foreground) {
    m_children.push_back(*started);
  }
  free.lock.hand_over();
  m_log.heading(fmt::format("job {}: {} {} [{}]", build.job.number, build.job.source,
                            build.job.version, record.arch));
  m_log.verdict("BUILDING", util::Log::Tone::good, record.reason);
  ++m_summary.started;
  return true;
}

const EnvNeed& Dispatcher::env_need(const config::Builder& builder, const config::Product& product,
                                    const std::string& arch)
{
  static const EnvNeed unusable;
  auto wanted = base_arch(builder, arch);
  if (!wanted) {
    error(wanted.message());
    return unusable;
  }
  const std::string key = builder.name + " " + product.name + "/" + *wanted;
  auto found = m_env_needs.find(key);
  if (found != m_env_needs.end()) {
    return found->second;
  }
  EnvStore store(m_config.state_dir);
  auto env = store.load(builder.name, product.name, *wanted);
  if (!env) {
    error(env.message());
    return m_env_needs[key] = unusable;
  }
  if (auto made =
        util::make_dirs(store.lock_path(builder.name, product.name, *wanted).parent_path());
      !made) {
    error(made.message());
    return m_env_needs[key] = unusable;
  }
  auto lock = util::FileLock::acquire(store.lock_path(builder.name, product.name, *wanted),
                                      util::FileLock::Mode::try_once);
  const bool being_made = lock && !lock->locked();
  if (lock && lock->locked()) {
    lock->release();
  }
  EnvNeed need = assess(*env, m_config, now(), being_made);
  if (need.make && !m_options.dry_run) {
    start_env_maker(builder, product, *wanted);
    need.why = assess(*env, m_config, now(), true).why;
  }
  return m_env_needs[key] = std::move(need);
}

void Dispatcher::start_env_maker(const config::Builder& builder, const config::Product& product,
                                 const std::string& arch)
{
  EnvStore store(m_config.state_dir);
  auto lock = util::FileLock::acquire(store.lock_path(builder.name, product.name, arch),
                                      util::FileLock::Mode::try_once);
  if (!lock) {
    error(lock.message());
    return;
  }
  if (!lock->locked()) {
    return; // another process makes it now
  }
  std::vector<std::string> argv = {
    m_options.program, "--config", m_options.config_path, "env-make", builder.name,
    product.name,      arch};
  // Detached, always: making a base takes minutes and must not hold up the
  // tick, intake or other builds; its output goes to the environment's log.
  auto started =
    util::spawn(argv, {lock->fd(), store.log_path(builder.name, product.name, arch), true});
  if (!started) {
    error(fmt::format("cannot start making the build environment {}/{} on {}: {}", product.name,
                      arch, builder.name, started.message()));
    return;
  }
  lock->hand_over();
  m_log.heading(
    fmt::format("builder {}: build environment {}/{}", builder.name, product.name, arch));
  m_log.verdict("MAKING", util::Log::Tone::pending,
                fmt::format("mmdebstrap of {} {} in the background; its log: {}",
                            product.base_mirror, product.base_suite,
                            store.log_path(builder.name, product.name, arch).string()));
}

void Dispatcher::assign(std::vector<QueuedBuild>& queue, std::vector<FreeSlot>& free)
{
  auto fits = [](const FreeSlot& slot, const std::string& arch) {
    return arch == "all" ||
           std::find(slot.arches.begin(), slot.arches.end(), arch) != slot.arches.end();
  };
  for (auto& build : queue) {
    const config::Product* product = m_config.product(build.job.product);
    const bool in_chroot = product && product->build_in == config::Product::BuildIn::chroot;
    std::string env_why; // why no fitting slot has its environment
    // Candidates: free slots that build this arch, on a builder this build
    // has not failed on, else any; the builder with the most free slots first.
    std::map<std::string, int> free_per_builder;
    for (const auto& slot : free) {
      if (slot.lock.locked()) {
        ++free_per_builder[slot.slot->builder->name];
      }
    }
    FreeSlot* best = nullptr;
    bool best_avoided = true;
    int best_free = -1;
    for (auto& slot : free) {
      if (!slot.lock.locked() || !fits(slot, build.record.arch)) {
        continue;
      }
      if (in_chroot) {
        const EnvNeed& need = env_need(*slot.slot->builder, *product, build.record.arch);
        if (!need.usable) {
          env_why = need.why;
          continue;
        }
      }
      const bool avoided = std::find(build.record.avoid.begin(), build.record.avoid.end(),
                                     slot.slot->id()) != build.record.avoid.end();
      const int count = free_per_builder[slot.slot->builder->name];
      if (!best || (best_avoided && !avoided) || (avoided == best_avoided && count > best_free)) {
        best = &slot;
        best_avoided = avoided;
        best_free = count;
      }
    }
    if (best) {
      if (!m_options.dry_run) {
        start_worker(build, *best);
      } else {
        m_log.heading(fmt::format("job {}: {} {} [{}]", build.job.number, build.job.source,
                                  build.job.version, build.record.arch));
        m_log.verdict("BUILDING", util::Log::Tone::good,
                      fmt::format("would build on {} (dry run)", best->slot->describe()));
        best->lock.release();
      }
      continue;
    }
    note_waiting(build, why_no_slot(m_config, build.record.arch, m_available, env_why).text);
  }
}

DispatchSummary Dispatcher::run()
{
  auto history = history::History::open((m_config.state_dir / "history.sqlite").string());
  if (history) {
    m_history = std::move(*history);
  } else {
    // The history is a record, not the hand-over: builds go on without it.
    error(history.message());
  }

  auto jobs = m_state.list_jobs();
  if (!jobs) {
    error(jobs.message());
    return m_summary;
  }
  std::vector<QueuedBuild> queue;
  for (auto& job : *jobs) {
    // A held job waits for a person; a finished one for nothing.
    if (job.state != jobs::JobState::queued && job.state != jobs::JobState::building) {
      continue;
    }
    const fs::path job_dir = m_state.job_dir(job.number);
    auto builds = jobs::load_builds(job_dir);
    if (!builds) {
      error(builds.message());
      continue;
    }
    if (builds->empty() && !m_options.dry_run) {
      plan_job(job_dir, job);
      builds = jobs::load_builds(job_dir);
      if (!builds) {
        error(builds.message());
        continue;
      }
    }
    for (auto& record : *builds) {
      if (record.state == jobs::BuildState::building && !m_options.dry_run) {
        reconcile(job_dir, job, record);
      }
      if (record.state == jobs::BuildState::success && record.handover == jobs::Handover::pending &&
          !m_options.dry_run) {
        finish_handover(job_dir, job, record);
      }
      if (record.announce && !m_options.dry_run) {
        // What a worker killed after recording its result did not mail.
        if (auto announced = announce(m_config, job_dir, job, record.arch, m_clock, m_log);
            !announced) {
          error(announced.message());
        }
      }
      if (record.state == jobs::BuildState::depwait && !m_options.dry_run) {
        revisit_depwait(job_dir, job, record);
      }
      if (record.state == jobs::BuildState::queued) {
        queue.push_back({job, job_dir, record});
      }
    }
    if (!m_options.dry_run) {
      auto updated = jobs::update_job_state(job_dir);
      if (!updated) {
        error(updated.message());
      } else if (*updated != job.state) {
        reflect(job_dir);
      }
    }
  }
  if (!m_options.dry_run) {
    discard_lost_units();
    reflect_stale_history();
  }
  std::stable_sort(queue.begin(), queue.end(), [](const QueuedBuild& a, const QueuedBuild& b) {
    if (a.job.priority != b.job.priority) {
      return a.job.priority;
    }
    return a.job.number < b.job.number;
  });
  if (!queue.empty()) {
    auto free = lock_free_slots();
    assign(queue, free);
  }
  m_summary.children.assign(m_children.begin(), m_children.end());
  return m_summary;
}

} // namespace

int wait_workers(const std::vector<int>& children)
{
  int failed = 0;
  for (int child : children) {
    if (util::wait_child(child) != 0) {
      ++failed;
    }
  }
  return failed;
}

DispatchSummary run_dispatch(const config::Config& config, const DispatchOptions& options,
                             const util::Clock& clock, util::Log& log)
{
  return Dispatcher(config, options, clock, log).run();
}

} // namespace buildme::builder
