// The OpenPGP signature of an upload's control files, as verify_upload sees
// it (DESIGN invariant 8: with a keyring configured, only the signed text of
// an upload signed by an allowed key counts, and the signer is the
// uploader). The checking itself (GPGME, the keyrings, upload_acl, the
// replay record) lives above this module, behind UploadSignatures, so that
// verifying stays free of gpg and unit tests can use a fake.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace buildme::debian {

// The key that made a good signature.
struct Signer
{
  std::string fingerprint; // the primary key's: 40 upper-case hex digits
  std::string user_id;     // the key's primary user id, "Name <email>"
};

// What checking one control file's signature found.
struct SignatureCheck
{
  // Empty when the signature is taken; else why not, naming the key and the
  // rule, in words for the uploader.
  std::string refused;
  // A key of the keyrings made a cryptographically good signature: set even
  // when a rule then refused it (too old, key expired), so that its owner
  // hears why. Never set from anything unsigned.
  std::optional<Signer> signer;
  // What the signature covers, when taken: the only text that is parsed.
  std::string signed_text;
  // Names this very signature (key, time, signed text) for the replay
  // record.
  std::string signature_id;
};

class UploadSignatures
{
public:
  virtual ~UploadSignatures() = default;
  // `file` is the whole control file `name` as read: a clear-signed message
  // and nothing else, or it is refused.
  virtual SignatureCheck check(std::string_view file, std::string_view name) const = 0;
  // Empty when the key may upload `source`; else why not (upload_acl),
  // naming the key and the source.
  virtual std::string refuse_source(const Signer& signer, std::string_view source) const = 0;
  // The job of the accepted upload that carried the signature
  // `signature_id` already, if any (a replay).
  virtual std::optional<long> job_with_signature(std::string_view signature_id) const = 0;
};

} // namespace buildme::debian
