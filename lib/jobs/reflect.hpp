// The history database follows the job's records: after a transition, the
// caller reflects the job into it. The records are the truth; the history
// is rebuilt from them (History::reflect), so a process killed between the
// two leaves a history that the next reflect puts right.
#pragma once

#include "history/history.hpp"
#include "jobs/job.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace buildme::jobs {

// The builder's name and a description of the slot with id `slot`, for the
// history ("b1", "builder1@host:22"); by default the id's two halves.
using SlotNames = std::function<std::pair<std::string, std::string>(const std::string& slot)>;

Status reflect(history::History& history, const Job& job, const std::vector<Build>& builds,
               std::int64_t now, const SlotNames& names = {});

// Loads the job in `job_dir` with its builds and reflects it.
Status reflect(history::History& history, const std::filesystem::path& job_dir, std::int64_t now,
               const SlotNames& names = {});

} // namespace buildme::jobs
