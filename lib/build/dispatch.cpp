#include "build/dispatch.hpp"

#include "build/records.hpp"
#include "build/slots.hpp"
#include "intake/jobs.hpp"
#include "mail/notify.hpp"
#include "state/history.hpp"
#include "util/fs.hpp"
#include "util/lock.hpp"
#include "util/process.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>

namespace buildme::build {

namespace fs = std::filesystem;

namespace {

std::int64_t seconds_since_epoch(util::Clock::time_point when)
{
  return std::chrono::duration_cast<std::chrono::seconds>(when.time_since_epoch()).count();
}

struct QueuedBuild
{
  intake::JobInfo job;
  fs::path job_dir;
  BuildRecord record;
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
  Dispatcher(const config::Config& config, const DispatchOptions& options,
             const util::Clock& clock, util::Log& log)
    : m_config(config), m_options(options), m_clock(clock), m_log(log),
      m_state(config.state_dir), m_slots(all_slots(config))
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

  void plan_job(const fs::path& job_dir, intake::JobInfo& job);
  void reconcile(const fs::path& job_dir, const intake::JobInfo& job, BuildRecord& record);
  void give_up_or_requeue(const fs::path& job_dir, const intake::JobInfo& job,
                          BuildRecord& record, const std::string& why);
  std::vector<FreeSlot> lock_free_slots();
  void assign(std::vector<QueuedBuild>& queue, std::vector<FreeSlot>& free);
  bool start_worker(QueuedBuild& build, FreeSlot& slot);
  void note_waiting(QueuedBuild& build, const std::string& why);

  const config::Config& m_config;
  const DispatchOptions& m_options;
  const util::Clock& m_clock;
  util::Log& m_log;
  intake::StateDir m_state;
  std::vector<Slot> m_slots;
  std::optional<state::History> m_history;
  std::vector<pid_t> m_children;
  DispatchSummary m_summary;
};

void Dispatcher::plan_job(const fs::path& job_dir, intake::JobInfo& job)
{
  const config::Product* product = m_config.product(job.product);
  if (!product) {
    job.state = "failed";
    job.reason = fmt::format("product {} is no longer in {}", job.product, m_config.path);
    if (auto saved = save_job(job_dir, job); !saved) {
      error(saved.message());
    }
    return;
  }
  auto arches = product_arches(*product);
  if (!arches) {
    error(arches.message());
    return;
  }
  const PlannedBuilds plan = plan_builds(job.architectures, *arches);
  if (m_history) {
    if (auto recorded = m_history->record_job({job.number, job.product, job.source, job.version,
                                                job.uploader, "queued", job.accepted_at, now()});
        !recorded) {
      error(recorded.message());
    }
  }
  if (plan.arches.empty()) {
    job.state = "failed";
    job.reason = plan.reason;
    m_log.heading(fmt::format("job {}: {} {}", job.number, job.source, job.version));
    m_log.verdict("FAILED", util::Log::Tone::bad, plan.reason);
    if (auto saved = save_job(job_dir, job); !saved) {
      error(saved.message());
    }
    if (m_history) {
      (void)m_history->set_job_state(job.number, "failed", now());
    }
    return;
  }
  bool first = true;
  for (const auto& arch : plan.arches) {
    BuildRecord record;
    record.arch = arch;
    // Only the first arch builds the arch-independent packages, so that the
    // repository gets one copy of each.
    record.with_indep = first;
    first = false;
    if (auto saved = save_build(job_dir, record); !saved) {
      error(saved.message());
      return;
    }
  }
}

void Dispatcher::give_up_or_requeue(const fs::path& job_dir, const intake::JobInfo& job,
                                    BuildRecord& record, const std::string& why)
{
  if (m_history && record.history_id) {
    (void)m_history->finish_attempt(record.history_id, now(), "builder-error", why);
  }
  if (std::find(record.avoid.begin(), record.avoid.end(), record.slot) == record.avoid.end()) {
    record.avoid.push_back(record.slot);
  }
  record.pid = 0;
  m_log.heading(fmt::format("job {}: {} {} [{}]", job.number, job.source, job.version,
                            record.arch));
  if (record.attempts >= m_config.max_attempts) {
    record.state = "builder-error";
    record.finished_at = now();
    record.reason = fmt::format("gave up after {} attempts; last: {}", record.attempts, why);
    m_log.verdict("FAILED", util::Log::Tone::bad, record.reason);
    if (m_config.mail) {
      // The worker that would have mailed is gone; the tick flushes this.
      mail::Outbox outbox(m_config.state_dir, m_clock);
      mail::notify(*m_config.mail, outbox,
                   {"GAVE UP", job.source, job.version, job.product, record.arch, job.number,
                    job.uploader, record.reason, ""},
                   m_log);
    }
  } else {
    record.state = "queued";
    record.reason = fmt::format("requeued after attempt {}: {}", record.attempts, why);
    m_log.verdict("REQUEUED", util::Log::Tone::pending, record.reason);
    ++m_summary.requeued;
  }
  if (auto saved = save_build(job_dir, record); !saved) {
    error(saved.message());
  }
}

void Dispatcher::reconcile(const fs::path& job_dir, const intake::JobInfo& job,
                           BuildRecord& record)
{
  const Slot* slot = find_slot(m_slots, record.slot);
  if (!slot) {
    give_up_or_requeue(job_dir, job, record,
                       fmt::format("its slot {} is no longer in the config", record.slot));
    return;
  }
  auto lock = util::FileLock::acquire(slot->lock_path(m_config.state_dir),
                                      util::FileLock::Mode::try_once);
  if (!lock) {
    error(lock.message());
    return;
  }
  if (!lock->locked()) {
    return; // its worker is alive and building
  }
  // The slot is free, so the worker that held it is gone. Read the record
  // again: a worker that finished just now has written its result.
  auto fresh = load_build(job_dir, record.arch);
  if (fresh && fresh->state != "building") {
    record = std::move(*fresh);
    return;
  }
  give_up_or_requeue(job_dir, job, record,
                     fmt::format("the worker on {} stopped before the build ended",
                                 slot->describe()));
}

std::vector<FreeSlot> Dispatcher::lock_free_slots()
{
  std::vector<FreeSlot> free;
  if (auto made = util::make_dirs(m_config.state_dir / "slots"); !made) {
    error(made.message());
    return free;
  }
  for (const auto& slot : m_slots) {
    auto lock =
      util::FileLock::acquire(slot.lock_path(m_config.state_dir), util::FileLock::Mode::try_once);
    if (!lock) {
      error(lock.message());
      continue;
    }
    if (!lock->locked()) {
      continue;
    }
    auto arches = builder_arches(*slot.builder);
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
  build.record.reason = why;
  m_log.heading(fmt::format("job {}: {} {} [{}]", build.job.number, build.job.source,
                            build.job.version, build.record.arch));
  m_log.verdict("WAITING", util::Log::Tone::pending, why);
  if (auto saved = save_build(build.job_dir, build.record); !saved) {
    error(saved.message());
  }
}

bool Dispatcher::start_worker(QueuedBuild& build, FreeSlot& free)
{
  BuildRecord& record = build.record;
  const Slot& slot = *free.slot;
  record.state = "building";
  record.attempts += 1;
  record.slot = slot.id();
  record.started_at = now();
  record.finished_at = 0;
  record.pid = 0;
  record.history_id = 0;
  if (m_history) {
    auto id = m_history->start_attempt({0, build.job.number, record.arch, record.attempts,
                                        slot.builder->name, slot.describe(), record.started_at,
                                        0, "", ""});
    if (id) {
      record.history_id = *id;
    } else {
      error(id.message());
    }
    (void)m_history->set_job_state(build.job.number, "building", now());
  }
  record.reason = fmt::format("building on {} (attempt {})", slot.describe(), record.attempts);
  // Written before the worker starts: if this tick dies right here, the next
  // one finds "building" with a free slot and requeues.
  if (auto saved = save_build(build.job_dir, record); !saved) {
    error(saved.message());
    return false;
  }
  (void)update_job_state(build.job_dir);

  const config::Product* product = m_config.product(build.job.product);
  const fs::path result_dir =
    product->result_dir / std::to_string(build.job.number) / record.arch;
  if (auto made = util::make_dirs(result_dir); !made) {
    error(made.message());
    return false;
  }
  std::vector<std::string> argv = {m_options.program,      "--config", m_options.config_path,
                                   "worker",               std::to_string(build.job.number),
                                   record.arch,            slot.id()};
  // In the foreground the worker's lines go to our terminal; detached, to
  // worker.log beside the build log.
  auto started = util::spawn(argv, {free.lock.fd(),
                                    m_options.foreground ? fs::path() : result_dir / "worker.log",
                                    !m_options.foreground});
  if (!started) {
    record.state = "queued";
    record.attempts -= 1;
    record.reason = started.message();
    (void)save_build(build.job_dir, record);
    error(started.message());
    return false;
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

void Dispatcher::assign(std::vector<QueuedBuild>& queue, std::vector<FreeSlot>& free)
{
  auto fits = [](const FreeSlot& slot, const std::string& arch) {
    return arch == "all" ||
           std::find(slot.arches.begin(), slot.arches.end(), arch) != slot.arches.end();
  };
  for (auto& build : queue) {
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
    bool any_builder = false;
    for (auto& slot : free) {
      any_builder = any_builder || fits(slot, build.record.arch);
      if (!slot.lock.locked() || !fits(slot, build.record.arch)) {
        continue;
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
    bool exists = false;
    for (const auto& slot : m_slots) {
      auto arches = builder_arches(*slot.builder);
      if (arches && (build.record.arch == "all" ||
                     std::find(arches->begin(), arches->end(), build.record.arch) !=
                       arches->end())) {
        exists = true;
      }
    }
    (void)any_builder;
    note_waiting(build, exists ? fmt::format("all builders for {} are busy", build.record.arch)
                               : fmt::format("no builder for {}; add one to {} with "
                                             "'arches = {}'",
                                             build.record.arch, m_config.path,
                                             build.record.arch));
  }
}

DispatchSummary Dispatcher::run()
{
  auto history = state::History::open((m_config.state_dir / "history.sqlite").string());
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
    if (job.state != "queued" && job.state != "building") {
      continue;
    }
    const fs::path job_dir = m_state.job_dir(job.number);
    auto builds = load_builds(job_dir);
    if (!builds) {
      error(builds.message());
      continue;
    }
    if (builds->empty() && !m_options.dry_run) {
      plan_job(job_dir, job);
      builds = load_builds(job_dir);
      if (!builds) {
        error(builds.message());
        continue;
      }
    }
    for (auto& record : *builds) {
      if (record.state == "building" && !m_options.dry_run) {
        reconcile(job_dir, job, record);
      }
      if (record.state == "queued") {
        queue.push_back({job, job_dir, record});
      }
    }
    if (!m_options.dry_run) {
      (void)update_job_state(job_dir);
    }
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

} // namespace buildme::build
