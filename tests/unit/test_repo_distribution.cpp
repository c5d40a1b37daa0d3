// The distribution writer alone, with a fake signer, an in-memory piece
// cache and a fake clock: what it puts in place, and when old by-hash
// copies go.
#include "repo/distribution.hpp"

#include "captured_log.hpp"
#include "memory_chunks.hpp"
#include "config/config.hpp"
#include "fake_signer.hpp"
#include "scratch.hpp"
#include "test_config.hpp"
#include "util/clock.hpp"
#include "util/digest.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>
#include <map>

namespace unit_test_repo_distribution {

using namespace buildme;
using buildme::test::has;
using buildme::test::ScratchDir;
namespace fs = std::filesystem;

namespace {

using buildme::test::MemoryChunks;

struct WriterFixture
{
  ScratchDir scratch;
  config::Config config;
  // The writer compares file times with its clock: start it at the
  // machine's time.
  util::FakeClock clock{std::chrono::system_clock::now()};
  test::CapturedLog log;
  test::FakeSigner signer;
  MemoryChunks chunks;
  fs::path dists = scratch / "staging/dists/fremantle";

  WriterFixture()
  {
    config = test::test_config(scratch.path(), fmt::format("[repository extras-devel]\n"
                                                           "staging_dir = {0}/staging\n"
                                                           "products = fremantle\n"
                                                           "delete_after = 1d\n",
                                                           scratch.path().string()));
  }

  Status write(const std::string& packages, Status before_commit = {})
  {
    repo::DistributionWriter writer(*config.repository("extras-devel"), &signer, chunks, clock,
                                    log.log());
    return writer.write(
      dists, "fremantle", {"amd64"},
      {{"main/binary-amd64", "Packages", packages}, {"main/source", "Sources", ""}},
      [&] { return before_commit; });
  }

  std::string sha256_of(const std::string& text) const
  {
    return *util::digest_bytes(text, util::DigestSet::all()).sha256;
  }
  fs::path by_hash(const std::string& text) const
  {
    return dists / "main/binary-amd64/by-hash/SHA256" / sha256_of(text);
  }
};

const std::string first = "Package: a\nVersion: 1\n\n";
const std::string second = "Package: a\nVersion: 2\n\n";
const std::string third = "Package: a\nVersion: 3\n\n";

} // namespace

TEST_SUITE("repo: the distribution writer")
{
  TEST_CASE("indices, their by-hash copies and the signed Release are put in place")
  {
    WriterFixture f;
    REQUIRE(f.write(first));
    CHECK(ScratchDir::read(f.dists / "main/binary-amd64/Packages") == first);
    CHECK(fs::exists(f.dists / "main/binary-amd64/Packages.xz"));
    CHECK(ScratchDir::read(f.by_hash(first)) == first);
    const auto release = ScratchDir::read(f.dists / "Release");
    CHECK(has(release, f.sha256_of(first)));
    CHECK(has(release, "Acquire-By-Hash: yes"));
    CHECK(has(ScratchDir::read(f.dists / "InRelease"), release));
    CHECK(fs::exists(f.dists / "Release.gpg"));
  }

  TEST_CASE("a step that fails before the commit puts nothing new in place")
  {
    WriterFixture f;
    REQUIRE(f.write(first));
    CHECK_FALSE(f.write(second, fail("the pool is not on disk")));
    CHECK(ScratchDir::read(f.dists / "main/binary-amd64/Packages") == first);
    f.signer.failure = "no key";
    CHECK_FALSE(f.write(second));
    CHECK(ScratchDir::read(f.dists / "main/binary-amd64/Packages") == first);
    // No temporaries stay behind either.
    for (const auto& entry : fs::recursive_directory_iterator(f.dists)) {
      CHECK_FALSE(entry.path().filename().string().starts_with('.'));
    }
  }

  TEST_CASE("old by-hash copies stay for delete_after, then go; the current ones stay")
  {
    WriterFixture f;
    REQUIRE(f.write(first));
    REQUIRE(f.write(second));
    CHECK(fs::exists(f.by_hash(first))); // a client may still hold the first Release
    f.clock.advance(std::chrono::hours(25));
    REQUIRE(f.write(third));
    CHECK_FALSE(fs::exists(f.by_hash(first)));
    CHECK_FALSE(fs::exists(f.by_hash(second)));
    CHECK(fs::exists(f.by_hash(third)));
  }
}

} // namespace unit_test_repo_distribution
