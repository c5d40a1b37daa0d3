#include "jobs/job.hpp"

#include "debian/deb822.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>

namespace buildme::jobs {

namespace fs = std::filesystem;

namespace {

constexpr std::array<std::pair<JobState, std::string_view>, 6> job_words = {{
  {JobState::queued, "queued"},
  {JobState::building, "building"},
  {JobState::held, "held"},
  {JobState::built, "built"},
  {JobState::failed, "failed"},
  {JobState::cancelled, "cancelled"},
}};

constexpr std::array<std::pair<BuildState, std::string_view>, 9> build_words = {{
  {BuildState::queued, "queued"},
  {BuildState::building, "building"},
  {BuildState::success, "success"},
  {BuildState::build_failed, "build-failed"},
  {BuildState::depwait, "depwait"},
  {BuildState::bad_package, "bad-package"},
  {BuildState::builder_error, "builder-error"},
  {BuildState::cancelled, "cancelled"},
  {BuildState::depwait_expired, "depwait-expired"},
}};

constexpr std::array<std::pair<Handover, std::string_view>, 3> handover_words = {{
  {Handover::none, "none"},
  {Handover::pending, "pending"},
  {Handover::done, "done"},
}};

template<typename Enum, std::size_t N>
std::string_view word_of(const std::array<std::pair<Enum, std::string_view>, N>& table, Enum value)
{
  for (const auto& [known, word] : table) {
    if (known == value) {
      return word;
    }
  }
  return "?";
}

template<typename Enum, std::size_t N>
std::optional<Enum> value_of(const std::array<std::pair<Enum, std::string_view>, N>& table,
                             std::string_view text)
{
  for (const auto& [known, word] : table) {
    if (word == text) {
      return known;
    }
  }
  return std::nullopt;
}

template<typename Enum, std::size_t N>
std::string known_words(const std::array<std::pair<Enum, std::string_view>, N>& table)
{
  std::string out;
  for (const auto& [known, word] : table) {
    out += fmt::format("{}{}", out.empty() ? "" : ", ", word);
  }
  return out;
}

Result<debian::Paragraph> one_record(std::string_view text, std::string_view filename,
                                     std::string_view kind)
{
  auto control = debian::parse_one_paragraph(text, filename, kind);
  if (!control) {
    return control.error();
  }
  return std::move(control->paragraphs.front());
}

fs::path record_path(const fs::path& job_dir, const std::string& arch)
{
  return builds_dir(job_dir) / (arch + ".info");
}

constexpr std::size_t max_record_size = 16 * 1024 * 1024;

} // namespace

std::string_view to_string(JobState state)
{
  return word_of(job_words, state);
}

std::string_view to_string(BuildState state)
{
  return word_of(build_words, state);
}

std::string_view to_string(Handover handover)
{
  return word_of(handover_words, handover);
}

std::optional<JobState> parse_job_state(std::string_view text)
{
  return value_of(job_words, text);
}

std::optional<BuildState> parse_build_state(std::string_view text)
{
  return value_of(build_words, text);
}

std::optional<Handover> parse_handover(std::string_view text)
{
  return value_of(handover_words, text);
}

bool is_finished(BuildState state)
{
  return state != BuildState::queued && state != BuildState::building &&
         state != BuildState::depwait;
}

bool is_open(JobState state)
{
  return state == JobState::queued || state == JobState::building || state == JobState::held;
}

debian::FieldList Job::fields() const
{
  return {
    {"Job", std::to_string(number)},
    {"Product", product},
    {"Source", source},
    {"Version", version},
    {"Upload", upload},
    {"Dsc", dsc},
    {"Uploader", uploader},
    {"Signed-By", signed_by},
    {"Signature", signature},
    {"Architecture", util::join(architectures, " ")},
    {"Priority", priority ? "yes" : "no"},
    {"Accepted-At", std::to_string(accepted_at)},
    {"State", std::string(to_string(state))},
    {"Reason", util::printable(reason)},
    {"Files", debian::list_value(files)},
  };
}

Result<Job> Job::from_text(std::string_view text, std::string_view filename)
{
  auto record = one_record(text, filename, "a job record");
  if (!record) {
    return record.error();
  }
  Job job;
  auto number = util::parse_count(record->get("Job").value_or(""));
  if (!number || *number == 0) {
    return fail("{}: no valid Job number", filename);
  }
  job.number = static_cast<long>(*number);
  job.product = record->get("Product").value_or("");
  job.source = record->get("Source").value_or("");
  job.version = record->get("Version").value_or("");
  job.upload = record->get("Upload").value_or("");
  job.dsc = record->get("Dsc").value_or("");
  job.uploader = record->get("Uploader").value_or("");
  job.signed_by = record->get("Signed-By").value_or("");
  job.signature = record->get("Signature").value_or("");
  job.architectures = util::split_words(record->get("Architecture").value_or(""));
  job.files = util::split_words(record->get("Files").value_or(""));
  job.priority = record->get("Priority").value_or("no") == "yes";
  job.accepted_at = util::parse_count(record->get("Accepted-At").value_or("0")).value_or(0);
  const std::string state = record->get("State").value_or("queued");
  auto parsed = parse_job_state(state);
  if (!parsed) {
    return fail("{}: State is '{}'; a job is one of {}", filename, util::printable(state),
                known_words(job_words));
  }
  job.state = *parsed;
  job.reason = record->get("Reason").value_or("");
  if (job.product.empty() || job.source.empty() || job.version.empty() || job.upload.empty()) {
    return fail("{}: job record lacks Product, Source, Version or Upload", filename);
  }
  return job;
}

bool JobFilter::matches(const Job& job) const
{
  return (states.empty() || std::find(states.begin(), states.end(), job.state) != states.end()) &&
         (product.empty() || job.product == product) && (source.empty() || job.source == source);
}

Result<std::vector<JobState>> JobFilter::parse_states(std::string_view text)
{
  std::vector<JobState> states;
  for (const auto& word : util::split(text, ",")) {
    auto state = parse_job_state(word);
    if (!state) {
      return fail("'{}' is not a job state; a job is one of {}", util::printable(word),
                  known_words(job_words));
    }
    states.push_back(*state);
  }
  if (states.empty()) {
    return fail("no job state given; a job is one of {}", known_words(job_words));
  }
  return states;
}

debian::FieldList Build::fields() const
{
  return {
    {"Arch", arch},
    {"State", std::string(to_string(state))},
    {"Attempts", std::to_string(attempts)},
    {"Uncounted", uncounted ? std::to_string(uncounted) : ""},
    {"Slot", slot},
    {"Pid", pid ? std::to_string(pid) : ""},
    {"Started-At", started_at ? std::to_string(started_at) : ""},
    {"Finished-At", finished_at ? std::to_string(finished_at) : ""},
    {"Reason", util::printable(reason)},
    {"Avoid", util::join(avoid, " ")},
    {"With-Indep", with_indep ? "yes" : "no"},
    {"Handover", handover == Handover::none ? "" : std::string(to_string(handover))},
    {"Announce", announce ? "pending" : ""},
  };
}

Result<Build> Build::from_text(std::string_view text, std::string_view filename)
{
  auto record = one_record(text, filename, "a build record");
  if (!record) {
    return record.error();
  }
  Build build;
  build.arch = record->get("Arch").value_or("");
  if (build.arch.empty()) {
    return fail("{}: build record without Arch", filename);
  }
  const std::string state = record->get("State").value_or("queued");
  auto parsed = parse_build_state(state);
  if (!parsed) {
    return fail("{}: State is '{}'; a build is one of {}", filename, util::printable(state),
                known_words(build_words));
  }
  build.state = *parsed;
  const std::string handover = record->get("Handover").value_or("");
  auto handed = handover.empty() ? std::optional(Handover::none) : parse_handover(handover);
  if (!handed) {
    return fail("{}: Handover is '{}'; it is one of {}", filename, util::printable(handover),
                known_words(handover_words));
  }
  build.handover = *handed;
  const std::string announce = record->get("Announce").value_or("");
  if (announce != "" && announce != "pending") {
    return fail("{}: Announce is '{}'; it is 'pending' or absent", filename,
                util::printable(announce));
  }
  build.announce = announce == "pending";
  for (auto [field, target] :
       {std::pair<std::string_view, std::int64_t*>{"Started-At", &build.started_at},
        {"Finished-At", &build.finished_at}}) {
    auto value = debian::count_field(*record, field, filename);
    if (!value) {
      return value.error();
    }
    *target = *value;
  }
  auto attempts = debian::count_field(*record, "Attempts", filename);
  auto retried = debian::count_field(*record, "Uncounted", filename);
  auto pid = debian::count_field(*record, "Pid", filename);
  if (!attempts || !retried || !pid) {
    return !attempts ? attempts.error() : !retried ? retried.error() : pid.error();
  }
  build.attempts = static_cast<int>(std::min<long long>(*attempts, 1'000'000));
  build.uncounted = static_cast<int>(std::min<long long>(*retried, build.attempts));
  build.pid = static_cast<long>(*pid);
  build.slot = record->get("Slot").value_or("");
  build.reason = record->get("Reason").value_or("");
  build.avoid = util::split_words(record->get("Avoid").value_or(""));
  build.with_indep = record->get("With-Indep").value_or("yes") == "yes";
  return build;
}

fs::path builds_dir(const fs::path& job_dir)
{
  return job_dir / "builds";
}

Result<Job> load_job(const fs::path& job_dir)
{
  const fs::path path = job_dir / "job.info";
  auto text = util::read_file(path, max_record_size);
  if (!text) {
    return Error{text.error()};
  }
  return Job::from_text(*text, path.string());
}

Status save_job(const fs::path& job_dir, const Job& job)
{
  return util::write_file_atomic(job_dir / "job.info", debian::write_paragraph(job.fields()));
}

Result<std::vector<Build>> load_builds(const fs::path& job_dir)
{
  std::vector<Build> builds;
  auto info = util::stat_no_follow(builds_dir(job_dir));
  if (!info) {
    return Error{info.error()};
  }
  if (!*info) {
    return builds;
  }
  auto names = util::list_dir(builds_dir(job_dir));
  if (!names) {
    return Error{names.error()};
  }
  for (const auto& name : *names) {
    if (name.starts_with('.') || !name.ends_with(".info")) {
      continue;
    }
    auto build = load_build(job_dir, name.substr(0, name.size() - 5));
    if (!build) {
      return Error{build.error()};
    }
    builds.push_back(std::move(*build));
  }
  return builds;
}

Result<Build> load_build(const fs::path& job_dir, const std::string& arch)
{
  const fs::path path = record_path(job_dir, arch);
  auto text = util::read_file(path, max_record_size);
  if (!text) {
    return Error{text.error()};
  }
  return Build::from_text(*text, path.string());
}

Status save_build(const fs::path& job_dir, const Build& build)
{
  TRY(util::make_dirs(builds_dir(job_dir)));
  return util::write_file_atomic(record_path(job_dir, build.arch),
                                 debian::write_paragraph(build.fields()));
}

} // namespace buildme::jobs
