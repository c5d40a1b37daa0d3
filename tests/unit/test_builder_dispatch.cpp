// The dispatcher's bookkeeping, with no worker started: the product builds
// armel and the only builder builds i386, so every queued build waits. What
// is pinned down: held jobs, lost workers, unfinished hand-overs, lost
// attempts' leftovers, and a history that follows the records.
#include "builder/dispatch.hpp"
#include "builder/environment.hpp"
#include "builder/health.hpp"

#include "captured_log.hpp"
#include "config/config.hpp"
#include "history/history.hpp"
#include "jobs/handover.hpp"
#include "jobs/job.hpp"
#include "jobs/state_dir.hpp"
#include "jobs/transitions.hpp"
#include "sample_job.hpp"
#include "scratch.hpp"
#include "test_config.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>

namespace unit_test_builder_dispatch {

using namespace buildme;
using buildme::test::has;
using buildme::test::ScratchDir;
namespace fs = std::filesystem;

namespace {

struct DispatchFixture
{
  ScratchDir scratch;
  config::Config config;
  jobs::StateDir state{scratch / "state"};
  fs::path queue = scratch / "queue/fremantle";
  util::SystemClock clock;
  test::CapturedLog log;

  explicit DispatchFixture(const std::string& extra = "")
  {
    config = test::test_config(scratch.path(), std::string("max_attempts = 3\n"
                                                           "[product fremantle]\n"
                                                           "arches = armel\n"
                                                           "[builder here]\n"
                                                           "host = local\n"
                                                           "arches = i386\n") +
                                                 extra);
    REQUIRE(state.prepare());
  }

  // Job N, accepted, with its one armel build planned.
  fs::path add_job(long number, jobs::JobState job_state = jobs::JobState::queued)
  {
    const fs::path dir = state.job_dir(number);
    fs::create_directories(dir / "upload");
    jobs::Job job = test::sample_job(number);
    job.state = job_state;
    REQUIRE(jobs::save_job(dir, job));
    if (job_state != jobs::JobState::held) {
      REQUIRE(jobs::plan(dir, job, {"armel"}, ""));
    }
    return dir;
  }

  // The armel build of `dir`, claimed on the (free) slot here.1, as if its
  // worker had started and died.
  jobs::Build claimed(const fs::path& dir)
  {
    auto build = jobs::load_build(dir, "armel");
    REQUIRE(build);
    REQUIRE(jobs::claim(dir, *build, "here.1", "building", 100));
    REQUIRE(jobs::update_job_state(dir));
    return *build;
  }

  builder::DispatchSummary tick()
  {
    builder::DispatchOptions options;
    options.program = "/nonexistent/buildme";
    options.config_path = "test.conf";
    return builder::run_dispatch(config, options, clock, log.log());
  }

  jobs::Build build(const fs::path& dir) const { return jobs::load_build(dir, "armel").value(); }

  history::History history() const
  {
    auto opened = history::History::open((config.state_dir / "history.sqlite").string());
    REQUIRE_MESSAGE(opened, opened.message());
    return std::move(*opened);
  }
};

} // namespace

TEST_SUITE("builder: dispatch bookkeeping")
{
  TEST_CASE("a new job is planned and waits, saying why")
  {
    DispatchFixture f;
    auto dir = f.add_job(1);
    auto summary = f.tick();
    CHECK(summary.started == 0);
    CHECK(summary.waiting == 1);
    CHECK(has(f.build(dir).reason, "no builder for armel"));
  }

  TEST_CASE("a build waits while the only builder for its arch is set aside, saying why")
  {
    DispatchFixture f("[builder b2]\nhost = local\narches = armel\n");
    auto dir = f.add_job(1);
    const std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(f.clock.now().time_since_epoch()).count();
    REQUIRE(builder::HealthStore(f.config.state_dir).fault("b2", "connection refused", now));
    auto summary = f.tick();
    CHECK(summary.started == 0);
    CHECK(summary.waiting == 1);
    CHECK(has(f.build(dir).reason, "builder b2 is set aside (connection refused)"));
    CHECK(f.build(dir).attempts == 0);
  }

  TEST_CASE("a clean-environment build waits while its base could not be made, during the back-off")
  {
    DispatchFixture f("[builder b2]\nhost = local\narches = armel\n");
    auto& product = f.config.products.front();
    product.base_mirror = "http://deb.debian.org/debian";
    product.base_suite = "bookworm";
    product.build_in = config::Product::BuildIn::chroot;
    auto dir = f.add_job(1);
    const std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(f.clock.now().time_since_epoch()).count();
    builder::EnvStore store(f.config.state_dir);
    builder::BaseEnv env;
    env.builder = "b2";
    env.product = "fremantle";
    env.arch = "armel";
    env.state = builder::EnvState::failed;
    env.failed_at = now;
    env.failures = 1;
    env.reason = "mmdebstrap failed (exit 1)";
    REQUIRE(store.save(env));
    auto summary = f.tick();
    CHECK(summary.started == 0);
    CHECK(summary.errors == 0); // no maker started during the back-off
    CHECK(has(f.build(dir).reason, "build environment fremantle/armel on b2 could not be made "
                                   "(mmdebstrap failed (exit 1))"));
    CHECK(f.build(dir).attempts == 0);
  }

  TEST_CASE("a held job is never planned nor dispatched")
  {
    DispatchFixture f;
    auto dir = f.add_job(1, jobs::JobState::held);
    auto summary = f.tick();
    CHECK(summary.waiting == 0);
    CHECK(jobs::load_builds(dir)->empty());
    CHECK(jobs::load_job(dir)->state == jobs::JobState::held);
  }

  TEST_CASE("a build whose worker is gone is requeued, and its half-made unit removed")
  {
    DispatchFixture f;
    auto dir = f.add_job(1);
    f.claimed(dir);
    f.scratch.write("queue/fremantle/.job-1-armel-1.partial/hello_1.0-1_armel.deb", "half");
    // Another job's unit in the queue, and an unrelated hidden folder: not ours to touch.
    f.scratch.write("queue/fremantle/job-7-armel-1/hello_1.0-7_armel.deb", "whole");
    f.scratch.write("queue/fremantle/.something-else/x", "x");
    // A name of the unit's form with a number no job has: left alone, and
    // the tick goes on (it once threw out of std::stol).
    f.scratch.write("queue/fremantle/.job-99999999999999999999999-armel-1.partial/x", "x");
    auto summary = f.tick();
    CHECK(summary.requeued == 1);
    auto build = f.build(dir);
    CHECK(build.state == jobs::BuildState::queued);
    CHECK(has(f.log.text(), "requeued after attempt 1: the worker on local#1 stopped"));
    CHECK_FALSE(fs::exists(f.queue / ".job-1-armel-1.partial"));
    CHECK(fs::exists(f.queue / "job-7-armel-1/hello_1.0-7_armel.deb"));
    CHECK(fs::exists(f.queue / ".something-else/x"));
    CHECK(fs::exists(f.queue / ".job-99999999999999999999999-armel-1.partial/x"));
    // The history says how attempt 1 ended.
    auto attempts = f.history().attempts(1);
    REQUIRE(attempts);
    REQUIRE(attempts->size() == 1);
    CHECK(attempts->front().result == "builder-error");
  }

  TEST_CASE("a built job whose worker died mid hand-over is finished, not rebuilt")
  {
    DispatchFixture f;
    auto dir = f.add_job(1);
    auto build = f.claimed(dir);
    REQUIRE(jobs::assemble_unit(f.queue, "job-1-armel-1", {f.scratch.write("x.deb", "deb")}));
    REQUIRE(jobs::begin_handover(dir, build, "built x.deb", 200));
    auto summary = f.tick();
    CHECK(summary.requeued == 0);
    CHECK(f.build(dir).handover == jobs::Handover::done);
    CHECK(f.build(dir).attempts == 1);
    CHECK(fs::exists(f.queue / "job-1-armel-1/x.deb"));
    CHECK_FALSE(fs::exists(f.queue / ".job-1-armel-1.partial"));
    CHECK(jobs::load_job(dir)->state == jobs::JobState::built);
    CHECK(has(f.log.text(), "finished the hand-over of attempt 1"));
  }

  TEST_CASE("the uploader hears of a build whose hand-over the tick finished")
  {
    DispatchFixture f("[mail]\nsmtp_url = smtp://127.0.0.1:1\nfrom = buildme <b@example.org>\n");
    auto dir = f.add_job(1);
    auto build = f.claimed(dir);
    REQUIRE(jobs::assemble_unit(f.queue, "job-1-armel-1", {f.scratch.write("x.deb", "deb")}));
    REQUIRE(jobs::begin_handover(dir, build, "built x.deb", 200));
    f.tick();
    std::string queued;
    for (const auto& entry : fs::directory_iterator(f.scratch / "state/mail/outbox")) {
      queued += ScratchDir::read(entry.path());
    }
    CHECK(has(queued, "BUILT hello 1.0-1"));
  }

  TEST_CASE("a unit renamed into the queue before the worker died is only marked done")
  {
    DispatchFixture f;
    auto dir = f.add_job(1);
    auto build = f.claimed(dir);
    REQUIRE(jobs::assemble_unit(f.queue, "job-1-armel-1", {f.scratch.write("x.deb", "deb")}));
    REQUIRE(jobs::begin_handover(dir, build, "built x.deb", 200));
    REQUIRE(jobs::commit_unit(f.queue, "job-1-armel-1"));
    f.tick();
    CHECK(f.build(dir).handover == jobs::Handover::done);
    CHECK(fs::exists(f.queue / "job-1-armel-1/x.deb"));
  }

  TEST_CASE("a history that says running for a finished build is put right")
  {
    DispatchFixture f;
    auto dir = f.add_job(1);
    auto build = f.claimed(dir);
    {
      auto history = f.history();
      REQUIRE(history.start_attempt({0, 1, "armel", 1, "here", "local#1", 100, 0, "", ""}));
    }
    // The worker recorded its result and was killed before the history.
    REQUIRE(jobs::finish(dir, build, jobs::BuildState::build_failed, "build-failed", 150));
    REQUIRE(jobs::update_job_state(dir));
    f.tick();
    auto history = f.history();
    CHECK(history.running()->empty());
    CHECK(history.attempts(1)->front().result == "build-failed");
    CHECK(history.job(1)->value().state == "failed");
  }

  TEST_CASE("a dry run plans nothing and writes nothing")
  {
    DispatchFixture f;
    auto dir = f.add_job(1);
    f.claimed(dir);
    builder::DispatchOptions options;
    options.dry_run = true;
    builder::run_dispatch(f.config, options, f.clock, f.log.log());
    CHECK(f.build(dir).state == jobs::BuildState::building);
  }
}

} // namespace unit_test_builder_dispatch
