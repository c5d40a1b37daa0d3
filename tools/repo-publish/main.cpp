// repo-publish: push changed repositories live, once (cron) or in a loop.
#include "config/config.hpp"
#include "publish/preflight.hpp"
#include "publish/publish.hpp"
#include "util/cli.hpp"
#include "util/clock.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>

namespace {

constexpr std::string_view usage_text =
  R"(Usage: repo-publish [--config FILE] [--repository NAME] [--lock-wait SECONDS]
                    [--loop [--interval SECONDS]]
       repo-publish [--config FILE] [--repository NAME] --dry-run

For each repository with `live` targets in the config (or only NAME) with a
distribution that queue-manage flagged as changed (staging_dir/.DIST.changed),
repo-publish checks staging and rsyncs the repository to every target: local
paths, or user@host:path over SSH with live_identity and live_known_hosts.

It never pushes a repository that is not whole. Nothing of it is pushed, and
the message names the distribution or file and what to do, when:
  - a queue-manage is writing it: repo-publish waits up to --lock-wait for it,
    then holds queue-manage's lock until the push is done, so staging holds
    still (a queue-manage started meanwhile leaves the queue for its next run);
  - a queue-manage run left a distribution of it half-written (killed, or it
    failed): its state_dir/repo/REPOSITORY.DIST.pending marker is there until
    the next queue-manage run finishes it;
  - staging does not check out as a client reads it: for each dists/*/Release,
    Release.gpg and InRelease must be good signatures by sign_with (the key in
    staging_dir/archive-key.asc), InRelease must sign the text of Release,
    every file the Release lists (and its by-hash copies) must have the listed
    size and digests, and every pool file the Packages and Sources indices name
    its listed size and SHA256. A pool file is read again only when its stat
    changed since a check last read it (state_dir/repo/REPOSITORY.checked-*).

The push: first the pool and by-hash copies, nothing deleted; then the indices
with --delay-updates and deletions last, so a client never sees an index
naming a missing file. A local target is then checked the same way. The flag
is cleared only after every target succeeded; one touched again meanwhile
means another sync.

  --lock-wait SECONDS  how long to wait for a queue-manage that is writing the
                       repository (default 300; 0: do not wait)
  --loop               keep going: check the flags every --interval seconds
                       (default 10), retrying a failed repository with back-off
                       (30 s doubling up to 10 min); stop with SIGTERM or SIGINT
  --repository NAME    only this repository
  --dry-run            push nothing: check that every live target can be
                       reached and written (a local folder this account can
                       write or make; a remote one answering rsync over SSH),
                       one FAULT line each with its fix, exit 1
  --verbose            show the rsync commands, the checks and every problem
                       they found
  --help, --version

Exit status (without --loop): 0 all published (or nothing to do, or another
repo-publish is at it), 1 something needs an operator: a repository is
half-written or does not check out, a queue-manage held it past --lock-wait,
or a sync failed (the flags stay for the next run), 2 usage or config error.
)";

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop(int)
{
  g_stop = 1;
}

} // namespace

int main(int argc, char** argv)
{
  using namespace buildme;
  std::string config_path = config::default_config_path;
  std::string only;
  bool loop = false;
  bool verbose = false;
  long interval = 10;
  if (auto answered = util::answer_help_or_version(
        argc, argv, usage_text, fmt::format("repo-publish (buildme) {}", BUILDME_VERSION))) {
    return *answered;
  }
  auto line = util::parse_command_line(argc, argv,
                                       {{"config", 'c', true},
                                        {"repository", 'r', true},
                                        {"loop"},
                                        {"verbose", 'v'},
                                        {"dry-run", 'n'},
                                        {"interval", 0, true},
                                        {"lock-wait", 0, true}});
  if (!line || !line->arguments.empty()) {
    fmt::print(stderr, "repo-publish: {}\nTry 'repo-publish --help'.\n",
               line ? fmt::format("unknown argument {}", util::printable(line->arguments.front()))
                    : line.message());
    return util::exit_usage;
  }
  config_path = line->value("config").value_or(config_path);
  only = line->value("repository").value_or("");
  loop = line->has("loop");
  verbose = line->has("verbose");
  if (auto text = line->value("interval")) {
    auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), interval);
    if (error != std::errc() || end != text->data() + text->size() || interval < 1) {
      fmt::print(stderr, "repo-publish: --interval needs a whole number of seconds\n");
      return util::exit_usage;
    }
  }
  publish::PublishOptions options;
  if (auto text = line->value("lock-wait")) {
    auto seconds = util::parse_count(*text);
    if (!seconds || *seconds > 24 * 3600) {
      fmt::print(stderr, "repo-publish: --lock-wait needs a whole number of seconds, at most "
                         "86400\n");
      return util::exit_usage;
    }
    options.lock_wait = std::chrono::seconds(*seconds);
  }
  options.stopping = [] { return g_stop != 0; };
  auto config = config::load_config(config_path);
  if (!config) {
    fmt::print(stderr, "repo-publish: error: {}\n", config.message());
    return util::exit_usage;
  }
  std::vector<const config::Repository*> repositories;
  for (const auto& repository : config->repositories) {
    if ((only.empty() || repository.name == only) && !repository.live.empty()) {
      repositories.push_back(&repository);
    }
  }
  if (!only.empty() && repositories.empty()) {
    fmt::print(stderr, "repo-publish: error: no [repository {}] with live targets in {}\n",
               util::printable(only), config->path);
    return util::exit_usage;
  }

  if (line->has("dry-run")) {
    // What a push would fail on reaching its targets; nothing is pushed.
    std::size_t faults = 0;
    for (const auto* repository : repositories) {
      for (const auto& fault : publish::check_live_targets(*repository)) {
        fmt::print("FAULT: {}\n", fault);
        ++faults;
      }
    }
    fmt::print(
      "dry run: {} live target{} of {} repositor{}: {}\n",
      [&] {
        std::size_t targets = 0;
        for (const auto* repository : repositories) {
          targets += repository->live.size();
        }
        return targets;
      }(),
      "s", repositories.size(), repositories.size() == 1 ? "y" : "ies",
      faults == 0 ? std::string("good") : fmt::format("{} FAULTS", faults));
    return faults == 0 ? util::exit_ok : util::exit_attention;
  }

  util::SystemClock clock;
  util::Log log(stdout, clock);
  log.set_verbose(verbose);
  if (!config->log_file.empty()) {
    (void)log.open_file(config->log_file);
  }

  struct Backoff
  {
    std::chrono::seconds delay{0};
    util::Clock::time_point next;
  };
  std::map<std::string, Backoff> backoff;
  if (loop) {
    struct sigaction action = {};
    action.sa_handler = on_stop;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
  }
  int failures = 0;
  do {
    failures = 0;
    for (const auto* repository : repositories) {
      Backoff& wait = backoff[repository->name];
      if (clock.now() < wait.next) {
        continue;
      }
      auto result = publish::publish_repository(*config, *repository, clock, log, options);
      if (result) {
        wait = {};
        continue;
      }
      ++failures;
      wait.delay = std::min<std::chrono::seconds>(wait.delay.count() == 0 ? std::chrono::seconds(30)
                                                                          : wait.delay * 2,
                                                  std::chrono::minutes(10));
      wait.next = clock.now() + wait.delay;
      log.verdict("FAILED", util::Log::Tone::bad,
                  loop ? fmt::format("{} (retrying in {} s)", result.message(), wait.delay.count())
                       : result.message());
    }
    for (long slept = 0; loop && !g_stop && slept < interval * 10; ++slept) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  } while (loop && !g_stop);
  return failures > 0 ? 1 : 0;
}
