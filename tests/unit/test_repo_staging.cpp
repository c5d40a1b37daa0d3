// queue-manage's repository writer with a fake signer: what a run leaves in
// the pool, the indices and the queue, for units, refusals, a failed
// signature and a killed run's leftovers. The .debs are real (dpkg-deb).
#include "repo/staging.hpp"

#include "captured_log.hpp"
#include "config/config.hpp"
#include "deb_fixture.hpp"
#include "fake_signer.hpp"
#include "scratch.hpp"
#include "test_config.hpp"
#include "util/clock.hpp"
#include "util/digest.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>

using namespace buildme;
using buildme::test::FakeSigner;
using buildme::test::ScratchDir;
namespace fs = std::filesystem;

namespace {

bool has(std::string_view text, std::string_view part)
{
  return text.find(part) != std::string_view::npos;
}

const std::string hello_control = "Package: hello\n"
                                  "Version: 1.0-1\n"
                                  "Architecture: amd64\n"
                                  "Maintainer: Jane Doe <jane@example.org>\n"
                                  "Section: misc\n"
                                  "Description: greets\n"
                                  " Prints a greeting.\n";

struct StagingFixture
{
  ScratchDir scratch;
  config::Config config;
  util::SystemClock clock;
  test::CapturedLog log;
  FakeSigner* signer = nullptr; // owned by the staging
  std::unique_ptr<repo::Staging> staging;
  fs::path queue = scratch / "queue/fremantle";
  fs::path dists = scratch / "staging/dists/fremantle";

  StagingFixture()
  {
    config = test::test_config(scratch.path(), fmt::format("[product fremantle]\n"
                                                           "arches = amd64\n"
                                                           "[repository extras-devel]\n"
                                                           "staging_dir = {0}/staging\n"
                                                           "products = fremantle\n",
                                                           scratch.path().string()));
    fs::create_directories(queue);
    auto fake = std::make_unique<FakeSigner>();
    signer = fake.get();
    auto opened = repo::Staging::open(config, *config.repository("extras-devel"), std::move(fake),
                                      clock, log.log());
    REQUIRE_MESSAGE(opened, opened.message());
    staging = std::move(*opened);
  }

  // A source package hello 1.0-1 in `dir`: its .dsc (with `damage` applied
  // to the orig's listed SHA256 when set) and the files it lists.
  void write_source(const fs::path& dir, bool damage = false) const
  {
    const std::string orig = "the orig tarball\n", debian = "the debian tarball\n";
    fs::create_directories(dir);
    std::ofstream(dir / "hello_1.0.orig.tar.gz") << orig;
    std::ofstream(dir / "hello_1.0-1.debian.tar.xz") << debian;
    const auto all = util::DigestSet::all();
    auto o = util::digest_bytes(orig, all), d = util::digest_bytes(debian, all);
    std::string orig_sha = *o.sha256;
    if (damage) {
      orig_sha[0] = orig_sha[0] == '0' ? '1' : '0';
    }
    std::ofstream(dir / "hello_1.0-1.dsc")
      << "Format: 3.0 (quilt)\nSource: hello\nBinary: hello\nArchitecture: any\n"
         "Version: 1.0-1\nMaintainer: Jane Doe <jane@example.org>\nSection: misc\n"
      << fmt::format("Checksums-Sha256:\n {} {} hello_1.0.orig.tar.gz\n {} {} "
                     "hello_1.0-1.debian.tar.xz\nFiles:\n {} {} hello_1.0.orig.tar.gz\n {} {} "
                     "hello_1.0-1.debian.tar.xz\n",
                     orig_sha, o.size, *d.sha256, d.size, *o.md5, o.size, *d.md5, d.size);
  }

  std::string index(const std::string& rel) const
  {
    return fs::exists(dists / rel) ? ScratchDir::read(dists / rel) : std::string();
  }
  fs::path pending_marker() const { return scratch / "state/repo/extras-devel.fremantle.pending"; }
};

} // namespace

TEST_SUITE("repo: the repository writer, with a fake signer")
{
  TEST_CASE("a build's unit goes in whole: its source, then its packages, and the unit is gone")
  {
    StagingFixture f;
    const fs::path unit = f.queue / "job-1-amd64-1";
    f.write_source(unit);
    test::build_deb(unit, "hello_1.0-1_amd64", hello_control);
    auto summary = f.staging->process_queue();
    CHECK(summary.errors == 0);
    CHECK(summary.changed.count("fremantle"));
    const fs::path pool = f.scratch / "staging/pool/main/h/hello";
    CHECK(fs::exists(pool / "hello_1.0-1_amd64.deb"));
    CHECK(fs::exists(pool / "hello_1.0-1.dsc"));
    CHECK(fs::exists(pool / "hello_1.0.orig.tar.gz"));
    CHECK(has(f.index("main/binary-amd64/Packages"), "Package: hello\n"));
    CHECK(has(f.index("main/source/Sources"), "Package: hello\n"));
    CHECK(has(f.index("InRelease"), "-----BEGIN PGP SIGNED MESSAGE-----"));
    CHECK(fs::is_empty(f.queue));
    CHECK_FALSE(fs::exists(f.pending_marker()));
  }

  TEST_CASE("a unit whose source is refused is set aside whole: no package without its source")
  {
    StagingFixture f;
    const fs::path unit = f.queue / "job-1-amd64-1";
    f.write_source(unit, true);
    test::build_deb(unit, "hello_1.0-1_amd64", hello_control);
    auto summary = f.staging->process_queue();
    CHECK(summary.refused >= 1);
    CHECK_FALSE(has(f.index("main/binary-amd64/Packages"), "Package: hello"));
    CHECK_FALSE(fs::exists(f.scratch / "staging/pool/main/h/hello/hello_1.0-1_amd64.deb"));
    CHECK(fs::exists(f.queue / "rejected/job-1-amd64-1/hello_1.0-1_amd64.deb"));
    const auto reason = ScratchDir::read(f.queue / "rejected/job-1-amd64-1.reason");
    CHECK(has(reason, "none of its packages is published"));
  }

  TEST_CASE("a unit of packages without a source is refused whole")
  {
    StagingFixture f;
    const fs::path unit = f.queue / "job-1-amd64-1";
    fs::create_directories(unit);
    test::build_deb(unit, "hello_1.0-1_amd64", hello_control);
    f.staging->process_queue();
    CHECK(fs::exists(f.queue / "rejected/job-1-amd64-1/hello_1.0-1_amd64.deb"));
    CHECK(has(ScratchDir::read(f.queue / "rejected/job-1-amd64-1.reason"), "holds 0 .dsc"));
  }

  TEST_CASE("a debug symbol package in the queue is set aside with its reason")
  {
    StagingFixture f;
    test::build_deb(f.queue, "hello-dbgsym_1.0-1_amd64", hello_control);
    fs::rename(f.queue / "hello-dbgsym_1.0-1_amd64.deb", f.queue / "hello-dbgsym_1.0-1_amd64.ddeb");
    auto summary = f.staging->process_queue();
    CHECK(summary.refused == 1);
    CHECK(has(ScratchDir::read(f.queue / "rejected/hello-dbgsym_1.0-1_amd64.ddeb.reason"),
              "debug symbol package (.ddeb)"));
  }

  TEST_CASE("a failed signature puts no index in place, and the next run regenerates")
  {
    StagingFixture f;
    f.write_source(f.queue / "job-1-amd64-1");
    test::build_deb(f.queue / "job-1-amd64-1", "hello_1.0-1_amd64", hello_control);
    f.signer->failure = "the key has expired";
    auto failed = f.staging->process_queue();
    CHECK(failed.errors > 0);
    CHECK_FALSE(fs::exists(f.dists / "Release"));
    CHECK_FALSE(fs::exists(f.dists / "main/binary-amd64/Packages"));
    CHECK(fs::exists(f.pending_marker()));
    f.signer->failure.clear();
    auto again = f.staging->process_queue();
    CHECK(again.errors == 0);
    CHECK(has(f.index("main/binary-amd64/Packages"), "Package: hello\n"));
    CHECK(fs::exists(f.dists / "Release.gpg"));
    CHECK_FALSE(fs::exists(f.pending_marker()));
  }

  TEST_CASE("the temporaries a killed run left beside the indices are removed, only those")
  {
    StagingFixture f;
    f.write_source(f.queue / "job-1-amd64-1");
    test::build_deb(f.queue / "job-1-amd64-1", "hello_1.0-1_amd64", hello_control);
    f.scratch.write("staging/dists/fremantle/main/binary-amd64/..Packages.xz.new.AbC123", "x");
    f.scratch.write("staging/dists/fremantle/..Release.new.q1w2e3", "x");
    f.scratch.write("staging/dists/fremantle/..Release.new.keep-me", "not a temporary's name");
    f.staging->process_queue();
    CHECK_FALSE(fs::exists(f.dists / "main/binary-amd64/..Packages.xz.new.AbC123"));
    CHECK_FALSE(fs::exists(f.dists / "..Release.new.q1w2e3"));
    CHECK(fs::exists(f.dists / "..Release.new.keep-me"));
  }
}
