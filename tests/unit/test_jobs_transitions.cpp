#include "jobs/transitions.hpp"

#include "scratch.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

namespace unit_test_jobs_transitions {

using namespace buildme::jobs;
using buildme::test::has;
using buildme::test::ScratchDir;
namespace fs = std::filesystem;

namespace {

// A job in a fresh folder, its builds planned for `arches`.
struct Fixture
{
  ScratchDir scratch;
  fs::path dir = scratch / "jobs/1";
  Job job;

  explicit Fixture(const std::vector<std::string>& arches = {"armel", "i386"})
  {
    fs::create_directories(dir);
    job.number = 1;
    job.product = "fremantle";
    job.source = "hello";
    job.version = "1.0-1";
    job.upload = "hello_1.0-1.dsc";
    REQUIRE(save_job(dir, job));
    REQUIRE(plan(dir, job, arches, "no arch"));
  }

  Build build(const std::string& arch) const
  {
    auto loaded = load_build(dir, arch);
    REQUIRE_MESSAGE(loaded, loaded.message());
    return *loaded;
  }
  JobState state() const { return load_job(dir)->state; }
};

} // namespace

TEST_SUITE("jobs: transitions")
{
  TEST_CASE("planning gives one queued build an arch, the first one with the arch-all packages")
  {
    Fixture f;
    CHECK(f.build("armel").state == BuildState::queued);
    CHECK(f.build("armel").with_indep);
    CHECK_FALSE(f.build("i386").with_indep);
    CHECK(update_job_state(f.dir).value() == JobState::queued);
  }

  TEST_CASE("a job with nothing to build fails with the planner's reason")
  {
    Fixture f(std::vector<std::string>{});
    CHECK(f.state() == JobState::failed);
    CHECK(load_job(f.dir)->reason == "no arch");
    CHECK(load_builds(f.dir)->empty());
  }

  TEST_CASE("a claim counts an attempt; an unclaim (worker never started) gives it back")
  {
    Fixture f;
    auto armel = f.build("armel");
    REQUIRE(claim(f.dir, armel, "b1.u1", "building on u1@b1 (attempt 1)", 100));
    CHECK(f.build("armel").state == BuildState::building);
    CHECK(f.build("armel").attempts == 1);
    CHECK(update_job_state(f.dir).value() == JobState::building);
    // A second claim of a build that is not queued is refused, nothing written.
    auto again = claim(f.dir, armel, "b2.u2", "twice", 101);
    CHECK_FALSE(again);
    CHECK(f.build("armel").slot == "b1.u1");
    REQUIRE(unclaim(f.dir, armel, "cannot start the worker"));
    CHECK(f.build("armel").state == BuildState::queued);
    CHECK(f.build("armel").attempts == 0);
  }

  TEST_CASE("a builder fault requeues avoiding the slot, and gives up after max_attempts")
  {
    Fixture f;
    auto armel = f.build("armel");
    REQUIRE(claim(f.dir, armel, "b1.u1", "", 100));
    auto first = requeue_or_give_up(f.dir, armel, "lost the builder", 2, 110);
    REQUIRE(first);
    CHECK(*first == FaultOutcome::requeued);
    CHECK(f.build("armel").state == BuildState::queued);
    CHECK(f.build("armel").avoid == std::vector<std::string>{"b1.u1"});
    CHECK(has(f.build("armel").reason, "requeued after attempt 1: lost the builder"));
    REQUIRE(claim(f.dir, armel, "b2.u1", "", 120));
    auto second = requeue_or_give_up(f.dir, armel, "lost it again", 2, 130);
    REQUIRE(second);
    CHECK(*second == FaultOutcome::gave_up);
    CHECK(f.build("armel").state == BuildState::builder_error);
    CHECK(has(f.build("armel").reason, "gave up after 2 attempts; last: lost it again"));
    CHECK(f.build("armel").avoid == std::vector<std::string>{"b1.u1", "b2.u1"});
  }

  TEST_CASE("the job follows its builds: built only when all succeeded")
  {
    Fixture f;
    auto armel = f.build("armel");
    auto i386 = f.build("i386");
    REQUIRE(claim(f.dir, armel, "b1.u1", "", 1));
    REQUIRE(claim(f.dir, i386, "b1.u2", "", 1));
    REQUIRE(begin_handover(f.dir, armel, "built", 2));
    CHECK(update_job_state(f.dir).value() == JobState::building);
    REQUIRE(finish(f.dir, i386, BuildState::build_failed, "build-failed", 3));
    // armel's packages are not in the queue yet: the job has a step to go.
    CHECK(f.build("armel").handover == Handover::pending);
    CHECK(update_job_state(f.dir).value() == JobState::building);
    REQUIRE(complete_handover(f.dir, armel));
    CHECK(f.build("armel").handover == Handover::done);
    // Both results are still to be mailed.
    CHECK(f.build("armel").announce);
    CHECK(f.build("i386").announce);
    CHECK(update_job_state(f.dir).value() == JobState::building);
    REQUIRE(announced(f.dir, armel));
    CHECK(update_job_state(f.dir).value() == JobState::building);
    REQUIRE(announced(f.dir, i386));
    CHECK(update_job_state(f.dir).value() == JobState::failed);
  }

  TEST_CASE("a cancelled build has nothing to announce; a give-up has")
  {
    Fixture f;
    auto armel = f.build("armel");
    auto i386 = f.build("i386");
    REQUIRE(claim(f.dir, armel, "b1.u1", "", 1));
    REQUIRE(finish(f.dir, armel, BuildState::cancelled, "cancelled by root", 2));
    CHECK_FALSE(f.build("armel").announce);
    REQUIRE(claim(f.dir, i386, "b1.u2", "", 1));
    REQUIRE(requeue_or_give_up(f.dir, i386, "lost", 1, 3));
    CHECK(f.build("i386").state == BuildState::builder_error);
    CHECK(f.build("i386").announce);
  }

  TEST_CASE("a depwait build keeps its job waiting, is news only when it expires")
  {
    Fixture f({"armel"});
    auto armel = f.build("armel");
    REQUIRE(claim(f.dir, armel, "b1.u1", "", 1));
    REQUIRE(
      finish(f.dir, armel, BuildState::depwait, "depwait: unmet build dependencies: libfoo", 2));
    CHECK_FALSE(f.build("armel").announce);
    CHECK_FALSE(f.build("armel").finished());
    CHECK(update_job_state(f.dir).value() == JobState::queued);

    SUBCASE("retried: back to the queue, the waiting attempt uncounted")
    {
      REQUIRE(retry_depwait(f.dir, armel, "retried: the distribution changed"));
      CHECK(f.build("armel").state == BuildState::queued);
      CHECK(f.build("armel").uncounted == 1);
      CHECK_FALSE(retry_depwait(f.dir, armel, "again")); // only from depwait
    }
    SUBCASE("expired: final, announced, the job failed")
    {
      REQUIRE(expire_depwait(f.dir, armel, "not available for 7 days", 3));
      CHECK(f.build("armel").state == BuildState::depwait_expired);
      CHECK(f.build("armel").announce);
      CHECK(f.build("armel").finished());
      REQUIRE(announced(f.dir, armel));
      CHECK(update_job_state(f.dir).value() == JobState::failed);
    }
  }

  TEST_CASE("success is only reached through the hand-over, and only from building")
  {
    Fixture f;
    auto armel = f.build("armel");
    CHECK_FALSE(finish(f.dir, armel, BuildState::success, "", 1));
    CHECK_FALSE(begin_handover(f.dir, armel, "built", 1)); // queued, not building
    CHECK(f.build("armel").state == BuildState::queued);
  }

  TEST_CASE("a held job stays held whatever its builds say, until it is retried")
  {
    Fixture f({"armel"});
    REQUIRE(hold(f.dir, f.job, "a file changed while it was accepted"));
    CHECK(update_job_state(f.dir).value() == JobState::held);
    auto changed = retry(f.dir);
    REQUIRE(changed);
    REQUIRE(changed->size() == 1);
    CHECK(has(changed->front(), "was held: a file changed"));
    CHECK(f.state() == JobState::queued);
    CHECK(load_job(f.dir)->reason.empty());
  }

  TEST_CASE("retry requeues what failed and leaves what succeeded; nothing to retry is empty")
  {
    Fixture f;
    auto armel = f.build("armel");
    auto i386 = f.build("i386");
    REQUIRE(claim(f.dir, armel, "b1.u1", "", 1));
    REQUIRE(claim(f.dir, i386, "b1.u2", "", 1));
    REQUIRE(begin_handover(f.dir, armel, "built", 2));
    REQUIRE(complete_handover(f.dir, armel));
    REQUIRE(finish(f.dir, i386, BuildState::build_failed, "build-failed", 3));
    REQUIRE(announced(f.dir, armel));
    REQUIRE(announced(f.dir, i386));
    REQUIRE(update_job_state(f.dir).value() == JobState::failed);
    auto changed = retry(f.dir);
    REQUIRE(changed);
    CHECK(changed->size() == 1);
    CHECK(f.build("armel").state == BuildState::success);
    CHECK(f.build("i386").state == BuildState::queued);
    CHECK(f.build("i386").attempts == 1);
    CHECK(f.build("i386").uncounted == 1);
    CHECK(f.state() == JobState::queued);
    auto nothing = retry(f.dir);
    REQUIRE(nothing);
    CHECK(nothing->empty());
  }

  TEST_CASE("after a retry, max_attempts counts again from the retry")
  {
    Fixture f({"armel"});
    auto armel = f.build("armel");
    REQUIRE(claim(f.dir, armel, "b1.u1", "", 1));
    REQUIRE(requeue_or_give_up(f.dir, armel, "down", 1, 2).value() == FaultOutcome::gave_up);
    REQUIRE(update_job_state(f.dir));
    REQUIRE(retry(f.dir));
    armel = f.build("armel");
    REQUIRE(claim(f.dir, armel, "b1.u1", "", 3));
    CHECK(f.build("armel").attempts == 2);
    auto outcome = requeue_or_give_up(f.dir, armel, "down again", 2, 4);
    REQUIRE(outcome);
    CHECK(*outcome == FaultOutcome::requeued);
  }

  TEST_CASE("a job that failed before planning is queued to be planned again")
  {
    Fixture f(std::vector<std::string>{});
    auto changed = retry(f.dir);
    REQUIRE(changed);
    CHECK(changed->size() == 1);
    CHECK(f.state() == JobState::queued);
  }

  TEST_CASE("cancel takes the queued builds; a building one with no worker is cancelled too")
  {
    Fixture f;
    auto armel = f.build("armel");
    REQUIRE(claim(f.dir, armel, "b1.u1", "", 1));
    auto cancelled = cancel_queued(f.dir, "cancelled by an operator before it started");
    REQUIRE(cancelled);
    CHECK(*cancelled == std::vector<std::string>{"i386"});
    CHECK(f.build("armel").state == BuildState::building);
    REQUIRE(cancel_orphan(f.dir, armel, "cancelled (its worker was gone)", 5));
    CHECK(update_job_state(f.dir).value() == JobState::cancelled);
  }
}

} // namespace unit_test_jobs_transitions
