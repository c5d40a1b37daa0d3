#include "app.hpp"

#include "config/config.hpp"
#include "debian/syntax.hpp"
#include "debian/version.hpp"
#include "repo/retention.hpp"
#include "repo/preflight.hpp"
#include "repo/staging.hpp"
#include "sign/signer.hpp"
#include "util/cli.hpp"
#include "util/clock.hpp"
#include "util/fs.hpp"
#include "util/lock.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unistd.h>
#include <utility>
#include <vector>

namespace buildme::queue_manage {

namespace {

using util::exit_attention;
using util::exit_ok;
using util::exit_usage;

constexpr std::string_view usage_text = R"(Usage: queue-manage --repository NAME [OPTIONS]
       queue-manage regenerate --repository NAME
       queue-manage promote SOURCE VERSION --from NAME --to NAME [--dist DIST]
       queue-manage remove SOURCE [VERSION] --repository NAME [--dist DIST] [--dry-run]
       queue-manage list --repository NAME [--dist DIST] [SOURCE [VERSION]]

queue-manage builds the APT repository [repository NAME] of the config in its
staging_dir. Run by cron for each repository (every 2 or 5 minutes), it takes
the .debs and sources that buildme put in the repo_queue of every product
entering this repository, moves them into pool/, drops versions beyond
keep_versions from the indices (their files are deleted after delete_after),
and for each distribution (one per product) that changed writes again the
Packages, Sources and Contents indices the change touched (from cached sums
and file lists) and Release, signs them (InRelease, Release.gpg)
and touches staging_dir/.DIST.changed for repo-publish: it says STAGED, and
clients see the change once repo-publish has pushed it. Nothing in the pool
is ever overwritten: a queue file whose pool name holds different content is
set aside in the queue's rejected/ folder with a .reason.

  regenerate   write every index again, sign and flag every distribution now
  promote      copy SOURCE VERSION and the binaries built from it (hard links)
               from one repository to another, and regenerate both
  remove       take SOURCE VERSION (every version when VERSION is left out)
               and every binary built from it out of each distribution (or
               only DIST) at once: its indices are regenerated, signed and
               flagged for repo-publish; the first run after delete_after
               deletes the pool files no other package uses. Nothing is
               taken out when SOURCE or VERSION is not there (the error
               says what is)
  list         what each distribution holds; with SOURCE [VERSION], only what
               remove SOURCE [VERSION] would take out

Options:
  --config FILE      configuration file (default /etc/buildme.conf)
  --repository NAME  the [repository NAME] to work on
  --from, --to NAME  repositories, for promote
  --dist DIST        only this distribution
  --dry-run          a run: check what it would fail on (staging_dir, each
                     repo_queue and state_dir/repo writable by this account,
                     the signing key signs without a prompt), one FAULT line
                     each with its fix, exit 1; nothing is taken in.
                     remove: say what it would take out, change nothing
  --wait             wait for another queue-manage of this repository (or a
                     repo-publish pushing it) instead of exiting at once
                     (promote and remove always wait)
  --verbose          say more
  --help, --version

Exit status: 0 done (or another run, or repo-publish, holds the lock), 1
something needs an operator, 2 usage or config error.
)";

struct Options
{
  std::string config_path = config::default_config_path;
  std::string repository, from, to, dist;
  bool dry_run = false;
  bool wait = false;
  bool verbose = false;
  std::vector<std::string> arguments;
};

struct UsageError
{
  std::string message;
};

Options parse_options(int argc, char** argv)
{
  auto line = util::parse_command_line(argc, argv,
                                       {{"config", 'c', true},
                                        {"repository", 'r', true},
                                        {"from", 0, true},
                                        {"to", 0, true},
                                        {"dist", 0, true},
                                        {"dry-run", 'n'},
                                        {"wait"},
                                        {"verbose", 'v'}});
  if (!line) {
    throw UsageError{line.message()};
  }
  Options options;
  options.config_path = line->value("config").value_or(options.config_path);
  options.repository = line->value("repository").value_or("");
  options.from = line->value("from").value_or("");
  options.to = line->value("to").value_or("");
  options.dist = line->value("dist").value_or("");
  options.dry_run = line->has("dry-run");
  options.wait = line->has("wait");
  options.verbose = line->has("verbose");
  options.arguments = std::move(line->arguments);
  return options;
}

struct Session
{
  config::Config config;
  util::SystemClock clock;
  std::unique_ptr<util::Log> log;
  std::vector<util::FileLock> locks;
};

const config::Repository& find_repository(const config::Config& config, const std::string& name,
                                          std::string_view option)
{
  if (name.empty()) {
    throw UsageError{fmt::format("{} NAME is required", option)};
  }
  const config::Repository* repository = config.repository(name);
  if (!repository) {
    std::vector<std::string> known;
    for (const auto& r : config.repositories) {
      known.push_back(r.name);
    }
    throw UsageError{fmt::format("no [repository {}] in {} (known: {})", util::printable(name),
                                 config.path, known.empty() ? "none" : util::join(known, ", "))};
  }
  return *repository;
}

// The distributions of `repository` a command works on: every one, or only
// `dist`.
std::vector<std::string> chosen_dists(const config::Repository& repository, const std::string& dist)
{
  if (dist.empty()) {
    return repository.products;
  }
  const auto& products = repository.products;
  if (std::find(products.begin(), products.end(), dist) == products.end()) {
    throw UsageError{fmt::format("[repository {}] has no distribution {} (its distributions: {})",
                                 repository.name, util::printable(dist),
                                 util::join(products, ", "))};
  }
  return {dist};
}

// SOURCE [VERSION] from the command line, checked as Debian names.
std::pair<std::string, std::string> source_and_version(const Options& options,
                                                       std::string_view command)
{
  if (options.arguments.size() < 2 || options.arguments.size() > 3) {
    throw UsageError{fmt::format("{} takes SOURCE [VERSION]", command)};
  }
  const std::string& source = options.arguments[1];
  if (auto checked = debian::check_package_name(source); !checked) {
    throw UsageError{fmt::format("SOURCE: {}", checked.message())};
  }
  std::string version = options.arguments.size() == 3 ? options.arguments[2] : "";
  if (!version.empty()) {
    if (auto parsed = debian::Version::parse(version); !parsed) {
      throw UsageError{fmt::format("VERSION: {}", parsed.message())};
    }
  }
  return {source, version};
}

// Takes the repository's lock; false when another run holds it (and we do
// not wait).
Result<bool> lock_repository(Session& session, const config::Repository& repository, bool wait)
{
  const auto path = repo::repository_lock(session.config, repository.name);
  TRY(util::make_dirs(path.parent_path()));
  auto lock = util::FileLock::acquire(path, wait ? util::FileLock::Mode::wait
                                                 : util::FileLock::Mode::try_once);
  if (!lock) {
    return Error{lock.error()};
  }
  if (!lock->locked()) {
    return false;
  }
  session.locks.push_back(std::move(*lock));
  return true;
}

Result<std::unique_ptr<repo::Staging>> open_staging(Session& session,
                                                    const config::Repository& repository)
{
  std::unique_ptr<sign::Signer> signer;
  if (!repository.sign_with.empty()) {
    auto made = sign::make_gpgme_signer(
      {repository.gnupg_home, repository.sign_with, repository.passphrase_file});
    if (!made) {
      return fail("[repository {}] sign_with: {}", repository.name, made.message());
    }
    signer = std::move(*made);
  } else {
    session.log->detail(fmt::format("[repository {}] has no sign_with: the repository is "
                                    "unsigned (apt needs [trusted=yes] for it)",
                                    repository.name));
  }
  return repo::Staging::open(session.config, repository, std::move(signer), session.clock,
                             *session.log);
}

int report(const repo::RunSummary& summary, Session& session, const Options& options)
{
  if (options.verbose) {
    session.log->info(fmt::format("{} packages taken in, {} refused, {} waiting, {} pruned, {} "
                                  "pool files deleted, {} distributions staged for repo-publish",
                                  summary.added, summary.refused, summary.waiting, summary.pruned,
                                  summary.deleted, summary.changed.size()));
  }
  return summary.errors > 0 ? exit_attention : exit_ok;
}

int run_queue(Session& session, const Options& options, bool regenerate)
{
  const auto& repository = find_repository(session.config, options.repository, "--repository");
  auto locked = lock_repository(session, repository, options.wait);
  if (!locked) {
    fmt::print(stderr, "queue-manage: error: {}\n", locked.message());
    return exit_attention;
  }
  if (!*locked) {
    if (options.verbose || isatty(STDOUT_FILENO)) {
      session.log->info(
        fmt::format("another queue-manage, or repo-publish, is working on {}; nothing to do "
                    "(the queue is taken next run)",
                    repository.name));
    }
    return exit_ok;
  }
  auto staging = open_staging(session, repository);
  if (!staging) {
    fmt::print(stderr, "queue-manage: error: {}\n", staging.message());
    return exit_attention;
  }
  return report(regenerate ? (*staging)->regenerate_all() : (*staging)->process_queue(), session,
                options);
}

// --dry-run of a run: what it would fail on, one FAULT line each with its
// fix; the queue is not touched.
int run_checks(Session& session, const Options& options)
{
  const auto& repository = find_repository(session.config, options.repository, "--repository");
  const auto faults = repo::check_queue_manage(session.config, repository);
  for (const auto& fault : faults) {
    fmt::print("FAULT: {}\n", fault);
  }
  fmt::print("dry run: {}: {}\n", repository.name,
             faults.empty()
               ? std::string("folders and signing key good")
               : fmt::format("{} FAULT{}", faults.size(), faults.size() == 1 ? "" : "S"));
  return faults.empty() ? exit_ok : exit_attention;
}

int run_promote(Session& session, const Options& options)
{
  if (options.arguments.size() != 3) {
    throw UsageError{"promote needs SOURCE VERSION --from NAME --to NAME"};
  }
  const auto& from = find_repository(session.config, options.from, "--from");
  const auto& to = find_repository(session.config, options.to, "--to");
  if (from.name == to.name) {
    throw UsageError{"--from and --to name the same repository"};
  }
  // Both locks, in name order, so two promotes never wait on each other.
  for (const auto* repository :
       from.name < to.name ? std::vector{&from, &to} : std::vector{&to, &from}) {
    auto locked = lock_repository(session, *repository, true);
    if (!locked) {
      fmt::print(stderr, "queue-manage: error: {}\n", locked.message());
      return exit_attention;
    }
  }
  auto source = open_staging(session, from);
  auto target = open_staging(session, to);
  if (!source || !target) {
    fmt::print(stderr, "queue-manage: error: {}\n", !source ? source.message() : target.message());
    return exit_attention;
  }
  auto promoted =
    (*source)->promote(options.arguments[1], options.arguments[2], **target, options.dist);
  if (!promoted) {
    fmt::print(stderr, "queue-manage: error: {}\n", promoted.message());
    return exit_attention;
  }
  session.log->verdict(
    "PROMOTED", util::Log::Tone::good,
    fmt::format(
      "{} {} from {} to {} ({}): {}", util::printable(options.arguments[1]),
      util::printable(options.arguments[2]), from.name, to.name,
      util::join(std::vector<std::string>(promoted->dists.begin(), promoted->dists.end()), ", "),
      repo::describe(*promoted)));
  return exit_ok;
}

// The table list prints, and remove --dry-run.
void print_members(const std::vector<repo::Member>& members)
{
  static constexpr std::string_view row = "{:<12} {:<10} {:<32} {:<24} {:<8} {}\n";
  fmt::print(row, "DIST", "COMPONENT", "PACKAGE", "VERSION", "ARCH", "FILE");
  for (const auto& member : members) {
    fmt::print(row, member.dist, member.component, util::printable(member.name),
               util::printable(member.version), member.arch, util::printable(member.path));
  }
}

int run_remove(Session& session, const Options& options)
{
  const auto [source, version] = source_and_version(options, "remove");
  const auto& repository = find_repository(session.config, options.repository, "--repository");
  const auto dists = chosen_dists(repository, options.dist);
  auto locked = lock_repository(session, repository, false);
  if (locked && !*locked) {
    session.log->info(
      fmt::format("another queue-manage is working on {}; waiting for it", repository.name));
    locked = lock_repository(session, repository, true);
  }
  if (!locked) {
    fmt::print(stderr, "queue-manage: error: {}\n", locked.message());
    return exit_attention;
  }
  auto staging = open_staging(session, repository);
  if (!staging) {
    fmt::print(stderr, "queue-manage: error: {}\n", staging.message());
    return exit_attention;
  }
  auto removal = (*staging)->find_removal(source, version, dists);
  if (!removal) {
    fmt::print(stderr, "queue-manage: error: {}; nothing was removed\n", removal.message());
    return exit_attention;
  }
  if (options.dry_run) {
    session.log->verdict("WOULD REMOVE", util::Log::Tone::pending, removal->describe());
    print_members(removal->members);
    session.log->info("nothing changed (--dry-run)");
    return exit_ok;
  }
  auto removed = (*staging)->remove(*removal);
  if (!removed) {
    fmt::print(stderr, "queue-manage: error: {}; nothing was removed\n", removed.message());
    return exit_attention;
  }
  return report(*removed, session, options);
}

int run_list(Session& session, const Options& options)
{
  const auto& repository = find_repository(session.config, options.repository, "--repository");
  const auto dists = chosen_dists(repository, options.dist);
  std::optional<std::pair<std::string, std::string>> wanted;
  if (options.arguments.size() > 1) {
    wanted = source_and_version(options, "list");
  }
  // A repository queue-manage never ran for holds nothing; listing it
  // creates no database.
  const auto path = session.config.state_dir / "repo" / (repository.name + ".sqlite");
  if (auto present = util::stat_no_follow(path); present && !*present) {
    if (wanted) {
      fmt::print(stderr, "queue-manage: error: {} holds no packages yet ({} does not exist)\n",
                 repository.name, path.string());
      return exit_attention;
    }
    print_members({});
    return exit_ok;
  }
  auto catalog = repo::Catalog::open(path.string());
  if (!catalog) {
    fmt::print(stderr, "queue-manage: error: {}\n", catalog.message());
    return exit_attention;
  }
  std::vector<repo::Member> shown;
  if (wanted) {
    repo::Retention retention(repository, *catalog, repository.staging_dir, session.clock,
                              *session.log);
    auto found = retention.find_removal(wanted->first, wanted->second, dists);
    if (!found) {
      fmt::print(stderr, "queue-manage: error: {}\n", found.message());
      return exit_attention;
    }
    shown = std::move(found->members);
  } else {
    for (const auto& dist : dists) {
      auto members = catalog->members(dist);
      if (!members) {
        fmt::print(stderr, "queue-manage: error: {}\n", members.message());
        return exit_attention;
      }
      shown.insert(shown.end(), members->begin(), members->end());
    }
  }
  print_members(shown);
  return exit_ok;
}

} // namespace

int main(int argc, char** argv)
{
  try {
    if (auto answered = util::answer_help_or_version(
          argc, argv, usage_text, fmt::format("queue-manage (buildme) {}", BUILDME_VERSION))) {
      return *answered;
    }
    const Options options = parse_options(argc, argv);
    auto config = config::load_config(options.config_path);
    if (!config) {
      fmt::print(stderr, "queue-manage: error: {}\n", config.message());
      return exit_usage;
    }
    Session session;
    session.config = std::move(*config);
    session.log = std::make_unique<util::Log>(stdout, session.clock);
    session.log->set_verbose(options.verbose);
    if (!session.config.log_file.empty()) {
      (void)session.log->open_file(session.config.log_file);
    }
    const std::string command = options.arguments.empty() ? "" : options.arguments.front();
    if (options.dry_run && !command.empty() && command != "remove") {
      throw UsageError{"--dry-run is for a run (no command) and for remove"};
    }
    if (command.empty() && options.dry_run) {
      return run_checks(session, options);
    }
    if (command.empty()) {
      return run_queue(session, options, false);
    }
    if (command == "regenerate" && options.arguments.size() == 1) {
      return run_queue(session, options, true);
    }
    if (command == "promote") {
      return run_promote(session, options);
    }
    if (command == "remove") {
      return run_remove(session, options);
    }
    if (command == "list") {
      return run_list(session, options);
    }
    throw UsageError{fmt::format("unknown command {}", util::printable(command))};
  } catch (const UsageError& usage) {
    fmt::print(stderr, "queue-manage: {}\nTry 'queue-manage --help'.\n", usage.message);
    return exit_usage;
  } catch (const std::exception& unexpected) {
    fmt::print(stderr, "queue-manage: error: {}\n", unexpected.what());
    return exit_attention;
  }
}

} // namespace buildme::queue_manage
