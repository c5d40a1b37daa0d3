// A job is one accepted upload; a build is one architecture of a job. Both
// are deb822 records in the state folder, written atomically:
//
//   state_dir/jobs/<N>/job.info            the job
//   state_dir/jobs/<N>/builds/<arch>.info  each build
//
// Their states are enums with their text forms here and nowhere else; every
// change of state is a function of jobs/transitions.hpp.
#pragma once

#include "debian/control_writer.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace buildme::jobs {

// queued: accepted, waiting for (some of) its builds; building: a build
// runs; held: set aside for a person (it is never dispatched; `buildme
// retry` or removing the job ends it); built: every build succeeded; failed:
// at least one build ended otherwise; cancelled: every build was cancelled.
enum class JobState
{
  queued,
  building,
  held,
  built,
  failed,
  cancelled
};

// A build's life: queued -> building -> one result, or back to queued after
// a builder fault. `success` is also the hand-over: see Handover.
enum class BuildState
{
  queued,
  building,
  success,
  build_failed,
  // Waiting for build dependencies the build could not install: retried
  // when the product's distribution in the archive changes, and
  // depwait_expired after depwait_expire (as wanna-build's Dep-Wait).
  depwait,
  bad_package,
  builder_error,
  cancelled,
  depwait_expired,
};

// Where a successful build's packages are on their way to repo_queue:
// pending once the record says success and the unit is assembled under its
// temporary name; done once it is renamed into the queue.
enum class Handover
{
  none,
  pending,
  done
};

std::string_view to_string(JobState state);
std::string_view to_string(BuildState state);
std::string_view to_string(Handover handover);
std::optional<JobState> parse_job_state(std::string_view text);
std::optional<BuildState> parse_build_state(std::string_view text);
std::optional<Handover> parse_handover(std::string_view text);

// Ended: no transition but retry leaves it.
bool is_finished(BuildState state);
// Still to do: queued, building or held; not a result.
bool is_open(JobState state);

struct Job
{
  long number = 0;
  std::string product;
  std::string source;
  std::string version;
  std::string upload; // the control file's name (.changes or .dsc)
  std::string dsc;    // the .dsc's name
  // Who to tell: the signer's user id for a signed upload (upload_keyring),
  // else the Changed-By or Maintainer the upload names.
  std::string uploader;
  std::string signed_by; // the signer's fingerprint; empty: taken unsigned
  std::string signature; // the signature's id (debian::SignatureCheck)
  std::vector<std::string> architectures;
  std::vector<std::string> files; // every file in upload/, control included
  bool priority = false;
  long long accepted_at = 0; // seconds since the epoch
  JobState state = JobState::queued;
  std::string reason; // why it failed or is held, when it says

  debian::FieldList fields() const;
  static Result<Job> from_text(std::string_view text, std::string_view filename);
};

struct Build
{
  std::string arch;
  BuildState state = BuildState::queued;
  int attempts = 0; // started attempts, never reset
  // Attempts that do not count toward max_attempts: those before the last
  // retry, and those a builder fault stopped before the build began.
  int uncounted = 0;
  std::string slot; // slot id of the current or last attempt
  long pid = 0;     // the worker, while building
  std::int64_t started_at = 0;
  std::int64_t finished_at = 0;
  std::string reason;             // the last outcome, or why it waits
  std::vector<std::string> avoid; // slots where it failed for a builder fault
  bool with_indep = true;         // also build the arch-independent packages
  Handover handover = Handover::none;
  // Its result is recorded but not yet in the mail outbox (the worker, or
  // the tick after a killed one, announces it).
  bool announce = false;

  bool finished() const { return is_finished(state); }

  debian::FieldList fields() const;
  static Result<Build> from_text(std::string_view text, std::string_view filename);
};

// Which jobs `buildme list` shows: those in one of `states`, of `product`
// and of `source`; an empty field lets every job through.
struct JobFilter
{
  std::vector<JobState> states;
  std::string product;
  std::string source;

  bool matches(const Job& job) const;
  // "queued" or "queued,held": Error naming the unknown word and the states.
  static Result<std::vector<JobState>> parse_states(std::string_view text);
};

std::filesystem::path builds_dir(const std::filesystem::path& job_dir);

Result<Job> load_job(const std::filesystem::path& job_dir);
Status save_job(const std::filesystem::path& job_dir, const Job& job);

Result<std::vector<Build>> load_builds(const std::filesystem::path& job_dir);
Result<Build> load_build(const std::filesystem::path& job_dir, const std::string& arch);
Status save_build(const std::filesystem::path& job_dir, const Build& build);

} // namespace buildme::jobs
