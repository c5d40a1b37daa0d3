#include "report/stuck.hpp"

#include "util/clock.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

namespace unit_test_report_stuck {

using namespace buildme;
using namespace buildme::report;

namespace {

constexpr std::int64_t day = 86400;
const std::chrono::seconds two_days{2 * day};

JobView job_with(long number, jobs::JobState state, std::int64_t accepted_at,
                 std::vector<jobs::Build> builds)
{
  JobView view;
  view.job.number = number;
  view.job.product = "fremantle";
  view.job.source = "hello";
  view.job.version = "1.0-" + std::to_string(number);
  view.job.state = state;
  view.job.accepted_at = accepted_at;
  for (auto& build : builds) {
    BuildView shown;
    shown.record = std::move(build);
    view.builds.push_back(std::move(shown));
  }
  return view;
}

jobs::Build build_of(jobs::BuildState state, std::int64_t started = 0, std::int64_t finished = 0)
{
  jobs::Build build;
  build.arch = "armel";
  build.state = state;
  build.started_at = started;
  build.finished_at = finished;
  build.reason = "why";
  return build;
}

auto no_past = [](const std::string&, const std::string&) { return std::vector<std::int64_t>{}; };

std::vector<std::string> keys(const std::vector<StuckItem>& items)
{
  std::vector<std::string> out;
  for (const auto& item : items) {
    out.push_back(item.key);
  }
  return out;
}

} // namespace

TEST_SUITE("report: what is stuck")
{
  TEST_CASE("a queued build becomes stuck when stuck_after has passed since the upload, not before")
  {
    util::FakeClock clock(util::Clock::time_point(std::chrono::seconds(1000 * day)));
    const std::int64_t accepted = util::unix_seconds(clock.now());
    std::vector<JobView> open{
      job_with(7, jobs::JobState::queued, accepted, {build_of(jobs::BuildState::queued)})};
    clock.advance(std::chrono::seconds(2 * day - 1));
    CHECK(find_stuck(open, {}, no_past, two_days, util::unix_seconds(clock.now())).empty());
    clock.advance(std::chrono::seconds(1));
    auto stuck = find_stuck(open, {}, no_past, two_days, util::unix_seconds(clock.now()));
    REQUIRE(stuck.size() == 1);
    CHECK(stuck[0].key == "queued/7/armel");
    CHECK(stuck[0].kind == StuckKind::queued);
    CHECK(stuck[0].since == accepted);
    CHECK(stuck[0].text.find("queued for 2 days") != std::string::npos);
  }

  TEST_CASE("a held job is stuck like a queued one, and says it is held")
  {
    util::FakeClock clock(util::Clock::time_point(std::chrono::seconds(1000 * day)));
    std::vector<JobView> open{job_with(3, jobs::JobState::held, util::unix_seconds(clock.now()),
                                       {build_of(jobs::BuildState::queued)})};
    clock.advance(std::chrono::seconds(3 * day));
    auto stuck = find_stuck(open, {}, no_past, two_days, util::unix_seconds(clock.now()));
    REQUIRE(stuck.size() == 1);
    CHECK(stuck[0].text.starts_with("held for 3 days"));
  }

  TEST_CASE("depwait counts from when the build began waiting, not from the upload")
  {
    util::FakeClock clock(util::Clock::time_point(std::chrono::seconds(1000 * day)));
    const std::int64_t start = util::unix_seconds(clock.now());
    std::vector<JobView> open{job_with(4, jobs::JobState::queued, start - 10 * day,
                                       {build_of(jobs::BuildState::depwait, start - day, start)})};
    CHECK(find_stuck(open, {}, no_past, two_days, start + day).empty());
    auto stuck = find_stuck(open, {}, no_past, two_days, start + 2 * day);
    CHECK(keys(stuck) == std::vector<std::string>{"depwait/4/armel"});
  }

  TEST_CASE("a build running far longer than the package's last builds is overdue")
  {
    const std::int64_t now = 1000 * day;
    std::vector<JobView> open{job_with(5, jobs::JobState::building, now - 3600,
                                       {build_of(jobs::BuildState::building, now - 3600)})};
    auto ten_minutes = [](const std::string& source, const std::string& arch) {
      CHECK(source == "hello");
      CHECK(arch == "armel");
      return std::vector<std::int64_t>{300, 600};
    };
    auto stuck = find_stuck(open, {}, ten_minutes, two_days, now);
    CHECK(keys(stuck) == std::vector<std::string>{"overdue/5/armel"});
    // Twice as long as before is not far longer; nor is anything without a past.
    CHECK(find_stuck(open, {}, ten_minutes, two_days, now - 3600 + 1200).empty());
    CHECK(find_stuck(open, {}, no_past, two_days, now).empty());
    // A short build is never overdue before overdue_minimum.
    auto seconds = [](const std::string&, const std::string&) {
      return std::vector<std::int64_t>{10};
    };
    CHECK(find_stuck(open, {}, seconds, two_days, now - 3600 + overdue_minimum - 1).empty());
  }

  TEST_CASE("a source whose latest version failed is stuck once per version, naming each arch")
  {
    const std::int64_t now = 1000 * day;
    BuildRow armel{
      9,    "fremantle", "hello",       "1.0-9",       "m",           "armel",  "build-failed",
      "b1", 1,           now - 5 * day, now - 5 * day, now - 4 * day, "failed", true};
    BuildRow i386 = armel;
    i386.arch = "i386";
    i386.state = "builder-error";
    auto stuck = find_stuck({}, {armel, i386}, no_past, two_days, now);
    REQUIRE(stuck.size() == 1);
    CHECK(stuck[0].key == "unbuilt/fremantle/hello/1.0-9");
    CHECK(stuck[0].text.find("armel build-failed, i386 builder-error") != std::string::npos);
    CHECK(find_stuck({}, {armel}, no_past, two_days, now - 3 * day).empty());
  }
}

} // namespace unit_test_report_stuck
