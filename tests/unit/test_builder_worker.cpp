// The worker with a fake builder host: what each way a build can end leaves
// in the build record, the repository queue and the history.
#include "builder/health.hpp"
#include "builder/worker.hpp"

#include "captured_log.hpp"
#include "config/config.hpp"
#include "fake_host.hpp"
#include "history/history.hpp"
#include "jobs/job.hpp"
#include "jobs/state_dir.hpp"
#include "jobs/transitions.hpp"
#include "scratch.hpp"
#include "test_config.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>

using namespace buildme;
using buildme::test::FakeHost;
using buildme::test::has;
using buildme::test::HostRef;
using buildme::test::ScratchDir;
namespace fs = std::filesystem;

namespace {

struct WorkerFixture
{
  ScratchDir scratch;
  config::Config config;
  fs::path job_dir;
  fs::path queue;
  FakeHost fake;
  const FakeHost* host = nullptr; // set once the worker connects
  FakeHost::Script& script = fake.script;
  std::map<std::string, std::string>& faults = fake.faults;
  builder::WorkerSetup setup;
  test::CapturedLog log;

  WorkerFixture()
  {
    config = test::test_config(scratch.path(), std::string("max_attempts = 2\n"
                                                           "[product fremantle]\n"
                                                           "arches = armel\n"
                                                           "[builder here]\n"
                                                           "host = local\n"
                                                           "arches = armel\n"));
    queue = scratch / "queue/fremantle";
    jobs::StateDir state(config.state_dir);
    REQUIRE(state.prepare());
    job_dir = state.job_dir(1);
    scratch.write("state/jobs/1/upload/hello_1.0-1.dsc", "the dsc\n");
    scratch.write("state/jobs/1/upload/hello_1.0.orig.tar.gz", "the orig\n");
    scratch.write("state/jobs/1/upload/hello_1.0-1_source.changes", "the changes\n");
    jobs::Job job;
    job.number = 1;
    job.product = "fremantle";
    job.source = "hello";
    job.version = "1.0-1";
    job.upload = "hello_1.0-1_source.changes";
    job.dsc = "hello_1.0-1.dsc";
    job.architectures = {"any"};
    job.files = {"hello_1.0-1_source.changes", "hello_1.0-1.dsc", "hello_1.0.orig.tar.gz"};
    REQUIRE(jobs::save_job(job_dir, job));
    REQUIRE(jobs::plan(job_dir, job, {"armel"}, ""));
    claim();
    scratch.write("buildme-build", "#!/bin/sh\n");
    setup.build_script = [this]() -> Result<std::string> {
      return (scratch / "buildme-build").string();
    };
    setup.connect = [this](const builder::Slot&) -> Result<std::unique_ptr<builder::Host>> {
      host = &fake;
      return std::unique_ptr<builder::Host>(std::make_unique<test::HostRef>(fake));
    };
  }

  // As the dispatcher does before it starts a worker.
  void claim()
  {
    auto build = jobs::load_build(job_dir, "armel");
    REQUIRE(build);
    REQUIRE(jobs::claim(job_dir, *build, "here.1", "building", 100));
  }

  int run() { return builder::run_worker(config, 1, "armel", "here.1", log.log(), setup); }

  jobs::Build build() const
  {
    auto loaded = jobs::load_build(job_dir, "armel");
    REQUIRE_MESSAGE(loaded, loaded.message());
    return *loaded;
  }

  std::vector<history::AttemptRecord> attempts() const
  {
    auto opened = history::History::open((config.state_dir / "history.sqlite").string());
    REQUIRE_MESSAGE(opened, opened.message());
    auto listed = opened->attempts(1);
    REQUIRE(listed);
    return *listed;
  }
};

// A build that ends with buildme-build's status line and leaves `results`
// in out/.
FakeHost::Script build_that(int code, std::string word, std::vector<std::string> results = {})
{
  return [=](FakeHost& host, const std::vector<std::string>&, const std::string& cwd,
             const builder::ExecOptions& options) -> Result<builder::ExecResult> {
    for (const auto& name : results) {
      host.files[cwd + "/out/" + name] = "content of " + name;
    }
    options.on_output(fmt::format("building...\nBUILDME-STATUS: {} {}\n", code, word));
    return builder::ExecResult{builder::ExecResult::End::exited, code};
  };
}

} // namespace

TEST_SUITE("builder: the worker, with a fake host")
{
  TEST_CASE("a good build hands its packages and the job's source to the queue as one unit")
  {
    WorkerFixture f;
    f.script = build_that(
      0, "success",
      {"hello_1.0-1_armel.deb", "hello-dbg_1.0-1_armel.ddeb", "hello_1.0-1_armel.changes"});
    CHECK(f.run() == 0);
    const auto build = f.build();
    CHECK(build.state == jobs::BuildState::success);
    CHECK(build.handover == jobs::Handover::done);
    const fs::path unit = f.queue / "job-1-armel-1";
    CHECK(ScratchDir::read(unit / "hello_1.0-1_armel.deb") == "content of hello_1.0-1_armel.deb");
    CHECK(ScratchDir::read(unit / "hello_1.0-1.dsc") == "the dsc\n");
    CHECK(fs::exists(unit / "hello_1.0.orig.tar.gz"));
    // Debug symbols and the build's .changes stay with the results.
    CHECK_FALSE(fs::exists(unit / "hello-dbg_1.0-1_armel.ddeb"));
    CHECK_FALSE(fs::exists(unit / "hello_1.0-1_source.changes"));
    CHECK(fs::exists(f.scratch / "results/fremantle/1/armel/hello-dbg_1.0-1_armel.ddeb"));
    CHECK_FALSE(fs::exists(f.queue / ".job-1-armel-1.partial"));
    CHECK(jobs::load_job(f.job_dir)->state == jobs::JobState::built);
    auto attempts = f.attempts();
    REQUIRE(attempts.size() == 1);
    CHECK(attempts[0].result == "success");
    CHECK(attempts[0].finished_at > 0);
    // The sources and the build script went to the host.
    CHECK(f.host->files.count(f.host->uploaded.front()));
    CHECK(f.host->uploaded.size() == 4);
  }

  TEST_CASE("a failed build is final, keeps its summary, and hands nothing over")
  {
    WorkerFixture f;
    f.script = build_that(10, "build-failed compile error");
    CHECK(f.run() == 0);
    const auto build = f.build();
    CHECK(build.state == jobs::BuildState::build_failed);
    CHECK(has(build.reason, "compile error"));
    CHECK(has(ScratchDir::read(f.scratch / "results/fremantle/1/armel/summary.log"),
              "BUILDME-STATUS: 10"));
    CHECK_FALSE(fs::exists(f.queue));
    CHECK(jobs::load_job(f.job_dir)->state == jobs::JobState::failed);
    CHECK(f.attempts().at(0).result == "build-failed");
  }

  TEST_CASE("a build that says success but made no .deb has failed")
  {
    WorkerFixture f;
    f.script = build_that(0, "success", {"hello_1.0-1_armel.changes"});
    f.run();
    CHECK(f.build().state == jobs::BuildState::build_failed);
    CHECK(has(f.build().reason, "produced no .deb"));
  }

  TEST_CASE("a lost builder requeues the build away from its slot, then gives up")
  {
    WorkerFixture f;
    f.script = [](FakeHost&, const std::vector<std::string>&, const std::string&,
                  const builder::ExecOptions&) -> Result<builder::ExecResult> {
      return fail("Socket error: disconnected");
    };
    f.run();
    auto build = f.build();
    CHECK(build.state == jobs::BuildState::queued);
    CHECK(build.avoid == std::vector<std::string>{"here.1"});
    CHECK(has(build.reason, "requeued after attempt 1: lost the builder"));
    CHECK(f.attempts().at(0).result == "builder-error");
    f.claim();
    f.run();
    build = f.build();
    CHECK(build.state == jobs::BuildState::builder_error);
    CHECK(has(build.reason, "gave up after 2 attempts"));
    CHECK(f.attempts().size() == 2);
  }

  TEST_CASE("a host that cannot be reached is a builder fault, not a failed build")
  {
    WorkerFixture f;
    f.faults["make_dir"] = "permission denied";
    f.script = build_that(0, "success", {"hello_1.0-1_armel.deb"});
    f.run();
    CHECK(f.build().state == jobs::BuildState::queued);
    CHECK(has(f.build().reason, "cannot create"));
    CHECK(f.build().uncounted == 1);
  }

  TEST_CASE("a builder that cannot take builds is set aside and the build keeps its attempts")
  {
    WorkerFixture f;
    f.config.mail = config::Mail{};
    f.config.mail->from = "buildme <buildme@example.org>";
    f.config.mail->list = "builds@example.org";
    f.script = build_that(51, "builder-unfit this builder has no sbuild: install sbuild");
    // Many times over: never a given-up build, never a second mail.
    for (int round = 1; round <= 4; ++round) {
      CAPTURE(round);
      f.run();
      auto build = f.build();
      CHECK(build.state == jobs::BuildState::queued);
      CHECK(build.attempts == round);
      CHECK(build.uncounted == round);
      CHECK(build.avoid.empty());
      CHECK(has(build.reason, "here is set aside: this builder has no sbuild"));
      f.claim();
    }
    auto health = builder::HealthStore(f.config.state_dir).load("here");
    REQUIRE(health);
    CHECK(health->faults == 4);
    CHECK(health->set_aside_until > health->since);
    CHECK(has(health->reason, "this builder has no sbuild"));
    auto outbox = util::list_dir(f.config.state_dir / "mail" / "outbox");
    REQUIRE(outbox);
    CHECK(outbox->size() == 1);

    // A build that begins there puts it back in service.
    f.script = build_that(10, "build-failed", {});
    f.run();
    CHECK(builder::HealthStore(f.config.state_dir).load("here")->faults == 0);
    CHECK(f.build().state == jobs::BuildState::build_failed);
  }

  TEST_CASE("a builder that cannot be reached is set aside; the attempt does not count")
  {
    WorkerFixture f;
    f.setup.connect = [](const builder::Slot&) -> Result<std::unique_ptr<builder::Host>> {
      return fail("connection refused");
    };
    f.run();
    auto build = f.build();
    CHECK(build.state == jobs::BuildState::queued);
    CHECK(build.uncounted == 1);
    CHECK(has(build.reason, "cannot reach"));
    CHECK(builder::HealthStore(f.config.state_dir).load("here")->faults == 1);
  }

  TEST_CASE("a queue that cannot take the unit fails the build and leaves no half copy")
  {
    WorkerFixture f;
    f.scratch.write("queue/fremantle", "a file where the queue folder should be");
    f.script = build_that(0, "success", {"hello_1.0-1_armel.deb"});
    f.run();
    const auto build = f.build();
    CHECK(build.state == jobs::BuildState::builder_error);
    CHECK(has(build.reason, "built, but not queued for the repository"));
    CHECK(build.handover == jobs::Handover::none);
  }

  TEST_CASE("a worker for a build that is not building on its slot does nothing")
  {
    WorkerFixture f;
    auto build = f.build();
    REQUIRE(jobs::finish(f.job_dir, build, jobs::BuildState::cancelled, "cancelled", 1));
    f.script = build_that(0, "success", {"hello_1.0-1_armel.deb"});
    CHECK(f.run() == 1);
    CHECK(f.host == nullptr);
    CHECK(f.build().state == jobs::BuildState::cancelled);
  }
}
