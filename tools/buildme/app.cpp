#include "app.hpp"

#include "config/config.hpp"
#include "intake/intake.hpp"
#include "intake/verify.hpp"
#include "util/clock.hpp"
#include "util/fs.hpp"
#include "util/lock.hpp"
#include "util/log.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace buildme::app {

namespace {

constexpr int exit_ok = 0;
constexpr int exit_attention = 1; // something needs an operator (or: bad upload, for check)
constexpr int exit_usage = 2;

constexpr std::string_view usage_text = R"(Usage: buildme [OPTIONS]              run one tick: take new uploads in
       buildme check FILE.dsc|FILE.changes   verify one upload where it lies

A tick looks at the incoming folder of every product in the config. Each
upload (a .changes with its files, or a lone .dsc with its files) is verified
against its listings: every file present, a regular file, with the listed size
and every listed checksum; names and versions valid; not a version already
accepted. Then it is ACCEPTED (moved into a new job under state_dir), REJECTED
(moved to INCOMING/rejected/ with NAME.reason beside it; nothing there is ever
overwritten) or left WAITING (still arriving: younger than grace_period).

Options:
  --config FILE   configuration file (default /etc/buildme.conf)
  --dry-run       verify and report, move nothing
  --verbose       say more about each step
  --wait          if another buildme is running, wait for it instead of
                  exiting at once (cron overlap exits 0 without --wait)
  --help          show this help
  --version       show the version

check verifies without moving anything and without a grace period:
exit 0 = good, 1 = bad (the reason is printed), 2 = usage or config error.

buildme exits 0 when all went as it should (rejecting a bad upload is
normal work), 1 when something needs an operator, 2 on a usage or config
error.
)";

struct Options
{
  std::string config_path = config::default_config_path;
  bool dry_run = false;
  bool verbose = false;
  bool wait = false;
  std::vector<std::string> arguments; // the subcommand and its arguments
};

struct UsageError
{
  std::string message;
};

Options parse_options(int argc, char** argv)
{
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--config" || arg == "-c") {
      if (i + 1 >= argc) {
        throw UsageError{"--config needs a FILE"};
      }
      options.config_path = argv[++i];
    } else if (arg.starts_with("--config=")) {
      options.config_path = std::string(arg.substr(9));
    } else if (arg == "--dry-run" || arg == "-n") {
      options.dry_run = true;
    } else if (arg == "--verbose" || arg == "-v") {
      options.verbose = true;
    } else if (arg == "--wait") {
      options.wait = true;
    } else if (arg == "--") {
      for (++i; i < argc; ++i) {
        options.arguments.emplace_back(argv[i]);
      }
    } else if (arg.starts_with("-") && arg != "-") {
      throw UsageError{fmt::format("unknown option {}", util::printable(arg))};
    } else {
      options.arguments.emplace_back(arg);
    }
  }
  return options;
}

int run_tick(const Options& options)
{
  if (!options.arguments.empty()) {
    throw UsageError{fmt::format("unknown command {}", util::printable(options.arguments[0]))};
  }
  auto config = config::load_config(options.config_path);
  if (!config) {
    fmt::print(stderr, "buildme: error: {}\n", config.message());
    return exit_usage;
  }
  util::SystemClock clock;
  util::Log log(stdout, clock);
  log.set_verbose(options.verbose);
  if (!config->log_file.empty()) {
    if (auto opened = log.open_file(config->log_file); !opened) {
      fmt::print(stderr, "buildme: error: {}\n", opened.message());
      return exit_attention;
    }
  }

  util::FileLock lock;
  if (!options.dry_run) {
    intake::StateDir state(config->state_dir);
    if (auto prepared = state.prepare(); !prepared) {
      fmt::print(stderr, "buildme: error: {}\n", prepared.message());
      return exit_attention;
    }
    auto locked = util::FileLock::acquire(
      state.lock_path(), options.wait ? util::FileLock::Mode::wait : util::FileLock::Mode::try_once);
    if (!locked) {
      fmt::print(stderr, "buildme: error: {}\n", locked.message());
      return exit_attention;
    }
    if (!locked->locked()) {
      if (options.verbose || isatty(STDOUT_FILENO)) {
        log.info(fmt::format("another buildme is running (it holds {}); nothing to do (use "
                             "--wait to wait for it)",
                             state.lock_path().string()));
      }
      return exit_ok;
    }
    lock = std::move(*locked);
  }

  intake::IntakeOptions intake_options;
  intake_options.dry_run = options.dry_run;
  intake_options.settle_time = config->settle_time;
  const auto summary = intake::run_intake(*config, intake_options, clock, log);
  if (options.verbose) {
    log.info(fmt::format("intake: {} accepted, {} rejected, {} waiting, {} errors",
                         summary.accepted, summary.rejected, summary.waiting, summary.errors));
  }
  return summary.errors > 0 ? exit_attention : exit_ok;
}

int run_check(const Options& options)
{
  if (options.arguments.size() != 2) {
    throw UsageError{"check needs exactly one FILE.dsc or FILE.changes"};
  }
  const std::filesystem::path file = options.arguments[1];
  const std::string name = file.filename().string();
  if (!name.ends_with(".dsc") && !name.ends_with(".changes")) {
    throw UsageError{fmt::format("{} is neither a .dsc nor a .changes", util::printable(name))};
  }
  intake::Upload upload{file.parent_path().empty() ? "." : file.parent_path(), name};
  util::SystemClock clock;
  const auto result =
    intake::verify_upload(upload, intake::VerifyOptions{clock.now(), std::chrono::seconds(0)});
  const bool good = result.verdict == intake::Verdict::accepted;
  fmt::print("{}: {}: {}\n", util::printable(file.string()), good ? "GOOD" : "BAD",
             util::printable(result.reason));
  if (good && options.verbose) {
    fmt::print("  source {} version {}, uploader {}\n", result.source(), result.version(),
               util::printable(result.uploader()));
    for (const auto& [listed, info] : result.files) {
      fmt::print("  {} ({} bytes)\n", listed, info.size);
    }
  }
  return good ? exit_ok : exit_attention;
}

using Command = std::function<int(const Options&)>;

const std::vector<std::pair<std::string_view, Command>>& commands()
{
  static const std::vector<std::pair<std::string_view, Command>> table = {
    {"check", run_check},
  };
  return table;
}

} // namespace

int main(int argc, char** argv)
{
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        fmt::print("{}", usage_text);
        return exit_ok;
      }
      if (arg == "--version") {
        fmt::print("buildme {}\n", BUILDME_VERSION);
        return exit_ok;
      }
    }
    const Options options = parse_options(argc, argv);
    if (!options.arguments.empty()) {
      for (const auto& [name, command] : commands()) {
        if (options.arguments[0] == name) {
          return command(options);
        }
      }
    }
    return run_tick(options);
  } catch (const UsageError& usage) {
    fmt::print(stderr, "buildme: {}\nTry 'buildme --help'.\n", usage.message);
    return exit_usage;
  } catch (const std::exception& unexpected) {
    fmt::print(stderr, "buildme: error: {}\n", unexpected.what());
    return exit_attention;
  }
}

} // namespace buildme::app
