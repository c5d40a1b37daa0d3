// The one place that runs other programs. Always an argument vector handed to
// execvp, never a shell, so no untrusted text is ever parsed as a command.
#pragma once

#include "util/result.hpp"

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace buildme::util {

struct ProcessOptions
{
  std::optional<std::filesystem::path> cwd;
  std::string stdin_data;                           // written to the child's stdin
  std::optional<std::chrono::milliseconds> timeout; // then SIGTERM, SIGKILL
  bool merge_stderr = false;                        // stderr into stdout
};

struct ProcessResult
{
  int exit_code = -1; // exit status, or -1 when killed by a signal
  int signal = 0;     // the signal that ended it, 0 if none
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
// starts with our signal mask, and SIGPIPE, SIGXFSZ and SIGINT at their
// defaults (so that a stop by SIGINT works even when we ignore it).
Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                  const ProcessOptions& options = {});

struct StreamOptions
{
  std::optional<std::filesystem::path> cwd;
  std::chrono::milliseconds timeout{0};      // wall clock; 0 = none
  std::chrono::milliseconds idle_timeout{0}; // without output; 0 = none
  // Each chunk of output, stdout and stderr merged in the order written.
  std::function<void(std::string_view)> on_output;
  // Asked a few times a second; true stops the program.
  std::function<bool()> cancelled;
  // Between SIGINT and SIGTERM, and between SIGTERM and SIGKILL.
  std::chrono::milliseconds stop_grace{3000};
};

struct StreamResult
{
  enum class End
  {
    exited,    // ended by itself; exit_code is valid
    timed_out, // stopped after StreamOptions::timeout
    idle,      // stopped after StreamOptions::idle_timeout without output
    cancelled, // stopped because cancelled() said so
    killed,    // ended by a signal we did not send
  };
  End end = End::exited;
  int exit_code = -1; // exit status, or -1 when ended by a signal
  int signal = 0;     // the signal that ended it, 0 if none
};

// Runs argv like run_process, for a long job such as a build: output goes to
// on_output as it arrives instead of being kept, stdin is /dev/null, and the
// program can be stopped by a timeout, by silence or by cancelled(). To stop
// it, its process group gets SIGINT (a build tool may clean up), then SIGTERM
// after stop_grace, then SIGKILL after another stop_grace. Once stopping has
// begun, `end` says why, however the program then ends: a program that
// catches SIGINT and exits 0 is still `cancelled` (with exit_code 0).
// The same Errors as run_process.
Result<StreamResult> run_streaming(const std::vector<std::string>& argv,
                                   const StreamOptions& options);

// Starting a long-lived worker process that outlives its starter: buildme's
// tick starts one per build and exits. The worker inherits exactly one extra
// descriptor (the slot lock, as fd 3), so the lock is held without a gap from
// the moment the tick took it until the worker ends, however it ends.

struct SpawnOptions
{
  int pass_fd = -1;             // becomes fd 3 in the child (-1: none)
  std::filesystem::path output; // stdout and stderr appended here
  bool detach = true;           // new session, reparented to init
};

// Starts argv[0] (an absolute path) with argv. Detached: returns 0 (the
// worker is not our child; it reports its own pid). Not detached: returns the
// child's pid, to be waited for with wait_child.
Result<pid_t> spawn(const std::vector<std::string>& argv, const SpawnOptions& options);

// Waits for a child started with detach = false; returns its exit status
// (128 + signal when killed).
int wait_child(pid_t pid);

// The absolute path of the running program (/proc/self/exe).
Result<std::string> self_executable();

} // namespace buildme::util
