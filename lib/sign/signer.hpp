// Signing the repository's Release file with GPGME: InRelease (clear-signed)
// and Release.gpg (detached, armored), with one configured key, unattended:
// no agent prompt ever (a key with a passphrase needs passphrase_file).
// Behind an interface so that tests of the repository logic can use a fake;
// the real one is tested against gpg and gpgv.
#pragma once

#include "util/result.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace buildme::sign {

// One signer is for one thread at a time (it holds one GPGME context).
class Signer
{
public:
  virtual ~Signer() = default;
  // The clear-signed text (InRelease).
  virtual Result<std::string> clearsign(std::string_view text) = 0;
  // An armored detached signature of text (Release.gpg), over its exact
  // bytes (binary mode, as gpg --detach-sign --armor makes it).
  virtual Result<std::string> detach_sign(std::string_view text) = 0;
  // The signing key's public part, armored (gpg --export --armor): what a
  // client, or a clean build that installs from the repository, verifies
  // the signatures with.
  virtual Result<std::string> public_key() = 0;
};

struct SignerConfig
{
  std::string gnupg_home; // GNUPGHOME for the key; empty = gpg's default
  // Fingerprint of the signing (primary) key: 40 hex digits, any case,
  // spaces allowed (as gpg prints it). Short key ids are refused: another
  // key can be made to have the same one.
  std::string key;
  std::string passphrase_file; // optional: the key's passphrase, first line
};

// Finds the secret key, checks that it can sign (not expired, revoked or
// disabled; has a usable signing key with its secret part), and makes one
// test signature, so that a missing or wrong passphrase or a weak digest
// (anything below SHA256) shows here, before any index is written. The Error
// says which key in which home, what is wrong and what to do. The passphrase
// never appears in any message.
Result<std::unique_ptr<Signer>> make_gpgme_signer(const SignerConfig& config);

} // namespace buildme::sign
