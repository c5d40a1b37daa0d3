// One build, run by `buildme worker JOB ARCH SLOT` (started by dispatch with
// the slot lock as fd 3, held until it exits):
//
//  - connect to the slot's builder (SSH, host key checked; or local),
//  - clean the slot's work folder, send the job's files and buildme-build,
//  - run the build command with the wall-clock and silence timeouts,
//    writing the output to result_dir/<job>/<arch>/build.log as it comes,
//  - classify the result (buildme-build's status line), fetch the .debs,
//    .changes and .buildinfo into result_dir/<job>/<arch>/, and on success
//    hand the packages over to repo_queue with the job's source, as one unit
//    (jobs/handover.hpp),
//  - record the outcome in the build record (jobs/transitions.hpp), then
//    the history.
//
// A builder fault (unreachable, connection lost, builder error) requeues the
// build to another slot, up to max_attempts; a build failure or missing
// dependency is final. SIGTERM/SIGINT cancel the build (buildme cancel).
#pragma once

#include "builder/host.hpp"
#include "builder/slots.hpp"
#include "config/config.hpp"
#include "util/log.hpp"

#include <functional>
#include <memory>
#include <string>

namespace buildme::builder {

// What a worker reaches outside this machine's folders: the builder host
// and the build script to send. By default the slot's real host (SSH or
// local) and buildme-build; unit tests give a fake host.
struct WorkerSetup
{
  std::function<Result<std::unique_ptr<Host>>(const Slot& slot)> connect;
  std::function<Result<std::string>()> build_script;
};

// Returns the exit status for the worker process: 0 when the build ran to a
// result (whatever it was), 1 when the worker itself failed.
int run_worker(const config::Config& config, long job, const std::string& arch,
               const std::string& slot_id, util::Log& log, const WorkerSetup& setup = {});

// Where buildme-build is found: beside the running program (installed in
// the same bin folder), or in the build tree (tools/buildme-build/).
Result<std::string> find_build_script();

} // namespace buildme::builder
