// The worker with a fake builder host: what each way a build can end leaves
// in the build record, the repository queue and the history.
#include "builder/environment.hpp"
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

#include <algorithm>
#include <filesystem>

namespace unit_test_builder_worker {

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
  std::string slot_id;
  config::Config config;
  fs::path job_dir;
  fs::path queue;
  FakeHost fake;
  const FakeHost* host = nullptr; // set once the worker connects
  FakeHost::Script& script = fake.script;
  std::map<std::string, std::string>& faults = fake.faults;
  builder::WorkerSetup setup;
  test::CapturedLog log;

  // The job's product is fremantle (arches armel); `more` names the
  // builder, whose slot `slot` the build is claimed for.
  explicit WorkerFixture(const std::string& more = "[builder here]\nhost = local\narches = armel\n",
                         std::string slot = "here.1")
    : slot_id(std::move(slot))
  {
    config = test::test_config(
      scratch.path(),
      std::string("max_attempts = 2\n[product fremantle]\narches = armel\n") + more);
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
    REQUIRE(jobs::claim(job_dir, *build, slot_id, "building", 100));
  }

  int run() { return builder::run_worker(config, 1, "armel", slot_id, log.log(), setup); }

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

  TEST_CASE("a clean build sees the archive's own distribution, verified with its key")
  {
    const std::string clean = "base_mirror = http://deb.debian.org/debian\n"
                              "base_suite = bookworm\n"
                              "build_profiles = nocheck nodoc\n"
                              "build_options = nocheck noopt\n";
    const std::string repository = "[repository extras]\n"
                                   "products = fremantle\n"
                                   "staging_dir = {0}/staging\n"
                                   "url = https://repo.example.org/extras\n";
    const std::string key = "sign_with = 0123456789ABCDEF0123456789ABCDEF01234567\n";
    // The words of the build command after `option`, or "" without it.
    auto after = [](const std::vector<std::string>& argv, std::string_view option) {
      auto at = std::find(argv.begin(), argv.end(), option);
      return at == argv.end() || at + 1 == argv.end() ? std::string() : *(at + 1);
    };
    auto run_with = [&](const std::string& builder, const std::string& slot,
                        const std::string& repo, bool released, bool with_key = true) {
      auto f = std::make_unique<WorkerFixture>(clean + builder, slot);
      f->config = test::test_config(f->scratch.path(),
                                    "[product fremantle]\narches = armel\n" + clean + builder +
                                      fmt::format(fmt::runtime(repo), f->scratch.path().string()));
      if (released) {
        f->scratch.write("staging/dists/fremantle/Release", "Suite: fremantle\n");
        if (with_key) {
          f->scratch.write("staging/archive-key.asc", "the public key\n");
        }
      }
      f->script = build_that(10, "build-failed");
      f->run();
      REQUIRE(f->fake.commands.size() >= 1);
      return std::pair{std::move(f), f->fake.commands.back()};
    };
    const std::string local = "[builder here]\nhost = local\narches = armel\n"
                              "build_tmpdir = /var/tmp/builds\n";

    SUBCASE("a local builder: staging_dir, signed, the key sent along")
    {
      auto [f, argv] = run_with(local, "here.1", repository + key, true);
      CHECK(after(argv, "--local-repository") == (f->scratch / "staging").string());
      CHECK(after(argv, "--extra-repository") == "deb file:/srv/buildme-repository fremantle main");
      CHECK(after(argv, "--extra-key") == "archive-key.asc");
      CHECK(after(argv, "--tmpdir") == "/var/tmp/builds");
      CHECK(after(argv, "--profiles") == "nocheck,nodoc");
      CHECK(after(argv, "--build-options") == "nocheck noopt");
      CHECK(after(argv, "--jobs").empty()); // jobs = 1: buildme-build's default
      const auto& sent = f->fake.uploaded;
      CHECK(std::any_of(sent.begin(), sent.end(), [](const std::string& path) {
        return path.ends_with("/archive-key.asc");
      }));
    }
    SUBCASE("an unsigned repository is marked trusted, as its configuration says")
    {
      auto [f, argv] = run_with(local, "here.1", repository, true);
      CHECK(after(argv, "--extra-repository") ==
            "deb [trusted=yes] file:/srv/buildme-repository fremantle main");
      CHECK(after(argv, "--extra-key").empty());
    }
    SUBCASE("an SSH builder reaches it by the repository's url")
    {
      auto [f, argv] = run_with("[builder here]\nhost = build.example.org\nusers = b1\n"
                                "arches = armel\nidentity = /k/id\nknown_hosts = /k/hosts\n",
                                "here.b1", repository + key, true);
      CHECK(after(argv, "--local-repository").empty());
      CHECK(after(argv, "--extra-repository") ==
            "deb https://repo.example.org/extras fremantle main");
      CHECK(after(argv, "--extra-key") == "archive-key.asc");
      CHECK(after(argv, "--tmpdir").empty());
      CHECK(after(argv, "--jobs").empty());
    }
    SUBCASE("engine = schroot: the chroot of the product and the base's arch")
    {
      auto [f, argv] =
        run_with(local + "engine = schroot\nschroot_name = t-{builder}-{product}-{arch}\n",
                 "here.1", repository + key, true);
      CHECK(after(argv, "--schroot") == "t-here-fremantle-armel");
      CHECK(after(argv, "--base").ends_with("fremantle_armel.tar"));
      CHECK(after(argv, "--apt-cache") ==
            (f->scratch / "state/buildme-envs/apt-cache/here.1").string());
    }
    SUBCASE("the unshare engine names no chroot")
    {
      auto [f, argv] = run_with(local, "here.1", repository + key, true);
      CHECK(after(argv, "--schroot").empty());
    }
    SUBCASE("a builder's jobs reach the build")
    {
      auto [f, argv] = run_with(local + "jobs = 6\n", "here.1", repository + key, true);
      CHECK(after(argv, "--jobs") == "6");
    }
    SUBCASE("before queue-manage wrote the distribution, no extra repository")
    {
      auto [f, argv] = run_with(local, "here.1", repository + key, false);
      CHECK(after(argv, "--extra-repository").empty());
      CHECK(after(argv, "--base").ends_with("fremantle_armel.tar"));
    }
    SUBCASE("a signed repository whose key is missing is left out, with a note in the log")
    {
      auto [f, argv] = run_with(local, "here.1", repository + key, true, false);
      CHECK(after(argv, "--extra-repository").empty());
      CHECK(after(argv, "--extra-key").empty());
      CHECK(has(ScratchDir::read(f->scratch / "results/fremantle/1/armel/build.log"),
                "not using the archive's own packages: cannot send"));
    }
  }

  TEST_CASE("a base gone from the builder is made again; the builder is not set aside")
  {
    WorkerFixture f("base_mirror = http://deb.debian.org/debian\nbase_suite = bookworm\n"
                    "[builder here]\nhost = local\narches = armel\n");
    builder::EnvStore store(f.config.state_dir);
    builder::BaseEnv env;
    env.builder = "here";
    env.product = "fremantle";
    env.arch = "armel";
    env.state = builder::EnvState::ready;
    env.path = "/somewhere/fremantle_armel.tar";
    env.made_at = 50;
    REQUIRE(store.save(env));
    f.script =
      build_that(52, "base-missing the base environment /somewhere/fremantle_armel.tar is not "
                     "on this builder");
    f.run();
    auto build = f.build();
    CHECK(build.state == jobs::BuildState::queued);
    CHECK(build.uncounted == 1);
    CHECK(has(build.reason, "its build environment was gone from here; it is made again"));
    auto after = store.load("here", "fremantle", "armel");
    REQUIRE(after);
    CHECK(after->state == builder::EnvState::missing);
    CHECK(after->made_at == 0);
    CHECK(builder::HealthStore(f.config.state_dir).load("here")->set_aside_until == 0);

    // Any other unfitness still sets the builder aside.
    f.claim();
    f.script = build_that(51, "builder-unfit this builder has no sbuild: install sbuild");
    f.run();
    CHECK(builder::HealthStore(f.config.state_dir).load("here")->set_aside_until > 0);
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

} // namespace unit_test_builder_worker
