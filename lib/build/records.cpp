#include "build/records.hpp"

#include "debian/control_writer.hpp"
#include "debian/deb822.hpp"
#include "util/fs.hpp"
#include "util/lock.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <charconv>

namespace buildme::build {

namespace fs = std::filesystem;

namespace {

std::int64_t number(const debian::Paragraph& record, std::string_view field)
{
  const std::string text = record.get(field).value_or("0");
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

fs::path record_path(const fs::path& job_dir, const std::string& arch)
{
  return builds_dir(job_dir) / (arch + ".info");
}

Result<BuildRecord> parse_record(const fs::path& path)
{
  auto text = util::read_file(path, 1024 * 1024);
  if (!text) {
    return Error{text.error()};
  }
  auto control = debian::parse_control(*text, path.string());
  if (!control) {
    return Error{control.error()};
  }
  if (control->paragraphs.size() != 1) {
    return fail("{}: expected one build record", path.string());
  }
  const auto& p = control->paragraphs.front();
  BuildRecord record;
  record.arch = p.get("Arch").value_or("");
  record.state = p.get("State").value_or("queued");
  record.attempts = static_cast<int>(number(p, "Attempts"));
  record.slot = p.get("Slot").value_or("");
  record.pid = static_cast<long>(number(p, "Pid"));
  record.history_id = number(p, "History-Id");
  record.started_at = number(p, "Started-At");
  record.finished_at = number(p, "Finished-At");
  record.reason = p.get("Reason").value_or("");
  record.avoid = util::split_words(p.get("Avoid").value_or(""));
  record.with_indep = p.get("With-Indep").value_or("yes") == "yes";
  if (record.arch.empty()) {
    return fail("{}: build record without Arch", path.string());
  }
  return record;
}

} // namespace

fs::path builds_dir(const fs::path& job_dir)
{
  return job_dir / "builds";
}

Result<std::vector<BuildRecord>> load_builds(const fs::path& job_dir)
{
  std::vector<BuildRecord> records;
  auto info = util::stat_no_follow(builds_dir(job_dir));
  if (!info) {
    return Error{info.error()};
  }
  if (!*info) {
    return records;
  }
  auto names = util::list_dir(builds_dir(job_dir));
  if (!names) {
    return Error{names.error()};
  }
  for (const auto& name : *names) {
    if (name.starts_with('.') || !name.ends_with(".info")) {
      continue;
    }
    auto record = parse_record(builds_dir(job_dir) / name);
    if (!record) {
      return Error{record.error()};
    }
    records.push_back(std::move(*record));
  }
  return records;
}

Result<BuildRecord> load_build(const fs::path& job_dir, const std::string& arch)
{
  return parse_record(record_path(job_dir, arch));
}

Status save_build(const fs::path& job_dir, const BuildRecord& record)
{
  if (auto made = util::make_dirs(builds_dir(job_dir)); !made) {
    return made;
  }
  const debian::FieldList fields = {
    {"Arch", record.arch},
    {"State", record.state},
    {"Attempts", std::to_string(record.attempts)},
    {"Slot", record.slot},
    {"Pid", record.pid ? std::to_string(record.pid) : ""},
    {"History-Id", record.history_id ? std::to_string(record.history_id) : ""},
    {"Started-At", record.started_at ? std::to_string(record.started_at) : ""},
    {"Finished-At", record.finished_at ? std::to_string(record.finished_at) : ""},
    {"Reason", util::printable(record.reason)},
    {"Avoid", util::join(record.avoid, " ")},
    {"With-Indep", record.with_indep ? "yes" : "no"},
  };
  return util::write_file_atomic(record_path(job_dir, record.arch),
                                 debian::write_paragraph(fields));
}

Result<intake::JobInfo> load_job(const fs::path& job_dir)
{
  const fs::path path = job_dir / "job.info";
  auto text = util::read_file(path, 16 * 1024 * 1024);
  if (!text) {
    return Error{text.error()};
  }
  return intake::JobInfo::from_text(*text, path.string());
}

Status save_job(const fs::path& job_dir, const intake::JobInfo& job)
{
  return util::write_file_atomic(job_dir / "job.info", debian::write_paragraph(job.fields()));
}

Result<std::string> update_job_state(const fs::path& job_dir)
{
  auto lock = util::FileLock::acquire(job_dir / ".lock", util::FileLock::Mode::wait);
  if (!lock) {
    return Error{lock.error()};
  }
  auto job = load_job(job_dir);
  if (!job) {
    return Error{job.error()};
  }
  auto builds = load_builds(job_dir);
  if (!builds) {
    return Error{builds.error()};
  }
  if (builds->empty()) {
    return job->state;
  }
  bool any_building = false, any_queued = false, all_success = true, all_cancelled = true;
  for (const auto& build : *builds) {
    any_building = any_building || build.state == "building";
    any_queued = any_queued || build.state == "queued";
    all_success = all_success && build.state == "success";
    all_cancelled = all_cancelled && build.state == "cancelled";
  }
  std::string state = any_building ? "building"
                      : any_queued ? "queued"
                      : all_success ? "built"
                      : all_cancelled ? "cancelled"
                                      : "failed";
  if (state != job->state) {
    job->state = state;
    if (auto saved = save_job(job_dir, *job); !saved) {
      return Error{saved.error()};
    }
  }
  return state;
}

} // namespace buildme::build
