// A builder host as a build needs it: make folders, send and fetch files, run
// a command with a wall-clock and a silence timeout, stop it on request.
// Two implementations: SshHost (libssh: SFTP for files, an exec channel for
// commands; the host key must match known_hosts) and LocalHost (this machine,
// the embedded default `host = local`). Unit tests use a fake behind this
// interface; both real ones have integration tests.
//
// Commands are argument vectors. Over SSH the remote shell parses the command
// line, so every argument is single-quoted; nothing is ever interpolated.
#pragma once

#include "util/result.hpp"

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace buildme::builder {

// An upload is written beside its final name with this suffix, then
// renamed, so that a leftover of a cut-off upload is recognisable in a work
// folder (both hosts name it so).
inline constexpr std::string_view upload_suffix = ".buildme-tmp";

struct RemoteFile
{
  std::string name;
  std::uint64_t size = 0;
  bool regular = false; // false for folders, symlinks, others
};

struct ExecOptions
{
  // Stop the command after this long in all (0 = never).
  std::chrono::seconds timeout{0};
  // Stop the command after this long without any output (0 = never).
  std::chrono::seconds idle_timeout{0};
  // Called with each chunk of output (stdout and stderr, interleaved as they
  // arrive), so the caller can write the log as the build goes.
  std::function<void(std::string_view)> on_output;
  // Polled a few times a second; returning true stops the command.
  std::function<bool()> cancelled;
};

struct ExecResult
{
  enum class End
  {
    exited,    // the command finished by itself: exit_code is valid
    timed_out, // stopped after ExecOptions::timeout
    idle,      // stopped after ExecOptions::idle_timeout without output
    cancelled, // stopped because cancelled() said so
    killed,    // ended by a signal nobody here sent
  };
  End end = End::exited;
  int exit_code = -1;
};

std::string_view describe(ExecResult::End end); // "timed out", ...

class Host
{
public:
  virtual ~Host() = default;

  // "builder1@b1.example.org:22", or "local": for messages.
  virtual std::string name() const = 0;

  // mkdir -p; fine when it exists.
  virtual Status make_dir(const std::string& dir) = 0;
  // rm -rf of a folder that buildme made (a work folder).
  virtual Status remove_tree(const std::string& dir) = 0;
  // Sends a local file; the remote file is written under a temporary name
  // and renamed, so a half-sent file never has the final name.
  virtual Status upload(const std::filesystem::path& local, const std::string& remote,
                        mode_t mode = 0644) = 0;
  // Fetches a remote file to `local` (a new file; written through a
  // temporary name). Refuses files larger than max_size.
  virtual Status download(const std::string& remote, const std::filesystem::path& local,
                          std::uint64_t max_size) = 0;
  virtual Result<std::vector<RemoteFile>> list_dir(const std::string& dir) = 0;

  // Runs argv on the host, in `cwd` when not empty. On timeout, silence or
  // cancel, the whole process group of the command is stopped: SIGINT, then
  // SIGTERM, then SIGKILL, a few seconds apart. An Error means the command
  // could not be run or the connection was lost (a builder fault), not that
  // it failed.
  virtual Result<ExecResult> run(const std::vector<std::string>& argv, const std::string& cwd,
                                 const ExecOptions& options) = 0;
};

// Single-quotes `word` for a POSIX shell: 'it'\''s'.
std::string shell_quote(std::string_view word);
// The command line for argv with every word quoted.
std::string shell_command(const std::vector<std::string>& argv);

} // namespace buildme::builder
