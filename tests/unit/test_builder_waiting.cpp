// Why a build waits: the one function the dispatcher writes into the
// record and the status site shows.
#include "builder/waiting.hpp"

#include "scratch.hpp"
#include "test_config.hpp"

#include <doctest/doctest.h>

namespace unit_test_builder_waiting {

using namespace buildme;
using builder::Availability;
using builder::WaitKind;
using buildme::test::has;
using buildme::test::ScratchDir;

namespace {

struct Waiting
{
  ScratchDir scratch;
  config::Config config = test::test_config(scratch.path(), "[product fremantle]\n"
                                                            "arches = armel i386\n"
                                                            "[builder b1]\n"
                                                            "host = local\n"
                                                            "slots = 2\n"
                                                            "arches = armel\n");
  jobs::Job job;
  jobs::Build build;

  Waiting()
  {
    job.number = 12;
    job.product = "fremantle";
    job.source = "hello";
    job.version = "1.0-1";
    build.arch = "armel";
  }

  builder::WaitReason why(const Availability& available = {}) const
  {
    return builder::why_waiting(config, job, build, available);
  }
};

} // namespace

TEST_SUITE("builder: why a build waits")
{
  TEST_CASE("a held job says why it is held")
  {
    Waiting w;
    w.job.state = jobs::JobState::held;
    w.job.reason = "its files changed while buildme took them";
    auto why = w.why();
    CHECK(why.kind == WaitKind::held);
    CHECK(why.text == w.job.reason);
  }

  TEST_CASE("a depwait build names what it waits for")
  {
    Waiting w;
    w.build.state = jobs::BuildState::depwait;
    w.build.reason = "missing build dependencies: libfoo-dev (>= 2)";
    auto why = w.why();
    CHECK(why.kind == WaitKind::depwait);
    CHECK(has(why.text, "libfoo-dev (>= 2)"));
  }

  TEST_CASE("no builder for the arch says how to add one")
  {
    Waiting w;
    w.build.arch = "i386";
    auto why = w.why();
    CHECK(why.kind == WaitKind::no_builder);
    CHECK(has(why.text, "no builder for i386; add one to test.conf with 'arches = i386'"));
  }

  TEST_CASE("all slots busy, then one free: the next tick starts it")
  {
    Waiting w;
    Availability available;
    available.busy = {"b1.1", "b1.2"};
    auto why = w.why(available);
    CHECK(why.kind == WaitKind::slots_busy);
    CHECK(why.text == "all builders for armel are busy");
    available.busy.erase("b1.2");
    CHECK(w.why(available).kind == WaitKind::next_tick);
  }

  TEST_CASE("every builder for the arch set aside says why and until when")
  {
    Waiting w;
    builder::BuilderHealth health;
    health.set_aside_until = 1300;
    health.reason = "connection refused";
    Availability available;
    available.set_aside["b1"] = builder::set_aside_text("b1", health, 1000);
    auto why = w.why(available);
    CHECK(why.kind == WaitKind::builder_set_aside);
    CHECK(why.text == "builder b1 is set aside (connection refused); tried again in 300 s");
  }

  TEST_CASE("a fitting slot without its base environment says so")
  {
    Waiting w;
    auto why = builder::why_no_slot(w.config, "armel", {}, "build environment being made");
    CHECK(why.kind == WaitKind::environment);
    CHECK(why.text == "build environment being made");
  }

  TEST_CASE("an arch-independent build fits any builder")
  {
    Waiting w;
    w.build.arch = "all";
    CHECK(w.why().kind == WaitKind::next_tick);
  }
}

} // namespace unit_test_builder_waiting
