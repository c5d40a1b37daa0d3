// Intake with upload_keyring set, with real gpg keys: which signed uploads
// become jobs, which are rejected and why, and who hears of it.
#include "intake/intake.hpp"

#include "captured_log.hpp"
#include "config/config.hpp"
#include "jobs/job.hpp"
#include "jobs/state_dir.hpp"
#include "scratch.hpp"
#include "upload_texts.hpp"
#include "uploader_keys.hpp"
#include "util/clock.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>
#include <string>
#include <vector>

namespace unit_test_intake_signed {

using namespace buildme;
using buildme::test::has;
using buildme::test::names_in;
using buildme::test::PackageFile;
using buildme::test::ScratchDir;
using buildme::test::UploaderKeys;
namespace fs = std::filesystem;

namespace {

const std::string alice_uid = "Alice Uploader <alice@example.org>";

struct SignedIntake
{
  const UploaderKeys& keys = UploaderKeys::get();
  ScratchDir scratch;
  config::Config config;
  util::FakeClock clock{std::chrono::system_clock::now()};
  test::CapturedLog log;
  std::vector<intake::RejectNotice> rejects;

  // Products fremantle and diablo, both taking uploads signed by the test
  // keyrings; `acl`, when given, is their upload_acl; `more` ends [buildme].
  explicit SignedIntake(const std::string& acl = "", const std::string& more = "")
  {
    std::string text =
      fmt::format("[buildme]\n"
                  "products = fremantle diablo\n"
                  "incoming_dir = {0}/incoming/%(product)s\n"
                  "result_dir = {0}/results/%(product)s\n"
                  "repo_queue = {0}/queue/%(product)s\n"
                  "state_dir = {0}/state\n"
                  "upload_keyring = {1} {2}\n",
                  scratch.path().string(), keys.keyring.string(), keys.armored_keyring.string());
    if (!acl.empty()) {
      text += "upload_acl = " + scratch.write("uploaders.acl", acl).string() + "\n";
    }
    auto parsed = config::parse_config(text + more, "test.conf");
    REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? std::string() : parsed.message()));
    config = std::move(*parsed);
    fs::create_directories(incoming());
    fs::create_directories(incoming("diablo"));
  }

  fs::path incoming(const std::string& product = "fremantle") const
  {
    return scratch / "incoming" / product;
  }

  static std::string dsc_name(const std::string& source) { return source + "_1.0-1.dsc"; }
  static std::string changes_name(const std::string& source)
  {
    return source + "_1.0-1_source.changes";
  }

  std::vector<PackageFile> sources(const std::string& source) const
  {
    return {{source + "_1.0.orig.tar.gz", "the upstream source of " + source + "\n"},
            {source + "_1.0-1.debian.tar.xz", "the packaging of " + source + "\n"}};
  }

  // SOURCE 1.0-1's .dsc, written into incoming with its files.
  std::string put_dsc(const std::string& source, const std::string& dsc,
                      const std::string& product = "fremantle") const
  {
    for (const auto& file : sources(source)) {
      scratch.write(fmt::format("incoming/{}/{}", product, file.name), file.content);
    }
    scratch.write(fmt::format("incoming/{}/{}", product, dsc_name(source)), dsc);
    return dsc;
  }

  std::string dsc(const std::string& source) const
  {
    return test::dsc_text(source, "1.0-1", sources(source));
  }

  // The .changes of SOURCE 1.0-1 listing `dsc` and the source files.
  std::string changes(const std::string& source, const std::string& dsc) const
  {
    auto files = sources(source);
    files.insert(files.begin(), {dsc_name(source), dsc});
    return test::changes_text(source, "1.0-1", files);
  }

  // A whole .changes upload: the .dsc as given, the .changes `signed_changes`.
  void put_changes(const std::string& source, const std::string& dsc,
                   const std::string& signed_changes, const std::string& product = "fremantle")
  {
    put_dsc(source, dsc, product);
    scratch.write(fmt::format("incoming/{}/{}", product, changes_name(source)), signed_changes);
  }

  // hello's .changes upload with an unsigned .dsc, the .changes as `sign`
  // makes it from its text.
  template<typename Sign>
  void put_hello(Sign sign, const std::string& product = "fremantle")
  {
    const auto dsc = this->dsc("hello");
    put_changes("hello", dsc, sign(changes("hello", dsc)), product);
  }

  intake::IntakeSummary tick(std::chrono::seconds later = std::chrono::hours(1))
  {
    clock.advance(later);
    intake::IntakeOptions options;
    options.on_reject = [&](const intake::RejectNotice& notice) { rejects.push_back(notice); };
    return intake::run_intake(config, options, clock, log.log());
  }

  std::vector<jobs::Job> jobs() const
  {
    auto listed = jobs::StateDir(config.state_dir).list_jobs();
    REQUIRE_MESSAGE(listed, listed.message());
    return *listed;
  }

  // The one reject of this tick: the upload's files are in rejected/, with
  // a .reason that says `why`; nothing became a job.
  const intake::RejectNotice& rejected(const std::string& control, const std::string& why,
                                       const std::string& product = "fremantle") const
  {
    CHECK(jobs().empty());
    REQUIRE(rejects.size() == 1);
    CHECK(rejects[0].control == control);
    CHECK_MESSAGE(has(rejects[0].reason, why), rejects[0].reason);
    const auto reason = ScratchDir::read(incoming(product) / "rejected" / (control + ".reason"));
    CHECK_MESSAGE(has(reason, why), reason);
    CHECK(fs::exists(incoming(product) / "rejected" / control));
    CHECK_FALSE(fs::exists(incoming(product) / control));
    return rejects[0];
  }

  std::function<std::string(const std::string&)> signed_by(const std::string& key,
                                                           std::vector<std::string> options = {})
  {
    return [this, key, options](const std::string& text) { return keys.sign(text, key, options); };
  }
};

std::string unsigned_text(const std::string& text)
{
  return text;
}

} // namespace

TEST_SUITE("intake: signed uploads")
{
  TEST_CASE("a .changes signed by a listed key is taken; the key is the uploader, not Changed-By")
  {
    SignedIntake f;
    f.put_hello(f.signed_by(f.keys.alice));
    auto summary = f.tick();
    CHECK(summary.accepted == 1);
    auto jobs = f.jobs();
    REQUIRE(jobs.size() == 1);
    CHECK(jobs[0].signed_by == f.keys.alice);
    CHECK(jobs[0].uploader == alice_uid);
    CHECK_FALSE(has(ScratchDir::read(f.scratch / "state/jobs/1/job.info"), "John Roe"));
    CHECK(jobs[0].signature.size() == 64);
    CHECK(ScratchDir::read(f.scratch / "state/signatures" / jobs[0].signature) == "1\n");
    CHECK(names_in(f.incoming()).empty());
  }

  TEST_CASE("an unsigned .changes is rejected, and no uploader is mailed: only the list hears")
  {
    SignedIntake f;
    f.put_hello(unsigned_text);
    CHECK(f.tick().rejected == 1);
    const auto& notice = f.rejected("hello_1.0-1_source.changes", "is not signed");
    CHECK(notice.uploader == "");
    // The whole upload went, its .dsc included.
    CHECK(fs::exists(f.incoming() / "rejected/hello_1.0-1.dsc"));
    CHECK(names_in(f.incoming()) == std::vector<std::string>{"rejected"});
  }

  TEST_CASE("a .changes signed by a key in no keyring is rejected, naming the key")
  {
    SignedIntake f;
    f.put_hello(f.signed_by(f.keys.mallory));
    CHECK(f.tick().rejected == 1);
    const auto& notice =
      f.rejected("hello_1.0-1_source.changes", "signed by key " + f.keys.mallory +
                                                 ", which is not in the "
                                                 "upload keyrings");
    CHECK(notice.uploader == "");
  }

  TEST_CASE("a signed field changed after signing is rejected: BAD signature")
  {
    SignedIntake f;
    f.put_hello([&](const std::string& text) {
      auto file = f.keys.sign(text, f.keys.alice);
      file.replace(file.find("Distribution: unstable"), 22, "Distribution: stable!!");
      return file;
    });
    CHECK(f.tick().rejected == 1);
    CHECK(f.rejected("hello_1.0-1_source.changes", "BAD signature").uploader == "");
  }

  TEST_CASE("unsigned text after the signature that adds a file is rejected; the file is not "
            "taken")
  {
    SignedIntake f;
    const PackageFile evil{"evil.tar.gz", "not signed by anyone\n"};
    f.scratch.write("incoming/fremantle/evil.tar.gz", evil.content);
    f.put_hello([&](const std::string& text) {
      return f.keys.sign(text, f.keys.alice) + "\nChecksums-Sha256:\n " +
             test::digest(util::DigestKind::sha256, evil.content) + " 21 evil.tar.gz\n";
    });
    CHECK(f.tick().rejected == 1);
    f.rejected("hello_1.0-1_source.changes", "text after the OpenPGP signature");
    CHECK(fs::exists(f.incoming() / "evil.tar.gz"));
  }

  TEST_CASE("unsigned text before the armor is rejected")
  {
    SignedIntake f;
    f.put_hello([&](const std::string& text) {
      return "Source: evil\n\n" + f.keys.sign(text, f.keys.alice);
    });
    CHECK(f.tick().rejected == 1);
    f.rejected("hello_1.0-1_source.changes", "after text that it does not sign");
  }

  TEST_CASE("dak's hygiene: SHA-1, two years old, an expired key, a revoked key are each "
            "rejected, and the key's owner hears why")
  {
    struct Case
    {
      std::string name;
      std::string key;
      std::vector<std::string> options;
      std::string rule;
      std::string uid;
    };
    const UploaderKeys& keys = UploaderKeys::get();
    const std::vector<Case> cases = {
      {"SHA-1", keys.alice, {"--digest-algo", "SHA1"}, "no weak digests", alice_uid},
      {"two years old",
       keys.alice,
       {"--faked-system-time", test::days_from_now(-730)},
       "no old signatures",
       alice_uid},
      {"expired key",
       keys.expired,
       {"--faked-system-time", test::days_from_now(-8)},
       "no expired keys",
       "Old Key <old@example.org>"},
      {"revoked key", keys.revoked, {}, "no revoked keys", "Revoked Key <revoked@example.org>"},
    };
    for (const auto& c : cases) {
      CAPTURE(c.name);
      SignedIntake f;
      f.put_hello(f.signed_by(c.key, c.options));
      CHECK(f.tick().rejected == 1);
      const auto& notice = f.rejected("hello_1.0-1_source.changes", "(rule: " + c.rule);
      CHECK(has(notice.reason, c.key));
      CHECK(notice.uploader == c.uid);
    }
  }

  TEST_CASE("upload_acl: a key allowed only other sources is rejected, naming key and source")
  {
    const UploaderKeys& keys = UploaderKeys::get();
    SignedIntake f("# who may upload what\n" + keys.alice + " hello hello-*\n" + keys.bob +
                   " bash libfoo*\n");
    f.put_hello(f.signed_by(f.keys.bob));
    CHECK(f.tick().rejected == 1);
    const auto& notice = f.rejected(
      "hello_1.0-1_source.changes",
      "key " + f.keys.bob + " (Bob Uploader <bob@example.org>) may not upload source hello");
    CHECK(has(notice.reason, "grants it only bash libfoo*"));
    CHECK(notice.uploader == "Bob Uploader <bob@example.org>");

    SignedIntake allowed("# who may upload what\n" + keys.alice + " hello hello-*\n");
    allowed.put_hello(allowed.signed_by(allowed.keys.alice));
    CHECK(allowed.tick().accepted == 1);
  }

  TEST_CASE("upload_acl: a key of the keyrings without a line may upload nothing")
  {
    const UploaderKeys& keys = UploaderKeys::get();
    SignedIntake f(keys.alice + " *\n");
    f.put_hello(f.signed_by(f.keys.carol));
    CHECK(f.tick().rejected == 1);
    f.rejected("hello_1.0-1_source.changes",
               "has no line for it, so it may upload nothing (rule: upload_acl)");
  }

  TEST_CASE("a .changes signed by a good key whose .dsc is signed by an unknown key is rejected")
  {
    SignedIntake f;
    const auto dsc = f.keys.sign(f.dsc("hello"), f.keys.mallory);
    f.put_changes("hello", dsc, f.keys.sign(f.changes("hello", dsc), f.keys.alice));
    CHECK(f.tick().rejected == 1);
    const auto& notice =
      f.rejected("hello_1.0-1_source.changes", "hello_1.0-1.dsc is signed by key " +
                                                 f.keys.mallory + ", which is not in the upload");
    CHECK(notice.uploader == alice_uid);
    CHECK(fs::exists(f.incoming() / "rejected/hello_1.0-1.dsc"));
  }

  TEST_CASE("a signed .dsc inside a .changes must be signed by a key that may upload the source")
  {
    const UploaderKeys& keys = UploaderKeys::get();
    const std::string acl = keys.alice + " hello\n" + keys.bob + " bash\n" + keys.carol + " *\n";
    SignedIntake f(acl);
    auto dsc = f.keys.sign(f.dsc("hello"), f.keys.bob);
    f.put_changes("hello", dsc, f.keys.sign(f.changes("hello", dsc), f.keys.alice));
    CHECK(f.tick().rejected == 1);
    f.rejected("hello_1.0-1_source.changes", "key " + f.keys.bob +
                                               " (Bob Uploader <bob@example.org>) may not "
                                               "upload source hello");

    // Sponsored: Carol's .dsc in Alice's upload; both may upload hello.
    SignedIntake sponsored(acl);
    dsc = sponsored.keys.sign(sponsored.dsc("hello"), sponsored.keys.carol);
    sponsored.put_changes(
      "hello", dsc, sponsored.keys.sign(sponsored.changes("hello", dsc), sponsored.keys.alice));
    CHECK(sponsored.tick().accepted == 1);
    REQUIRE(sponsored.jobs().size() == 1);
    CHECK(sponsored.jobs()[0].signed_by == sponsored.keys.alice);
  }

  TEST_CASE("a signed lone .dsc is taken; an unsigned one is rejected")
  {
    SignedIntake f;
    f.put_dsc("hello", f.keys.sign(f.dsc("hello"), f.keys.carol));
    f.put_dsc("bash", f.dsc("bash"));
    auto summary = f.tick();
    CHECK(summary.accepted == 1);
    CHECK(summary.rejected == 1);
    auto jobs = f.jobs();
    REQUIRE(jobs.size() == 1);
    CHECK(jobs[0].source == "hello");
    CHECK(jobs[0].signed_by == f.keys.carol);
    CHECK(jobs[0].uploader == "Carol Uploader <carol@example.org>");
    REQUIRE(f.rejects.size() == 1);
    CHECK(f.rejects[0].control == "bash_1.0-1.dsc");
    CHECK(has(ScratchDir::read(f.incoming() / "rejected/bash_1.0-1.dsc.reason"), "is not signed"));
  }

  TEST_CASE("a replayed .changes is rejected: its signature was used by an accepted upload")
  {
    SignedIntake f;
    const auto dsc = f.dsc("hello");
    const auto signed_changes = f.keys.sign(f.changes("hello", dsc), f.keys.alice);
    f.put_changes("hello", dsc, signed_changes);
    CHECK(f.tick().accepted == 1);
    // The same signed upload sent to the other product: nothing but the
    // replay record stops it there.
    f.put_changes("hello", dsc, signed_changes, "diablo");
    CHECK(f.tick().rejected == 1);
    CHECK(f.jobs().size() == 1);
    REQUIRE(f.rejects.size() == 1);
    CHECK(has(f.rejects[0].reason, "used before, by the upload accepted as job 1"));
    CHECK(has(f.rejects[0].reason, f.keys.alice));
    CHECK(has(f.rejects[0].reason, "(rule: no replays)"));
    CHECK(fs::exists(f.incoming("diablo") / "rejected/hello_1.0-1_source.changes.reason"));
  }

  TEST_CASE("a signed .changes still arriving waits within the grace period")
  {
    SignedIntake f;
    f.put_hello([&](const std::string& text) {
      const auto whole = f.keys.sign(text, f.keys.alice);
      return whole.substr(0, whole.find("-----END PGP SIGNATURE-----"));
    });
    CHECK(f.tick(std::chrono::seconds(5)).waiting == 1);
    CHECK(f.rejects.empty());
    CHECK(f.tick(std::chrono::hours(1)).rejected == 1);
  }

  TEST_CASE("a bad upload_acl line stops intake with file:line; nothing is taken or moved")
  {
    const UploaderKeys& keys = UploaderKeys::get();
    SignedIntake f(keys.alice + " hello\n" + keys.bob + "\n");
    f.put_hello(f.signed_by(f.keys.alice));
    const auto before = names_in(f.incoming());
    auto summary = f.tick();
    CHECK(has(summary.stopped, "uploaders.acl:2: key " + f.keys.bob + " is given no source"));
    CHECK(summary.accepted + summary.rejected + summary.waiting == 0);
    CHECK(names_in(f.incoming()) == before);
    CHECK(names_in(f.scratch / "state/jobs").empty());
  }

  TEST_CASE("a missing upload keyring stops intake, naming it")
  {
    SignedIntake f("", "[product diablo]\nupload_keyring = /nonexistent/keys.gpg\n");
    f.put_hello(f.signed_by(f.keys.alice));
    auto summary = f.tick();
    CHECK(has(summary.stopped, "product diablo: upload_keyring /nonexistent/keys.gpg is missing"));
    CHECK(names_in(f.scratch / "state/jobs").empty());
  }
}

} // namespace unit_test_intake_signed
