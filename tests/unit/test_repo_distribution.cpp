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
#include "util/fs.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

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

// IndexRecords in memory, as the catalog keeps them.
struct MemoryRecords : repo::IndexRecords
{
  std::map<std::string, repo::IndexRecord> records;
  std::optional<repo::IndexRecord> get(const std::string& path) override
  {
    auto found = records.find(path);
    return found == records.end() ? std::nullopt : std::optional(found->second);
  }
  Status forget(const std::string& path) override
  {
    records.erase(path);
    return {};
  }
  void put(const std::string& path, const repo::IndexRecord& record) override
  {
    records[path] = record;
  }
};

// A writer with records: each index made by a function that counts its calls.
struct RecordedFixture : WriterFixture
{
  MemoryRecords records;
  int made = 0;

  Status write_recorded(const std::string& packages, const std::string& inputs, bool reuse = true,
                        Status before_commit = {})
  {
    repo::DistributionWriter writer(*config.repository("extras-devel"), &signer, chunks, clock,
                                    log.log());
    writer.set_records(&records, reuse);
    std::vector<repo::IndexText> indices;
    indices.push_back({"main/binary-amd64",
                       "Packages",
                       {},
                       false,
                       [this, packages](std::string& text) -> Status {
                         ++made;
                         text = packages;
                         return {};
                       },
                       inputs});
    indices.push_back({"main",
                       "Contents-amd64",
                       "usr/bin/a\t\t\t\t\t\t\t\t\tutils/a\n",
                       true,
                       {},
                       "contents " + inputs});
    return writer.write(dists, "fremantle", {"amd64"}, indices, [&] { return before_commit; });
  }

  // The lines of Release that list `name`'s files.
  std::string release_lines(const std::string& name) const
  {
    std::string lines;
    std::istringstream release(ScratchDir::read(dists / "Release"));
    for (std::string line; std::getline(release, line);) {
      if (line.find(name) != std::string::npos) {
        lines += line + "\n";
      }
    }
    return lines;
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

  TEST_CASE("an index whose inputs did not change is not made again; Release lists it as before")
  {
    RecordedFixture f;
    f.log.log().set_verbose(true);
    REQUIRE(f.write_recorded(first, "A"));
    CHECK(f.made == 1);
    const auto packages = f.dists / "main/binary-amd64/Packages";
    // The writer renames a new file into place: the same inode is the same file.
    auto inode_of = [](const fs::path& path) { return (**util::stat_no_follow(path)).inode; };
    const auto inode = inode_of(packages);
    const std::string listed = f.release_lines("binary-amd64/Packages");
    const std::string contents = f.release_lines("Contents-amd64");
    CHECK(has(listed, f.sha256_of(first)));
    f.clock.advance(std::chrono::hours(1));
    // Made again, `second` would be written: it is not.
    REQUIRE(f.write_recorded(second, "A"));
    CHECK(f.made == 1);
    CHECK(inode_of(packages) == inode);
    CHECK(ScratchDir::read(packages) == first);
    CHECK(f.release_lines("binary-amd64/Packages") == listed);
    CHECK(f.release_lines("Contents-amd64") == contents);
    CHECK(has(f.log.text(), "wrote 0 of 2 indices of fremantle"));
    // Its by-hash copies are current, so they stay past delete_after.
    f.clock.advance(std::chrono::hours(49));
    REQUIRE(f.write_recorded(second, "A"));
    CHECK(fs::exists(f.by_hash(first)));
  }

  TEST_CASE("an index is made again when its inputs change, a file of it is gone or changed, "
            "or reuse is off")
  {
    RecordedFixture f;
    REQUIRE(f.write_recorded(first, "A"));
    REQUIRE(f.write_recorded(second, "B"));
    CHECK(f.made == 2);
    CHECK(ScratchDir::read(f.dists / "main/binary-amd64/Packages") == second);
    CHECK(has(f.release_lines("binary-amd64/Packages"), f.sha256_of(second)));

    fs::remove(f.dists / "main/binary-amd64/Packages.xz");
    REQUIRE(f.write_recorded(second, "B"));
    CHECK(f.made == 3);
    CHECK(fs::exists(f.dists / "main/binary-amd64/Packages.xz"));

    std::ofstream(f.dists / "main/binary-amd64/Packages.gz") << "not the index";
    REQUIRE(f.write_recorded(second, "B"));
    CHECK(f.made == 4);

    REQUIRE(f.write_recorded(second, "B", false));
    CHECK(f.made == 5);
    // And recorded again: the next run reuses it.
    REQUIRE(f.write_recorded(second, "B"));
    CHECK(f.made == 5);
  }

  TEST_CASE("a write that fails before the commit leaves no record of the files it did not "
            "put in place")
  {
    RecordedFixture f;
    REQUIRE(f.write_recorded(first, "A"));
    CHECK_FALSE(f.write_recorded(second, "B", true, fail("the pool is not on disk")));
    CHECK(ScratchDir::read(f.dists / "main/binary-amd64/Packages") == first);
    CHECK(f.records.records.count("main/binary-amd64/Packages") == 0);
    // Back at A, the index is made again (its record went with the failed write).
    REQUIRE(f.write_recorded(first, "A"));
    CHECK(f.made == 3);
  }
}

} // namespace unit_test_repo_distribution
