// Checking the signatures of a repository's Release as a client checks them
// with `signed-by`: against the repository's public key alone (the
// archive-key.asc queue-manage writes), with GPGME in gpgv's manner (a
// GNUPGHOME of its own holding only that key, no trust database, no network,
// no agent). A signature counts only when it is good, made by the configured
// key (sign_with) that is neither expired nor revoked, with SHA-256 or
// stronger: what apt takes. Behind an interface so that the repository
// checks can be unit-tested with a fake; the real one is tested against gpg.
#pragma once

#include "util/result.hpp"

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace buildme::sign {

// One keyring is for one thread at a time (it holds one GPGME context).
class ReleaseKeyring
{
public:
  virtual ~ReleaseKeyring() = default;
  // Empty when `signature` (Release.gpg, armored or binary) is a good
  // detached signature of exactly `text`; else why not, naming `name`.
  virtual std::string check_detached(std::string_view text, std::string_view signature,
                                     std::string_view name) = 0;
  // The text that the clear-signed `file` (InRelease) signs, when its
  // signature is good; an Error, naming `name`, says why not. The file must
  // be a clear-signed message and nothing else, and the text gpg verified
  // must be the text between its armor lines.
  virtual Result<std::string> check_clearsigned(std::string_view file, std::string_view name) = 0;
};

// Imports `public_key` (the armored or binary public key, read from
// `key_name`, which messages name) into `home`, a GNUPGHOME for this keyring
// alone: whatever is there (a killed run's) is removed first, and the folder
// goes with the keyring. `fingerprint` is sign_with (any form
// parse_fingerprint takes): an Error when the key file does not hold that
// key.
Result<std::unique_ptr<ReleaseKeyring>> open_release_keyring(std::string_view public_key,
                                                             std::string_view key_name,
                                                             std::string_view fingerprint,
                                                             const std::filesystem::path& home);

} // namespace buildme::sign
