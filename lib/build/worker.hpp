// One build, run by `buildme worker JOB ARCH SLOT` (started by dispatch with
// the slot lock as fd 3, held until it exits):
//
//  - connect to the slot's builder (SSH, host key checked; or local),
//  - clean the slot's work folder, send the job's files and buildme-build,
//  - run the build command with the wall-clock and silence timeouts,
//    writing the output to result_dir/<job>/<arch>/build.log as it comes,
//  - classify the result (buildme-build's status line), fetch the .debs,
//    .changes and .buildinfo into result_dir/<job>/<arch>/, and on success
//    place the .debs and the job's source files in repo_queue (the .dsc
//    last; never overwriting a different file),
//  - record the outcome in the build record and the history.
//
// A builder fault (unreachable, connection lost, builder error) requeues the
// build to another slot, up to max_attempts; a build failure or missing
// dependency is final. SIGTERM/SIGINT cancel the build (buildme cancel).
#pragma once

#include "config/config.hpp"
#include "util/log.hpp"

#include <string>

namespace buildme::build {

// Returns the exit status for the worker process: 0 when the build ran to a
// result (whatever it was), 1 when the worker itself failed.
int run_worker(const config::Config& config, long job, const std::string& arch,
               const std::string& slot_id, util::Log& log);

// Where buildme-build is found: beside the running program (installed in
// the same bin folder), or in the build tree (tools/buildme-build/).
Result<std::string> find_build_script();

} // namespace buildme::build
