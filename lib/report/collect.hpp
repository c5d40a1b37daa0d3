// Reading what the site shows: a job with its builds, attempts, logs and
// changelog; the uploads still waiting in the incoming folders; which
// builders can take builds now. The records are the truth; the history adds
// the attempts.
#pragma once

#include "builder/waiting.hpp"
#include "config/config.hpp"
#include "history/history.hpp"
#include "report/model.hpp"
#include "util/log.hpp"

#include <cstdint>
#include <filesystem>
#include <vector>

namespace buildme::report {

// Where the build log of a job's build is: result_dir/JOB/ARCH/build.log.
std::filesystem::path log_path(const config::Config& config, const jobs::Job& job,
                               const std::string& arch);

// The job in `job_dir` with its builds, its attempts from `history` (when
// there is one) and what its upload says.
Result<JobView> load_job_view(const config::Config& config, const std::filesystem::path& job_dir,
                              history::History* history);

// The builders set aside now (health records) and the slots that the
// build records of `views` say are building.
builder::Availability availability(const config::Config& config, const std::vector<JobView>& views,
                                   std::int64_t now, util::Log& log);

// Says why each build of an open job waits (builder/waiting.hpp).
void explain_waits(const config::Config& config, JobView& view,
                   const builder::Availability& available);

// The uploads left in the incoming folders: intake has taken what it
// could, so each one waits: a lone .dsc younger than settle_time for a
// .changes, anything else for its files within grace_period.
std::vector<WaitingUpload> waiting_uploads(const config::Config& config, std::int64_t now,
                                           util::Log& log);

// The `limit` newest uploads intake rejected (and orphans it set aside),
// from the .reason files in each product's incoming/rejected/, newest first.
std::vector<Rejection> recent_rejections(const config::Config& config, std::size_t limit);

} // namespace buildme::report
