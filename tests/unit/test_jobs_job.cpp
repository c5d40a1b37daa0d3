#include "jobs/job.hpp"

#include "debian/control_writer.hpp"
#include "scratch.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace unit_test_jobs_job {

using namespace buildme::jobs;
using buildme::debian::write_paragraph;
using buildme::test::has;
using buildme::test::ScratchDir;

namespace {

const std::string good_build = "Arch: armel\n"
                               "State: building\n"
                               "Attempts: 2\n"
                               "Slot: b1.builder1\n"
                               "Pid: 4242\n"
                               "Started-At: 1700000000\n"
                               "Reason: building on builder1@b1:22 (attempt 2)\n"
                               "Avoid: b2.builder2\n"
                               "With-Indep: no\n";

} // namespace

TEST_SUITE("jobs: job and build records")
{
  TEST_CASE("every state reads back as the word it is written as")
  {
    for (auto state : {JobState::queued, JobState::building, JobState::held, JobState::built,
                       JobState::failed, JobState::cancelled}) {
      CAPTURE(to_string(state));
      CHECK(parse_job_state(to_string(state)) == state);
    }
    for (auto state : {BuildState::queued, BuildState::building, BuildState::success,
                       BuildState::build_failed, BuildState::depwait, BuildState::bad_package,
                       BuildState::builder_error, BuildState::cancelled}) {
      CAPTURE(to_string(state));
      CHECK(parse_build_state(to_string(state)) == state);
    }
    CHECK(to_string(BuildState::build_failed) == "build-failed");
    CHECK_FALSE(parse_build_state("Success"));
    CHECK_FALSE(parse_job_state(""));
  }

  TEST_CASE("a list filter lets through the jobs of its states, product and source")
  {
    Job queued;
    queued.product = "fremantle";
    queued.source = "hello";
    Job held = queued;
    held.state = JobState::held;
    Job other = queued;
    other.product = "diablo";
    other.source = "world";
    other.state = JobState::failed;

    CHECK(JobFilter{}.matches(queued));
    CHECK(JobFilter{}.matches(other));
    const JobFilter open{{JobState::queued, JobState::held}, "", ""};
    CHECK(open.matches(queued));
    CHECK(open.matches(held));
    CHECK_FALSE(open.matches(other));
    CHECK(JobFilter{{}, "diablo", ""}.matches(other));
    CHECK_FALSE(JobFilter{{}, "diablo", ""}.matches(queued));
    CHECK(JobFilter{{}, "", "hello"}.matches(held));
    CHECK_FALSE(JobFilter{{}, "", "hello"}.matches(other));
    CHECK_FALSE(JobFilter{{JobState::failed}, "fremantle", ""}.matches(other));
  }

  TEST_CASE("list's --state reads one state or several, and refuses anything else naming the "
            "states")
  {
    auto one = JobFilter::parse_states("held");
    REQUIRE_MESSAGE(one, one.message());
    CHECK(*one == std::vector<JobState>{JobState::held});
    auto two = JobFilter::parse_states("queued,building");
    REQUIRE_MESSAGE(two, two.message());
    CHECK(*two == std::vector<JobState>{JobState::queued, JobState::building});
    for (const char* bad : {"", ",", "Queued", "queued,bogus", "build-failed", "queued building",
                            "held\n", "\x1b[31mfailed"}) {
      CAPTURE(bad);
      auto parsed = JobFilter::parse_states(bad);
      REQUIRE_FALSE(parsed);
      CHECK(has(parsed.message(), "queued, building, held, built, failed, cancelled"));
      CHECK_FALSE(has(parsed.message(), "\x1b"));
    }
  }

  TEST_CASE("a build record reads back as it was written, hand-over included")
  {
    auto build = Build::from_text(good_build, "armel.info");
    REQUIRE_MESSAGE(build, build.message());
    CHECK(build->state == BuildState::building);
    CHECK(build->attempts == 2);
    CHECK(build->pid == 4242);
    CHECK(build->avoid == std::vector<std::string>{"b2.builder2"});
    CHECK_FALSE(build->with_indep);
    CHECK(build->handover == Handover::none);
    build->state = BuildState::success;
    build->handover = Handover::pending;
    auto again = Build::from_text(write_paragraph(build->fields()), "armel.info");
    REQUIRE_MESSAGE(again, again.message());
    CHECK(again->state == BuildState::success);
    CHECK(again->handover == Handover::pending);
    CHECK(again->reason == build->reason);
  }

  TEST_CASE("a record from before typed states, with its History-Id, still reads")
  {
    auto build = Build::from_text(good_build + "History-Id: 17\n", "armel.info");
    REQUIRE_MESSAGE(build, build.message());
    CHECK(build->attempts == 2);
  }

  TEST_CASE("an unknown state is refused, naming the file, the word and the known ones")
  {
    std::string text = good_build;
    text.replace(text.find("building\n"), 8, "bilding");
    auto build = Build::from_text(text, "jobs/3/builds/armel.info");
    REQUIRE_FALSE(build);
    CHECK(has(build.message(), "jobs/3/builds/armel.info: State is 'bilding'"));
    CHECK(has(build.message(), "queued, building, success"));

    auto job = Job::from_text("Job: 3\nProduct: p\nSource: s\nVersion: 1\nUpload: s.dsc\n"
                              "State: hold\n",
                              "job.info");
    REQUIRE_FALSE(job);
    CHECK(has(job.message(), "job.info: State is 'hold'; a job is one of queued, building, held"));
  }

  TEST_CASE("hostile and truncated build records are refused, never half read")
  {
    const std::pair<std::string, std::string> cases[] = {
      {"", "no fields"},
      {"Arch: armel\nState: queued\n\nArch: i386\n", "a second paragraph"},
      {"State: queued\n", "without Arch"},
      {"Arch: armel\nAttempts: -1\n", "Attempts is '-1', not a number"},
      {"Arch: armel\nAttempts: 99999999999999999999999\n", "not a number"},
      {"Arch: armel\nPid: 12abc\n", "Pid is '12abc'"},
      {"Arch: armel\nStarted-At: \x01\n", "Started-At is '\\x01'"},
      {"Arch: armel\nHandover: maybe\n", "Handover is 'maybe'"},
      {"Arch: armel\nState: queued\nState: building\n", "State"},
      {"Arch: armel\nState", "State"},
      {std::string("Arch: armel\0\n", 13), "armel.info"},
    };
    for (const auto& [text, expected] : cases) {
      CAPTURE(text);
      auto build = Build::from_text(text, "armel.info");
      REQUIRE_FALSE(build);
      CHECK_MESSAGE(has(build.message(), expected), build.message());
    }
  }

  TEST_CASE("records are saved and loaded through the job's folder")
  {
    ScratchDir scratch;
    const auto job_dir = scratch / "jobs/7";
    Job job;
    job.number = 7;
    job.product = "fremantle";
    job.source = "hello";
    job.version = "1.0-1";
    job.upload = "hello_1.0-1.dsc";
    job.state = JobState::held;
    job.reason = "a file changed\nwhile it was accepted";
    std::filesystem::create_directories(job_dir);
    REQUIRE(save_job(job_dir, job));
    auto loaded = load_job(job_dir);
    REQUIRE_MESSAGE(loaded, loaded.message());
    CHECK(loaded->state == JobState::held);
    // A reason is one line in the record: control characters are escaped.
    CHECK(loaded->reason == "a file changed\\x0awhile it was accepted");

    Build armel;
    armel.arch = "armel";
    Build i386;
    i386.arch = "i386";
    i386.state = BuildState::depwait;
    REQUIRE(save_build(job_dir, armel));
    REQUIRE(save_build(job_dir, i386));
    scratch.write("jobs/7/builds/.armel.info.tmp", "junk");
    auto builds = load_builds(job_dir);
    REQUIRE_MESSAGE(builds, builds.message());
    REQUIRE(builds->size() == 2);
    CHECK(load_build(job_dir, "i386")->state == BuildState::depwait);
  }
}

} // namespace unit_test_jobs_job
