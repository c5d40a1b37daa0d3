// Checking a repository's Release signatures against its public key with
// real gpg keys: a good signature by sign_with passes and InRelease gives
// back exactly the signed text; any other key, a changed text, a weak or
// expired signature, or a key file without sign_with is refused, named.
#include "sign/release_keyring.hpp"

#include "scratch.hpp"
#include "uploader_keys.hpp"

#include <fmt/format.h>

#include <doctest/doctest.h>

#include <cctype>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace unit_test_sign_release_keyring {

using buildme::sign::open_release_keyring;
using buildme::sign::ReleaseKeyring;
using buildme::test::days_from_now;
using buildme::test::has;
using buildme::test::ScratchDir;
using buildme::test::UploaderKeys;

namespace {

const std::string release = "Origin: buildme\n"
                            "Suite: fremantle\n"
                            "Codename: fremantle\n"
                            "Date: Mon, 01 Jan 2024 12:00:00 UTC\n"
                            "SHA256:\n"
                            " 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                            "             1234 main/binary-armel/Packages\n";

struct ReleaseFixture
{
  const UploaderKeys& keys = UploaderKeys::get();
  ScratchDir scratch;
  int homes = 0;
  std::unique_ptr<ReleaseKeyring> keyring;

  // The archive key is Bob's.
  ReleaseFixture() { keyring = open(keys.exported({keys.bob}, "--armor"), keys.bob); }

  std::unique_ptr<ReleaseKeyring> open(const std::string& key, const std::string& fingerprint)
  {
    auto opened = open_release_keyring(key, "staging/archive-key.asc", fingerprint,
                                       scratch / fmt::format("keys-{}", ++homes));
    REQUIRE_MESSAGE(opened, (opened ? std::string() : opened.message()));
    return std::move(*opened);
  }

  // Release.gpg of `text` by `key`, as queue-manage's signer makes it.
  std::string detached(const std::string& text, const std::string& key,
                       const std::vector<std::string>& options = {}) const
  {
    const auto file = keys.scratch.write("release-to-sign", text);
    std::vector<std::string> args{"--local-user", key};
    args.insert(args.end(), options.begin(), options.end());
    args.insert(args.end(), {"--armor", "--detach-sign", "--output", "-", file.string()});
    auto signature = keys.home.gpg(args);
    REQUIRE_MESSAGE(signature.exit_code == 0, signature.err);
    return signature.out;
  }

  std::string clearsigned_refusal(const std::string& file)
  {
    auto text = keyring->check_clearsigned(file, "dists/fremantle/InRelease");
    REQUIRE_FALSE(text);
    return text.message();
  }
};

} // namespace

TEST_SUITE("sign: checking a Release against the repository's key")
{
  TEST_CASE("Release.gpg and InRelease made with the repository's key pass, and InRelease gives "
            "back exactly the text of Release")
  {
    ReleaseFixture f;
    CHECK(f.keyring->check_detached(release, f.detached(release, f.keys.bob),
                                    "dists/fremantle/Release.gpg") == "");
    auto text =
      f.keyring->check_clearsigned(f.keys.sign(release, f.keys.bob), "dists/fremantle/InRelease");
    REQUIRE_MESSAGE(text, (text ? std::string() : text.message()));
    CHECK(*text == release);
  }

  TEST_CASE("the keyring's home is emptied first (a killed run's leftovers) and goes with it")
  {
    ReleaseFixture f;
    f.scratch.write("home/pubring.kbx", "a killed run's keyring");
    auto keyring = open_release_keyring(f.keys.exported({f.keys.bob}, "--armor"), "key.asc",
                                        f.keys.bob, f.scratch / "home");
    REQUIRE(keyring);
    CHECK((*keyring)->check_detached(release, f.detached(release, f.keys.bob), "Release.gpg") ==
          "");
    keyring->reset();
    CHECK_FALSE(std::filesystem::exists(f.scratch / "home"));
  }

  TEST_CASE("a binary key file and a fingerprint written with spaces and in lower case work too")
  {
    ReleaseFixture f;
    std::string spaced;
    for (std::size_t i = 0; i < f.keys.bob.size(); i += 4) {
      spaced += (i ? " " : "") + f.keys.bob.substr(i, 4);
    }
    for (auto& c : spaced) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    auto keyring = f.open(f.keys.exported({f.keys.bob}), spaced);
    CHECK(keyring->check_detached(release, f.detached(release, f.keys.bob), "Release.gpg") == "");
  }

  TEST_CASE("a Release changed after signing is a BAD signature, named")
  {
    ReleaseFixture f;
    const std::string other = release + "Description: changed\n";
    auto why = f.keyring->check_detached(other, f.detached(release, f.keys.bob),
                                         "dists/fremantle/Release.gpg");
    CHECK(has(why, "dists/fremantle/Release.gpg: BAD signature"));

    std::string inrelease = f.keys.sign(release, f.keys.bob);
    inrelease.replace(inrelease.find("Suite: fremantle"), 16, "Suite: fremantla");
    CHECK(has(f.clearsigned_refusal(inrelease), "BAD signature"));
  }

  TEST_CASE("a signature by another key is refused, naming both keys")
  {
    ReleaseFixture f;
    auto why = f.keyring->check_detached(release, f.detached(release, f.keys.alice), "Release.gpg");
    CHECK(has(why, "is signed by key"));
    CHECK(has(why, f.keys.bob));
    CHECK(
      has(f.clearsigned_refusal(f.keys.sign(release, f.keys.alice)), "not by the repository's"));

    // Both keys in the key file, and sign_with is Bob: Alice's signature is
    // still not his.
    auto both = f.open(f.keys.exported({f.keys.alice, f.keys.bob}, "--armor"), f.keys.bob);
    CHECK(has(both->check_detached(release, f.detached(release, f.keys.alice), "Release.gpg"),
              "not by the repository's key " + f.keys.bob));
  }

  TEST_CASE("a signature with a weak digest, or by a key that has expired, is refused")
  {
    ReleaseFixture f;
    CHECK(has(f.keyring->check_detached(
                release, f.detached(release, f.keys.bob, {"--digest-algo", "SHA1"}), "Release.gpg"),
              "weaker than SHA-256"));
    auto expired = f.open(f.keys.exported({f.keys.expired}), f.keys.expired);
    auto why = expired->check_detached(
      release, f.detached(release, f.keys.expired, {"--faked-system-time", days_from_now(-8)}),
      "Release.gpg");
    CHECK(has(why, "expired"));
  }

  TEST_CASE("a key file that does not hold sign_with, or no key at all, is refused")
  {
    ReleaseFixture f;
    for (const std::string& key :
         {f.keys.exported({f.keys.alice}, "--armor"), std::string("not a key\n"), std::string()}) {
      auto opened =
        open_release_keyring(key, "staging/archive-key.asc", f.keys.bob, f.scratch / "keys");
      REQUIRE_FALSE(opened);
      CHECK(has(opened.message(), "staging/archive-key.asc"));
    }
    auto short_id = open_release_keyring(f.keys.exported({f.keys.bob}, "--armor"), "key.asc",
                                         f.keys.bob.substr(24), f.scratch / "keys");
    REQUIRE_FALSE(short_id);
    CHECK(has(short_id.message(), "not a full fingerprint"));
  }

  TEST_CASE("a malformed, hostile or truncated signature or InRelease is refused")
  {
    ReleaseFixture f;
    const std::string good = f.keys.sign(release, f.keys.bob);
    const std::string signature = f.detached(release, f.keys.bob);
    for (const std::string& bad :
         {std::string(), std::string("garbage"), signature.substr(0, signature.size() / 2),
          std::string(1000, '\0')}) {
      CHECK(f.keyring->check_detached(release, bad, "Release.gpg") != "");
    }
    // Text outside the armor, which the signature would not cover.
    f.clearsigned_refusal("Suite: evil\n\n" + good);
    f.clearsigned_refusal(good + "Suite: evil\n");
    // Cut short, or not signed at all.
    f.clearsigned_refusal(good.substr(0, good.size() / 2));
    f.clearsigned_refusal(good.substr(0, good.find("-----BEGIN PGP SIGNATURE")));
    CHECK(has(f.clearsigned_refusal(release), "not a clear-signed message"));
    // A second signed message after the first.
    f.clearsigned_refusal(good + good);
  }
}

} // namespace unit_test_sign_release_keyring
