// The uploaders of the signed-upload tests: real gpg keys (ed25519, no
// passphrase), made once per test binary and shared, with the keyrings an
// archive would configure.
#pragma once

#include "gpg_home.hpp"
#include "scratch.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace buildme::test {

// Seconds since the epoch, `days` from now, as gpg's --faked-system-time
// takes them.
inline std::string days_from_now(int days)
{
  const auto now = std::chrono::system_clock::now() + std::chrono::hours(24) * days;
  return std::to_string(
    std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
}

struct UploaderKeys
{
  ScratchDir scratch;
  GpgHome home; // every secret key
  // In the binary keyring. Alice was made three years ago, so that she can
  // sign in the past.
  std::string alice, bob;
  std::string expired;                   // in the binary keyring; expired a week ago
  std::string revoked;                   // in the binary keyring with its revocation
  std::string carol;                     // in the armored keyring only
  std::string mallory;                   // in no keyring
  std::filesystem::path keyring;         // binary
  std::filesystem::path armored_keyring; // ASCII armor

  UploaderKeys()
  {
    alice = home.generate_key("Alice Uploader <alice@example.org>", "", "sign", "never",
                              days_from_now(-3 * 365));
    bob = home.generate_key("Bob Uploader <bob@example.org>");
    expired = home.generate_key("Old Key <old@example.org>", "", "sign", "2d", days_from_now(-9));
    revoked = home.generate_key("Revoked Key <revoked@example.org>");
    carol = home.generate_key("Carol Uploader <carol@example.org>");
    mallory = home.generate_key("Mallory <mallory@example.org>");

    // The revocation reaches the keyring only: the secret key still signs,
    // as a stolen key would.
    GpgHome revoker;
    revoker.import(exported({revoked}));
    revoker.import(home.revocation_certificate(revoked));
    auto revoked_public = revoker.gpg({"--export", revoked});
    REQUIRE(revoked_public.exit_code == 0);
    keyring = scratch.write("uploaders.gpg", exported({alice, bob, expired}) + revoked_public.out);
    armored_keyring = scratch.write("team.asc", exported({carol}, "--armor"));
  }

  std::string exported(const std::vector<std::string>& keys, const std::string& armor = "") const
  {
    std::vector<std::string> args{"--export"};
    if (!armor.empty()) {
      args.push_back(armor);
    }
    args.insert(args.end(), keys.begin(), keys.end());
    auto out = home.gpg(args);
    REQUIRE(out.exit_code == 0);
    REQUIRE(!out.out.empty());
    return out.out;
  }

  // `text` clear-signed by `key`, with more gpg options (--digest-algo SHA1,
  // --faked-system-time SECONDS, another --local-user).
  std::string sign(const std::string& text, const std::string& key,
                   const std::vector<std::string>& options = {}) const
  {
    const auto file = scratch.write("to-sign", text);
    std::vector<std::string> args{"--local-user", key};
    args.insert(args.end(), options.begin(), options.end());
    args.insert(args.end(), {"--clearsign", "--output", "-", file.string()});
    auto signed_text = home.gpg(args);
    REQUIRE_MESSAGE(signed_text.exit_code == 0, signed_text.err);
    return signed_text.out;
  }

  // Made at most once per run of the test binary.
  static const UploaderKeys& get()
  {
    static const UploaderKeys keys;
    return keys;
  }
};

} // namespace buildme::test
