// Verifying one upload where it lies: a .changes with the files it lists, or
// a lone .dsc with the files it lists. The verdict is one of three:
//
//   accepted  every file is there, a regular file, with the listed size and
//             every listed digest; every name and version is valid.
//   waiting   the upload may still be arriving: a file is missing or short,
//             or the control file does not parse yet, and the newest file of
//             the upload is younger than the grace period. Nothing is touched.
//   rejected  anything else, with the reason in plain words.
//
// With a keyring (VerifyOptions::signatures), the control file must be
// clear-signed by a key of it, under the keyring's rules, and only the text
// its signature covers is parsed; the key must be allowed the source (and so
// must the key of a signed .dsc that a .changes lists), and the signature
// must not have been used by an accepted upload before.
//
// Verification only reads. Moving files is the caller's business.
#pragma once

#include "debian/signature.hpp"
#include "debian/upload.hpp"
#include "util/clock.hpp"
#include "util/digest.hpp"
#include "util/fs.hpp"

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace buildme::debian {

enum class Verdict
{
  accepted,
  waiting,
  rejected
};

std::string_view verdict_label(Verdict verdict); // "ACCEPTED", ...

struct Upload
{
  std::filesystem::path dir; // the incoming folder
  std::string control;       // file name of the .changes or .dsc in `dir`

  bool is_changes() const;
  std::filesystem::path control_path() const { return dir / control; }
};

struct VerifyOptions
{
  util::Clock::time_point now;
  // How long an incomplete upload may wait before it is rejected. Zero for
  // `buildme check`, which judges what is there now.
  std::chrono::seconds grace_period{600};
  // Digests an earlier verification took of these very files (a build's
  // unit carries the ones intake took: util::parse_digest_manifest): a file
  // of the listed size is not read again, and its digests are still
  // compared with what the control file lists.
  const std::map<std::string, util::Digests>* known_digests = nullptr;
  // Who may upload (upload_keyring): null takes uploads unsigned, parsing
  // the control files as they are.
  const UploadSignatures* signatures = nullptr;
  // Verifying the files of job `job` again: its own signature is on record
  // as used by it, which is no replay.
  long job = 0;
};

struct Verification
{
  Verdict verdict = Verdict::rejected;
  std::string reason; // why, in plain words (one line)

  // Known once the control file parsed:
  std::optional<debian::Dsc> dsc;
  std::optional<debian::Changes> changes;
  std::string dsc_name; // the .dsc's file name

  // Every file of the upload other than the control file that exists in
  // the folder, by name, with what stat said when it was verified (to notice
  // a file rewritten between verification and the move).
  std::map<std::string, util::FileInfo> files;
  // Once accepted: all four digests of each of those files, from the one
  // read that checked them.
  std::map<std::string, util::Digests> digests;
  std::optional<util::FileInfo> control_info;
  // When the newest file of the upload last changed (mtime, or this
  // machine's ctime for an mtime in the future).
  util::Clock::time_point last_change;

  // With VerifyOptions::signatures: what checking the control file's
  // signature found, and the signature of the .dsc a .changes lists, when
  // that .dsc is signed.
  std::optional<SignatureCheck> signature;
  std::optional<SignatureCheck> dsc_signature;

  std::string source() const;
  std::string version() const; // as written, with any epoch
  // The signer's user id when a key of the keyrings signed the control
  // file; without a keyring, Changed-By, else Maintainer; empty when nothing
  // says who it is that can be believed.
  std::string uploader() const;
  std::vector<std::string> architectures() const; // from the .dsc
};

// Every file name an upload's control file lists (for a .changes, also the
// files of the .dsc it lists, when that .dsc is there and parses). Used to
// tell which files another pending upload still needs. Empty when the
// control file does not parse.
std::vector<std::string> listed_files(const Upload& upload);

Verification verify_upload(const Upload& upload, const VerifyOptions& options);

// The signature rules of verify_upload alone, on control files that are not
// in an incoming folder yet (upload-drop checks them before it places
// anything): `control` is the upload's .changes, or its lone .dsc; `files`
// are the upload's other files, among which a .changes' .dsc is looked for.
// Empty when the upload passes; else why not.
std::string refuse_signatures(const std::filesystem::path& control,
                              const std::vector<std::filesystem::path>& files,
                              const UploadSignatures& signatures);

} // namespace buildme::debian
