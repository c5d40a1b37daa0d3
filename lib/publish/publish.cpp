#include "publish/publish.hpp"

#include "util/fs.hpp"
#include "util/lock.hpp"
#include "util/process.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

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

bool present(const fs::path& path)
{
  auto info = util::stat_no_follow(path);
  return info && *info;
}

Status rename_file(const fs::path& from, const fs::path& to)
{
  if (std::rename(from.c_str(), to.c_str()) != 0) {
    return fail("cannot rename {} to {}: {}", from.string(), to.string(), std::strerror(errno));
  }
  return {};
}

} // namespace

std::vector<std::vector<std::string>> rsync_stages(const config::Repository& repository,
                                                   const std::string& target)
{
  std::vector<std::string> common = {"rsync", "--recursive", "--links", "--perms", "--times",
                                     "--hard-links", "--safe-links",
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
  for (const char* index :
       {"/dists/*/Release", "/dists/*/Release.gpg", "/dists/*/InRelease", "/dists/**/Packages",
        "/dists/**/Packages.*", "/dists/**/Sources", "/dists/**/Sources.*"}) {
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
                                         const config::Repository& repository, util::Log& log)
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

  // Take the flags: a .publishing left by a run that died is still owed.
  const fs::path& staging = repository.staging_dir;
  std::vector<std::string> taken;
  for (const auto& dist : repository.products) {
    const fs::path changed = staging / flag_name(dist, "changed");
    const fs::path publishing = staging / flag_name(dist, "publishing");
    if (present(publishing)) {
      taken.push_back(dist); // a newer .changed beside it stays for next round
      continue;
    }
    if (present(changed)) {
      TRY(rename_file(changed, publishing));
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
      if (present(changed)) {
        std::error_code ignored;
        fs::remove(publishing, ignored);
      } else {
        // Decided: a flag that cannot be given back stays .publishing,
        // which the next run takes up as well (see above).
        (void)rename_file(publishing, changed);
      }
    }
  };

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
      util::ProcessOptions options;
      options.merge_stderr = true;
      auto ran = util::run_process(argv, options);
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
    if (present(staging / flag_name(dist, "changed"))) {
      log.info(fmt::format("{}/dists/{} changed again during the sync: it goes out next round",
                           repository.name, dist));
    }
  }
  return result;
}

} // namespace buildme::publish
