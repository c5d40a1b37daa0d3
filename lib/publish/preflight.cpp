#include "publish/preflight.hpp"

#include "publish/publish.hpp"
#include "util/folder_check.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace buildme::publish {

std::vector<std::string> check_live_targets(const config::Repository& repository)
{
  std::vector<std::string> faults;
  const std::string owner = fmt::format(" (repository {})", repository.name);
  for (const auto& target : repository.live) {
    const auto stages = rsync_stages(repository, target);
    const auto& first = stages.front();
    const auto shell = std::find_if(first.begin(), first.end(), [](const std::string& word) {
      return word.starts_with("--rsh=");
    });
    if (shell == first.end()) {
      // A folder on this machine.
      if (auto fault = util::folder_fault(target, "live", owner, false); !fault.empty()) {
        faults.push_back(std::move(fault));
      }
      continue;
    }
    // Over SSH: the target's folder as rsync sees it, listing nothing below.
    std::vector<std::string> argv{"rsync", "--list-only", "--dirs", *shell,
                                  target.ends_with('/') ? target : target + "/"};
    util::ProcessOptions options;
    options.timeout = std::chrono::seconds(60);
    options.merge_stderr = true;
    auto ran = util::run_process(argv, options);
    if (!ran) {
      faults.push_back(
        fmt::format("live {}{}: cannot run rsync: {}", target, owner, ran.message()));
    } else if (ran->exit_code != 0) {
      faults.push_back(fmt::format(
        "live {}{}: rsync cannot reach it ({}): {}; check the host, live_port, live_identity and "
        "live_known_hosts, and that the folder exists there and the account may write it",
        target, owner, ran->timed_out ? "timed out" : fmt::format("exit {}", ran->exit_code),
        util::printable(util::trim(ran->out.substr(0, 300)))));
    }
  }
  return faults;
}

} // namespace buildme::publish
