// The one place that runs other programs. Always an argument vector handed to
// execvp, never a shell, so no untrusted text is ever parsed as a command.
#pragma once

#include "util/result.hpp"

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace buildme::util {

struct ProcessOptions
{
  std::optional<std::filesystem::path> cwd;
  std::string stdin_data;                      // written to the child's stdin
  std::optional<std::chrono::milliseconds> timeout; // then SIGTERM, SIGKILL
  bool merge_stderr = false;                   // stderr into stdout
};

struct ProcessResult
{
  int exit_code = -1;   // exit status, or -1 when killed by a signal
  int signal = 0;       // the signal that ended it, 0 if none
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs argv[0] (looked up in PATH) with argv; waits for it. An Error only
// when it could not be started ("cannot run PROGRAM: No such file or
// directory", or the cwd it cannot enter); a program that ran and failed is
// a ProcessResult with its exit code.
//
// The child gets its own process group; on timeout the whole group gets
// SIGTERM, then SIGKILL two seconds later, so a build's own children die with
// it. Output is read as it comes, so neither stream can fill and block the
// child. The child inherits none of our descriptors beyond 0, 1 and 2, and
// starts with SIGPIPE at its default.
Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                  const ProcessOptions& options = {});

} // namespace buildme::util
