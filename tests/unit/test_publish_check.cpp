// The check repo-publish makes of a repository tree before it pushes it (and
// of a local live copy after): what each mix a killed queue-manage can leave
// looks like to it, what a damaged pool or by-hash copy looks like, and how
// it takes malformed, hostile and truncated Release files and indices. The
// tree is written by the real distribution writer; its signatures are fakes
// that a fake keyring can check (the real keyring has its own tests).
#include "publish/check.hpp"

#include "captured_log.hpp"
#include "memory_chunks.hpp"
#include "config/config.hpp"
#include "debian/deb822.hpp"
#include "repo/distribution.hpp"
#include "scratch.hpp"
#include "sign/release_keyring.hpp"
#include "sign/signer.hpp"
#include "test_config.hpp"
#include "util/clock.hpp"
#include "util/digest.hpp"
#include "util/fs.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace unit_test_publish_check {

using namespace buildme;
using buildme::test::has;
using buildme::test::ScratchDir;
namespace fs = std::filesystem;

namespace {

std::string sha256_of(std::string_view text)
{
  return *util::digest_bytes(text, {false, false, true, false}).sha256;
}

// Signatures that name the SHA256 of what they sign: a FakeKeyring can tell
// a good one from one of other text.
class DigestSigner : public sign::Signer
{
public:
  Result<std::string> clearsign(std::string_view text) override
  {
    return fmt::format("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n{}"
                       "-----BEGIN PGP SIGNATURE-----\n\n{}\n-----END PGP SIGNATURE-----\n",
                       text, sha256_of(text));
  }
  Result<std::string> detach_sign(std::string_view text) override
  {
    return fmt::format("-----BEGIN PGP SIGNATURE-----\n\n{}\n-----END PGP SIGNATURE-----\n",
                       sha256_of(text));
  }
  Result<std::string> public_key() override { return std::string("key\n"); }
};

class FakeKeyring : public sign::ReleaseKeyring
{
public:
  std::string check_detached(std::string_view text, std::string_view signature,
                             std::string_view name) override
  {
    return has(signature, sha256_of(text)) ? "" : fmt::format("{}: BAD signature", name);
  }
  Result<std::string> check_clearsigned(std::string_view file, std::string_view name) override
  {
    TRY_ASSIGN(auto control, debian::parse_control(file, name));
    if (!control.is_signed || !has(control.signature, sha256_of(control.signed_text))) {
      return fail("{}: BAD signature", name);
    }
    return control.signed_text;
  }
};

using buildme::test::MemoryChunks;

const std::string deb_path = "pool/main/h/hello/hello_1.0-1_amd64.deb";
const std::string dsc_path = "pool/main/h/hello/hello_1.0-1.dsc";
const std::string orig_path = "pool/main/h/hello/hello_1.0.orig.tar.gz";

struct TreeFixture
{
  ScratchDir scratch;
  config::Config config;
  util::FakeClock clock{std::chrono::system_clock::now()};
  test::CapturedLog log;
  DigestSigner signer;
  FakeKeyring keyring;
  MemoryChunks chunks;
  fs::path root = scratch / "staging";
  fs::path dists = root / "dists/fremantle";

  TreeFixture()
  {
    config = test::test_config(scratch.path(), fmt::format("[repository extras-devel]\n"
                                                           "staging_dir = {0}/staging\n"
                                                           "products = fremantle\n",
                                                           scratch.path().string()));
    pool_file(deb_path, "the bytes of hello's .deb\n");
    pool_file(dsc_path, "Source: hello\n");
    pool_file(orig_path, "the orig tarball\n");
    REQUIRE(write(packages_stanza("hello", deb_path), sources_stanza()));
  }

  void pool_file(const std::string& path, const std::string& content) const
  {
    scratch.write("staging/" + path, content);
  }
  std::string read(const std::string& path) const { return ScratchDir::read(root / path); }

  // A Packages stanza naming `path` with the size and SHA256 of what it
  // holds now.
  std::string packages_stanza(const std::string& package, const std::string& path) const
  {
    const std::string content = read(path);
    return fmt::format("Package: {}\nVersion: 1.0-1\nArchitecture: amd64\nFilename: {}\n"
                       "Size: {}\nSHA256: {}\n\n",
                       package, path, content.size(), sha256_of(content));
  }
  std::string sources_stanza() const
  {
    std::string checksums;
    for (const auto& path : {dsc_path, orig_path}) {
      const std::string content = read(path);
      checksums += fmt::format("\n {} {} {}", sha256_of(content), content.size(),
                               fs::path(path).filename().string());
    }
    return fmt::format("Package: hello\nVersion: 1.0-1\nDirectory: pool/main/h/hello\n"
                       "Checksums-Sha256:{}\n\n",
                       checksums);
  }

  Status write(const std::string& packages, const std::string& sources)
  {
    repo::DistributionWriter writer(*config.repository("extras-devel"), &signer, chunks, clock,
                                    log.log());
    return writer.write(
      dists, "fremantle", {"amd64"},
      {{"main/binary-amd64", "Packages", packages}, {"main/source", "Sources", sources}},
      [] { return Status(); });
  }

  // A distribution written by hand: `files` below dists/fremantle and a
  // Release (unsigned) listing each with its size and SHA256, then `extra`
  // lines.
  void write_by_hand(const std::map<std::string, std::string>& files, const std::string& extra = "")
  {
    fs::remove_all(dists);
    std::string release = "Suite: fremantle\nSHA256:\n";
    for (const auto& [path, content] : files) {
      scratch.write("staging/dists/fremantle/" + path, content);
      release += fmt::format(" {} {} {}\n", sha256_of(content), content.size(), path);
    }
    scratch.write("staging/dists/fremantle/Release", release + extra);
  }

  publish::TreeCheck check(bool signed_tree = true, const fs::path& record = {},
                           util::Clock::time_point now = {})
  {
    publish::CheckOptions options;
    options.keyring = signed_tree ? &keyring : nullptr;
    options.record = record;
    options.threads = 2;
    options.now = now == util::Clock::time_point() ? clock.now() : now;
    return publish::check_tree(root, options);
  }

  // The problems of a check, one per line, for messages and has().
  static std::string problems(const publish::TreeCheck& check)
  {
    std::string out;
    for (const auto& problem : check.problems) {
      out += problem + "\n";
    }
    return out;
  }
};

// What a queue-manage killed in its commit leaves: `keep` of the Release
// files are the old ones, the rest of the distribution is new.
void mix(TreeFixture& f, const std::vector<std::string>& keep)
{
  std::map<std::string, std::string> old;
  for (const auto& name : keep) {
    old[name] = f.read("dists/fremantle/" + name);
  }
  f.pool_file("pool/main/h/hello/hello_1.0-2_amd64.deb", "the bytes of the next .deb\n");
  REQUIRE(f.write(f.packages_stanza("hello", "pool/main/h/hello/hello_1.0-2_amd64.deb"),
                  f.sources_stanza()));
  for (const auto& [name, content] : old) {
    f.scratch.write("staging/dists/fremantle/" + name, content);
  }
}

} // namespace

TEST_SUITE("publish: checking a repository tree before and after a push")
{
  TEST_CASE("a whole tree checks out: every Release file, by-hash copy and pool file")
  {
    TreeFixture f;
    auto check = f.check();
    CHECK_MESSAGE(check.ok(), TreeFixture::problems(check));
    CHECK(check.dists == 1);
    CHECK(check.pool_files == 3);
    CHECK(check.read == 3);
  }

  TEST_CASE("new indices beside the old Release: the index is named with what differs")
  {
    TreeFixture f;
    mix(f, {"Release", "Release.gpg", "InRelease"});
    const auto problems = TreeFixture::problems(f.check());
    CHECK(has(problems, "dists/fremantle/main/binary-amd64/Packages: "));
    CHECK(has(problems, "but the Release lists"));
    CHECK_FALSE(has(problems, "BAD signature"));
  }

  TEST_CASE("a new Release.gpg beside the old Release is a bad signature")
  {
    TreeFixture f;
    mix(f, {"Release", "InRelease"});
    const auto problems = TreeFixture::problems(f.check());
    CHECK(has(problems, "dists/fremantle/Release.gpg: BAD signature"));
  }

  TEST_CASE("a new Release beside the old InRelease: InRelease signs other text")
  {
    TreeFixture f;
    mix(f, {"InRelease"});
    const auto check = f.check();
    REQUIRE(check.problems.size() == 1);
    CHECK(has(check.problems[0],
              "dists/fremantle/InRelease: signs other text than dists/fremantle/Release"));
  }

  TEST_CASE("without a keyring the signatures are not looked at")
  {
    TreeFixture f;
    fs::remove(f.dists / "Release.gpg");
    fs::remove(f.dists / "InRelease");
    CHECK(f.check(false).ok());
    // With a keyring the same tree is refused, each missing signature named.
    const auto problems = TreeFixture::problems(f.check(true));
    CHECK(has(problems, "dists/fremantle/Release.gpg: cannot open "));
    CHECK(has(problems, "dists/fremantle/InRelease: cannot open "));
    CHECK(has(problems, "InRelease: No such file or directory"));
  }

  TEST_CASE("a pool file missing, cut short or rewritten is named with the index that names it")
  {
    TreeFixture f;
    fs::remove(f.root / orig_path);
    std::string deb = f.read(deb_path);
    deb[0] = 'T';
    f.pool_file(deb_path, deb);
    f.pool_file(dsc_path, "Source:");
    const auto problems = TreeFixture::problems(f.check());
    CHECK(has(problems, orig_path + ": missing (named by dists/fremantle/main/source/Sources)"));
    CHECK(has(problems, deb_path + ": SHA256 "));
    CHECK(has(problems, "but dists/fremantle/main/binary-amd64/Packages lists"));
    CHECK(has(problems, dsc_path + ": 7 bytes, but dists/fremantle/main/source/Sources lists 14"));
  }

  TEST_CASE("a pool file that is a symlink is refused: rsync would not send it as a file")
  {
    TreeFixture f;
    fs::rename(f.root / deb_path, f.scratch / "elsewhere.deb");
    fs::create_symlink(f.scratch / "elsewhere.deb", f.root / deb_path);
    CHECK(has(TreeFixture::problems(f.check()), deb_path + ": not a regular file"));
  }

  TEST_CASE("a by-hash copy that is missing or not a copy is named")
  {
    TreeFixture f;
    const std::string packages = f.read("dists/fremantle/main/binary-amd64/Packages");
    const auto digests = util::digest_bytes(packages, util::DigestSet::all());
    const fs::path by_hash = f.dists / "main/binary-amd64/by-hash";
    fs::remove(by_hash / "SHA512" / *digests.sha512);
    // Another file of the same size, not a link to the index.
    fs::remove(by_hash / "SHA256" / *digests.sha256);
    f.scratch.write("staging/dists/fremantle/main/binary-amd64/by-hash/SHA256/" + *digests.sha256,
                    std::string(packages.size(), 'x'));
    const auto problems = TreeFixture::problems(f.check());
    CHECK(has(problems, "main/binary-amd64/by-hash/SHA512/" + *digests.sha512 + ": missing"));
    CHECK(has(problems, "main/binary-amd64/by-hash/SHA256/" + *digests.sha256 +
                          ": not a copy of dists/fremantle/main/binary-amd64/Packages"));
    // A copy (not a link) of the same bytes is fine.
    fs::remove(by_hash / "SHA256" / *digests.sha256);
    f.scratch.write("staging/dists/fremantle/main/binary-amd64/by-hash/SHA256/" + *digests.sha256,
                    packages);
    CHECK_FALSE(has(TreeFixture::problems(f.check()), "by-hash/SHA256"));
  }

  TEST_CASE("a tree without a distribution, or a distribution without a Release, is refused")
  {
    TreeFixture f;
    fs::remove(f.dists / "Release");
    CHECK(has(TreeFixture::problems(f.check()), "dists/fremantle/Release: missing"));
    fs::remove_all(f.root / "dists");
    CHECK(has(TreeFixture::problems(f.check()), "dists: cannot be listed"));
    fs::create_directories(f.root / "dists");
    CHECK(has(TreeFixture::problems(f.check()), "dists: holds no distribution"));
  }

  TEST_CASE("malformed, hostile and truncated Release lines are named with their line")
  {
    TreeFixture f;
    const std::string sha = std::string(64, 'a');
    const std::pair<std::string, std::string> cases[] = {
      {"SHA256:\n 1234 main/x\n", "Release:3: '1234 main/x' is not 'SHA256 SIZE PATH'"},
      {"SHA256:\n " + sha + " 12a main/x\n", "is not 'SHA256 SIZE PATH'"},
      {"SHA256:\n " + sha.substr(1) + " 12 main/x\n", "is not 'SHA256 SIZE PATH'"},
      {"SHA256:\n " + sha + " 99999999999999999999999 main/x\n", "is not 'SHA256 SIZE PATH'"},
      {"SHA256:\n " + sha + " 1 ../../../etc/passwd\n", "'../../../etc/passwd'"},
      {"SHA256:\n " + sha + " 1 /etc/passwd\n", "is not a relative path"},
      {"SHA256:\n " + sha + " 1 main//x\n", "is not a relative path"},
      {"SHA256:\n " + sha + " 1 main/.hidden/Packages\n", "'main/.hidden/Packages'"},
      {"SHA256:\n " + sha + " 1 main/x\n " + sha + " 1 main/x\n", "lists main/x twice"},
      {"MD5Sum:\n " + sha.substr(0, 32) + " 2 main/x\nSHA256:\n " + sha + " 1 main/x\n",
       "main/x has size 1 here and 2 in another list"},
      {"MD5Sum:\n " + sha.substr(0, 32) + " 2 main/x\n", "lists no file with SHA256"},
      {"SHA256:\n " + sha + " 1 main/x\n\nSuite: second\n", "a second paragraph"},
      {"SHA256:\n " + sha + " 1 main/x\n-----BEGIN PGP SIGNATURE-----\n", "OpenPGP"},
      {std::string("Suite: x\0y\n", 11), "NUL"},
    };
    for (const auto& [text, expected] : cases) {
      CAPTURE(text);
      fs::remove_all(f.dists);
      f.scratch.write("staging/dists/fremantle/Release", "Suite: fremantle\n" + text);
      const auto problems = TreeFixture::problems(f.check(false));
      CHECK_MESSAGE(has(problems, expected), problems);
    }
  }

  TEST_CASE("malformed, hostile and truncated Packages and Sources stanzas are named")
  {
    TreeFixture f;
    const std::string deb = f.read(deb_path);
    const std::string good = f.packages_stanza("hello", deb_path);
    const std::pair<std::string, std::string> packages_cases[] = {
      {"Package: a\nFilename: " + deb_path + "\nSize: 1\n", "lacks a Filename, a Size or a SHA256"},
      {"Package: a\nFilename: " + deb_path + "\nSize: x\nSHA256: " + sha256_of(deb) + "\n",
       "lacks a Filename"},
      {"Package: a\nFilename: " + deb_path + "\nSize: 1\nSHA256: nothex\n", "lacks a Filename"},
      {"Package: a\nFilename: ../../etc/passwd\nSize: 1\nSHA256: " + std::string(64, 'a') + "\n",
       "Filename '../../etc/passwd'"},
      {"Package: a\nFilename: pool/.hidden.deb\nSize: 1\nSHA256: " + std::string(64, 'a') + "\n",
       "Filename 'pool/.hidden.deb'"},
      {"Package: a\nno colon here\n", "(the stanza on line 1):2: 'no colon here' is not a field"},
      {good + "Package: b\n Filename: x\n", "Packages:8: the stanza of b"},
      {good.substr(0, good.size() - 30), "lacks a Filename"}, // cut short
      // Two stanzas naming one file two ways.
      {good + "Package: b\nFilename: " + deb_path + "\nSize: 1\nSHA256: " + std::string(64, 'a') +
         "\n",
       deb_path + ": dists/fremantle/main/binary-amd64/Packages lists it with"},
    };
    for (const auto& [text, expected] : packages_cases) {
      CAPTURE(text);
      f.write_by_hand({{"main/binary-amd64/Packages", text}});
      const auto problems = TreeFixture::problems(f.check(false));
      CHECK_MESSAGE(has(problems, expected), problems);
    }
    const std::pair<std::string, std::string> sources_cases[] = {
      {"Package: hello\nDirectory: pool/main/h/hello\n", "lacks a Directory or a Checksums-Sha256"},
      {"Package: hello\nDirectory: ../up\nChecksums-Sha256:\n " + std::string(64, 'a') +
         " 1 x.dsc\n",
       "Directory '../up'"},
      {"Package: hello\nDirectory: pool\nChecksums-Sha256:\n " + std::string(64, 'a') +
         " 1 ../x.dsc\n",
       "'../x.dsc'"},
      {"Package: hello\nDirectory: pool\nChecksums-Sha256:\n 12 x.dsc\n",
       "a line that is not 'SHA256 SIZE NAME'"},
    };
    for (const auto& [text, expected] : sources_cases) {
      CAPTURE(text);
      f.write_by_hand({{"main/source/Sources", text}});
      const auto problems = TreeFixture::problems(f.check(false));
      CHECK_MESSAGE(has(problems, expected), problems);
    }
    // Blank lines with spaces, CRLF line ends and comments separate and
    // hold stanzas as the parser reads them: nothing is refused.
    f.write_by_hand({{"main/binary-amd64/Packages",
                      "# a comment\r\n" + good.substr(0, good.size() - 1) + " \t\n\n"}});
    const auto check = f.check(false);
    CHECK_MESSAGE(check.ok(), TreeFixture::problems(check));
    CHECK(check.pool_files == 1);
  }

  TEST_CASE("stanzas are cut where dpkg cuts them: a form feed line, CR CR LF line ends")
  {
    TreeFixture f;
    const std::string good = f.packages_stanza("hello", deb_path);
    const std::string other =
      "Package: b\nFilename: " + deb_path + "\nSize: 1\nSHA256: " + std::string(64, 'a') + "\n";
    auto crcrlf = [](std::string text) {
      std::string out;
      for (char c : text) {
        out += c == '\n' ? std::string("\r\r\n") : std::string(1, c);
      }
      return out;
    };
    // Each second stanza names the file with another digest; read as one
    // stanza with the first, it would hide behind it.
    for (const std::string& text :
         {good + "\f\n" + other, good + " \v\n" + other, crcrlf(good + "\n" + other)}) {
      CAPTURE(text);
      f.write_by_hand({{"main/binary-amd64/Packages", text}});
      const auto problems = TreeFixture::problems(f.check(false));
      CHECK_MESSAGE(has(problems, "lists it with"), problems);
    }
  }

  TEST_CASE("a Release that lists a compressed index without its plain one is refused")
  {
    TreeFixture f;
    f.write_by_hand({{"main/binary-amd64/Packages.xz", "xz bytes"}});
    CHECK(has(TreeFixture::problems(f.check(false)),
              "dists/fremantle/main/binary-amd64/Packages.xz: the Release lists no plain "
              "Packages beside it"));
  }

  TEST_CASE("Contents as queue-manage writes it: listed plain and .gz, published .gz only")
  {
    TreeFixture f;
    repo::DistributionWriter writer(*f.config.repository("extras-devel"), &f.signer, f.chunks,
                                    f.clock, f.log.log());
    REQUIRE(
      writer.write(f.dists, "fremantle", {"amd64"},
                   {{"main/binary-amd64", "Packages", f.packages_stanza("hello", deb_path)},
                    {"main/source", "Sources", f.sources_stanza()},
                    {"main", "Contents-amd64", "usr/bin/hello\t\t\t\t\t\t\t    hello\n", true}},
                   [] { return Status(); }));
    CHECK_FALSE(fs::exists(f.dists / "main/Contents-amd64"));
    CHECK(fs::exists(f.dists / "main/Contents-amd64.gz"));
    CHECK_FALSE(fs::exists(f.dists / "main/Contents-amd64.xz"));
    const std::string release = f.read("dists/fremantle/Release");
    CHECK(has(release, " main/Contents-amd64\n"));
    CHECK(has(release, " main/Contents-amd64.gz\n"));
    auto check = f.check();
    CHECK_MESSAGE(check.ok(), TreeFixture::problems(check));
    // The .gz itself missing is still a problem.
    fs::remove(f.dists / "main/Contents-amd64.gz");
    CHECK(has(TreeFixture::problems(f.check()),
              "dists/fremantle/main/Contents-amd64.gz: missing (the Release lists it)"));
  }

  TEST_CASE("with a record, a pool file is read again only once its stat changed")
  {
    TreeFixture f;
    const fs::path record = f.scratch / "state/repo/extras-devel.checked";
    const auto later = f.clock.now() + std::chrono::hours(1);
    CHECK(f.check(true, record, later).read == 3);
    CHECK(f.check(true, record, later).read == 0);
    // Rewritten in place, same size: read again, and found out. (Its time
    // is set apart, as a later write's would be: a write in the same tick
    // as the first is what the settle rule is for.)
    std::string deb = f.read(deb_path);
    deb[0] = 'T';
    f.pool_file(deb_path, deb);
    fs::last_write_time(f.root / deb_path,
                        fs::last_write_time(f.root / deb_path) + std::chrono::hours(2));
    auto check = f.check(true, record, later + std::chrono::hours(1));
    CHECK(check.read == 1);
    CHECK(has(TreeFixture::problems(check), deb_path + ": SHA256"));
  }

  TEST_CASE("files changed just before the check are not recorded, so they are read again")
  {
    TreeFixture f;
    const fs::path record = f.scratch / "state/repo/extras-devel.checked";
    auto written = util::stat_no_follow(f.root / deb_path);
    REQUIRE(written);
    REQUIRE(*written);
    const auto now = (*written)->ctime + std::chrono::seconds(1);
    CHECK(f.check(true, record, now).read == 3);
    CHECK(f.check(true, record, now).read == 3);
  }

  TEST_CASE("a record that cannot be written is said, and the check still stands")
  {
    TreeFixture f;
    f.scratch.write("state", "a file where the folder should be");
    auto check = f.check(true, f.scratch / "state/repo/extras-devel.checked");
    CHECK(check.ok());
    CHECK(has(check.record_error, "state"));
  }
}

} // namespace unit_test_publish_check
