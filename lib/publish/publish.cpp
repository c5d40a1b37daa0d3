#include "publish/publish.hpp"

#include "publish/check.hpp"
#include "repo/staging.hpp"
#include "sign/release_keyring.hpp"
#include "util/digest.hpp"
#include "util/fs.hpp"
#include "util/lock.hpp"
#include "util/parallel.hpp"
#include "util/process.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <memory>
#include <thread>

namespace buildme::publish {

namespace fs = std::filesystem;

namespace {

bool is_remote(const std::string& target)
{
  const auto colon = target.find(':');
  return colon != std::string::npos && target.find('@') < colon;
}

std::string flag_name(const std::string& dist, std::string_view state)
{
  return fmt::format(".{}.{}", dist, state);
}

Status rename_file(const fs::path& from, const fs::path& to)
{
  if (std::rename(from.c_str(), to.c_str()) != 0) {
    return fail("cannot rename {} to {}: {}", from.string(), to.string(), std::strerror(errno));
  }
  return {};
}

// queue-manage's lock of the repository, once no queue-manage holds it
// (flock has no time limit, so this asks again every 200 ms); an Error when
// one still does after lock_wait. `flagged`: the distributions waiting.
Result<util::FileLock> wait_for_queue_manage(const config::Config& config,
                                             const config::Repository& repository,
                                             const std::vector<std::string>& flagged,
                                             const PublishOptions& options, util::Log& log)
{
  const fs::path path = repo::repository_lock(config, repository.name);
  const auto deadline = std::chrono::steady_clock::now() + options.lock_wait;
  for (bool said = false;; said = true) {
    TRY_ASSIGN(util::FileLock lock, util::FileLock::acquire(path, util::FileLock::Mode::try_once));
    if (lock.locked()) {
      return lock;
    }
    const bool stopped = options.stopping && options.stopping();
    if (stopped || std::chrono::steady_clock::now() >= deadline) {
      return fail("{}: queue-manage is writing it (it holds {}){}; nothing of it was pushed, and "
                  "the flags of {} stay for the next round (if this repeats, see whether "
                  "queue-manage --repository {} hangs)",
                  repository.name, path.string(),
                  stopped ? std::string(", and repo-publish was stopped while waiting")
                  : options.lock_wait.count() > 0
                    ? fmt::format(" and did not finish within {} s", options.lock_wait.count())
                    : std::string(),
                  util::join(flagged, ", "), repository.name);
    }
    if (!said) {
      log.info(fmt::format("queue-manage is writing {}: waiting up to {} s for it to finish",
                           repository.name, options.lock_wait.count()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// The first few problems of a check, for one message (--verbose logs them
// all).
std::string summarise(const std::vector<std::string>& problems)
{
  constexpr std::size_t shown = 5;
  std::vector<std::string> first(problems.begin(),
                                 problems.begin() + std::min(shown, problems.size()));
  std::string text = util::join(first, "; ");
  if (problems.size() > shown) {
    text +=
      fmt::format("; and {} more (repo-publish --verbose lists them)", problems.size() - shown);
  }
  return text;
}

// check_tree on `tree` ("staging" or a live target, `what` in messages);
// an Error holds the first problems.
Status check_copy(const config::Config& config, const config::Repository& repository,
                  const fs::path& tree, sign::ReleaseKeyring* keyring, const util::Clock& clock,
                  util::Log& log)
{
  const util::Stopwatch watch;
  CheckOptions options;
  options.keyring = keyring;
  options.record = checked_files_record(config, repository, tree);
  options.threads = util::core_count();
  options.now = clock.now();
  const TreeCheck check = check_tree(tree, options);
  log.detail(fmt::format("checked {}: {} distributions, {} pool files ({} of them read) in "
                         "{:.2f} s",
                         tree.string(), check.dists, check.pool_files, check.read,
                         watch.seconds()));
  if (!check.record_error.empty()) {
    log.detail(fmt::format("the record of what was read is not kept: {}", check.record_error));
  }
  for (const auto& problem : check.problems) {
    log.detail(problem);
  }
  if (!check.ok()) {
    return fail("{} problem{}: {}", check.problems.size(), check.problems.size() == 1 ? "" : "s",
                summarise(check.problems));
  }
  return {};
}

} // namespace

fs::path checked_files_record(const config::Config& config, const config::Repository& repository,
                              const fs::path& tree)
{
  const auto digests =
    util::digest_bytes(fs::absolute(tree).lexically_normal().string(), {false, false, true, false});
  return config.state_dir / "repo" /
         fmt::format("{}.checked-{}", repository.name, digests.sha256->substr(0, 16));
}

std::vector<std::vector<std::string>> rsync_stages(const config::Repository& repository,
                                                   const std::string& target)
{
  std::vector<std::string> common = {"rsync", "--recursive", "--links", "--perms", "--times",
                                     // A file is unchanged only when its size and its time to
                                     // the nanosecond are: a Release's size depends only on the
                                     // files it lists, so two written in one second had the same
                                     // size and second, and the new one was never sent.
                                     "--modify-window=-1", "--hard-links", "--safe-links",
                                     // flags and temporary names are ours alone
                                     "--exclude=.*"};
  if (is_remote(target)) {
    std::string shell =
      fmt::format("ssh -p {} -o BatchMode=yes -o StrictHostKeyChecking=yes", repository.live_port);
    if (!repository.live_identity.empty()) {
      shell += " -i " + repository.live_identity + " -o IdentitiesOnly=yes";
    }
    if (!repository.live_known_hosts.empty()) {
      shell += " -o UserKnownHostsFile=" + repository.live_known_hosts +
               " -o GlobalKnownHostsFile=/dev/null";
    }
    common.push_back("--rsh=" + shell);
  }
  const std::string source = repository.staging_dir.string() + "/";
  const std::string destination = target.ends_with('/') ? target : target + "/";

  // Stage 1: everything but the indices, nothing deleted.
  std::vector<std::string> first = common;
  for (const char* index : {"/dists/*/Release", "/dists/*/Release.gpg", "/dists/*/InRelease",
                            "/dists/**/Packages", "/dists/**/Packages.*", "/dists/**/Sources",
                            "/dists/**/Sources.*", "/dists/**/Contents-*"}) {
    first.push_back(fmt::format("--exclude={}", index));
  }
  first.push_back(source);
  first.push_back(destination);

  // Stage 2: the indices, put in place together at the end; deletions last.
  std::vector<std::string> second = common;
  second.insert(second.end(), {"--delay-updates", "--delete", "--delete-after"});
  second.push_back(source);
  second.push_back(destination);
  return {first, second};
}

Result<PublishResult> publish_repository(const config::Config& config,
                                         const config::Repository& repository,
                                         const util::Clock& clock, util::Log& log,
                                         const PublishOptions& options)
{
  PublishResult result;
  if (repository.live.empty()) {
    return result;
  }
  TRY(util::make_dirs(config.state_dir / "repo"));
  auto lock =
    util::FileLock::acquire(config.state_dir / "repo" / (repository.name + ".publish.lock"),
                            util::FileLock::Mode::try_once);
  if (!lock) {
    return Error{lock.error()};
  }
  if (!lock->locked()) {
    result.busy = true;
    return result;
  }

  const fs::path& staging = repository.staging_dir;
  auto flagged = [&](const std::string& dist) {
    return util::present(staging / flag_name(dist, "changed")) ||
           util::present(staging / flag_name(dist, "publishing"));
  };
  std::vector<std::string> waiting;
  std::copy_if(repository.products.begin(), repository.products.end(), std::back_inserter(waiting),
               flagged);
  if (waiting.empty()) {
    return result;
  }

  // From here to the end staging holds still: no queue-manage writes it.
  TRY_ASSIGN(const util::FileLock writer,
             wait_for_queue_manage(config, repository, waiting, options, log));
  // rsync pushes the whole repository, so one half-written distribution
  // holds back all of it.
  for (const auto& dist : repository.products) {
    const fs::path marker = repo::pending_marker(config, repository.name, dist);
    if (util::present(marker)) {
      return fail("{}/dists/{} is half-written: a queue-manage run changed it and stopped before "
                  "it was whole again ({} is there), so nothing of {} was pushed; run "
                  "queue-manage --repository {}, which finishes it, and publish after",
                  repository.name, dist, marker.string(), repository.name, repository.name);
    }
  }

  // Take the flags. A .changed beside a .publishing that a killed run left
  // replaces it: this sync covers both.
  std::vector<std::string> taken;
  for (const auto& dist : repository.products) {
    const fs::path changed = staging / flag_name(dist, "changed");
    const fs::path publishing = staging / flag_name(dist, "publishing");
    if (util::present(changed)) {
      TRY(rename_file(changed, publishing));
      taken.push_back(dist);
    } else if (util::present(publishing)) {
      taken.push_back(dist);
    }
  }
  if (taken.empty()) {
    return result;
  }

  auto give_back = [&] {
    for (const auto& dist : taken) {
      const fs::path changed = staging / flag_name(dist, "changed");
      const fs::path publishing = staging / flag_name(dist, "publishing");
      if (util::present(changed)) {
        std::error_code ignored;
        fs::remove(publishing, ignored);
      } else {
        // Decided: a flag that cannot be given back stays .publishing,
        // which the next run takes up as well (see above).
        (void)rename_file(publishing, changed);
      }
    }
  };

  // The repository's public key, as its clients get it.
  std::unique_ptr<sign::ReleaseKeyring> keyring;
  const fs::path key_path = staging / config::archive_key_name;
  if (!repository.sign_with.empty()) {
    auto key = util::read_file(key_path, 1024 * 1024);
    // Its GNUPGHOME is ours alone: we hold the repository's publish lock.
    const fs::path home = config.state_dir / "repo" / (repository.name + ".keys");
    auto opened =
      key ? sign::open_release_keyring(*key, key_path.string(), repository.sign_with, home)
          : Result<std::unique_ptr<sign::ReleaseKeyring>>(key.error());
    if (!opened) {
      give_back();
      return fail("{}: the signatures cannot be checked, so nothing was pushed: {}; run "
                  "queue-manage regenerate --repository {} (it writes the public key it signs "
                  "with)",
                  repository.name, opened.message(), repository.name);
    }
    keyring = std::move(*opened);
  }
  if (auto checked = check_copy(config, repository, staging, keyring.get(), clock, log); !checked) {
    give_back();
    return fail("{}: staging does not check out, so nothing was pushed: {}; run queue-manage "
                "regenerate --repository {}, which writes and signs every index again from the "
                "pool",
                repository.name, checked.message(), repository.name);
  }

  for (const auto& target : repository.live) {
    if (!is_remote(target)) {
      if (auto made = util::make_dirs(target); !made) {
        give_back();
        return Error{made.error()};
      }
    }
    int stage = 0;
    for (const auto& argv : rsync_stages(repository, target)) {
      ++stage;
      log.detail(util::join(argv, " "));
      util::ProcessOptions process;
      process.merge_stderr = true;
      auto ran = util::run_process(argv, process);
      if (!ran) {
        give_back();
        return fail("{}: {} (install rsync)", repository.name, ran.message());
      }
      if (ran->exit_code != 0) {
        give_back();
        std::string output(util::trim(ran->out));
        if (output.size() > 2000) {
          output = "..." + output.substr(output.size() - 2000);
        }
        return fail("{}: rsync to {} failed in stage {} of 2 (exit {}): {}", repository.name,
                    target, stage, ran->exit_code, util::printable(output));
      }
    }
    if (is_remote(target)) {
      continue;
    }
    Status checked = check_copy(config, repository, target, keyring.get(), clock, log);
    if (checked && keyring &&
        !util::same_content(key_path, fs::path(target) / key_path.filename())) {
      checked = fail("{} is not staging's", (fs::path(target) / key_path.filename()).string());
    }
    if (!checked) {
      give_back();
      return fail("{}: the live copy {} does not check out after the push: {}; the flags stay, "
                  "so the next round pushes again",
                  repository.name, target, checked.message());
    }
  }

  for (const auto& dist : taken) {
    std::error_code ignored;
    fs::remove(staging / flag_name(dist, "publishing"), ignored);
    result.published.push_back(dist);
  }
  log.verdict("PUBLISHED", util::Log::Tone::good,
              fmt::format("{} ({}) to {}", repository.name, util::join(result.published, ", "),
                          util::join(repository.live, ", ")));
  for (const auto& dist : taken) {
    if (util::present(staging / flag_name(dist, "changed"))) {
      log.info(fmt::format("{}/dists/{} changed again during the sync: it goes out next round",
                           repository.name, dist));
    }
  }
  return result;
}

} // namespace buildme::publish
