#include "jobs/handover.hpp"

#include "scratch.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>

namespace unit_test_jobs_handover {

using namespace buildme::jobs;
using buildme::test::ScratchDir;
namespace fs = std::filesystem;

using buildme::test::mode_of;

TEST_SUITE("jobs: the hand-over to repo_queue")
{
  TEST_CASE("a unit's name says its job, arch and attempt, and only such names are units")
  {
    CHECK(unit_name(12, "armel", 2) == "job-12-armel-2");
    CHECK(is_unit_name("job-12-armel-2"));
    CHECK(is_unit_name("job-1-kfreebsd-amd64-10"));
    for (const char* name : {"job-12-armel", "job--armel-2", "job-12--2", "job-x-armel-2",
                             "job-12-Armel-2", "job-12-armel-2a", "hello_1.0_armel.deb", "job-",
                             ".job-12-armel-2.partial", "job-12-../x-2"}) {
      CAPTURE(name);
      CHECK_FALSE(is_unit_name(name));
    }
  }

  TEST_CASE("a unit is assembled out of sight and appears in the queue whole")
  {
    ScratchDir scratch;
    auto deb = scratch.write("results/hello_1.0-1_armel.deb", "a deb");
    auto dsc = scratch.write("upload/hello_1.0-1.dsc", "a dsc");
    const fs::path queue = scratch / "queue";
    REQUIRE(assemble_unit(queue, "job-1-armel-1", {deb, dsc}));
    CHECK(fs::exists(queue / ".job-1-armel-1.partial/hello_1.0-1_armel.deb"));
    CHECK_FALSE(fs::exists(queue / "job-1-armel-1"));
    REQUIRE(commit_unit(queue, "job-1-armel-1"));
    CHECK(ScratchDir::read(queue / "job-1-armel-1/hello_1.0-1.dsc") == "a dsc");
    CHECK_FALSE(fs::exists(queue / ".job-1-armel-1.partial"));
    // Committing again (a replay after a kill) is done already.
    REQUIRE(commit_unit(queue, "job-1-armel-1"));
    // The sources stay where they were.
    CHECK(fs::exists(deb));
    CHECK(fs::exists(dsc));
  }

  TEST_CASE("a unit has its queue's permissions, so a queue shared through a group stays shared")
  {
    // The admin guide's queue: owned by queue-manage's account, group-writable
    // and setgid for buildme's; queue-manage must be able to empty and remove
    // every unit buildme puts there.
    ScratchDir scratch;
    auto deb = scratch.write("results/a.deb", "a deb");
    const fs::path queue = scratch / "queue";
    fs::create_directories(queue);
    REQUIRE(::chmod(queue.c_str(), 03775) == 0);
    REQUIRE(assemble_unit(queue, "job-1-armel-1", {deb}));
    // Not sticky: queue-manage may remove what buildme's account made there.
    CHECK(mode_of(queue / ".job-1-armel-1.partial") == 02775);
    REQUIRE(commit_unit(queue, "job-1-armel-1"));
    CHECK(mode_of(queue / "job-1-armel-1") == 02775);
  }

  TEST_CASE("a unit in a queue only its owner writes is written only by its owner")
  {
    ScratchDir scratch;
    auto deb = scratch.write("results/a.deb", "a deb");
    const fs::path queue = scratch / "queue";
    fs::create_directories(queue);
    REQUIRE(::chmod(queue.c_str(), 0750) == 0);
    REQUIRE(assemble_unit(queue, "job-1-armel-1", {deb}));
    REQUIRE(commit_unit(queue, "job-1-armel-1"));
    CHECK(mode_of(queue / "job-1-armel-1") == 0750);
  }

  TEST_CASE("assembling again starts afresh: a killed attempt's half copy is not kept")
  {
    ScratchDir scratch;
    auto deb = scratch.write("results/a.deb", "new");
    const fs::path queue = scratch / "queue";
    scratch.write("queue/.job-1-armel-1.partial/a.deb", "half");
    scratch.write("queue/.job-1-armel-1.partial/.a.deb.tmp", "half");
    REQUIRE(assemble_unit(queue, "job-1-armel-1", {deb}));
    CHECK(ScratchDir::read(queue / ".job-1-armel-1.partial/a.deb") == "new");
    CHECK_FALSE(fs::exists(queue / ".job-1-armel-1.partial/.a.deb.tmp"));
  }

  TEST_CASE("a committed unit is never overwritten by another of the same name")
  {
    ScratchDir scratch;
    auto deb = scratch.write("results/a.deb", "second");
    const fs::path queue = scratch / "queue";
    scratch.write("queue/job-1-armel-1/a.deb", "first");
    REQUIRE(assemble_unit(queue, "job-1-armel-1", {deb}));
    CHECK_FALSE(commit_unit(queue, "job-1-armel-1"));
    CHECK(ScratchDir::read(queue / "job-1-armel-1/a.deb") == "first");
  }

  TEST_CASE("discarding removes only that attempt's partial folder")
  {
    ScratchDir scratch;
    const fs::path queue = scratch / "queue";
    scratch.write("queue/.job-1-armel-1.partial/a.deb", "x");
    scratch.write("queue/.job-1-armel-2.partial/a.deb", "x");
    scratch.write("queue/job-1-armel-1/a.deb", "x");
    REQUIRE(discard_unit(queue, "job-1-armel-1"));
    CHECK_FALSE(fs::exists(queue / ".job-1-armel-1.partial"));
    CHECK(fs::exists(queue / ".job-1-armel-2.partial/a.deb"));
    CHECK(fs::exists(queue / "job-1-armel-1/a.deb"));
    REQUIRE(discard_unit(queue, "job-9-armel-1"));
  }
}

TEST_CASE("a unit name with a number too large for a job is not a unit (and never throws)")
{
  CHECK_FALSE(is_unit_name("job-99999999999999999999999-armel-1"));
  CHECK_FALSE(is_unit_name("job-1-armel-99999999999"));
  auto parsed = parse_unit_name("job-12-kfreebsd-amd64-3");
  REQUIRE(parsed);
  CHECK(parsed->job == 12);
  CHECK(parsed->arch == "kfreebsd-amd64");
  CHECK(parsed->attempt == 3);
}

} // namespace unit_test_jobs_handover
