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
// when it could not be started (the message names the program); a program
// that ran and failed is a ProcessResult with its exit code.
Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                  const ProcessOptions& options = {});

} // namespace buildme::util
