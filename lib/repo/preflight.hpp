// What `queue-manage --dry-run` checks before a real run would fail on it,
// for one repository: the folders it writes (staging_dir, the repo_queue of
// each of its products, which it empties, and state_dir/repo), and that its
// signing key signs without a prompt. Each fault is one line naming the
// thing, what is wrong and what to change.
#pragma once

#include "config/config.hpp"

#include <string>
#include <vector>

namespace buildme::repo {

std::vector<std::string> check_queue_manage(const config::Config& config,
                                            const config::Repository& repository);

} // namespace buildme::repo
