// queue-manage's repository writer with a fake signer: what a run leaves in
// the pool, the indices and the queue, for units, refusals, a failed
// signature, a killed run's leftovers, and the order of the pool's sync
// and the Release. The .debs are real (dpkg-deb).
#include "repo/staging.hpp"

#include "captured_log.hpp"
#include "config/config.hpp"
#include "deb_fixture.hpp"
#include "fake_signer.hpp"
#include "scratch.hpp"
#include "test_config.hpp"
#include "util/clock.hpp"
#include "util/digest.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

namespace unit_test_repo_staging {

using namespace buildme;
using buildme::test::FakeSigner;
using buildme::test::has;
using buildme::test::ScratchDir;
namespace fs = std::filesystem;

namespace {

std::size_t count(std::string_view text, std::string_view part)
{
  std::size_t found = 0;
  for (auto at = text.find(part); at != std::string_view::npos; at = text.find(part, at + 1)) {
    ++found;
  }
  return found;
}

// The .deb files below `dir`, by name, as often as each is there.
std::vector<std::string> debs_below(const fs::path& dir)
{
  std::vector<std::string> names;
  if (fs::exists(dir)) {
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      if (entry.path().extension() == ".deb") {
        names.push_back(entry.path().filename().string());
      }
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

const std::string hello_control = "Package: hello\n"
                                  "Version: 1.0-1\n"
                                  "Architecture: amd64\n"
                                  "Maintainer: Jane Doe <jane@example.org>\n"
                                  "Section: misc\n"
                                  "Description: greets\n"
                                  " Prints a greeting.\n";

// A binary package built from the source hello 1.0-1.
std::string part_of_hello(const std::string& package)
{
  return fmt::format("Package: {}\n"
                     "Source: hello\n"
                     "Version: 1.0-1\n"
                     "Architecture: amd64\n"
                     "Maintainer: Jane Doe <jane@example.org>\n"
                     "Section: misc\n"
                     "Description: part of hello\n"
                     " A part of hello.\n",
                     package);
}

// hello 1.0-2, a binary package without its source (as dropped into the
// queue by hand).
const std::string hello_2_control = "Package: hello\n"
                                    "Version: 1.0-2\n"
                                    "Architecture: amd64\n"
                                    "Maintainer: Jane Doe <jane@example.org>\n"
                                    "Section: misc\n"
                                    "Description: greets\n"
                                    " Prints a greeting.\n";

// Syncs for real, and notes for each folder whether a Release was in place
// already when its sync was done. The first sync is held back a moment: in
// the right order only the Release's commit waits for it, so a commit that
// did not wait would come first, and show here.
class SyncRecorder : public repo::FolderSync
{
public:
  struct Synced
  {
    fs::path folder;
    bool release_in_place;
  };

  explicit SyncRecorder(fs::path release) : m_release(std::move(release)) {}

  Status sync_dir(const fs::path& dir) override
  {
    return note(dir, [&] { return util::sync_dir(dir); });
  }
  Status sync_filesystem(const fs::path& path) override
  {
    return note(path, [&] { return util::sync_filesystem(path); });
  }

  std::vector<Synced> synced() const
  {
    std::lock_guard lock(m_mutex);
    return m_synced;
  }

private:
  Status note(const fs::path& folder, const std::function<Status()>& sync)
  {
    std::lock_guard lock(m_mutex);
    if (m_synced.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    auto done = sync();
    m_synced.push_back({folder, fs::exists(m_release)});
    return done;
  }

  fs::path m_release;
  mutable std::mutex m_mutex;
  std::vector<Synced> m_synced;
};

struct StagingFixture
{
  ScratchDir scratch;
  config::Config config;
  // The time now; the tests of delete_after move it on.
  util::FakeClock clock{std::chrono::system_clock::now()};
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
    open();
  }

  // A queue-manage run in a child killed at `failpoint` (util::failpoint
  // sends SIGKILL there); the child opens the staging itself, so that no
  // SQLite connection crosses the fork.
  void run_killed_at(const char* failpoint)
  {
    staging.reset();
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::setenv("BUILDME_FAILPOINT", failpoint, 1);
      test::CapturedLog child_log;
      auto opened = repo::Staging::open(config, *config.repository("extras-devel"),
                                        std::make_unique<FakeSigner>(), clock, child_log.log());
      if (opened) {
        (*opened)->process_queue();
      }
      ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE_MESSAGE(WIFSIGNALED(status), "the run did not stop at " << failpoint);
    CHECK(WTERMSIG(status) == SIGKILL);
  }

  // (Again:) the staging as queue-manage opens it, its pool synced by `sync`.
  void open(repo::FolderSync& sync = repo::disk_sync())
  {
    staging.reset();
    auto fake = std::make_unique<FakeSigner>();
    signer = fake.get();
    auto opened = repo::Staging::open(config, *config.repository("extras-devel"), std::move(fake),
                                      clock, log.log(), sync);
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

  // hello 1.0-1 from a build's unit: its source (three files) and one .deb.
  void take_hello()
  {
    const fs::path unit = queue / "job-1-amd64-1";
    write_source(unit);
    test::build_deb(unit, "hello_1.0-1_amd64", hello_control);
    auto summary = staging->process_queue();
    REQUIRE(summary.errors == 0);
    REQUIRE(has(index("main/binary-amd64/Packages"), "Package: hello\n"));
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
    CHECK(has(ScratchDir::read(f.scratch / "staging/archive-key.asc"),
              "-----BEGIN PGP PUBLIC KEY BLOCK-----"));
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
    INFO(reason);
    CHECK(reason.starts_with("Repository: extras-devel\nUnit: job-1-amd64-1\nRefused: "));
    CHECK(has(reason, "none of its packages is published"));
    CHECK(reason.ends_with("\n\nFiles moved to this folder:\n  job-1-amd64-1/\n"));
    const auto source_reason =
      ScratchDir::read(f.queue / "rejected/job-1-amd64-1/rejected/hello_1.0-1.dsc.reason");
    INFO(source_reason);
    CHECK(source_reason.starts_with("Repository: extras-devel\nRefused: "));
    CHECK(has(source_reason, "Files moved to this folder:\n"));
    CHECK(has(source_reason, "  hello_1.0-1.dsc\n"));
  }

  TEST_CASE("a unit whose refused source a killed run was setting aside is finished by the next "
            "run: everything in rejected/ with its .reason, nothing left in the queue")
  {
    StagingFixture f;
    const fs::path unit = f.queue / "job-1-amd64-1";
    f.write_source(unit, true);
    test::build_deb(unit, "hello_1.0-1_amd64", hello_control);
    // The run is killed after the first of the source's files went to the
    // unit's rejected/.
    f.run_killed_at("set-aside:file-moved");
    const fs::path journals = f.scratch / "state/repo/extras-devel.txn";
    REQUIRE(!fs::is_empty(journals));
    REQUIRE(fs::exists(unit / "hello_1.0-1.dsc"));
    REQUIRE_FALSE(fs::exists(unit / "rejected/hello_1.0-1.dsc.reason"));

    f.open();
    auto summary = f.staging->process_queue();
    CHECK(summary.errors == 0);
    CHECK(has(f.log.text(), "finished setting aside hello_1.0-1.dsc"));
    std::vector<std::string> left;
    for (const auto& entry : fs::directory_iterator(f.queue)) {
      left.push_back(entry.path().filename().string());
    }
    CHECK(left == std::vector<std::string>{"rejected"});
    const fs::path set_aside = f.queue / "rejected/job-1-amd64-1";
    CHECK(fs::exists(set_aside / "hello_1.0-1_amd64.deb"));
    for (const auto* name :
         {"hello_1.0-1.dsc", "hello_1.0.orig.tar.gz", "hello_1.0-1.debian.tar.xz"}) {
      CAPTURE(name);
      CHECK(fs::exists(set_aside / "rejected" / name));
      CHECK_FALSE(fs::exists(set_aside / name));
      CHECK(has(ScratchDir::read(set_aside / "rejected/hello_1.0-1.dsc.reason"),
                fmt::format("  {}\n", name)));
    }
    CHECK(
      has(ScratchDir::read(f.queue / "rejected/job-1-amd64-1.reason"), "its source was refused"));
    CHECK(fs::is_empty(journals));
    CHECK_FALSE(fs::exists(f.scratch / "staging/pool/main/h/hello/hello_1.0-1_amd64.deb"));
    CHECK_FALSE(has(f.index("main/binary-amd64/Packages"), "Package: hello"));
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

  TEST_CASE("a run killed mid-batch, after the catalog took the batch, loses no package: the next "
            "run puts each in the pool and in the index once")
  {
    StagingFixture f;
    const std::vector<std::string> packages{"hello", "hello-data", "libhello1"};
    std::vector<std::string> files;
    for (const auto& package : packages) {
      test::build_deb(f.queue, package + "_1.0-1_amd64", part_of_hello(package));
      files.push_back(package + "_1.0-1_amd64.deb");
    }
    std::sort(files.begin(), files.end());
    // The run is killed at its first move into the pool (as
    // test_handover.bash does with queue-manage).
    f.run_killed_at("queue-manage:deb-moved");
    const fs::path pool = f.scratch / "staging/pool";
    REQUIRE(debs_below(pool).size() == 1);
    REQUIRE(debs_below(f.queue).size() == 2);
    CHECK(fs::exists(f.pending_marker()));

    f.open();
    CHECK(f.staging->catalog().members("fremantle")->size() == packages.size());
    auto summary = f.staging->process_queue();
    CHECK(summary.errors == 0);
    CHECK(util::join(debs_below(pool), ", ") == util::join(files, ", "));
    const auto index = f.index("main/binary-amd64/Packages");
    for (const auto& package : packages) {
      CHECK(count(index, "Package: " + package + "\n") == 1);
      CHECK(count(index, "Filename: pool/main/h/hello/" + package + "_1.0-1_amd64.deb\n") == 1);
    }
    CHECK(fs::is_empty(f.queue));
    CHECK_FALSE(fs::exists(f.pending_marker()));
  }

  TEST_CASE("the pool folders a run put files in are on disk before a Release names them")
  {
    StagingFixture f;
    SyncRecorder recorder(f.dists / "Release");
    f.open(recorder);
    test::build_deb(f.queue, "hello_1.0-1_amd64", hello_control);
    auto summary = f.staging->process_queue();
    CHECK(summary.errors == 0);
    REQUIRE(has(f.index("main/binary-amd64/Packages"),
                "Filename: pool/main/h/hello/hello_1.0-1_amd64.deb\n"));
    const auto synced = recorder.synced();
    for (const fs::path& folder : {f.scratch / "staging/pool/main/h/hello", f.queue}) {
      CAPTURE(folder);
      CHECK(std::any_of(synced.begin(), synced.end(),
                        [&](const SyncRecorder::Synced& entry) { return entry.folder == folder; }));
    }
    for (const auto& entry : synced) {
      CAPTURE(entry.folder);
      CHECK_FALSE(entry.release_in_place);
    }
  }

  TEST_CASE("a removal whose indices cannot be signed says so, and the next run signs them")
  {
    StagingFixture f;
    f.take_hello();
    auto removal = f.staging->find_removal("hello", "1.0-1", {"fremantle"});
    REQUIRE_MESSAGE(removal, removal.message());
    f.signer->failure = "no secret key";
    const std::size_t before = f.log.text().size();
    auto removed = f.staging->remove(*removal);
    REQUIRE_MESSAGE(removed, removed.message());
    CHECK(removed->errors == 1);
    const auto said = f.log.text().substr(before);
    INFO(said);
    CHECK(has(said, "ERROR: "));
    CHECK(has(said, "no secret key"));
    CHECK(has(said, "REMOVED: hello 1.0-1 from extras-devel (fremantle): 1 source and 1 binary "
                    "package (4 files), out of the catalog, and out of the indices once a run "
                    "regenerates them;"));
    CHECK_FALSE(has(said, "out of the indices now"));
    CHECK_FALSE(has(said, "STAGED"));
    CHECK(has(f.index("main/binary-amd64/Packages"), "Package: hello"));
    CHECK(fs::exists(f.pending_marker()));

    f.signer->failure.clear();
    const auto next = f.staging->process_queue();
    CHECK(next.errors == 0);
    CHECK_FALSE(has(f.index("main/binary-amd64/Packages"), "Package: hello"));
    CHECK_FALSE(fs::exists(f.pending_marker()));
  }

  TEST_CASE("remove takes a source and its binaries out of the indices at once, signed and "
            "flagged; their pool files go with the first run after delete_after")
  {
    StagingFixture f;
    f.take_hello();
    const fs::path pool = f.scratch / "staging/pool/main/h/hello";
    const fs::path flag = f.scratch / "staging/.fremantle.changed";
    fs::remove(flag);
    const std::string release_before = f.index("Release");

    auto removal = f.staging->find_removal("hello", "1.0-1", {"fremantle"});
    REQUIRE_MESSAGE(removal, removal.message());
    CHECK(removal->describe() ==
          "hello 1.0-1 from extras-devel (fremantle): 1 source and 1 binary package (4 files)");
    CHECK(removal->members.size() == 2);
    // Finding changes nothing (remove --dry-run).
    CHECK_FALSE(fs::exists(flag));
    CHECK(f.index("Release") == release_before);

    auto removed = f.staging->remove(*removal);
    REQUIRE_MESSAGE(removed, removed.message());
    CHECK(removed->errors == 0);
    CHECK(removed->changed == std::set<std::string>{"fremantle"});
    CHECK_FALSE(has(f.index("main/binary-amd64/Packages"), "Package: hello"));
    CHECK_FALSE(has(f.index("main/source/Sources"), "Package: hello"));
    CHECK(has(f.index("InRelease"), "-----BEGIN PGP SIGNED MESSAGE-----"));
    CHECK(f.index("Release") != release_before);
    CHECK(fs::exists(flag));
    CHECK_FALSE(fs::exists(f.pending_marker()));
    const auto said = f.log.text();
    INFO(said);
    CHECK(has(said, "REMOVED: hello 1.0-1 from extras-devel (fremantle): 1 source and 1 binary "
                    "package (4 files), out of the indices now; the first queue-manage run after "
                    "delete_after (24 h) deletes the pool files no other package uses\n"));
    CHECK(has(said, "STAGED: extras-devel/dists/fremantle regenerated and signed, flagged for "
                    "repo-publish\n"));
    CHECK_FALSE(has(said, "PUBLISHED"));
    CHECK(f.staging->catalog().members("fremantle")->empty());

    const std::vector<std::string> files{"hello_1.0-1_amd64.deb", "hello_1.0-1.dsc",
                                         "hello_1.0.orig.tar.gz", "hello_1.0-1.debian.tar.xz"};
    // Within delete_after the files stay, for clients that hold the old
    // indices.
    f.clock.advance(std::chrono::hours(23));
    CHECK(f.staging->process_queue().deleted == 0);
    for (const auto& name : files) {
      CAPTURE(name);
      CHECK(fs::exists(pool / name));
    }
    f.clock.advance(std::chrono::hours(2));
    auto later = f.staging->process_queue();
    CHECK(later.errors == 0);
    CHECK(later.deleted == 4);
    for (const auto& name : files) {
      CAPTURE(name);
      CHECK_FALSE(fs::exists(pool / name));
    }
  }

  TEST_CASE("a change makes again only the indices it touches; Release lists every one as it is")
  {
    StagingFixture f;
    f.config = test::test_config(f.scratch.path(), fmt::format("[product fremantle]\n"
                                                               "arches = amd64 arm64\n"
                                                               "[repository extras-devel]\n"
                                                               "staging_dir = {0}/staging\n"
                                                               "products = fremantle\n",
                                                               f.scratch.path().string()));
    f.open();
    f.take_hello();
    auto inode_of = [&](const std::string& rel) {
      auto info = util::stat_no_follow(f.dists / rel);
      REQUIRE(info);
      REQUIRE(*info);
      return (**info).inode;
    };
    const std::vector<std::string> untouched{"main/binary-arm64/Packages",
                                             "main/binary-arm64/Packages.xz",
                                             "main/Contents-arm64.gz", "main/Contents-all.gz"};
    std::map<std::string, ino_t> before;
    for (const auto& rel : untouched) {
      before[rel] = inode_of(rel);
    }
    const ino_t amd64_before = inode_of("main/binary-amd64/Packages");

    // hello is amd64 only: its removal touches amd64's Packages and Contents
    // and Sources, not arm64's or Contents-all.
    auto removal = f.staging->find_removal("hello", "1.0-1", {"fremantle"});
    REQUIRE_MESSAGE(removal, removal.message());
    REQUIRE(f.staging->remove(*removal));
    CHECK(inode_of("main/binary-amd64/Packages") != amd64_before);
    CHECK_FALSE(has(f.index("main/binary-amd64/Packages"), "Package: hello"));
    for (const auto& rel : untouched) {
      CAPTURE(rel);
      CHECK(inode_of(rel) == before[rel]);
    }
    // Every file the new Release lists (and that is written) has the SHA256
    // it lists.
    auto check_release = [&] {
      const std::string release = f.index("Release");
      const auto at = release.find("\nSHA256:\n");
      REQUIRE(at != std::string::npos);
      std::istringstream lines(release.substr(at + 9));
      int checked = 0;
      for (std::string line; std::getline(lines, line) && line.starts_with(' ');) {
        const auto words = util::split_words(line);
        REQUIRE(words.size() == 3);
        if (!fs::exists(f.dists / words[2])) {
          continue; // Contents-ARCH: listed, written as .gz only
        }
        CAPTURE(words[2]);
        CHECK(*util::digest_file(f.dists / words[2], util::DigestSet::all())->sha256 == words[0]);
        ++checked;
      }
      CHECK(checked >= 10);
    };
    check_release();
    CHECK(has(f.index("Release"), "main/binary-arm64/Packages.xz"));

    // regenerate makes every index again.
    REQUIRE(f.staging->regenerate_all().errors == 0);
    for (const auto& rel : untouched) {
      CAPTURE(rel);
      CHECK(inode_of(rel) != before[rel]);
    }
    check_release();
  }

  TEST_CASE("an index of which one piece changed copies the others from the files in place, "
            "into what making it whole gives; one changed by hand is made whole")
  {
    StagingFixture f;
    f.log.log().set_verbose(true);
    auto add = [&](int number) {
      test::build_deb(f.queue, fmt::format("pkg{}_1.0_amd64", number),
                      fmt::format("Package: pkg{}\nVersion: 1.0\nArchitecture: amd64\n"
                                  "Maintainer: Jane Doe <jane@example.org>\nSection: misc\n"
                                  "Description: package {}\n",
                                  number, number));
    };
    // Enough packages for Packages to be several pieces.
    for (int i = 0; i < 240; ++i) {
      add(i);
    }
    REQUIRE(f.staging->process_queue().errors == 0);
    // What a run said of amd64's Packages: its pieces, and how many it copied.
    auto pieces_said = [&](std::size_t from) {
      const std::string said = f.log.text().substr(from);
      const std::string key = "main/binary-amd64/Packages: ";
      const auto at = said.find(key);
      REQUIRE_MESSAGE(at != std::string::npos, said);
      const auto words = util::split_words(said.substr(at + key.size(), 40));
      REQUIRE(words.size() >= 4);
      return std::pair{std::stoi(words[0]), std::stoi(words[2])};
    };
    const std::vector<std::string> files{"main/binary-amd64/Packages",
                                         "main/binary-amd64/Packages.gz",
                                         "main/binary-amd64/Packages.xz"};
    auto contents = [&] {
      std::map<std::string, std::string> now;
      for (const auto& rel : files) {
        now[rel] = f.index(rel);
      }
      return now;
    };
    std::size_t from = f.log.text().size();
    add(1000);
    REQUIRE(f.staging->process_queue().errors == 0);
    const auto [pieces, copied] = pieces_said(from);
    CHECK(pieces >= 3);
    CHECK(copied >= 1);
    CHECK(copied >= pieces - 2);
    CHECK(has(f.index("main/binary-amd64/Packages"), "Package: pkg1000\n"));
    const auto incremental = contents();
    from = f.log.text().size();
    REQUIRE(f.staging->regenerate_all().errors == 0);
    CHECK(pieces_said(from).second == 0);
    CHECK(contents() == incremental);

    // A byte of Packages changed by hand (same size): not copied from.
    std::string packages = f.index(files[0]);
    const auto at = packages.find("package 17");
    REQUIRE(at != std::string::npos);
    packages[at] = 'P';
    fs::remove(f.dists / files[0]);
    std::ofstream(f.dists / files[0], std::ios::binary) << packages;
    from = f.log.text().size();
    add(1001);
    REQUIRE(f.staging->process_queue().errors == 0);
    const std::string said = f.log.text().substr(from);
    CHECK(has(said, "main/binary-amd64/Packages is made whole: "));
    CHECK(has(said, "is not the file written last"));
    CHECK(pieces_said(from).second == 0);
    CHECK_FALSE(has(f.index(files[0]), "Package 17"));
    const auto made_whole = contents();
    REQUIRE(f.staging->regenerate_all().errors == 0);
    CHECK(contents() == made_whole);
  }

  TEST_CASE("remove without a version takes every version; with --dist only that distribution")
  {
    StagingFixture f;
    test::build_deb(f.queue, "hello_1.0-1_amd64", hello_control);
    test::build_deb(f.queue, "hello_1.0-2_amd64", hello_2_control);
    REQUIRE(f.staging->process_queue().errors == 0);
    auto removal = f.staging->find_removal("hello", "", {"fremantle"});
    REQUIRE_MESSAGE(removal, removal.message());
    CHECK(removal->describe() ==
          "hello 1.0-1, 1.0-2 from extras-devel (fremantle): 2 binary packages (2 files)");
    // dpkg's equality: 0:1.0-2 is 1.0-2.
    auto one = f.staging->find_removal("hello", "0:1.0-2", {"fremantle"});
    REQUIRE_MESSAGE(one, one.message());
    CHECK(one->describe() ==
          "hello 1.0-2 from extras-devel (fremantle): 1 binary package (1 file)");
    REQUIRE(f.staging->remove(*removal));
    CHECK_FALSE(has(f.index("main/binary-amd64/Packages"), "Package: hello"));
  }

  TEST_CASE("remove of a source or version that is not there names what is, and takes nothing "
            "out")
  {
    StagingFixture f;
    f.take_hello();
    test::build_deb(f.queue, "hello-doc_1.0-1_amd64", part_of_hello("hello-doc"));
    REQUIRE(f.staging->process_queue().errors == 0);
    const std::string packages = f.index("main/binary-amd64/Packages");

    auto version = f.staging->find_removal("hello", "9.9", {"fremantle"});
    REQUIRE_FALSE(version);
    CHECK(version.message() ==
          "extras-devel (fremantle) has no hello 9.9; it has 1.0-1 in fremantle");
    auto binary = f.staging->find_removal("hello-doc", "", {"fremantle"});
    REQUIRE_FALSE(binary);
    CHECK(has(binary.message(), "hello-doc is a binary package built from the source hello"));
    auto unknown = f.staging->find_removal("nosuch", "", {"fremantle"});
    REQUIRE_FALSE(unknown);
    CHECK(has(unknown.message(),
              "extras-devel (fremantle) has no source package nosuch; its sources are hello"));
    CHECK(has(unknown.message(), "queue-manage list --repository extras-devel"));
    CHECK(f.index("main/binary-amd64/Packages") == packages);
    CHECK(f.staging->catalog().members("fremantle")->size() == 3);
  }

  TEST_CASE("a package count names each package and file once, in words")
  {
    repo::PackageCount count;
    count.binaries = {"pool/a.deb"};
    count.files = {"pool/a.deb"};
    CHECK(repo::describe(count) == "1 binary package (1 file)");
    count.sources = {"pool/a.dsc"};
    count.files.insert({"pool/a.dsc", "pool/a.orig.tar.gz", "pool/a.debian.tar.xz"});
    count.binaries.insert("pool/b.deb");
    count.files.insert("pool/b.deb");
    CHECK(repo::describe(count) == "1 source and 2 binary packages (5 files)");
    count.binaries.clear();
    CHECK(repo::describe(count) == "1 source package (5 files)");
  }
}

} // namespace unit_test_repo_staging
