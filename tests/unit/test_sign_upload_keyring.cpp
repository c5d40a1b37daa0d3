// Checking upload signatures with real gpg keys: only the configured
// keyrings count, and dak's hygiene rules each refuse, naming the key and
// the rule.
#include "sign/upload_keyring.hpp"

#include "scratch.hpp"
#include "uploader_keys.hpp"
#include "util/fs.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

namespace unit_test_sign_upload_keyring {

using buildme::debian::SignatureCheck;
using buildme::sign::open_upload_keyring;
using buildme::sign::UploadKeyring;
using buildme::sign::UploadKeyringConfig;
using buildme::test::days_from_now;
using buildme::test::has;
using buildme::test::names_in;
using buildme::test::ScratchDir;
using buildme::test::UploaderKeys;
namespace fs = std::filesystem;

namespace {

const std::string changes_text =
  "Format: 1.8\n"
  "Source: hello\n"
  "Version: 1.0-1\n"
  "Changed-By: Somebody Else <else@example.org>\n"
  "Files:\n"
  " d33a9ca0a7b0e1fff2f83ffa556eb150 176 devel optional hello_1.0-1.dsc\n";

const std::string name = "hello_1.0-1_source.changes";

struct KeyringFixture
{
  const UploaderKeys& keys = UploaderKeys::get();
  ScratchDir scratch;
  std::unique_ptr<UploadKeyring> keyring;

  KeyringFixture()
  {
    auto opened = open_upload_keyring(config());
    REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? std::string() : opened.message()));
    keyring = std::move(*opened);
  }

  UploadKeyringConfig config() const
  {
    return {{keys.keyring, keys.armored_keyring}, std::chrono::hours(365 * 24), scratch / "cache"};
  }

  SignatureCheck check(const std::string& file) const
  {
    return keyring->check(file, name, std::chrono::system_clock::now());
  }

  // The refusal of `file`, checked to name the file.
  std::string refusal(const std::string& file) const
  {
    auto checked = check(file);
    REQUIRE_FALSE(checked.refused.empty());
    CHECK(checked.signed_text.empty());
    CHECK(has(checked.refused, name));
    return checked.refused;
  }

  // A refusal by a rule: the signer is known (and hears of it), and the
  // reason names the key and the rule.
  std::string refusal_by_rule(const std::string& file, const std::string& key,
                              const std::string& rule) const
  {
    auto checked = check(file);
    REQUIRE_FALSE(checked.refused.empty());
    REQUIRE(checked.signer);
    CHECK(checked.signer->fingerprint == key);
    CHECK(has(checked.refused, key));
    CHECK(has(checked.refused, "(rule: " + rule + ")"));
    CHECK(checked.signed_text.empty());
    return checked.refused;
  }
};

} // namespace

TEST_SUITE("sign: upload signatures")
{
  TEST_CASE("a signature by a key of the binary keyring is taken: signer, user id, signed text")
  {
    KeyringFixture f;
    auto checked = f.check(f.keys.sign(changes_text, f.keys.alice));
    CHECK(checked.refused == "");
    REQUIRE(checked.signer);
    CHECK(checked.signer->fingerprint == f.keys.alice);
    CHECK(checked.signer->user_id == "Alice Uploader <alice@example.org>");
    CHECK(checked.signed_text == changes_text);
    CHECK(checked.signature_id.size() == 64);
  }

  TEST_CASE("a key of the armored keyring counts as well")
  {
    KeyringFixture f;
    auto checked = f.check(f.keys.sign(changes_text, f.keys.carol));
    CHECK(checked.refused == "");
    REQUIRE(checked.signer);
    CHECK(checked.signer->fingerprint == f.keys.carol);
  }

  TEST_CASE("the same upload signed twice has two signature ids; the same signature one")
  {
    KeyringFixture f;
    const auto once = f.keys.sign(changes_text, f.keys.alice);
    const auto later =
      f.keys.sign(changes_text, f.keys.alice, {"--faked-system-time", days_from_now(-1)});
    CHECK(f.check(once).signature_id == f.check(once).signature_id);
    CHECK(f.check(once).signature_id != f.check(later).signature_id);
  }

  TEST_CASE("an unsigned file is refused, and nobody is named as its signer")
  {
    KeyringFixture f;
    CHECK(has(f.refusal(changes_text), "is not signed"));
    CHECK_FALSE(f.check(changes_text).signer);
  }

  TEST_CASE("a key in no keyring is refused, naming it and the keyrings")
  {
    KeyringFixture f;
    auto checked = f.check(f.keys.sign(changes_text, f.keys.mallory));
    CHECK_FALSE(checked.signer);
    CHECK(has(checked.refused, "signed by key " + f.keys.mallory));
    CHECK(has(checked.refused, "not in the upload keyrings"));
    CHECK(has(checked.refused, f.keys.keyring.string()));
  }

  TEST_CASE("a signed field changed afterwards makes a BAD signature")
  {
    KeyringFixture f;
    auto file = f.keys.sign(changes_text, f.keys.alice);
    auto at = file.find("Version: 1.0-1");
    REQUIRE(at != std::string::npos);
    file.replace(at, 14, "Version: 1.0-9");
    auto checked = f.check(file);
    CHECK_FALSE(checked.signer);
    CHECK(has(checked.refused, "BAD signature"));
  }

  TEST_CASE("unsigned text after the signature, or before the armor, is refused")
  {
    KeyringFixture f;
    const auto file = f.keys.sign(changes_text, f.keys.alice);
    CHECK(has(f.refusal(file + "Files:\n 0123 5 devel optional evil.tar.gz\n"),
              "text after the OpenPGP signature"));
    CHECK(has(f.refusal("Source: evil\n\n" + file), "after text that it does not sign"));
    CHECK(has(f.refusal(file + f.keys.sign("Source: evil\n", f.keys.alice)), name + ":"));
  }

  TEST_CASE("truncated and garbage signatures are refused, never taken")
  {
    KeyringFixture f;
    const auto file = f.keys.sign(changes_text, f.keys.alice);
    const auto signature = file.find("-----BEGIN PGP SIGNATURE-----");
    REQUIRE(signature != std::string::npos);
    for (std::size_t cut = 0; cut < file.size(); cut += 7) {
      CAPTURE(cut);
      CHECK_FALSE(f.check(file.substr(0, cut)).refused.empty());
    }
    // The signature block's base64 replaced by garbage of the same shape.
    std::string garbled = file;
    for (std::size_t i = signature + 40; i < garbled.size() - 40; ++i) {
      if (std::isalnum(static_cast<unsigned char>(garbled[i]))) {
        garbled[i] = garbled[i] == 'A' ? 'B' : 'A';
      }
    }
    auto checked = f.check(garbled);
    CHECK_FALSE(checked.refused.empty());
    CHECK_FALSE(checked.signer);
    CHECK_FALSE(f.check(std::string(4096, '\xff')).refused.empty());
  }

  TEST_CASE("a signature made with SHA-1 is refused: weak digest")
  {
    KeyringFixture f;
    auto why = f.refusal_by_rule(f.keys.sign(changes_text, f.keys.alice, {"--digest-algo", "SHA1"}),
                                 f.keys.alice, "no weak digests");
    CHECK(has(why, "SHA1"));
    CHECK(has(why, "weaker than SHA-256"));
  }

  TEST_CASE("a signature two years old is refused: older than signature_max_age")
  {
    KeyringFixture f;
    auto why = f.refusal_by_rule(
      f.keys.sign(changes_text, f.keys.alice, {"--faked-system-time", days_from_now(-730)}),
      f.keys.alice, "no old signatures, against replays");
    CHECK(has(why, "730 days ago"));
    CHECK(has(why, "signature_max_age (365 days)"));
    // A year and a bit less is still fine.
    auto checked = f.check(
      f.keys.sign(changes_text, f.keys.alice, {"--faked-system-time", days_from_now(-360)}));
    CHECK(checked.refused == "");
  }

  TEST_CASE("a signature dated more than a day ahead is refused; an hour ahead is a clock")
  {
    KeyringFixture f;
    f.refusal_by_rule(
      f.keys.sign(changes_text, f.keys.alice, {"--faked-system-time", days_from_now(2)}),
      f.keys.alice, "no signatures from the future");
    auto checked = f.check(
      f.keys.sign(changes_text, f.keys.alice,
                  {"--faked-system-time", std::to_string(std::stoll(days_from_now(0)) + 3600)}));
    CHECK(checked.refused == "");
  }

  TEST_CASE("a key that has expired is refused, though it signed while it was valid")
  {
    KeyringFixture f;
    auto why = f.refusal_by_rule(
      f.keys.sign(changes_text, f.keys.expired, {"--faked-system-time", days_from_now(-8)}),
      f.keys.expired, "no expired keys");
    CHECK(has(why, "Old Key <old@example.org>"));
    CHECK(has(why, "expired on "));
  }

  TEST_CASE("a revoked key is refused")
  {
    KeyringFixture f;
    auto why = f.refusal_by_rule(f.keys.sign(changes_text, f.keys.revoked), f.keys.revoked,
                                 "no revoked keys");
    CHECK(has(why, "is revoked"));
  }

  TEST_CASE("a file signed by two keys is refused: one upload, one uploader")
  {
    KeyringFixture f;
    auto why = f.refusal(f.keys.sign(changes_text, f.keys.alice, {"--local-user", f.keys.bob}));
    CHECK(has(why, "more than one signature"));
  }

  TEST_CASE("the imported keyrings are cached, made again when a keyring changes, and no agent "
            "runs there")
  {
    KeyringFixture f;
    const auto homes = names_in(f.scratch / "cache");
    REQUIRE(homes.size() == 1);
    const fs::path home = f.scratch / "cache" / homes[0];
    CHECK((fs::status(home).permissions() & fs::perms::others_all) == fs::perms::none);
    const auto made = fs::last_write_time(home / "pubring.kbx");

    // Opened again: the same home, not imported again.
    REQUIRE(open_upload_keyring(f.config()).ok());
    CHECK(names_in(f.scratch / "cache") == homes);
    CHECK(fs::last_write_time(home / "pubring.kbx") == made);

    // A keyring that changed (bob alone now): a new home, and bob alone counts.
    ScratchDir other;
    const auto bob_only = other.write("uploaders.gpg", f.keys.exported({f.keys.bob}));
    auto changed =
      open_upload_keyring({{bob_only}, std::chrono::hours(24 * 365), f.scratch / "cache"});
    REQUIRE(changed.ok());
    CHECK(names_in(f.scratch / "cache").size() == 2);
    CHECK((*changed)
            ->check(f.keys.sign(changes_text, f.keys.bob), name, std::chrono::system_clock::now())
            .refused == "");
    CHECK(
      has((*changed)
            ->check(f.keys.sign(changes_text, f.keys.alice), name, std::chrono::system_clock::now())
            .refused,
          "not in the upload keyrings"));

    for (const auto& entry : names_in(home)) {
      CHECK_FALSE(entry.starts_with("S.")); // no agent or dirmngr socket
    }
  }

  TEST_CASE("without a cache folder the keyrings go to a temporary home, removed after")
  {
    const UploaderKeys& keys = UploaderKeys::get();
    ScratchDir scratch;
    // This test's own TMPDIR: other programs use /tmp meanwhile.
    struct TmpDir
    {
      const char* old = std::getenv("TMPDIR");
      std::string saved = old ? old : "";
      explicit TmpDir(const fs::path& dir) { ::setenv("TMPDIR", dir.c_str(), 1); }
      ~TmpDir() { old ? ::setenv("TMPDIR", saved.c_str(), 1) : ::unsetenv("TMPDIR"); }
    } tmpdir(scratch.path());
    {
      auto keyring = open_upload_keyring({{keys.keyring}, std::chrono::hours(24), ""});
      REQUIRE(keyring.ok());
      CHECK((*keyring)
              ->check(keys.sign(changes_text, keys.alice), name, std::chrono::system_clock::now())
              .refused == "");
      const auto homes = names_in(scratch.path());
      REQUIRE(homes.size() == 1);
      CHECK(homes[0].starts_with("buildme-keys-"));
    }
    CHECK(names_in(scratch.path()).empty());
  }

  TEST_CASE("a missing keyring, or one that holds no key, cannot be opened: the policy is unknown")
  {
    ScratchDir scratch;
    auto missing =
      open_upload_keyring({{scratch / "absent.gpg"}, std::chrono::hours(24), scratch / "cache"});
    REQUIRE_FALSE(missing.ok());
    CHECK(has(missing.message(), (scratch / "absent.gpg").string() + " is missing"));
    auto junk = open_upload_keyring({{scratch.write("junk.gpg", "this is no keyring\n")},
                                     std::chrono::hours(24),
                                     scratch / "cache"});
    REQUIRE_FALSE(junk.ok());
    CHECK(has(junk.message(), "junk.gpg holds no OpenPGP key"));
    // Nothing half made is left to be taken for a good home.
    for (const auto& entry : names_in(scratch / "cache")) {
      CHECK_FALSE(entry.starts_with("keys-"));
    }
  }
}

} // namespace unit_test_sign_upload_keyring
