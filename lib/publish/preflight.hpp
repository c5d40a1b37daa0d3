// What `repo-publish --dry-run` checks before a real run would fail on it:
// every live target of a repository can be reached and written (a local
// folder this account can write or make; a remote one answers rsync over
// SSH with the configured identity and known_hosts). Each fault is one line
// naming the target, what is wrong and what to change.
#pragma once

#include "config/config.hpp"

#include <string>
#include <vector>

namespace buildme::publish {

std::vector<std::string> check_live_targets(const config::Repository& repository);

} // namespace buildme::publish
