// repo-publish: push a repository from its staging folder to its live
// targets when queue-manage flagged a distribution as changed (the role of
// Maemo's rqp.sh), and never push one that is not whole.
//
// One round for one repository, when a distribution is flagged
// (staging_dir/.<dist>.changed, or a .<dist>.publishing a killed run left):
//
//  1. Take queue-manage's lock of the repository (repo::repository_lock),
//     waiting up to lock_wait for a queue-manage that is writing it, and
//     hold it to the end: staging holds still while it is checked and
//     pushed (a queue-manage started meanwhile leaves the queue for its
//     next run).
//  2. Refuse, pushing nothing of the repository, when a distribution of it
//     is half-written: queue-manage's pending marker (repo::pending_marker)
//     is there because a run stopped or failed before it put that
//     distribution whole in place. The next queue-manage run finishes it.
//  3. Take the flags (rename to .<dist>.publishing; a .changed beside a
//     .publishing left by a killed run replaces it: one sync covers both).
//  4. Check staging as a client will read it (publish/check.hpp: every
//     dists/*/Release, its signatures against staging_dir/archive-key.asc
//     and sign_with, every file it lists, every pool file its indices
//     name); on any problem push nothing.
//  5. rsync to every target in two stages, as Debian's ftpsync: first the
//     pool and the by-hash copies with nothing deleted and no index
//     touched, then the indices with --delay-updates and deletions last, so
//     a client never sees an index that names a file not there yet.
//  6. Check each local target the same way (a remote one cannot be read
//     here), and that it holds the same archive-key.asc.
//  7. Clear the flags only when every target succeeded; a flag touched
//     again meanwhile stays, so the next round syncs again. On any failure
//     the flags go back and the next round retries.
//
// The real rsync binary is started with an argument vector, never through
// a shell; hidden files (the flags, queue-manage's temporary names) are
// never published.
#pragma once

#include "config/config.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace buildme::publish {

struct PublishOptions
{
  // How long to wait for a queue-manage that holds the repository's lock;
  // zero: not at all.
  std::chrono::seconds lock_wait{300};
  // Asked while waiting: true gives up the wait (a stop signal).
  std::function<bool()> stopping;
};

struct PublishResult
{
  std::vector<std::string> published; // distributions whose flags were cleared
  bool busy = false;                  // another repo-publish holds the lock
};

// One round for one repository. An Error names the repository, the
// distribution or file and what to do; the flags stay for the next round
// and nothing was pushed unless the Error says so.
Result<PublishResult> publish_repository(const config::Config& config,
                                         const config::Repository& repository,
                                         const util::Clock& clock, util::Log& log,
                                         const PublishOptions& options = {});

// The rsync argument vectors of the two stages for one target (for tests and
// for --verbose).
std::vector<std::vector<std::string>> rsync_stages(const config::Repository& repository,
                                                   const std::string& target);

// Where the check of `tree` keeps what it read of the pool
// (publish/checked_files.hpp): state_dir/repo/<repository>.checked-<hash of
// the tree's path>.
std::filesystem::path checked_files_record(const config::Config& config,
                                           const config::Repository& repository,
                                           const std::filesystem::path& tree);

} // namespace buildme::publish
