#include "report/stuck.hpp"

#include "util/clock.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace buildme::report {

std::string_view to_string(StuckKind kind)
{
  switch (kind) {
  case StuckKind::queued:
    return "queued";
  case StuckKind::depwait:
    return "depwait";
  case StuckKind::unbuilt:
    return "unbuilt";
  case StuckKind::overdue:
    return "overdue";
  }
  return "?";
}

std::vector<StuckItem> find_stuck(
  const std::vector<JobView>& open, const std::vector<BuildRow>& unbuilt_latest,
  const std::function<std::vector<std::int64_t>(const std::string& source,
                                                const std::string& arch)>& past_durations,
  std::chrono::seconds stuck_after, std::int64_t now)
{
  const std::int64_t limit = stuck_after.count();
  std::vector<StuckItem> stuck;
  auto add = [&](StuckKind kind, const jobs::Job& job, const std::string& arch, std::int64_t since,
                 std::string text) {
    stuck.push_back({fmt::format("{}/{}/{}", to_string(kind), job.number, arch), kind, job.number,
                     job.product, job.source, job.version, arch, since, std::move(text)});
  };
  for (const auto& view : open) {
    const jobs::Job& job = view.job;
    for (const auto& build : view.builds) {
      const jobs::Build& record = build.record;
      const bool held = job.state == jobs::JobState::held;
      const std::string why = build.wait ? build.wait->text : record.reason;
      if ((record.state == jobs::BuildState::queued || held) && now - job.accepted_at >= limit) {
        add(StuckKind::queued, job, record.arch, job.accepted_at,
            fmt::format("{} for {}: {}", held ? "held" : "queued",
                        util::age_text(now - job.accepted_at), why));
      } else if (record.state == jobs::BuildState::depwait && record.finished_at > 0 &&
                 now - record.finished_at >= limit) {
        add(StuckKind::depwait, job, record.arch, record.finished_at,
            fmt::format("in depwait for {}: {}", util::age_text(now - record.finished_at), why));
      } else if (record.state == jobs::BuildState::building && record.started_at > 0) {
        const auto past = past_durations(job.source, record.arch);
        if (past.empty()) {
          continue;
        }
        const std::int64_t longest = *std::max_element(past.begin(), past.end());
        const std::int64_t running = now - record.started_at;
        if (running >= overdue_minimum && running > overdue_factor * longest) {
          add(StuckKind::overdue, job, record.arch, record.started_at,
              fmt::format("building for {}; its last builds took at most {}",
                          util::age_text(running), util::age_text(longest)));
        }
      }
    }
  }
  // One item per source version: the builds that did not succeed, together.
  std::map<long, std::vector<const BuildRow*>> unbuilt;
  for (const auto& row : unbuilt_latest) {
    if (now - std::max(row.finished_at, row.accepted_at) >= limit) {
      unbuilt[row.job].push_back(&row);
    }
  }
  for (const auto& [job, rows] : unbuilt) {
    const BuildRow& first = *rows.front();
    std::vector<std::string> parts;
    std::int64_t since = 0;
    for (const BuildRow* row : rows) {
      parts.push_back(fmt::format("{} {}", row->arch, row->state));
      since = std::max({since, row->finished_at, row->accepted_at});
    }
    stuck.push_back(
      {fmt::format("unbuilt/{}/{}/{}", first.product, first.source, first.version),
       StuckKind::unbuilt, job, first.product, first.source, first.version, "", since,
       fmt::format("the latest version is not built for every arch of {} ({}) "
                   "for {}",
                   first.product, util::join(parts, ", "), util::age_text(now - since))});
  }
  return stuck;
}

} // namespace buildme::report
