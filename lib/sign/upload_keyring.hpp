// Checking the signature of an upload's control file in gpgv's manner, with
// GPGME: only the configured keyrings count (binary or armored OpenPGP
// keyrings, imported into a GNUPGHOME of buildme's own), no trust database
// (trust-model always: being in the keyrings is the trust), no network, no
// agent, no prompt. On top of a good signature, dak's hygiene: a signature
// older than signature_max_age or more than a day in the future, a digest
// weaker than SHA-256, an expired or revoked key are each refused, naming the
// key and the rule.
//
// The control file must be a clear-signed message and nothing else
// (debian::parse_control refuses text before or after the armor, a second
// signed block, broken dash-escaping), and the text gpg verified must be the
// text between the armor lines; only that text is handed on to be parsed.
#pragma once

#include "debian/signature.hpp"
#include "util/clock.hpp"
#include "util/result.hpp"

#include <chrono>
#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

namespace buildme::sign {

struct UploadKeyringConfig
{
  std::vector<std::filesystem::path> keyrings;
  std::chrono::seconds max_age{365 * 24 * 3600};
  // Where the imported keyrings are kept between runs: one GNUPGHOME per set
  // of keyring contents, made again when a keyring changes. Empty, or a
  // folder this user cannot write (upload-drop run by a web server's
  // account): a temporary home for this process alone.
  std::filesystem::path cache_dir;
};

// One keyring is for one thread at a time (it holds one GPGME context).
class UploadKeyring
{
public:
  virtual ~UploadKeyring() = default;
  // `file` is the whole control file `name`; `now` judges the signature's
  // age.
  virtual debian::SignatureCheck check(std::string_view file, std::string_view name,
                                       util::Clock::time_point now) = 0;
};

// Imports the keyrings (or finds them imported in the cache). An Error when a
// keyring is missing, unreadable or holds no public key: the archive's
// policy cannot be applied, so the caller stops.
Result<std::unique_ptr<UploadKeyring>> open_upload_keyring(const UploadKeyringConfig& config);

} // namespace buildme::sign
