// buildme's intake: one pass over every product's incoming folder. Each
// upload is verified where it lies and then, in one journalled step, either
// moved whole into a new job (accepted), moved into incoming/rejected/ with
// a .reason beside it (rejected), or left alone (waiting).
//
// Order within a folder: the names in its priority.txt first, in the order
// given, then the oldest upload first. After the uploads, a file that no
// upload in the folder lists is set aside in rejected/ (with a .reason) once
// it has been there orphan_after (by its ctime, which an uploader cannot
// set), unless a control file there cannot be read yet; hidden files and
// folders are never touched.
#pragma once

#include "config/config.hpp"
#include "jobs/state_dir.hpp"
#include "debian/verify.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace buildme::intake {

// Verifying an upload is shared with the repository writer: it lives with
// the other Debian formats.
using debian::listed_files;
using debian::Upload;
using debian::Verdict;
using debian::Verification;
using debian::verify_upload;
using debian::VerifyOptions;

// What intake tells the outside world about a rejected upload (buildme
// turns it into mail).
struct RejectNotice
{
  std::string product;
  std::string control; // the .changes or .dsc as it was named
  std::string source;  // empty when the control file did not parse
  std::string version;
  std::string uploader; // Changed-By / Maintainer text, untrusted
  std::string reason;
  std::string reason_text; // the .reason file's body
};

struct IntakeOptions
{
  bool dry_run = false;
  // Called after each reject that moved files (not in a dry run).
  std::function<void(const RejectNotice&)> on_reject;
  // A lone .dsc (no .changes names it) is taken only once its newest file is
  // this old, so that the .changes a dput upload sends last still finds its
  // files in place.
  std::chrono::seconds settle_time{30};
};

struct IntakeSummary
{
  int accepted = 0;
  int rejected = 0;
  int waiting = 0;
  int orphans = 0; // files no upload lists, set aside
  int held = 0;    // jobs held for a person (exit status 1)
  int errors = 0;  // problems that need an operator (exit status 1)
  // Why intake took nothing at all: a product's upload keyrings or
  // upload_acl cannot be read, so its policy cannot be applied (exit status
  // 2, as for a config error).
  std::string stopped;
};

struct QueuedUpload
{
  Upload upload;
  bool priority = false; // named in priority.txt
  // For a lone .dsc: a .changes in the folder that cannot be read yet and
  // may list it. The .dsc waits for it rather than go alone.
  std::string unread_changes;
};

// The uploads in `dir`, in the order they are to be taken. priority.txt may
// name an upload by its .changes or by its .dsc.
std::vector<QueuedUpload> find_uploads(const std::filesystem::path& dir, util::Log& log);

// The pass. Every product's uploaders (intake/uploaders.hpp) are loaded
// first; when one cannot be, nothing is taken and `stopped` says why.
IntakeSummary run_intake(const config::Config& config, const IntakeOptions& options,
                         const util::Clock& clock, util::Log& log);

} // namespace buildme::intake
