// What is stuck: the items an operator should look at, found from what the
// site knows at one moment (`now`, from a Clock), so that tests decide the
// time.
//
//  - a build queued, or its job held, longer than stuck_after since the
//    upload was accepted;
//  - a build in depwait longer than stuck_after since it began waiting;
//  - a source whose latest version (per product) ended without being
//    built for every arch, longer than stuck_after ago;
//  - a build running more than overdue_factor times as long as the longest
//    of that source's last successful builds of the arch, and at least
//    overdue_minimum.
#pragma once

#include "report/model.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

namespace buildme::report {

inline constexpr int overdue_factor = 3;
inline constexpr std::int64_t overdue_minimum = 30 * 60;

// `open`: the jobs still queued, building or held; `unbuilt_latest`: the
// latest job of each product and source whose state is neither built nor
// open, one row per build that did not succeed; `past_durations(source,
// arch)`: seconds of its last successful builds.
std::vector<StuckItem> find_stuck(
  const std::vector<JobView>& open, const std::vector<BuildRow>& unbuilt_latest,
  const std::function<std::vector<std::int64_t>(const std::string& source,
                                                const std::string& arch)>& past_durations,
  std::chrono::seconds stuck_after, std::int64_t now);

} // namespace buildme::report
