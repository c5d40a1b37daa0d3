#include "report/collect.hpp"

#include "debian/deb822.hpp"
#include "intake/intake.hpp"
#include "util/clock.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include <sys/stat.h>
#include <unistd.h>

namespace buildme::report {

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t tail_bytes = 4096;
constexpr std::size_t tail_lines = 12;

// The last lines of a file, from at most its last tail_bytes.
std::string tail_of(const fs::path& path)
{
  auto file = util::open_regular_file(path);
  if (!file) {
    return {};
  }
  struct stat st;
  if (::fstat(file->fd(), &st) != 0) {
    return {};
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const std::uint64_t from = size > tail_bytes ? size - tail_bytes : 0;
  std::string buffer(static_cast<std::size_t>(size - from), '\0');
  const ssize_t got = ::pread(file->fd(), buffer.data(), buffer.size(), static_cast<off_t>(from));
  if (got <= 0) {
    return {};
  }
  buffer.resize(static_cast<std::size_t>(got));
  auto lines = util::split(buffer, "\n");
  if (from > 0 && !lines.empty()) {
    lines.erase(lines.begin()); // cut in the middle
  }
  if (lines.size() > tail_lines) {
    lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(tail_lines));
  }
  std::string out;
  for (auto line : lines) {
    out.append(line);
    out += '\n';
  }
  return out;
}

// The Changes field of the upload's .changes: the changelog entries.
std::string changelog(const fs::path& job_dir, const jobs::Job& job)
{
  if (!job.upload.ends_with(".changes")) {
    return {};
  }
  auto control = debian::read_control_file((job_dir / "upload" / job.upload).string());
  if (!control || control->paragraphs.empty()) {
    return {};
  }
  return control->paragraphs.front().get("Changes").value_or("");
}

} // namespace

fs::path log_path(const config::Config& config, const jobs::Job& job, const std::string& arch)
{
  const config::Product* product = config.product(job.product);
  if (!product) {
    return {};
  }
  return product->result_dir / std::to_string(job.number) / arch / "build.log";
}

Result<JobView> load_job_view(const config::Config& config, const fs::path& job_dir,
                              history::History* history)
{
  JobView view;
  TRY_ASSIGN(view.job, jobs::load_job(job_dir));
  TRY_ASSIGN(auto builds, jobs::load_builds(job_dir));
  if (history) {
    auto attempts = history->attempts(view.job.number);
    if (attempts) {
      view.attempts = std::move(*attempts);
    }
  }
  for (auto& record : builds) {
    BuildView build;
    build.record = std::move(record);
    for (const auto& attempt : view.attempts) {
      if (attempt.arch == build.record.arch) {
        build.builder = attempt.builder;
      }
    }
    const fs::path log = log_path(config, view.job, build.record.arch);
    if (!log.empty()) {
      auto info = util::stat_no_follow(log);
      if (info && *info && (*info)->type == util::FileInfo::Type::regular) {
        build.has_log = true;
        build.log_size = (*info)->size;
      }
      // A finished build's summary.log is the worker's pick of the lines
      // that say why; without one, the end of the log.
      if (build.record.state != jobs::BuildState::building) {
        build.log_tail = tail_of(log.parent_path() / "summary.log");
      }
      if (build.log_tail.empty() && build.has_log) {
        build.log_tail = tail_of(log);
      }
    }
    view.builds.push_back(std::move(build));
  }
  view.changes = changelog(job_dir, view.job);
  return view;
}

builder::Availability availability(const config::Config& config, const std::vector<JobView>& views,
                                   std::int64_t now, util::Log& log)
{
  std::set<std::string> busy;
  for (const auto& view : views) {
    for (const auto& build : view.builds) {
      if (build.record.state == jobs::BuildState::building) {
        busy.insert(build.record.slot);
      }
    }
  }
  return builder::availability(config, std::move(busy), now, log);
}

void explain_waits(const config::Config& config, JobView& view,
                   const builder::Availability& available)
{
  if (!jobs::is_open(view.job.state)) {
    return;
  }
  for (auto& build : view.builds) {
    if (build.record.state == jobs::BuildState::queued ||
        build.record.state == jobs::BuildState::depwait || view.job.state == jobs::JobState::held) {
      build.wait = builder::why_waiting(config, view.job, build.record, available);
    }
  }
}

std::vector<WaitingUpload> waiting_uploads(const config::Config& config, std::int64_t now,
                                           util::Log& log)
{
  std::vector<WaitingUpload> waiting;
  for (const auto& product : config.products) {
    auto exists = util::stat_no_follow(product.incoming_dir);
    if (!exists || !*exists) {
      continue;
    }
    for (const auto& queued : intake::find_uploads(product.incoming_dir, log)) {
      const std::string& control = queued.upload.control;
      auto info = util::stat_no_follow(product.incoming_dir / control);
      if (!info || !*info) {
        continue;
      }
      const std::int64_t since = util::unix_seconds((*info)->mtime);
      const bool lone_dsc = control.ends_with(".dsc");
      builder::WaitReason wait{builder::WaitKind::grace_period,
                               fmt::format("still arriving (a file missing or short); rejected if "
                                           "not complete after {} (grace_period)",
                                           util::age_text(config.grace_period.count()))};
      if (lone_dsc && now - since < config.settle_time.count()) {
        wait = {builder::WaitKind::settling,
                fmt::format("a lone .dsc waits {} (settle_time) for a .changes that may follow it",
                            util::age_text(config.settle_time.count()))};
      }
      waiting.push_back({product.name, control, since, std::move(wait)});
    }
  }
  return waiting;
}

std::vector<Rejection> recent_rejections(const config::Config& config, std::size_t limit)
{
  struct Found
  {
    std::int64_t at;
    std::string product;
    fs::path path;
  };
  std::vector<Found> found;
  for (const auto& product : config.products) {
    const fs::path dir = product.incoming_dir / "rejected";
    auto names = util::list_dir(dir);
    for (const auto& name : names ? *names : std::vector<std::string>{}) {
      if (!name.ends_with(".reason")) {
        continue;
      }
      auto info = util::stat_no_follow(dir / name);
      if (info && *info && (*info)->type == util::FileInfo::Type::regular) {
        found.push_back({util::unix_seconds((*info)->mtime), product.name, dir / name});
      }
    }
  }
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.at > b.at; });
  found.resize(std::min(found.size(), limit));
  std::vector<Rejection> rejections;
  for (const auto& file : found) {
    auto text = util::read_file(file.path, 64 * 1024);
    if (!text) {
      continue;
    }
    // Field: value lines, a blank line, the reason (jobs/set_aside.hpp).
    Rejection rejection{file.product, file.path.stem().string(), file.at, ""};
    const auto blank = text->find("\n\n");
    for (auto line : util::split(std::string_view(*text).substr(0, blank), "\n")) {
      for (std::string_view field : {"Upload: ", "File: "}) {
        if (line.starts_with(field)) {
          rejection.name = std::string(line.substr(field.size()));
        }
      }
    }
    if (blank != std::string::npos) {
      const std::string_view rest = std::string_view(*text).substr(blank + 2);
      rejection.reason = std::string(util::trim(rest.substr(0, rest.find("\n\n"))));
    }
    rejections.push_back(std::move(rejection));
  }
  return rejections;
}

} // namespace buildme::report
