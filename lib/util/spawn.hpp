// Starting a long-lived worker process that outlives its starter: buildme's
// tick starts one per build and exits. The worker inherits exactly one extra
// descriptor (the slot lock, as fd 3), so the lock is held without a gap from
// the moment the tick took it until the worker ends, however it ends.
#pragma once

#include "util/result.hpp"

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace buildme::util {

struct SpawnOptions
{
  int pass_fd = -1;                  // becomes fd 3 in the child (-1: none)
  std::filesystem::path output;      // stdout and stderr appended here
  bool detach = true;                // new session, reparented to init
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
