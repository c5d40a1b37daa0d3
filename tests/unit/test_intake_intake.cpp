// The intake pass with a fake clock: which uploads become jobs, which wait,
// which are rejected, and that each ends in exactly one of those.
#include "intake/intake.hpp"

#include "captured_log.hpp"
#include "config/config.hpp"
#include "jobs/job.hpp"
#include "jobs/state_dir.hpp"
#include "scratch.hpp"
#include "test_config.hpp"
#include "util/clock.hpp"
#include "util/digest.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>

namespace unit_test_intake_intake {

using namespace buildme;
using buildme::test::has;
using buildme::test::ScratchDir;
namespace fs = std::filesystem;

namespace {

struct IntakeFixture
{
  ScratchDir scratch;
  config::Config config;
  fs::path incoming = scratch / "incoming/fremantle";
  // Files are written now by the machine's clock; the intake's clock is
  // moved past the settle time and grace period as a test needs.
  util::FakeClock clock{std::chrono::system_clock::now()};
  test::CapturedLog log;

  IntakeFixture()
  {
    config = test::test_config(scratch.path(), std::string("grace_period = 10m\n"));
    fs::create_directories(incoming);
  }

  // hello VERSION as a lone .dsc with its two files.
  void put_dsc(const std::string& version, bool wrong_size = false) const
  {
    const std::string orig = "the orig\n", debian = "the debian part of " + version + "\n";
    std::ofstream(incoming / "hello_1.0.orig.tar.gz") << orig;
    std::ofstream(incoming / fmt::format("hello_{}.debian.tar.xz", version)) << debian;
    const auto all = util::DigestSet::all();
    auto o = util::digest_bytes(orig, all), d = util::digest_bytes(debian, all);
    std::ofstream(incoming / fmt::format("hello_{}.dsc", version)) << fmt::format(
      "Format: 3.0 (quilt)\nSource: hello\nBinary: hello\nArchitecture: any\n"
      "Version: {0}\nMaintainer: Jane Doe <jane@example.org>\n"
      "Checksums-Sha256:\n {1} {2} hello_1.0.orig.tar.gz\n"
      " {3} {4} hello_{0}.debian.tar.xz\n"
      "Files:\n {5} {2} hello_1.0.orig.tar.gz\n {6} {4} hello_{0}.debian.tar.xz\n",
      version, *o.sha256, o.size + (wrong_size ? 1 : 0), *d.sha256, d.size, *o.md5, *d.md5);
  }

  intake::IntakeSummary tick(std::chrono::seconds later)
  {
    clock.advance(later);
    intake::IntakeOptions options;
    return intake::run_intake(config, options, clock, log.log());
  }

  std::vector<jobs::Job> jobs() const
  {
    auto listed = jobs::StateDir(config.state_dir).list_jobs();
    REQUIRE_MESSAGE(listed, listed.message());
    return *listed;
  }
};

} // namespace

TEST_SUITE("intake: the pass over an incoming folder")
{
  TEST_CASE("a lone .dsc waits out the settle time, then becomes one queued job")
  {
    IntakeFixture f;
    f.put_dsc("1.0-1");
    auto first = f.tick(std::chrono::seconds(0));
    CHECK(first.waiting == 1);
    CHECK(f.jobs().empty());
    auto later = f.tick(std::chrono::seconds(60));
    CHECK(later.accepted == 1);
    auto jobs = f.jobs();
    REQUIRE(jobs.size() == 1);
    CHECK(jobs[0].state == jobs::JobState::queued);
    CHECK(jobs[0].version == "1.0-1");
    CHECK(fs::exists(f.scratch / "state/jobs/1/upload/hello_1.0-1.dsc"));
    CHECK(fs::is_empty(f.incoming));
  }

  TEST_CASE("a wrong size waits within the grace period and is rejected after it")
  {
    IntakeFixture f;
    f.put_dsc("1.0-1", true);
    CHECK(f.tick(std::chrono::seconds(60)).waiting == 1);
    auto late = f.tick(std::chrono::seconds(3600));
    CHECK(late.rejected == 1);
    CHECK(f.jobs().empty());
    CHECK(fs::exists(f.incoming / "rejected/hello_1.0-1.dsc"));
    CHECK(has(ScratchDir::read(f.incoming / "rejected/hello_1.0-1.dsc.reason"), "bytes"));
  }

  TEST_CASE("the same version twice: the second is rejected, never a second job")
  {
    IntakeFixture f;
    f.put_dsc("1.0-1");
    CHECK(f.tick(std::chrono::seconds(60)).accepted == 1);
    f.put_dsc("1.0-1");
    auto again = f.tick(std::chrono::seconds(60));
    CHECK(again.rejected == 1);
    CHECK(f.jobs().size() == 1);
    CHECK(has(ScratchDir::read(f.incoming / "rejected/hello_1.0-1.dsc.reason"),
              "was already accepted"));
  }

  TEST_CASE("a .dsc with a path in a listed name is rejected at once, not after the grace")
  {
    IntakeFixture f;
    f.put_dsc("1.0-1");
    auto text = ScratchDir::read(f.incoming / "hello_1.0-1.dsc");
    text.replace(text.find(" hello_1.0.orig.tar.gz\n"), 23, " ../hello_1.0.orig.tar.gz\n");
    std::ofstream(f.incoming / "hello_1.0-1.dsc") << text;
    auto summary = f.tick(std::chrono::seconds(0));
    CHECK(summary.rejected == 1);
    CHECK(summary.waiting == 0);
    CHECK(fs::exists(f.incoming / "rejected/hello_1.0-1.dsc"));
  }
}

} // namespace unit_test_intake_intake
