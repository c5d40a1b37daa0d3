#include "app.hpp"

#include "builder/dispatch.hpp"
#include "builder/environment.hpp"
#include "builder/health.hpp"
#include "builder/preflight.hpp"
#include "builder/schroot.hpp"
#include "builder/slots.hpp"
#include "builder/waiting.hpp"
#include "builder/worker.hpp"
#include "config/config.hpp"
#include "history/history.hpp"
#include "intake/intake.hpp"
#include "intake/uploaders.hpp"
#include "debian/verify.hpp"
#include "jobs/reflect.hpp"
#include "jobs/state_dir.hpp"
#include "jobs/transitions.hpp"
#include "mail/notify.hpp"
#include "report/report.hpp"
#include "util/cli.hpp"
#include "util/clock.hpp"
#include "util/fs.hpp"
#include "util/lock.hpp"
#include "util/log.hpp"
#include "util/process.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <iterator>
#include <csignal>
#include <cstdio>
#include <map>
#include <set>
#include <optional>
#include <memory>
#include <variant>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace buildme::app {

namespace {

using util::exit_attention; // also: a bad upload, for check
using util::exit_ok;
using util::exit_usage;

constexpr std::string_view usage_text =
  R"(Usage: buildme [OPTIONS]              run one tick: take uploads in, start builds
       buildme check FILE.dsc|FILE.changes   verify one upload where it lies
       buildme list [--state STATE[,STATE...]] [--product NAME] [--source NAME]
                                    jobs, newest last, with their builds
       buildme show JOB             one job: files, builds, attempts, log
       buildme hosts                builder slots and what each is building
       buildme cancel JOB           stop a job's builds (queued or running)
       buildme retry JOB            build a job's failed builds again
       buildme env list             the build environments and their state
       buildme env update [PRODUCT[/ARCH]] [--builder NAME]
                                    make the build environments again now
       buildme env schroot [--builder NAME] [--install [--root DIR]]
                                    the schroot set-up of the builders with
                                    engine = schroot: printed, or written
                                    (as root) to /etc/schroot

A tick first takes new uploads from the incoming folder of every product in
the config. Each upload (a .changes with its files, or a lone .dsc with its
files) is verified against its listings: every file present, a regular file,
with the listed size and every listed checksum; names and versions valid; not
a version already accepted. It is ACCEPTED (moved into a new job under
state_dir), REJECTED (moved to INCOMING/rejected/ with NAME.reason beside it;
nothing there is ever overwritten) or left WAITING (still arriving: younger
than grace_period).

Then it dispatches: every free builder slot whose arches fit takes the oldest
queued build (priority.txt uploads first). Each build runs in its own worker
process that holds the slot until it ends: it sends the sources and
buildme-build to the builder (SSH, or this machine for host = local), runs the
build with build_timeout and idle_timeout, brings back the log and the .debs
into result_dir/JOB/ARCH/, and puts the .debs and the sources into repo_queue.
A builder that cannot be reached or is lost mid-build gives the build to
another slot, up to max_attempts; a failed build is not retried.

A product with base_suite set builds in a clean environment: every build
runs in a fresh copy of a base made with mmdebstrap from base_mirror and
base_suite (one per builder, product and arch, kept on the builder in
env_dir), with sbuild, which installs its Build-Depends. A tick makes a
missing base (or one older than env_max_age) in the background while the
builds that need it wait; 'buildme env update' makes them now, showing the
progress. A builder with engine = schroot runs sbuild's schroot backend on
chroots that root sets up once with 'buildme env schroot --install' (about
half the overhead a build); the bases must then be made by root.

Options:
  --config FILE   configuration file (default /etc/buildme.conf)
  --dry-run       check and report, move nothing: the folders a tick writes
                  (writable by this account, or made where they are
                  missing), every builder slot (identity and known_hosts
                  readable, connection and host key, login, work folder,
                  build tools), the mail server (login, no mail sent); one
                  FAULT line for each, with its fix, and exit 1; then what
                  the intake would do with each upload
  --verbose       say more about each step
  --wait          if another buildme is running, wait for it instead of
                  exiting at once (cron overlap exits 0 without --wait)
  --foreground    wait for the builds this tick starts (by hand, the demo)
  --intake-only   take uploads in, start no builds (builders down for
                  maintenance)
  --builder NAME  env update, env schroot: only this builder's
  --install       env schroot: write the files (as root) instead of printing
  --root DIR      env schroot --install: below DIR instead of / (to copy to
                  an SSH builder's /)
  --state STATE   list: only jobs in these states (comma-separated: queued,
                  building, held, built, failed, cancelled)
  --product NAME  list: only jobs of this product
  --source NAME   list: only jobs of this source package
  --help          show this help
  --version       show the version

check verifies without moving anything and without a grace period:
exit 0 = good, 1 = bad (the reason is printed), 2 = usage or config error.
It also says what the signature rules of the product whose incoming folder
holds the file (upload_keyring, upload_acl) make of its signature.

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
  bool foreground = false;
  bool intake_only = false;
  std::string builder;                               // env update --builder
  bool install = false;                              // env schroot --install
  std::string root = "/";                            // env schroot --root
  std::optional<std::string> state, product, source; // list's filters
  std::vector<std::string> arguments;                // the subcommand and its arguments
};

struct UsageError
{
  std::string message;
};

Options parse_options(int argc, char** argv)
{
  auto line = util::parse_command_line(argc, argv,
                                       {{"config", 'c', true},
                                        {"dry-run", 'n'},
                                        {"verbose", 'v'},
                                        {"wait"},
                                        {"foreground"},
                                        {"intake-only"},
                                        {"builder", 0, true},
                                        {"install"},
                                        {"root", 0, true},
                                        {"state", 0, true},
                                        {"product", 0, true},
                                        {"source", 0, true}});
  if (!line) {
    throw UsageError{line.message()};
  }
  Options options;
  options.config_path = line->value("config").value_or(options.config_path);
  options.dry_run = line->has("dry-run");
  options.verbose = line->has("verbose");
  options.wait = line->has("wait");
  options.foreground = line->has("foreground");
  options.intake_only = line->has("intake-only");
  options.builder = line->value("builder").value_or("");
  options.install = line->has("install");
  options.root = line->value("root").value_or(options.root);
  const bool schroot =
    line->arguments.size() >= 2 && line->arguments[0] == "env" && line->arguments[1] == "schroot";
  if ((options.install || line->has("root")) && !schroot) {
    throw UsageError{"--install and --root are for env schroot"};
  }
  if (line->has("root") && !options.install) {
    throw UsageError{"--root DIR is where --install writes: give both"};
  }
  if (options.root.empty() || !options.root.starts_with('/')) {
    throw UsageError{"--root needs an absolute folder"};
  }
  options.state = line->value("state");
  options.product = line->value("product");
  options.source = line->value("source");
  const bool filtered = options.state || options.product || options.source;
  if (filtered && (line->arguments.empty() || line->arguments.front() != "list")) {
    throw UsageError{"--state, --product and --source are for list"};
  }
  options.arguments = std::move(line->arguments);
  return options;
}

// What every command that reads the config needs.
struct Context
{
  config::Config config;
  util::SystemClock clock;
  std::unique_ptr<util::Log> log;
};

// Loads the config and opens the log; prints the error and returns the exit
// status when it cannot.
std::variant<std::unique_ptr<Context>, int> load_context(const Options& options)
{
  auto config = config::load_config(options.config_path);
  if (!config) {
    fmt::print(stderr, "buildme: error: {}\n", config.message());
    return exit_usage;
  }
  auto context = std::make_unique<Context>();
  context->config = std::move(*config);
  context->log = std::make_unique<util::Log>(stdout, context->clock);
  context->log->set_verbose(options.verbose);
  if (!context->config.log_file.empty()) {
    if (auto opened = context->log->open_file(context->config.log_file); !opened) {
      fmt::print(stderr, "buildme: error: {}\n", opened.message());
      return exit_attention;
    }
  }
  return context;
}

// buildme.lock: one tick at a time, and cancel/retry wait for it.
std::variant<util::FileLock, int> take_tick_lock(const config::Config& config, bool wait,
                                                 const Options& options, util::Log& log)
{
  jobs::StateDir state(config.state_dir);
  if (auto prepared = state.prepare(); !prepared) {
    fmt::print(stderr, "buildme: error: {}\n", prepared.message());
    return exit_attention;
  }
  auto locked = util::FileLock::acquire(state.lock_path(), wait ? util::FileLock::Mode::wait
                                                                : util::FileLock::Mode::try_once);
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
  return std::move(*locked);
}

// --dry-run: what a real tick would fail on, one line a fault, before the
// intake's own report. Returns the number of faults.
int run_preflight(const config::Config& config, const Options& options)
{
  const auto folders = builder::check_tick_folders(config);
  const auto builders =
    options.intake_only ? std::vector<std::string>() : builder::check_builders(config);
  std::vector<std::string> mail;
  if (config.mail) {
    auto mailer = mail::make_smtp_mailer(*config.mail);
    if (auto checked = mailer ? (*mailer)->check() : Status(mailer.error()); !checked) {
      mail.push_back(fmt::format("[mail]: {}", checked.message()));
    }
  }
  for (const std::vector<std::string>* faults : {&folders, &builders, &std::as_const(mail)}) {
    for (const auto& fault : *faults) {
      fmt::print("FAULT: {}\n", fault);
    }
  }
  const auto count = [](const std::vector<std::string>& faults) {
    return faults.empty()       ? std::string("good")
           : faults.size() == 1 ? std::string("1 FAULT")
                                : fmt::format("{} FAULTS", faults.size());
  };
  fmt::print("dry run: folders {}, builders {}, mail {}\n", count(folders),
             options.intake_only ? "not checked (--intake-only)" : count(builders),
             config.mail ? count(mail) : "not configured");
  return static_cast<int>(folders.size() + builders.size() + mail.size());
}

int run_tick(const Options& options)
{
  if (!options.arguments.empty()) {
    throw UsageError{fmt::format("unknown command {}", util::printable(options.arguments[0]))};
  }
  auto loaded = load_context(options);
  if (auto* status = std::get_if<int>(&loaded)) {
    return *status;
  }
  Context& context = *std::get<0>(loaded);
  util::Log& log = *context.log;

  util::FileLock lock;
  if (!options.dry_run) {
    auto taken = take_tick_lock(context.config, options.wait, options, log);
    if (auto* status = std::get_if<int>(&taken)) {
      return *status;
    }
    lock = std::move(std::get<0>(taken));
  }

  int faults = 0;
  if (options.dry_run) {
    faults = run_preflight(context.config, options);
  }

  std::optional<mail::Outbox> outbox;
  if (context.config.mail && !options.dry_run) {
    outbox.emplace(context.config.state_dir, context.clock);
  }
  intake::IntakeOptions intake_options;
  intake_options.dry_run = options.dry_run;
  intake_options.settle_time = context.config.settle_time;
  if (outbox) {
    intake_options.on_reject = [&](const intake::RejectNotice& reject) {
      mail::notify(*context.config.mail, *outbox,
                   {"REJECTED", reject.source.empty() ? reject.control : reject.source,
                    reject.version, reject.product, "", 0, reject.uploader, reject.reason,
                    reject.reason_text},
                   log);
    };
  }
  const auto intake = intake::run_intake(context.config, intake_options, context.clock, log);
  if (!intake.stopped.empty()) {
    fmt::print(stderr, "buildme: error: {}\n", intake.stopped);
    return exit_usage;
  }

  builder::DispatchSummary dispatch;
  if (!options.dry_run && !options.intake_only) {
    auto program = util::self_executable();
    if (!program) {
      fmt::print(stderr, "buildme: error: {}\n", program.message());
      return exit_attention;
    }
    builder::DispatchOptions dispatch_options;
    dispatch_options.foreground = options.foreground;
    dispatch_options.program = *program;
    dispatch_options.config_path = std::filesystem::absolute(options.config_path).string();
    dispatch = builder::run_dispatch(context.config, dispatch_options, context.clock, log);
  }
  int failed_workers = 0;
  if (!dispatch.children.empty()) {
    // The builds are claimed: the next tick may run while they go on.
    lock.release();
    failed_workers = builder::wait_workers(dispatch.children);
  }
  if (!options.dry_run) {
    // The status site follows every tick; it never fails one.
    report::report_after_tick(context.config, context.clock, log, outbox ? &*outbox : nullptr);
  }
  if (outbox) {
    // Mail waits in the outbox until the server takes it: a server that is
    // down never holds up intake or builds.
    auto mailer = mail::make_smtp_mailer(*context.config.mail);
    if (mailer) {
      outbox->flush(**mailer, log);
    } else {
      log.verdict("ERROR", util::Log::Tone::bad, mailer.message());
    }
  }
  if (options.verbose) {
    log.info(fmt::format("intake: {} accepted, {} rejected, {} waiting, {} held, {} orphans "
                         "set aside; dispatch: {} started, {} waiting, {} requeued",
                         intake.accepted, intake.rejected, intake.waiting, intake.held,
                         intake.orphans, dispatch.started, dispatch.waiting, dispatch.requeued));
  }
  return faults + intake.errors + intake.held + dispatch.errors + failed_workers > 0
           ? exit_attention
           : exit_ok;
}

long job_number(const Options& options, std::string_view command)
{
  if (options.arguments.size() != 2) {
    throw UsageError{fmt::format("{} needs exactly one JOB number", command)};
  }
  const std::string& text = options.arguments[1];
  long number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size() || number <= 0) {
    throw UsageError{fmt::format("'{}' is not a job number", util::printable(text))};
  }
  return number;
}

int run_worker_command(const Options& options)
{
  if (options.arguments.size() != 4) {
    throw UsageError{"worker needs JOB ARCH SLOT (it is started by buildme itself)"};
  }
  auto loaded = load_context(options);
  if (auto* status = std::get_if<int>(&loaded)) {
    return *status;
  }
  Context& context = *std::get<0>(loaded);
  Options job_only = options;
  job_only.arguments.resize(2);
  return builder::run_worker(context.config, job_number(job_only, "worker"), options.arguments[2],
                             options.arguments[3], *context.log);
}

std::string builds_summary(const std::filesystem::path& job_dir)
{
  auto builds = jobs::load_builds(job_dir);
  if (!builds) {
    return "?";
  }
  std::vector<std::string> parts;
  for (const auto& record : *builds) {
    parts.push_back(record.arch + ":" + std::string(jobs::to_string(record.state)));
  }
  return util::join(parts, " ");
}

std::int64_t now_seconds()
{
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

// list's filters from the command line; a product neither the config nor
// any job knows is a usage error that names the products.
jobs::JobFilter list_filter(const Options& options, const config::Config& config,
                            const std::vector<jobs::Job>& all)
{
  jobs::JobFilter filter;
  if (options.state) {
    auto states = jobs::JobFilter::parse_states(*options.state);
    if (!states) {
      throw UsageError{fmt::format("--state: {}", states.message())};
    }
    filter.states = std::move(*states);
  }
  filter.product = options.product.value_or("");
  filter.source = options.source.value_or("");
  if (options.product && !config.product(filter.product) &&
      std::none_of(all.begin(), all.end(),
                   [&](const jobs::Job& job) { return job.product == filter.product; })) {
    std::vector<std::string> known;
    for (const auto& product : config.products) {
      known.push_back(product.name);
    }
    throw UsageError{fmt::format("--product: no product {} in {} (products: {})",
                                 util::printable(filter.product), config.path,
                                 util::join(known, ", "))};
  }
  return filter;
}

int run_list(const Options& options)
{
  if (options.arguments.size() != 1) {
    throw UsageError{"list takes no arguments (filters: --state, --product, --source)"};
  }
  auto loaded = load_context(options);
  if (auto* status = std::get_if<int>(&loaded)) {
    return *status;
  }
  Context& context = *std::get<0>(loaded);
  jobs::StateDir state(context.config.state_dir);
  auto all = state.list_jobs();
  if (!all) {
    fmt::print(stderr, "buildme: error: {}\n", all.message());
    return exit_attention;
  }
  const jobs::JobFilter filter = list_filter(options, context.config, *all);
  std::vector<jobs::Job> shown;
  std::copy_if(all->begin(), all->end(), std::back_inserter(shown),
               [&](const jobs::Job& job) { return filter.matches(job); });
  // Why each waiting build waits, as the dispatcher and the status site say
  // (the slots every job holds, shown or not).
  std::set<std::string> busy;
  for (const auto& job : *all) {
    auto builds = jobs::load_builds(state.job_dir(job.number));
    for (const auto& record : builds ? *builds : std::vector<jobs::Build>{}) {
      if (record.state == jobs::BuildState::building) {
        busy.insert(record.slot);
      }
    }
  }
  const auto available =
    builder::availability(context.config, std::move(busy), now_seconds(), *context.log);
  fmt::print("{:>5}  {:<12} {:<32} {:<10} {}\n", "JOB", "PRODUCT", "SOURCE VERSION", "STATE",
             "BUILDS");
  for (const auto& job : shown) {
    fmt::print("{:>5}  {:<12} {:<32} {:<10} {}\n", job.number, job.product,
               job.source + " " + job.version, jobs::to_string(job.state),
               builds_summary(state.job_dir(job.number)));
    auto builds = jobs::is_open(job.state) && job.state != jobs::JobState::held
                    ? jobs::load_builds(state.job_dir(job.number))
                    : Result<std::vector<jobs::Build>>(std::vector<jobs::Build>{});
    for (const auto& record : builds ? *builds : std::vector<jobs::Build>{}) {
      if (record.state == jobs::BuildState::queued || record.state == jobs::BuildState::depwait) {
        const auto why = builder::why_waiting(context.config, job, record, available);
        fmt::print("       [{}] waits ({}): {}\n", record.arch, builder::to_string(why.kind),
                   util::printable(why.text));
      }
    }
    if (job.state == jobs::JobState::held) {
      // Why it waits and what ends the wait, for the operator who lists.
      fmt::print("       held: {}\n       then: buildme retry {} (or remove {})\n",
                 util::printable(job.reason), job.number, state.job_dir(job.number).string());
    }
  }
  return exit_ok;
}

std::string format_time(std::int64_t seconds)
{
  if (seconds == 0) {
    return "-";
  }
  return util::format_local_time(
    std::chrono::system_clock::time_point(std::chrono::seconds(seconds)));
}

int run_show(const Options& options)
{
  const long number = job_number(options, "show");
  auto loaded = load_context(options);
  if (auto* status = std::get_if<int>(&loaded)) {
    return *status;
  }
  Context& context = *std::get<0>(loaded);
  jobs::StateDir state(context.config.state_dir);
  const auto job_dir = state.job_dir(number);
  auto job = jobs::load_job(job_dir);
  if (!job) {
    fmt::print(stderr, "buildme: error: no job {} ({})\n", number, job.message());
    return exit_attention;
  }
  fmt::print("Job {}: {} {} for {}\n", job->number, job->source, job->version, job->product);
  fmt::print("State:    {}{}\n", jobs::to_string(job->state),
             job->reason.empty() ? "" : " (" + util::printable(job->reason) + ")");
  if (job->state == jobs::JobState::held) {
    fmt::print("          held for a person: 'buildme retry {}' queues it again\n", number);
  }
  fmt::print("Uploader: {}\n", util::printable(job->uploader));
  fmt::print("Signed:   {}\n",
             job->signed_by.empty() ? "no (taken unsigned)" : "by key " + job->signed_by);
  fmt::print("Accepted: {}{}\n", format_time(job->accepted_at), job->priority ? " (priority)" : "");
  fmt::print("Upload:   {}\n", (job_dir / "upload").string());
  for (const auto& name : job->files) {
    fmt::print("          {}\n", name);
  }
  const config::Product* product = context.config.product(job->product);
  auto builds = jobs::load_builds(job_dir);
  if (builds) {
    for (const auto& record : *builds) {
      fmt::print("Build [{}]: {}, attempt {}{}\n  {}\n", record.arch, jobs::to_string(record.state),
                 record.attempts, record.slot.empty() ? "" : " on " + record.slot, record.reason);
      if (product) {
        const auto dir = product->result_dir / std::to_string(number) / record.arch;
        fmt::print("  log: {}\n", (dir / "build.log").string());
        if (auto summary = util::read_file(dir / "summary.log", 1024 * 1024)) {
          fmt::print("  last lines of the log:\n{}", *summary);
        }
      }
    }
  }
  auto history = history::History::open((context.config.state_dir / "history.sqlite").string());
  if (history) {
    auto attempts = history->attempts(number);
    if (attempts && !attempts->empty()) {
      fmt::print("Attempts:\n");
      for (const auto& attempt : *attempts) {
        fmt::print("  [{}] #{} on {}: {} .. {}: {} {}\n", attempt.arch, attempt.attempt,
                   attempt.slot, format_time(attempt.started_at), format_time(attempt.finished_at),
                   attempt.result.empty() ? "running" : attempt.result, attempt.reason);
        if (product) {
          // The worker keeps an earlier attempt's log as build.log.N.
          const auto log = product->result_dir / std::to_string(number) / attempt.arch /
                           fmt::format("build.log.{}", attempt.attempt);
          if (auto kept = util::stat_no_follow(log); kept && *kept) {
            fmt::print("      log: {}\n", log.string());
          }
        }
      }
    }
  }
  return exit_ok;
}

bool env_being_made(const builder::EnvStore& store, const builder::EnvTarget& target)
{
  auto lock = util::FileLock::acquire(
    store.lock_path(target.builder->name, target.product->name, target.arch),
    util::FileLock::Mode::try_once);
  return lock && !lock->locked();
}

int run_hosts(const Options& options)
{
  if (options.arguments.size() != 1) {
    throw UsageError{"hosts takes no arguments"};
  }
  auto loaded = load_context(options);
  if (auto* status = std::get_if<int>(&loaded)) {
    return *status;
  }
  Context& context = *std::get<0>(loaded);
  jobs::StateDir state(context.config.state_dir);
  // What each slot runs, from the build records.
  std::map<std::string, std::string> running;
  if (auto jobs = state.list_jobs()) {
    for (const auto& job : *jobs) {
      if (job.state != jobs::JobState::building) {
        continue;
      }
      auto builds = jobs::load_builds(state.job_dir(job.number));
      for (const auto& record : builds ? *builds : std::vector<jobs::Build>{}) {
        if (record.state == jobs::BuildState::building) {
          running[record.slot] =
            fmt::format("job {} {} {} [{}] since {}", job.number, job.source, job.version,
                        record.arch, format_time(record.started_at));
        }
      }
    }
  }
  builder::HealthStore health(context.config.state_dir);
  for (const auto& slot : builder::all_slots(context.config)) {
    auto arches = config::builder_arches(*slot.builder);
    auto lock = util::FileLock::acquire(slot.lock_path(context.config.state_dir),
                                        util::FileLock::Mode::try_once);
    const bool busy = lock && !lock->locked();
    std::string what = busy ? (running.count(slot.id()) ? running[slot.id()] : "busy") : "free";
    auto fitness = health.load(slot.builder->name);
    const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    if (!fitness) {
      what += fmt::format(" ({})", fitness.message());
    } else if (fitness->set_aside(now)) {
      what = fmt::format("SET ASIDE until {} after {} fault(s): {}",
                         format_time(fitness->set_aside_until), fitness->faults,
                         util::printable(fitness->reason));
    }
    fmt::print("{:<32} {:<16} {}\n", slot.describe(), arches ? util::join(*arches, " ") : "?",
               what);
  }
  // The build environments being made, or that could not be made.
  builder::EnvStore envs(context.config.state_dir);
  if (auto targets = builder::wanted_envs(context.config)) {
    for (const auto& target : *targets) {
      auto env = envs.load(target.builder->name, target.product->name, target.arch);
      if (!env) {
        continue;
      }
      const std::string label =
        fmt::format("env {}/{} on {}", env->product, env->arch, env->builder);
      if (env_being_made(envs, target)) {
        fmt::print("{:<49} making since {} (log: {})\n", label, format_time(env->started_at),
                   envs.log_path(env->builder, env->product, env->arch).string());
      } else if (env->state == builder::EnvState::failed) {
        fmt::print("{:<49} FAILED {}: {}\n", label, format_time(env->failed_at),
                   util::printable(env->reason));
      } else if (env->made_at == 0) {
        fmt::print("{:<49} missing (the next tick makes it)\n", label);
      }
    }
  }
  return exit_ok;
}

// What cancel or retry changed, into the history (which follows the records).
void reflect_in_history(const config::Config& config, const std::filesystem::path& job_dir,
                        util::Log& log)
{
  auto history = history::History::open((config.state_dir / "history.sqlite").string());
  if (!history) {
    log.verdict("ERROR", util::Log::Tone::bad, history.message());
    return;
  }
  const auto slots = builder::all_slots(config);
  if (auto reflected = jobs::reflect(*history, job_dir, now_seconds(), builder::slot_names(slots));
      !reflected) {
    log.verdict("ERROR", util::Log::Tone::bad, reflected.message());
  }
}

// cancel and retry: the job, read with buildme.lock held, so that no tick
// changes it meanwhile.
int with_locked_job(
  const Options& options, std::string_view verb,
  const std::function<int(Context&, const std::filesystem::path&, const jobs::Job&)>& change)
{
  const long number = job_number(options, verb);
  auto loaded = load_context(options);
  if (auto* status = std::get_if<int>(&loaded)) {
    return *status;
  }
  Context& context = *std::get<0>(loaded);
  auto taken = take_tick_lock(context.config, true, options, *context.log);
  if (auto* status = std::get_if<int>(&taken)) {
    return *status;
  }
  const auto job_dir = jobs::StateDir(context.config.state_dir).job_dir(number);
  auto job = jobs::load_job(job_dir);
  if (!job) {
    fmt::print(stderr, "buildme: error: no job {} ({})\n", number, job.message());
    return exit_attention;
  }
  return change(context, job_dir, *job);
}

int run_cancel(const Options& options)
{
  return with_locked_job(
    options, "cancel",
    [&](Context& context, const std::filesystem::path& job_dir, const jobs::Job& job) {
      const long number = job.number;
      util::Log& log = *context.log;
      int changed = 0;
      auto queued = jobs::cancel_queued(job_dir, "cancelled by an operator before it started");
      if (!queued) {
        fmt::print(stderr, "buildme: error: {}\n", queued.message());
        return exit_attention;
      }
      for (const auto& arch : *queued) {
        log.info(fmt::format("job {} [{}]: cancelled before it started", number, arch));
        ++changed;
      }
      auto builds = jobs::load_builds(job_dir);
      if (!builds) {
        fmt::print(stderr, "buildme: error: {}\n", builds.message());
        return exit_attention;
      }
      const auto slots = builder::all_slots(context.config);
      for (auto& record : *builds) {
        if (record.state != jobs::BuildState::building) {
          continue;
        }
        const builder::Slot* slot = builder::find_slot(slots, record.slot);
        auto lock = slot ? util::FileLock::acquire(slot->lock_path(context.config.state_dir),
                                                   util::FileLock::Mode::try_once)
                         : Result<util::FileLock>(util::FileLock());
        if (lock && !lock->locked() && record.pid > 0) {
          // The worker stops the build on the builder and records "cancelled".
          ::kill(static_cast<pid_t>(record.pid), SIGTERM);
          log.info(fmt::format("job {} [{}]: asked the worker (pid {}) to stop the build", number,
                               record.arch, record.pid));
          ++changed;
          continue;
        }
        if (auto cancelled = jobs::cancel_orphan(
              job_dir, record, "cancelled by an operator (its worker was gone)", now_seconds());
            !cancelled) {
          fmt::print(stderr, "buildme: error: {}\n", cancelled.message());
          return exit_attention;
        }
        log.info(fmt::format("job {} [{}]: {}", number, record.arch, record.reason));
        ++changed;
      }
      if (auto updated = jobs::update_job_state(job_dir); !updated) {
        log.verdict("ERROR", util::Log::Tone::bad, updated.message());
      }
      reflect_in_history(context.config, job_dir, log);
      if (changed == 0) {
        fmt::print(stderr, "buildme: job {} has nothing to cancel (it is {})\n", number,
                   jobs::to_string(job.state));
        return exit_attention;
      }
      return exit_ok;
    });
}

int run_retry(const Options& options)
{
  return with_locked_job(
    options, "retry",
    [&](Context& context, const std::filesystem::path& job_dir, const jobs::Job& job) {
      const long number = job.number;
      util::Log& log = *context.log;
      if (job.state == jobs::JobState::held) {
        // Held because its files did not verify: they must now, signature
        // included.
        std::unique_ptr<intake::Uploaders> uploaders;
        if (const config::Product* product = context.config.product(job.product)) {
          auto loaded = intake::load_uploaders(context.config, *product, context.clock);
          if (!loaded) {
            fmt::print(stderr, "buildme: error: {}\n", loaded.message());
            return exit_usage;
          }
          uploaders = std::move(*loaded);
        }
        debian::VerifyOptions verify_options{context.clock.now(), std::chrono::seconds(0)};
        verify_options.signatures = uploaders.get();
        verify_options.job = number;
        const auto again =
          debian::verify_upload(debian::Upload{job_dir / "upload", job.upload}, verify_options);
        if (again.verdict != debian::Verdict::accepted) {
          fmt::print(stderr,
                     "buildme: job {} stays held: its upload in {} still does not verify ({}); "
                     "fix the files there or remove the job\n",
                     number, (job_dir / "upload").string(), util::printable(again.reason));
          return exit_attention;
        }
      }
      auto changed = jobs::retry(job_dir);
      if (!changed) {
        fmt::print(stderr, "buildme: error: {}\n", changed.message());
        return exit_attention;
      }
      for (const auto& line : *changed) {
        log.info(fmt::format("job {} {}", number, line));
      }
      reflect_in_history(context.config, job_dir, log);
      if (changed->empty()) {
        fmt::print(stderr, "buildme: job {} has nothing to retry (it is {})\n", number,
                   jobs::to_string(job.state));
        return exit_attention;
      }
      return exit_ok;
    });
}

// What check says of the signature, by the rules a tick would apply.
std::string signature_verdict(const debian::Verification& result,
                              const debian::UploadSignatures* signatures, std::string_view rules)
{
  if (!signatures) {
    return fmt::format("not checked: {}", rules);
  }
  if (!result.signature) {
    return fmt::format("not reached ({})", rules);
  }
  const auto& check = *result.signature;
  if (!check.refused.empty()) {
    return fmt::format("BAD ({}): {}", rules, util::printable(check.refused));
  }
  return fmt::format("GOOD ({}): signed by key {} ({})", rules, check.signer->fingerprint,
                     util::printable(check.signer->user_id));
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
  debian::Upload upload{file.parent_path().empty() ? "." : file.parent_path(), name};
  util::SystemClock clock;
  debian::VerifyOptions verify_options{clock.now(), std::chrono::seconds(0)};
  std::unique_ptr<intake::Uploaders> uploaders;
  std::string rules = fmt::format("no {}, so no upload_keyring", options.config_path);
  // The signature rules of the product whose incoming folder holds the file
  // (else of the first product); without the default config, none.
  std::error_code ignored;
  if (options.config_path != config::default_config_path ||
      std::filesystem::exists(options.config_path, ignored)) {
    auto loaded = load_context(options);
    if (auto* status = std::get_if<int>(&loaded)) {
      return *status;
    }
    const config::Config& config = std::get<0>(loaded)->config;
    const config::Product* product = &config.products.front();
    for (const auto& candidate : config.products) {
      if (std::filesystem::equivalent(candidate.incoming_dir, upload.dir, ignored)) {
        product = &candidate;
      }
    }
    auto loaded_uploaders = intake::load_uploaders(config, *product, clock);
    if (!loaded_uploaders) {
      fmt::print(stderr, "buildme: error: {}\n", loaded_uploaders.message());
      return exit_usage;
    }
    uploaders = std::move(*loaded_uploaders);
    rules = uploaders ? "product " + product->name
                      : fmt::format("product {} has no upload_keyring, so uploads are taken "
                                    "unsigned",
                                    product->name);
  }
  verify_options.signatures = uploaders.get();
  const auto result = debian::verify_upload(upload, verify_options);
  const bool good = result.verdict == debian::Verdict::accepted;
  fmt::print("{}: {}: {}\n", util::printable(file.string()), good ? "GOOD" : "BAD",
             util::printable(result.reason));
  fmt::print("  signature: {}\n", signature_verdict(result, uploaders.get(), rules));
  if (good && options.verbose) {
    fmt::print("  source {} version {}, uploader {}\n", result.source(), result.version(),
               util::printable(result.uploader()));
    for (const auto& [listed, info] : result.files) {
      fmt::print("  {} ({} bytes)\n", listed, info.size);
    }
  }
  return good ? exit_ok : exit_attention;
}

namespace fs = std::filesystem;

using util::age_text;

int run_env_list(Context& context)
{
  auto targets = builder::wanted_envs(context.config);
  if (!targets) {
    fmt::print(stderr, "buildme: error: {}\n", targets.message());
    return exit_usage;
  }
  if (targets->empty()) {
    fmt::print("No product builds in a clean environment (set base_mirror and base_suite in "
               "{}).\n",
               context.config.path);
    return exit_ok;
  }
  builder::EnvStore store(context.config.state_dir);
  const std::int64_t now = now_seconds();
  fmt::print("{:<16} {:<24} {:<10} {:<10} {}\n", "BUILDER", "PRODUCT/ARCH", "STATE", "AGE",
             "PATH / WHY");
  int status = exit_ok;
  for (const auto& target : *targets) {
    auto env = store.load(target.builder->name, target.product->name, target.arch);
    if (!env) {
      fmt::print("{:<16} {:<24} {}\n", target.builder->name,
                 target.product->name + "/" + target.arch, env.message());
      status = exit_attention;
      continue;
    }
    const bool making = env_being_made(store, target);
    std::string state = making ? "making" : std::string(builder::to_string(env->state));
    if (!making && env->state == builder::EnvState::making) {
      state = "stopped"; // its maker died: the next tick makes it again
    }
    const std::string age = env->made_at ? age_text(now - env->made_at) : "-";
    std::string detail = env->made_at ? env->path : std::string();
    if (making) {
      detail = fmt::format("since {} ago; log: {}", age_text(now - env->started_at),
                           store.log_path(env->builder, env->product, env->arch).string());
    } else if (env->state == builder::EnvState::failed) {
      detail = fmt::format("{} (log: {})", env->reason,
                           store.log_path(env->builder, env->product, env->arch).string());
      status = exit_attention;
    } else if (env->made_at && now - env->made_at >= context.config.env_max_age.count()) {
      detail += " (older than env_max_age: made again by the next tick)";
    }
    fmt::print("{:<16} {:<24} {:<10} {:<10} {}\n", env->builder, env->name(), state, age,
               util::printable(detail));
  }
  return status;
}

int run_env_update(const Options& options, Context& context)
{
  std::string product_filter;
  std::string arch_filter;
  if (options.arguments.size() > 3) {
    throw UsageError{"env update takes at most one PRODUCT or PRODUCT/ARCH"};
  }
  if (options.arguments.size() == 3) {
    const std::string& wanted = options.arguments[2];
    const auto slash = wanted.find('/');
    product_filter = wanted.substr(0, slash);
    arch_filter = slash == std::string::npos ? "" : wanted.substr(slash + 1);
    if (!context.config.product(product_filter)) {
      throw UsageError{
        fmt::format("no product {} in {}", util::printable(product_filter), context.config.path)};
    }
  }
  if (!options.builder.empty() && !context.config.builder(options.builder)) {
    throw UsageError{
      fmt::format("no builder {} in {}", util::printable(options.builder), context.config.path)};
  }
  auto targets = builder::wanted_envs(context.config);
  if (!targets) {
    fmt::print(stderr, "buildme: error: {}\n", targets.message());
    return exit_usage;
  }
  builder::EnvStore store(context.config.state_dir);
  util::Log& log = *context.log;
  int matched = 0;
  int failed = 0;
  for (const auto& target : *targets) {
    if ((!product_filter.empty() && target.product->name != product_filter) ||
        (!arch_filter.empty() && target.arch != arch_filter) ||
        (!options.builder.empty() && target.builder->name != options.builder)) {
      continue;
    }
    ++matched;
    log.heading(fmt::format("builder {}: build environment {}/{}", target.builder->name,
                            target.product->name, target.arch));
    const fs::path lock_path =
      store.lock_path(target.builder->name, target.product->name, target.arch);
    if (auto made = util::make_dirs(lock_path.parent_path()); !made) {
      log.verdict("ERROR", util::Log::Tone::bad, made.message());
      ++failed;
      continue;
    }
    auto lock = util::FileLock::acquire(lock_path, util::FileLock::Mode::try_once);
    if (!lock || !lock->locked()) {
      log.verdict(
        "BUSY", util::Log::Tone::pending,
        fmt::format(
          "being made by another process now; its log: {}",
          store.log_path(target.builder->name, target.product->name, target.arch).string()));
      continue;
    }
    const fs::path log_path =
      store.log_path(target.builder->name, target.product->name, target.arch);
    std::FILE* file = std::fopen(log_path.c_str(), "w");
    auto made = builder::make_base_on_builder(context.config, target, context.clock,
                                              [&](std::string_view chunk) {
                                                // Progress as it comes, and the whole output kept
                                                // in the log.
                                                std::fwrite(chunk.data(), 1, chunk.size(), stdout);
                                                std::fflush(stdout);
                                                if (file) {
                                                  std::fwrite(chunk.data(), 1, chunk.size(), file);
                                                }
                                              });
    if (file) {
      std::fclose(file);
    }
    if (!made) {
      log.verdict("FAILED", util::Log::Tone::bad,
                  fmt::format("{} (log: {})", made.message(), log_path.string()));
      ++failed;
      continue;
    }
    auto env = store.load(target.builder->name, target.product->name, target.arch);
    log.verdict("MADE", util::Log::Tone::good, env ? env->path : std::string());
  }
  if (matched == 0) {
    fmt::print(stderr, "buildme: no build environment matches; 'buildme env list' shows them\n");
    return exit_attention;
  }
  return failed ? exit_attention : exit_ok;
}

// The account local builds run as: the owner of state_dir.
std::string local_build_user(const config::Config& config)
{
  struct stat info
  {};
  uid_t uid = ::geteuid();
  if (::stat(config.state_dir.c_str(), &info) == 0) {
    uid = info.st_uid;
  }
  if (const passwd* entry = ::getpwuid(uid)) {
    return entry->pw_name;
  }
  return std::to_string(uid);
}

int run_env_schroot(const Options& options, Context& context)
{
  if (options.arguments.size() != 2) {
    throw UsageError{"env schroot takes no arguments but --builder, --install and --root"};
  }
  if (!options.builder.empty()) {
    const config::Builder* builder = context.config.builder(options.builder);
    if (!builder) {
      throw UsageError{
        fmt::format("no builder {} in {}", util::printable(options.builder), context.config.path)};
    }
    if (builder->engine != config::Builder::Engine::schroot) {
      throw UsageError{fmt::format("builder {} does not have engine = schroot", builder->name)};
    }
  }
  auto files =
    builder::schroot_files(context.config, options.builder, local_build_user(context.config));
  if (!files) {
    fmt::print(stderr, "buildme: error: {}\n", files.message());
    return exit_attention;
  }
  if (files->empty()) {
    fmt::print(stderr,
               "buildme: no builder in {} has engine = schroot and a product that builds "
               "in a clean environment: nothing to set up\n",
               context.config.path);
    return exit_attention;
  }
  if (!options.install) {
    for (const auto& file : *files) {
      fmt::print("### {}{}\n{}\n", file.path.string(), file.executable ? " (mode 0755)" : "",
                 file.text);
    }
    fmt::print("### To write these files as root: buildme env schroot --install{}\n",
               options.builder.empty() ? "" : " --builder " + options.builder);
    return exit_ok;
  }
  const fs::path root = options.root;
  int failed = 0;
  for (const auto& file : *files) {
    const fs::path target = root / file.path.relative_path();
    Status written = util::make_dirs(target.parent_path());
    if (written) {
      written = util::write_file_atomic(target, file.text, file.executable ? 0755 : 0644);
    }
    if (!written) {
      fmt::print(stderr, "buildme: error: cannot write {}: {}{}\n", target.string(),
                 written.message(), ::geteuid() == 0 ? "" : " (run it as root)");
      ++failed;
      continue;
    }
    fmt::print("wrote {}\n", target.string());
  }
  if (failed) {
    return exit_attention;
  }
  if (root == "/") {
    // What schroot now makes of each chroot, as the build user will ask.
    for (const auto& file : *files) {
      if (file.path.parent_path().filename() != "chroot.d") {
        continue;
      }
      const std::string name = file.path.filename().string();
      util::ProcessOptions merged;
      merged.merge_stderr = true;
      auto info = util::run_process({"schroot", "--info", "--chroot", "chroot:" + name}, merged);
      if (!info || info->exit_code != 0) {
        fmt::print(stderr, "buildme: error: schroot does not take the chroot {}: {}\n", name,
                   info ? util::printable(util::trim(info->out)) : info.message());
        ++failed;
      } else {
        fmt::print("schroot knows the chroot {}\n", name);
      }
    }
  }
  return failed ? exit_attention : exit_ok;
}

int run_env(const Options& options)
{
  if (options.arguments.size() < 2 ||
      (options.arguments[1] != "list" && options.arguments[1] != "update" &&
       options.arguments[1] != "schroot")) {
    throw UsageError{"env needs 'list', 'update [PRODUCT[/ARCH]] [--builder NAME]' or 'schroot "
                     "[--builder NAME] [--install [--root DIR]]'"};
  }
  if (options.arguments[1] == "list" && options.arguments.size() != 2) {
    throw UsageError{"env list takes no arguments"};
  }
  auto loaded = load_context(options);
  if (auto* status = std::get_if<int>(&loaded)) {
    return *status;
  }
  Context& context = *std::get<0>(loaded);
  if (options.arguments[1] == "schroot") {
    return run_env_schroot(options, context);
  }
  return options.arguments[1] == "list" ? run_env_list(context) : run_env_update(options, context);
}

// Started by a tick with the environment's lock as fd 3 (held until exit)
// and its output appended to the environment's log.
int run_env_make(const Options& options)
{
  if (options.arguments.size() != 4) {
    throw UsageError{"env-make needs BUILDER PRODUCT ARCH (it is started by buildme itself)"};
  }
  auto loaded = load_context(options);
  if (auto* status = std::get_if<int>(&loaded)) {
    return *status;
  }
  Context& context = *std::get<0>(loaded);
  const config::Builder* builder = context.config.builder(options.arguments[1]);
  const config::Product* product = context.config.product(options.arguments[2]);
  if (!builder || !product) {
    fmt::print(stderr, "buildme: error: no builder {} or product {} in {}\n",
               util::printable(options.arguments[1]), util::printable(options.arguments[2]),
               context.config.path);
    return exit_usage;
  }
  builder::EnvStore store(context.config.state_dir);
  std::error_code ignored;
  fs::resize_file(store.log_path(builder->name, product->name, options.arguments[3]), 0, ignored);
  auto made =
    builder::make_base_on_builder(context.config, {builder, product, options.arguments[3]},
                                  context.clock, [](std::string_view chunk) {
                                    std::fwrite(chunk.data(), 1, chunk.size(), stdout);
                                    std::fflush(stdout);
                                  });
  context.log->heading(fmt::format("builder {}: build environment {}/{}", builder->name,
                                   product->name, options.arguments[3]));
  if (!made) {
    context.log->verdict("FAILED", util::Log::Tone::bad, made.message());
    // The list hears once an episode: at the first failure in a row.
    auto env = store.load(builder->name, product->name, options.arguments[3]);
    if (env && env->failures == 1 && context.config.mail) {
      mail::Outbox outbox(context.config.state_dir, context.clock);
      mail::notify_list(
        *context.config.mail, outbox,
        fmt::format("BUILD ENVIRONMENT FAILED {} {}", builder->name, env->name()),
        fmt::format("buildme could not make the build environment {} on builder {} ({}):\n\n"
                    "  {}\n\nThe builds that need it wait in the queue and use no attempt. "
                    "buildme tries again in 10 minutes, then less often while it fails; "
                    "'buildme env list' shows its state, and its whole log is {} on the buildme "
                    "host. This list hears again only after it has been made.\n",
                    env->name(), builder->name, builder->host, util::printable(made.message()),
                    store.log_path(builder->name, product->name, options.arguments[3]).string()),
        *context.log);
    }
    return exit_attention;
  }
  context.log->verdict("MADE", util::Log::Tone::good, "ready for builds");
  return exit_ok;
}

using Command = std::function<int(const Options&)>;

const std::vector<std::pair<std::string_view, Command>>& commands()
{
  static const std::vector<std::pair<std::string_view, Command>> table = {
    {"check", run_check},       {"worker", run_worker_command},
    {"list", run_list},         {"show", run_show},
    {"hosts", run_hosts},       {"cancel", run_cancel},
    {"retry", run_retry},       {"env", run_env},
    {"env-make", run_env_make},
  };
  return table;
}

} // namespace

int main(int argc, char** argv)
{
  try {
    if (auto answered = util::answer_help_or_version(argc, argv, usage_text,
                                                     fmt::format("buildme {}", BUILDME_VERSION))) {
      return *answered;
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
