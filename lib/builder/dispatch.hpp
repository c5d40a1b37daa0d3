// buildme's dispatch, the second half of a tick: turn queued jobs into
// builds on free builder slots.
//
//  1. A new job gets its build records (one per architecture it needs).
//  2. A build marked "building" whose slot lock is free lost its worker
//     (crashed, killed, machine rebooted): it is requeued with its attempt
//     count, to go elsewhere when it can, or fails as a builder error after
//     max_attempts.
//  3. Every free slot whose builder builds the arch takes the oldest queued
//     build, priority uploads first; builders with the most free slots
//     first. Each build runs in its own worker process (`buildme worker`),
//     which inherits the slot lock and holds it until it ends; all free
//     slots are filled in one tick.
//  4. A build that no slot can take says why in its record ("no builder
//     for armel", "all builders for armel are busy").
//  5. A hand-over a killed worker left half done is finished or undone
//     (jobs/handover.hpp), and the history is made to say what the records
//     say (jobs/reflect.hpp).
// A held job is never dispatched: it waits for `buildme retry`.
#pragma once

#include "config/config.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

#include <string>
#include <vector>

namespace buildme::builder {

struct DispatchOptions
{
  bool dry_run = false;
  // Wait for the workers started in this tick (the demo and tests use it);
  // without it they run on after the tick ends.
  bool foreground = false;
  std::string program;     // the buildme executable, for `buildme worker`
  std::string config_path; // handed to the workers
};

struct DispatchSummary
{
  int started = 0;
  int waiting = 0;
  int requeued = 0;
  int errors = 0;
  // Foreground only: the workers started, for the caller to wait for
  // (wait_workers) after it has released buildme.lock.
  std::vector<int> children;
};

// Waits for the foreground workers; returns how many exited non-zero.
int wait_workers(const std::vector<int>& children);

DispatchSummary run_dispatch(const config::Config& config, const DispatchOptions& options,
                             const util::Clock& clock, util::Log& log);

} // namespace buildme::builder
