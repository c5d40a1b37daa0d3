#include "builder/worker.hpp"

#include "builder/build_status.hpp"
#include "builder/local_host.hpp"
#include "jobs/transitions.hpp"
#include "builder/slots.hpp"
#include "builder/ssh_host.hpp"
#include "debian/syntax.hpp"
#include "jobs/handover.hpp"
#include "jobs/reflect.hpp"
#include "jobs/state_dir.hpp"
#include "jobs/transitions.hpp"
#include "builder/announce.hpp"
#include "builder/environment.hpp"
#include "builder/health.hpp"
#include "builder/schroot.hpp"
#include "mail/outbox.hpp"
#include "mail/smtp.hpp"
#include "history/history.hpp"
#include "util/failpoint.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <deque>
#include <optional>
#include <unistd.h>

namespace buildme::builder {

namespace fs = std::filesystem;

namespace {

volatile std::sig_atomic_t g_cancelled = 0;

extern "C" void on_cancel_signal(int)
{
  g_cancelled = 1;
}

constexpr std::uint64_t max_result_size = 8ULL * 1024 * 1024 * 1024;
constexpr std::size_t summary_lines = 50;

std::int64_t now_seconds()
{
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

bool is_result_file(const std::string& name)
{
  return debian::check_file_name(name).ok() &&
         (debian::binary_kind(name) || name.ends_with(".changes") || name.ends_with(".buildinfo"));
}

bool is_package(const std::string& name)
{
  return debian::is_published_binary(name);
}

std::string format_duration(std::chrono::seconds duration)
{
  const auto s = duration.count();
  if (s % 3600 == 0) {
    return fmt::format("{} h", s / 3600);
  }
  if (s % 60 == 0) {
    return fmt::format("{} min", s / 60);
  }
  return fmt::format("{} s", s);
}

// The build log as it arrives: written to the file at once, the last lines
// kept for the failure summary and the status line.
class BuildLog
{
public:
  Status open(const fs::path& path)
  {
    m_file = std::fopen(path.c_str(), "we");
    if (!m_file) {
      return fail("cannot write {}: {}", path.string(), std::strerror(errno));
    }
    return {};
  }
  ~BuildLog()
  {
    if (m_file) {
      std::fclose(m_file);
    }
  }
  void write(std::string_view chunk)
  {
    if (m_file) {
      std::fwrite(chunk.data(), 1, chunk.size(), m_file);
      std::fflush(m_file);
    }
    m_tail.append(chunk);
    // Keep a bounded tail: enough for 50 lines and the status line.
    constexpr std::size_t keep = 256 * 1024;
    if (m_tail.size() > 2 * keep) {
      m_tail.erase(0, m_tail.size() - keep);
    }
  }
  void note(std::string_view line) { write(fmt::format("buildme: {}\n", line)); }
  const std::string& tail() const { return m_tail; }

  std::string last_lines(std::size_t count) const
  {
    std::size_t end = m_tail.size();
    if (end > 0 && m_tail[end - 1] == '\n') {
      --end;
    }
    std::size_t start = end;
    for (std::size_t lines = 0; start > 0; --start) {
      if (m_tail[start - 1] == '\n' && ++lines == count) {
        break;
      }
    }
    return m_tail.substr(start, end - start) + "\n";
  }

private:
  std::FILE* m_file = nullptr;
  std::string m_tail;
};

struct Outcome
{
  enum class Kind
  {
    result,
    fault, // lost after the build began: counts toward max_attempts
    unfit, // the builder could not take it: waits, no attempt used
    cancelled
  } kind = Kind::fault;
  BuildResult result = BuildResult::builder_error;
  std::string reason;
};

class Worker
{
public:
  Worker(const config::Config& config, long job, std::string arch, std::string slot_id,
         util::Log& log, const WorkerSetup& setup)
    : m_config(config), m_job_number(job), m_arch(std::move(arch)), m_slot_id(std::move(slot_id)),
      m_log(log), m_setup(setup), m_state(config.state_dir), m_slots(all_slots(config))
  {
  }

  int run();

private:
  Outcome build();
  Result<std::unique_ptr<Host>> connect();
  // Stops what an earlier build left running in `work` (noted in the log).
  Status stop_leftovers(Host& host, const std::string& work);
  // The archive's own distribution of the product, as a clean build sees
  // it: set by archive_source(), before command().
  struct ArchiveSource
  {
    std::string line;  // the apt sources line
    std::string mount; // a local builder's staging_dir, or empty
    fs::path key;      // the repository's public key here, or empty
  };
  std::optional<ArchiveSource> archive_source() const;
  std::vector<std::string> command() const;
  Outcome fetch_results(Host& host, const std::string& work);
  Status hand_over(const std::string& reason, std::int64_t now);
  void finish(const Outcome& outcome);
  Status record(const Outcome& outcome, std::int64_t now);
  // buildme-build found no base where the record says one is: the record
  // goes back to missing, so that the next tick makes it again. True when
  // that was the fault.
  bool forget_gone_base();

  const config::Config& m_config;
  long m_job_number;
  std::string m_arch;
  std::string m_slot_id;
  util::Log& m_log;
  const WorkerSetup& m_setup;
  util::SystemClock m_clock;
  jobs::StateDir m_state;
  std::vector<Slot> m_slots;
  const Slot* m_slot = nullptr;
  const config::Product* m_product = nullptr;
  fs::path m_job_dir;
  fs::path m_result_dir;
  jobs::Job m_job;
  jobs::Build m_record;
  BuildLog m_build_log;
  std::vector<std::string> m_results; // fetched file names
  std::optional<ArchiveSource> m_archive;
};

Result<std::unique_ptr<Host>> Worker::connect()
{
  if (m_setup.connect) {
    return m_setup.connect(*m_slot);
  }
  const config::Builder& builder = *m_slot->builder;
  if (builder.is_local()) {
    return make_local_host();
  }
  SshTarget target;
  target.host = builder.host;
  target.port = builder.port;
  target.user = m_slot->label;
  target.identity = builder.identity;
  target.known_hosts = builder.known_hosts;
  return connect_ssh(target);
}

bool Worker::forget_gone_base()
{
  if (m_product->build_in != config::Product::BuildIn::chroot) {
    return false;
  }
  auto arch = base_arch(*m_slot->builder, m_arch);
  if (!arch) {
    return false;
  }
  EnvStore store(m_config.state_dir);
  auto env = store.load(m_slot->builder->name, m_product->name, *arch);
  if (!env || env->state != EnvState::ready) {
    return false;
  }
  env->state = EnvState::missing;
  env->made_at = 0;
  env->reason = "gone from the builder; the next tick makes it again";
  if (auto saved = store.save(*env); !saved) {
    m_log.verdict("ERROR", util::Log::Tone::bad, saved.message());
    return false;
  }
  m_log.heading(
    fmt::format("builder {}: build environment {}", m_slot->builder->name, env->name()));
  m_log.verdict("GONE", util::Log::Tone::pending,
                fmt::format("{} was not on the builder; the next tick makes it again", env->path));
  return true;
}

std::optional<Worker::ArchiveSource> Worker::archive_source() const
{
  // The builds of a product also see its distribution in the archive, so
  // that a package can build against one built minutes ago: a local
  // builder through staging_dir, an SSH builder through the repository's
  // url. Only once queue-manage has written it.
  const config::Repository* repository = m_config.repository(m_product->repository);
  if (!repository) {
    return std::nullopt;
  }
  auto release =
    util::stat_no_follow(repository->staging_dir / "dists" / m_product->name / "Release");
  if (!release || !*release) {
    return std::nullopt;
  }
  ArchiveSource source;
  std::string url;
  if (m_slot->builder->is_local()) {
    source.mount = repository->staging_dir.string();
    url = "file:/srv/buildme-repository";
  } else if (!repository->url.empty()) {
    url = repository->url;
  } else {
    return std::nullopt;
  }
  std::string options;
  if (repository->sign_with.empty()) {
    options = "[trusted=yes] "; // the configuration says the repository is unsigned
  } else {
    source.key = repository->staging_dir / config::archive_key_name;
  }
  source.line = fmt::format("deb {}{} {} {}", options, url, m_product->name,
                            util::join(repository->components, " "));
  return source;
}

std::vector<std::string> Worker::command() const
{
  std::vector<std::string> words = m_slot->builder->build_command;
  const bool in_chroot = m_product->build_in == config::Product::BuildIn::chroot;
  std::string base;
  std::string env_arch; // the arch of the base
  if (in_chroot) {
    auto arch = base_arch(*m_slot->builder, m_arch);
    env_arch = arch ? *arch : m_arch;
    base = base_path(m_config, *m_slot->builder, m_product->name, env_arch);
  }
  if (words.empty()) {
    words = {"bash", "buildme-build", "--dsc", "{dsc}", "--arch", "{arch}"};
    if (!m_record.with_indep) {
      words.emplace_back("--arch-only");
    }
    if (m_slot->builder->jobs > 1) {
      words.insert(words.end(), {"--jobs", "{jobs}"});
    }
    if (!m_product->build_profiles.empty()) {
      words.insert(words.end(), {"--profiles", util::join(m_product->build_profiles, ",")});
    }
    if (!m_product->build_options.empty()) {
      words.insert(words.end(), {"--build-options", util::join(m_product->build_options, " ")});
    }
    if (in_chroot) {
      // The packages apt downloads are kept beside the bases, for the next
      // build in this slot. One cache per slot: apt locks its archive folder
      // and does not wait, so two builds at once cannot share one.
      const std::string bases = base.substr(0, base.rfind('/') + 1);
      words.insert(words.end(), {"--base", "{base}", "--suite", "{suite}", "--apt-cache",
                                 bases + "apt-cache/" + m_slot->id()});
      if (m_slot->builder->engine == config::Builder::Engine::schroot) {
        words.insert(words.end(),
                     {"--schroot", schroot_name(*m_slot->builder, m_product->name, env_arch)});
      }
      if (!m_slot->builder->build_tmpdir.empty()) {
        words.insert(words.end(), {"--tmpdir", m_slot->builder->build_tmpdir});
      }
      if (m_archive) {
        if (!m_archive->mount.empty()) {
          words.insert(words.end(), {"--local-repository", m_archive->mount});
        }
        words.insert(words.end(), {"--extra-repository", m_archive->line});
        if (!m_archive->key.empty()) {
          // Sent into the work folder (see build()).
          words.insert(words.end(), {"--extra-key", std::string(config::archive_key_name)});
        }
      }
    }
  }
  const std::string jobs = std::to_string(m_slot->builder->jobs);
  for (auto& word : words) {
    for (auto [key, value] : {std::pair<std::string_view, std::string_view>{"{dsc}", m_job.dsc},
                              {"{jobs}", jobs},
                              {"{arch}", m_arch},
                              {"{source}", m_job.source},
                              {"{version}", m_job.version},
                              {"{base}", base},
                              {"{suite}", m_product->base_suite}}) {
      for (std::size_t at = word.find(key); at != std::string::npos;
           at = word.find(key, at + value.size())) {
        word.replace(at, key.size(), value);
      }
    }
  }
  return words;
}

Outcome Worker::fetch_results(Host& host, const std::string& work)
{
  auto listing = host.list_dir(work + "/out");
  if (!listing) {
    return {
      Outcome::Kind::fault, BuildResult::builder_error,
      fmt::format("the build succeeded but its results cannot be listed: {}", listing.message())};
  }
  for (const auto& file : *listing) {
    if (!file.regular || !is_result_file(file.name)) {
      continue;
    }
    const fs::path local = m_result_dir / file.name;
    if (auto present = util::stat_no_follow(local); present && *present) {
      if (auto moved = util::move_no_clobber(local, local); !moved) {
        return {Outcome::Kind::fault, BuildResult::builder_error, moved.message()};
      }
    }
    if (auto fetched = host.download(work + "/out/" + file.name, local, max_result_size);
        !fetched) {
      return {Outcome::Kind::fault, BuildResult::builder_error,
              fmt::format("cannot fetch {}: {}", file.name, fetched.message())};
    }
    m_results.push_back(file.name);
  }
  if (std::none_of(m_results.begin(), m_results.end(), is_package)) {
    return {Outcome::Kind::result, BuildResult::build_failed,
            "the build reported success but produced no .deb"};
  }
  return {Outcome::Kind::result, BuildResult::success,
          fmt::format("built {}", util::join(m_results, ", "))};
}

// Steps 1 to 4 of the hand-over (jobs/handover.hpp): the build's packages
// and the job's source, as one unit, into repo_queue. An Error before the
// record says success leaves the build to be recorded as a failure; after
// it the build is built, and whoever finds it pending finishes the move.
Status Worker::hand_over(const std::string& reason, std::int64_t now)
{
  const fs::path queue = m_product->repo_queue;
  const std::string unit = jobs::unit_name(m_job_number, m_arch, m_record.attempts);
  std::vector<fs::path> files;
  for (const auto& name : m_results) {
    if (debian::is_published_binary(name)) {
      files.push_back(m_result_dir / name);
    }
  }
  for (const auto& name : m_job.files) {
    if (!name.ends_with(".changes") && !name.ends_with(".buildinfo")) {
      files.push_back(m_job_dir / "upload" / name);
    }
  }
  if (auto manifest = util::stat_no_follow(m_job_dir / jobs::digests_file); manifest && *manifest) {
    files.push_back(m_job_dir / jobs::digests_file);
  }
  if (auto assembled = jobs::assemble_unit(queue, unit, files); !assembled) {
    if (auto discarded = jobs::discard_unit(queue, unit); !discarded) {
      m_log.verdict("ERROR", util::Log::Tone::bad, discarded.message());
    }
    return assembled;
  }
  util::failpoint("worker:unit-assembled");
  TRY(jobs::begin_handover(m_job_dir, m_record, reason, now));
  util::failpoint("worker:handover-recorded");
  if (auto committed = jobs::commit_unit(queue, unit); !committed) {
    m_log.verdict("ERROR", util::Log::Tone::bad,
                  fmt::format("job {} [{}] is built, but its packages are not in {} yet (the "
                              "next tick tries again): {}",
                              m_job_number, m_arch, queue.string(), committed.message()));
    return {};
  }
  util::failpoint("worker:unit-committed");
  if (auto done = jobs::complete_handover(m_job_dir, m_record); !done) {
    m_log.verdict("ERROR", util::Log::Tone::bad, done.message());
  }
  return {};
}

// The processes an earlier build in this slot left running (its worker was
// killed, or the connection to the builder was lost mid-build, and the build
// went on): every process of this user whose current folder is the slot's
// work folder or below. SIGTERM, then SIGKILL to what is left after 5 s;
// an error if anything is left 5 s after that. One `find` a pass, so that a
// builder with thousands of processes is scanned in well under a second.
constexpr std::string_view stop_leftovers_script = R"script(dir=$1
# As the processes see it: from the login folder when relative, symlinks
# resolved (the folder itself may be gone).
case $dir in /*) ;; *) dir=$HOME/$dir ;; esac
parent=$(cd "${dir%/*}" 2>/dev/null && pwd -P) && dir=$parent/${dir##*/}
leftovers()
{
  local proc cwd
  find /proc -mindepth 2 -maxdepth 2 -name cwd -printf '%h %l\n' 2>/dev/null |
    while read -r proc cwd; do
      case $cwd in "$dir" | "$dir"/* | "$dir (deleted)") echo "${proc#/proc/}" ;; esac
    done
}
pids=$(leftovers)
[ -n "$pids" ] || exit 0
echo "stopping what an earlier build left running in $dir: pids" $pids
for signal in TERM KILL; do
  kill -$signal $pids 2>/dev/null
  SECONDS=0
  while [ "$SECONDS" -lt 5 ]; do
    sleep 0.1
    pids=$(leftovers)
    [ -n "$pids" ] || exit 0
  done
done
echo "still running after SIGKILL: pids" $pids
exit 1
)script";

Status Worker::stop_leftovers(Host& host, const std::string& work)
{
  std::string said;
  ExecOptions options;
  options.timeout = std::chrono::seconds(60);
  options.on_output = [&said](std::string_view chunk) { said += chunk; };
  auto ran = host.run({"bash", "-c", std::string(stop_leftovers_script), "stop-leftovers", work},
                      "/", options);
  if (!ran) {
    return Error{ran.error()};
  }
  if (!said.empty()) {
    m_build_log.note(std::string(util::trim(said)));
  }
  if (ran->end != ExecResult::End::exited || ran->exit_code != 0) {
    return fail("the check for leftover processes ended with {}{}", describe(ran->end),
                said.empty() ? "" : ": " + std::string(util::trim(said)));
  }
  return {};
}

Outcome Worker::build()
{
  auto host = connect();
  if (!host) {
    return {Outcome::Kind::unfit, BuildResult::builder_unfit,
            fmt::format("cannot reach {}: {}", m_slot->describe(), host.message())};
  }
  const config::Builder& builder = *m_slot->builder;
  std::string work = fmt::format("{}/{}", builder.work_dir, m_slot->id());
  if (builder.is_local() && !builder.work_dir.starts_with('/')) {
    work = (m_config.state_dir / builder.work_dir / m_slot->id()).string();
  }
  m_build_log.note(fmt::format("job {} {} {} [{}] on {}, attempt {}", m_job.number, m_job.source,
                               m_job.version, m_arch, m_slot->describe(), m_record.attempts));
  auto fault = [&](std::string why) {
    m_build_log.note(why);
    return Outcome{Outcome::Kind::fault, BuildResult::builder_error, std::move(why)};
  };
  // Before the build command runs, a fault is the builder's, not the build's.
  auto unfit = [&](std::string why) {
    m_build_log.note(why);
    return Outcome{Outcome::Kind::unfit, BuildResult::builder_unfit, std::move(why)};
  };
  if (auto stopped = stop_leftovers(**host, work); !stopped) {
    return unfit(fmt::format("cannot stop what an earlier build left running in {}: {}", work,
                             stopped.message()));
  }
  if (auto removed = (*host)->remove_tree(work); !removed) {
    return unfit(fmt::format("cannot clean {}: {}", work, removed.message()));
  }
  if (auto made = (*host)->make_dir(work); !made) {
    return unfit(fmt::format("cannot create {}: {}", work, made.message()));
  }
  auto script = m_setup.build_script ? m_setup.build_script() : find_build_script();
  if (!script) {
    return unfit(script.message());
  }
  for (const auto& name : m_job.files) {
    if (auto sent = (*host)->upload(m_job_dir / "upload" / name, work + "/" + name); !sent) {
      return unfit(fmt::format("cannot send {}: {}", name, sent.message()));
    }
  }
  if (auto sent = (*host)->upload(*script, work + "/buildme-build", 0755); !sent) {
    return unfit(fmt::format("cannot send buildme-build: {}", sent.message()));
  }
  if (m_product->build_in == config::Product::BuildIn::chroot) {
    m_archive = archive_source();
  }
  if (m_archive && !m_archive->key.empty()) {
    const std::string to = work + "/" + std::string(config::archive_key_name);
    if (auto sent = (*host)->upload(m_archive->key, to); !sent) {
      // queue-manage writes the key with the first signed index; without
      // it the build goes on without the archive's packages.
      m_build_log.note(fmt::format("not using the archive's own packages: cannot send {}: {}",
                                   m_archive->key.string(), sent.message()));
      m_archive.reset();
    }
  }

  const auto argv = command();
  m_build_log.note(fmt::format("running {}", shell_command(argv)));
  ExecOptions options;
  options.timeout = m_config.build_timeout;
  options.idle_timeout = m_config.idle_timeout;
  options.on_output = [this](std::string_view chunk) { m_build_log.write(chunk); };
  options.cancelled = [] { return g_cancelled != 0; };
  auto ran = (*host)->run(argv, work, options);
  if (!ran) {
    return fault(fmt::format("lost the builder: {}", ran.message()));
  }
  switch (ran->end) {
  case ExecResult::End::timed_out: {
    const std::string why = fmt::format("stopped: still running after {} (build_timeout)",
                                        format_duration(m_config.build_timeout));
    m_build_log.note(why);
    return {Outcome::Kind::result, BuildResult::build_failed, why};
  }
  case ExecResult::End::idle: {
    const std::string why = fmt::format("stopped: no output for {} (idle_timeout)",
                                        format_duration(m_config.idle_timeout));
    m_build_log.note(why);
    return {Outcome::Kind::result, BuildResult::build_failed, why};
  }
  case ExecResult::End::cancelled:
    m_build_log.note("cancelled");
    return {Outcome::Kind::cancelled, BuildResult::builder_error, "cancelled"};
  case ExecResult::End::killed:
    return fault("the build command was killed by a signal on the builder");
  case ExecResult::End::exited:
    break;
  }

  const BuildStatus status = classify_build(m_build_log.tail(), ran->exit_code);
  if (status.result == BuildResult::builder_unfit || status.result == BuildResult::base_missing) {
    Outcome outcome =
      unfit(status.detail.empty() ? std::string(result_word(status.result)) : status.detail);
    outcome.result = status.result;
    return outcome;
  }
  // The build began there: the builder is in service.
  if (auto cleared = HealthStore(m_config.state_dir).clear(m_slot->builder->name); !cleared) {
    m_log.verdict("ERROR", util::Log::Tone::bad, cleared.message());
  }
  std::string why = status.detail.empty()
                      ? std::string(result_word(status.result))
                      : fmt::format("{}: {}", result_word(status.result), status.detail);
  if (status.result == BuildResult::builder_error) {
    return fault(why);
  }
  if (status.result != BuildResult::success) {
    return {Outcome::Kind::result, status.result, why};
  }
  return fetch_results(**host, work);
}

jobs::BuildState state_of(BuildResult result)
{
  switch (result) {
  case BuildResult::success:
    return jobs::BuildState::success;
  case BuildResult::build_failed:
    return jobs::BuildState::build_failed;
  case BuildResult::depwait:
    return jobs::BuildState::depwait;
  case BuildResult::bad_package:
    return jobs::BuildState::bad_package;
  case BuildResult::builder_error:
  case BuildResult::builder_unfit: // never a result: the build waits (record())
  case BuildResult::base_missing:
    return jobs::BuildState::builder_error;
  }
  return jobs::BuildState::builder_error;
}

// Records the outcome (one transition of jobs/transitions.hpp) and says
// whether the build went back to the queue.
Status Worker::record(const Outcome& outcome, std::int64_t now)
{
  switch (outcome.kind) {
  case Outcome::Kind::cancelled:
    return jobs::finish(m_job_dir, m_record, jobs::BuildState::cancelled,
                        "cancelled by an operator", now);
  case Outcome::Kind::fault: {
    auto next =
      jobs::requeue_or_give_up(m_job_dir, m_record, outcome.reason, m_config.max_attempts, now);
    return next ? Status() : Status(next.error());
  }
  case Outcome::Kind::unfit:
    if (outcome.result == BuildResult::base_missing && forget_gone_base()) {
      // Not the builder's fault: the next tick makes the base again, and
      // the build waits for it.
      return jobs::requeue_uncounted(
        m_job_dir, m_record,
        fmt::format("its build environment was gone from {}; it is made again",
                    m_slot->builder->name));
    }
    set_builder_aside(m_config, *m_slot->builder, outcome.reason, m_clock, m_log);
    return jobs::requeue_uncounted(
      m_job_dir, m_record,
      fmt::format("{} is set aside: {}", m_slot->builder->name, outcome.reason));
  case Outcome::Kind::result:
    break;
  }
  if (outcome.result != BuildResult::success) {
    return jobs::finish(m_job_dir, m_record, state_of(outcome.result), outcome.reason, now);
  }
  if (auto handed = hand_over(outcome.reason, now); !handed) {
    if (m_record.state == jobs::BuildState::success) {
      return handed; // recorded as built; only the record of it failed
    }
    return jobs::finish(
      m_job_dir, m_record, jobs::BuildState::builder_error,
      fmt::format("built, but not queued for the repository: {}", handed.message()), now);
  }
  return {};
}

void Worker::finish(const Outcome& outcome)
{
  const std::int64_t now = now_seconds();
  if (auto recorded = record(outcome, now); !recorded) {
    m_log.verdict("ERROR", util::Log::Tone::bad, recorded.message());
  }
  const jobs::BuildState state = m_record.state;
  if (outcome.kind != Outcome::Kind::cancelled && state != jobs::BuildState::success &&
      state != jobs::BuildState::queued) {
    // The failure summary: the last lines of the log, for the mail and the
    // status page.
    if (auto written = util::write_file_atomic(m_result_dir / "summary.log",
                                               m_build_log.last_lines(summary_lines));
        !written) {
      m_log.verdict("ERROR", util::Log::Tone::bad, written.message());
    }
  }
  m_build_log.note(fmt::format("result: {} ({})", jobs::to_string(state), m_record.reason));
  util::failpoint("worker:result-recorded");
  // The uploader and the list hear of every result; a requeue is not one.
  if (auto announced = announce(m_config, m_job_dir, m_job, m_arch, m_clock, m_log); !announced) {
    m_log.verdict("ERROR", util::Log::Tone::bad, announced.message());
  }
  if (auto updated = jobs::update_job_state(m_job_dir); !updated) {
    m_log.verdict("ERROR", util::Log::Tone::bad, updated.message());
  }
  if (auto history = history::History::open((m_config.state_dir / "history.sqlite").string())) {
    if (auto reflected = jobs::reflect(*history, m_job_dir, now, slot_names(m_slots)); !reflected) {
      m_log.verdict("ERROR", util::Log::Tone::bad, reflected.message());
    }
  } else {
    m_log.verdict("ERROR", util::Log::Tone::bad, history.message());
  }
  if (m_config.mail && state != jobs::BuildState::queued && state != jobs::BuildState::cancelled) {
    mail::Outbox outbox(m_config.state_dir, m_clock);
    if (auto mailer = mail::make_smtp_mailer(*m_config.mail)) {
      outbox.flush(**mailer, m_log); // what fails waits for the next tick
    }
  }
  m_log.heading(fmt::format("job {}: {} {} [{}] on {}", m_job.number, m_job.source, m_job.version,
                            m_arch, m_slot->describe()));
  const bool good = state == jobs::BuildState::success;
  m_log.verdict(good                                ? "BUILT"
                : state == jobs::BuildState::queued ? "REQUEUED"
                                                    : "FAILED",
                good ? util::Log::Tone::good : util::Log::Tone::bad, m_record.reason);
}

int Worker::run()
{
  m_slot = find_slot(m_slots, m_slot_id);
  m_job_dir = m_state.job_dir(m_job_number);
  auto job = jobs::load_job(m_job_dir);
  if (!m_slot || !job) {
    m_log.verdict("ERROR", util::Log::Tone::bad,
                  !m_slot ? fmt::format("no slot {} in {}", m_slot_id, m_config.path)
                          : job.message());
    return 1;
  }
  m_job = std::move(*job);
  m_product = m_config.product(m_job.product);
  auto record = jobs::load_build(m_job_dir, m_arch);
  if (!m_product || !record) {
    m_log.verdict("ERROR", util::Log::Tone::bad,
                  !m_product ? fmt::format("no product {} in {}", m_job.product, m_config.path)
                             : record.message());
    return 1;
  }
  m_record = std::move(*record);
  if (m_record.state != jobs::BuildState::building || m_record.slot != m_slot_id) {
    m_log.verdict("ERROR", util::Log::Tone::bad,
                  fmt::format("job {} [{}] is {} on {}, not building on {}; nothing to do",
                              m_job_number, m_arch, jobs::to_string(m_record.state), m_record.slot,
                              m_slot_id));
    return 1;
  }
  if (auto saved = jobs::start(m_job_dir, m_record, static_cast<long>(::getpid())); !saved) {
    m_log.verdict("ERROR", util::Log::Tone::bad, saved.message());
    return 1;
  }

  m_result_dir = m_product->result_dir / std::to_string(m_job_number) / m_arch;
  if (auto made = util::make_dirs(m_result_dir); !made) {
    m_log.verdict("ERROR", util::Log::Tone::bad, made.message());
    return 1;
  }
  // The earlier attempt's log is kept as build.log.N, N its attempt number
  // (the attempt before this one wrote build.log).
  const fs::path log_path = m_result_dir / "build.log";
  if (auto present = util::stat_no_follow(log_path); present && *present) {
    const fs::path earlier =
      m_result_dir / fmt::format("build.log.{}", std::max(1, m_record.attempts - 1));
    if (auto kept = util::move_no_clobber(log_path, earlier); !kept) {
      m_log.verdict("ERROR", util::Log::Tone::bad,
                    fmt::format("the earlier attempt's log is overwritten: {}", kept.message()));
    }
  }
  if (auto opened = m_build_log.open(log_path); !opened) {
    m_log.verdict("ERROR", util::Log::Tone::bad, opened.message());
    return 1;
  }

  struct sigaction action = {};
  action.sa_handler = on_cancel_signal;
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGTERM, SIGINT, SIGHUP}) {
    sigaction(signal, &action, nullptr);
  }
  finish(build());
  return 0;
}

} // namespace

Result<std::string> find_build_script()
{
  auto self = util::self_executable();
  if (!self) {
    return Error{self.error()};
  }
  const fs::path dir = fs::path(*self).parent_path();
  for (const fs::path& candidate :
       {dir / "buildme-build", dir / ".." / "buildme-build" / "buildme-build",
        dir / ".." / "share" / "buildme" / "buildme-build"}) {
    auto info = util::stat_no_follow(candidate);
    if (info && *info) {
      return candidate.lexically_normal().string();
    }
  }
  return fail("cannot find buildme-build beside {} (install it in the same folder)", *self);
}

int run_worker(const config::Config& config, long job, const std::string& arch,
               const std::string& slot_id, util::Log& log, const WorkerSetup& setup)
{
  return Worker(config, job, arch, slot_id, log, setup).run();
}

} // namespace buildme::builder
