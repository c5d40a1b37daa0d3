// The pool's bookkeeping of one run, with a FolderSync that records instead
// of syncing: which folders the end-of-run sync reaches, and what a failed
// sync leaves.
#include "repo/pool.hpp"

#include "scratch.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <vector>

namespace unit_test_repo_pool {

using namespace buildme;
using buildme::test::ScratchDir;
namespace fs = std::filesystem;

namespace {

struct RecordedSync : repo::FolderSync
{
  std::vector<fs::path> dirs;
  std::vector<fs::path> filesystems;
  std::set<fs::path> failing;

  Status sync_dir(const fs::path& dir) override
  {
    dirs.push_back(dir);
    if (failing.count(dir)) {
      return fail("cannot sync {}", dir.string());
    }
    return {};
  }
  Status sync_filesystem(const fs::path& path) override
  {
    filesystems.push_back(path);
    return {};
  }
};

} // namespace

TEST_SUITE("repo: the pool of one run")
{
  TEST_CASE("each touched folder is synced once, with the pool folders above it a run may have "
            "made, and then forgotten")
  {
    ScratchDir scratch;
    RecordedSync sync;
    repo::Pool pool(scratch / "staging", sync);
    const fs::path hello = scratch / "staging/pool/main/h/hello";
    pool.touch(hello);
    pool.touch(hello);
    pool.touch(scratch / "queue/fremantle");
    pool.touch(scratch / "queue/fremantle/job-1-amd64-1");
    pool.untouch(scratch / "queue/fremantle/job-1-amd64-1"); // removed again
    REQUIRE(pool.sync_touched());
    CHECK(sync.dirs == std::vector<fs::path>{scratch / "queue/fremantle", scratch / "staging/pool",
                                             scratch / "staging/pool/main",
                                             scratch / "staging/pool/main/h", hello});
    sync.dirs.clear();
    REQUIRE(pool.sync_touched());
    CHECK(sync.dirs.empty());
  }

  TEST_CASE("a failed sync is the result, and every other folder is synced all the same")
  {
    ScratchDir scratch;
    RecordedSync sync;
    repo::Pool pool(scratch / "staging", sync);
    sync.failing.insert(scratch / "staging/pool/main/a/alpha");
    pool.touch(scratch / "staging/pool/main/a/alpha");
    pool.touch(scratch / "staging/pool/main/b/beta");
    auto synced = pool.sync_touched();
    CHECK_FALSE(synced);
    CHECK(synced.message().find("pool/main/a/alpha") != std::string::npos);
    CHECK(std::count(sync.dirs.begin(), sync.dirs.end(), scratch / "staging/pool/main/b/beta") ==
          1);
  }

  TEST_CASE("many touched folders are synced with one syncfs per filesystem")
  {
    ScratchDir scratch;
    RecordedSync sync;
    repo::Pool pool(scratch / "staging", sync);
    for (int i = 0; i < 40; ++i) {
      const fs::path dir = scratch / "staging/pool/main/p" / ("package" + std::to_string(i));
      fs::create_directories(dir);
      pool.touch(dir);
    }
    REQUIRE(pool.sync_touched());
    CHECK(sync.filesystems.size() == 1);
    CHECK(sync.dirs.empty());
  }

  TEST_CASE("a folder is made once per run: the same run does not look for it again")
  {
    ScratchDir scratch;
    const fs::path hello = scratch / "staging/pool/main/h/hello";
    repo::Pool pool(scratch / "staging");
    REQUIRE(pool.ensure_dir(hello));
    CHECK(fs::is_directory(hello));
    fs::remove(hello);
    REQUIRE(pool.ensure_dir(hello)); // this run made it already: no mkdir
    CHECK_FALSE(fs::exists(hello));
    repo::Pool next(scratch / "staging");
    REQUIRE(next.ensure_dir(hello));
    CHECK(fs::is_directory(hello));
  }
}

} // namespace unit_test_repo_pool
