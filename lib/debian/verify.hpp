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
// Verification only reads. Moving files is the caller's business.
#pragma once

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

  std::string source() const;
  std::string version() const;                    // as written, with any epoch
  std::string uploader() const;                   // Changed-By, else Maintainer
  std::vector<std::string> architectures() const; // from the .dsc
};

// Every file name an upload's control file lists (for a .changes, also the
// files of the .dsc it lists, when that .dsc is there and parses). Used to
// tell which files another pending upload still needs. Empty when the
// control file does not parse.
std::vector<std::string> listed_files(const Upload& upload);

Verification verify_upload(const Upload& upload, const VerifyOptions& options);

} // namespace buildme::debian
