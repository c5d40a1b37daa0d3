// repo-publish: push a repository from its staging folder to its live
// targets when queue-manage flagged a distribution as changed (the role of
// Maemo's rqp.sh).
//
// For each staging_dir/.<dist>.changed flag: take it (rename to
// .<dist>.publishing), rsync the repository to every `live` target, and
// clear the flag only after every target succeeded. A flag touched again
// during the sync stays, so the next round syncs again. On failure the flag
// goes back and the next round retries.
//
// Each sync runs in two stages, as Debian's ftpsync: first the pool and the
// by-hash copies with nothing deleted and no index touched, then the
// indices with --delay-updates and deletions last, so a client never sees an
// index that names a file not there yet. The real rsync binary is started
// with an argument vector, never through a shell; hidden files (the flags,
// queue-manage's temporary names) are never published.
#pragma once

#include "config/config.hpp"
#include "util/log.hpp"

#include <string>
#include <vector>

namespace buildme::publish {

struct PublishResult
{
  std::vector<std::string> published; // distributions whose flags were cleared
  bool busy = false;                  // another repo-publish holds the lock
};

// One round for one repository. An Error names the target and rsync's
// message; the flags stay for the next round.
Result<PublishResult> publish_repository(const config::Config& config,
                                         const config::Repository& repository, util::Log& log);

// The rsync argument vectors of the two stages for one target (for tests and
// for --verbose).
std::vector<std::vector<std::string>> rsync_stages(const config::Repository& repository,
                                                   const std::string& target);

} // namespace buildme::publish
