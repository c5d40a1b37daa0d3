// A build's result reaches the uploader and the list once it is recorded,
// whoever is killed when: finish, begin_handover and a give-up mark the
// build `announce`; the worker announces right after, and a tick announces
// what a killed worker left. One announcement at a time per job (a lock in
// its folder, and the record read again under it), so a live worker and a
// tick never both mail. A process killed between queueing the mail and
// recording it may mail twice: at-least-once, as the outbox itself.
#pragma once

#include "config/config.hpp"
#include "jobs/job.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

#include <filesystem>
#include <string>

namespace buildme::builder {

// Queues the result mail of [arch] of the job in `job_dir` (when mail is
// configured) and records it announced. Nothing to do when it is not
// marked, its hand-over is pending (BUILT is said once the packages are in
// the queue), or another process is announcing it now.
Status announce(const config::Config& config, const std::filesystem::path& job_dir,
                const jobs::Job& job, const std::string& arch, const util::Clock& clock,
                util::Log& log);

} // namespace buildme::builder
