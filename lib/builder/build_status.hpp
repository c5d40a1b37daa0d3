// The result of one build, as buildme-build reports it on the builder. The
// codes are sbdmock's, so a site's own build_command can report the same way:
//
//   0 success   10 build failed   30 dependencies missing
//   40 bad package   50 builder error   51 builder unfit (before the build)
//   52 base missing (the base environment named by --base is not there)
//
// buildme-build ends its log with one status line:
//
//   BUILDME-STATUS: <code> <word> [free text]
//
// and exits with the code. parse_build_status reads the last such line of a
// log (untrusted text: the build printed it), falling back to the exit code.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace buildme::builder {

enum class BuildResult
{
  success = 0,
  build_failed = 10,
  depwait = 30, // build dependencies missing
  bad_package = 40,
  builder_error = 50,
  // The builder cannot take builds (a tool missing, its build environment
  // missing, an arch it cannot build): checked before the build begins, so
  // the build waits for another builder without using an attempt.
  builder_unfit = 51,
  // The base environment the build was told to use is not on the builder:
  // not the builder's fault (buildme makes the base again and the build
  // waits for it), told apart from builder_unfit by its own code.
  base_missing = 52,
};

std::string_view result_word(BuildResult result);  // "success", "build-failed", ...
std::string_view result_label(BuildResult result); // "BUILT", "FAILED", "DEPWAIT", ...
std::optional<BuildResult> result_from_code(int code);
std::optional<BuildResult> result_from_word(std::string_view word);

struct BuildStatus
{
  BuildResult result = BuildResult::builder_error;
  std::string detail; // the free text of the status line, printable
};

// The last well-formed status line in `log`; std::nullopt when there is none.
// Malformed lines ("BUILDME-STATUS: banana", codes out of range, code and
// word disagreeing) are ignored, not trusted.
std::optional<BuildStatus> parse_build_status(std::string_view log);

// What to conclude from a finished command: the status line when there is
// one, else the exit code when it is one of the five, else builder error.
BuildStatus classify_build(std::string_view log, int exit_code);

} // namespace buildme::builder
