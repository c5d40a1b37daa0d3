// bench/report-bench's state folders (see report-bench). Not installed.
//
//   report-fixture CONFIG fill COUNT   jobs 1..COUNT of 50 sources, each built
//                                      for two arches over the last 60 days,
//                                      with logs and the history
//   report-fixture CONFIG start JOB    job JOB accepted and building now
//   report-fixture CONFIG finish JOB   its builds end (built), logs written
//
// fill writes the records without fsync (it makes test data, fast); start
// and finish use the transitions a worker uses.
#include "builder/slots.hpp"
#include "config/config.hpp"
#include "debian/control_writer.hpp"
#include "history/history.hpp"
#include "jobs/reflect.hpp"
#include "jobs/state_dir.hpp"
#include "jobs/transitions.hpp"
#include "util/clock.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <string>

namespace {

using namespace buildme;
namespace fs = std::filesystem;

const std::vector<std::string> arches = {"armel", "i386"};

std::int64_t now_seconds()
{
  return util::unix_seconds(std::chrono::system_clock::now());
}

jobs::Job job_of(long number, std::int64_t accepted_at)
{
  jobs::Job job;
  job.number = number;
  job.product = "fremantle";
  job.source = fmt::format("source{}", number % 50);
  job.version = fmt::format("1.0-{}", number);
  job.upload = job.source + "_" + job.version + ".dsc";
  job.dsc = job.upload;
  job.uploader = "Jane Doe <jane@example.org>";
  job.architectures = {"any"};
  job.files = {job.upload};
  job.accepted_at = accepted_at;
  return job;
}

void write_log(const config::Config& config, long number, const std::string& arch)
{
  const fs::path dir = config.products.front().result_dir / std::to_string(number) / arch;
  std::error_code ignored;
  fs::create_directories(dir, ignored);
  std::string log;
  for (int line = 0; line < 40; ++line) {
    log += fmt::format("dpkg-buildpackage: line {} of the build of job {}\n", line, number);
  }
  log += "BUILDME-STATUS: 0 success\n";
  (void)util::write_file_atomic(dir / "build.log", log, 0644, util::Durability::unsynced);
}

int fill(const config::Config& config, long count)
{
  jobs::StateDir state(config.state_dir);
  if (auto prepared = state.prepare(); !prepared) {
    fmt::print(stderr, "{}\n", prepared.message());
    return 1;
  }
  auto history = history::History::open((config.state_dir / "history.sqlite").string());
  if (!history) {
    fmt::print(stderr, "{}\n", history.message());
    return 1;
  }
  const auto slots = builder::all_slots(config);
  const std::int64_t now = now_seconds();
  const std::int64_t span = 60 * 86400;
  for (long number = 1; number <= count; ++number) {
    const std::int64_t accepted = now - span + span * number / (count + 1);
    jobs::Job job = job_of(number, accepted);
    job.state = jobs::JobState::built;
    const fs::path dir = state.job_dir(number);
    fs::create_directories(dir / "upload");
    fs::create_directories(jobs::builds_dir(dir));
    std::vector<jobs::Build> builds;
    for (const auto& arch : arches) {
      jobs::Build build;
      build.arch = arch;
      build.state = jobs::BuildState::success;
      build.attempts = 1;
      build.slot = "b1.1";
      build.started_at = accepted + 60;
      build.finished_at = accepted + 360;
      build.reason = "built";
      build.with_indep = arch == arches.front();
      build.handover = jobs::Handover::done;
      (void)util::write_file_atomic(jobs::builds_dir(dir) / (arch + ".info"),
                                    debian::write_paragraph(build.fields()), 0644,
                                    util::Durability::unsynced);
      write_log(config, number, arch);
      builds.push_back(std::move(build));
    }
    (void)util::write_file_atomic(dir / "job.info", debian::write_paragraph(job.fields()), 0644,
                                  util::Durability::unsynced);
    if (auto reflected =
          jobs::reflect(*history, job, builds, accepted + 360, builder::slot_names(slots));
        !reflected) {
      fmt::print(stderr, "{}\n", reflected.message());
      return 1;
    }
  }
  (void)util::write_file_atomic(config.state_dir / "next-job", fmt::format("{}\n", count + 1));
  return 0;
}

// The job's state follows its builds, and the history follows the records.
int settle(const config::Config& config, const fs::path& dir)
{
  (void)jobs::update_job_state(dir);
  auto history = history::History::open((config.state_dir / "history.sqlite").string());
  const auto slots = builder::all_slots(config);
  return history && jobs::reflect(*history, dir, now_seconds(), builder::slot_names(slots)) ? 0 : 1;
}

int start(const config::Config& config, long number)
{
  jobs::StateDir state(config.state_dir);
  const fs::path dir = state.job_dir(number);
  fs::create_directories(dir / "upload");
  jobs::Job job = job_of(number, now_seconds());
  if (!jobs::save_job(dir, job) || !jobs::plan(dir, job, arches, "")) {
    fmt::print(stderr, "cannot make job {}\n", number);
    return 1;
  }
  (void)util::write_file_atomic(config.state_dir / "next-job", fmt::format("{}\n", number + 1));
  for (const auto& arch : arches) {
    auto build = jobs::load_build(dir, arch);
    if (!build || !jobs::claim(dir, *build, "b1.1", "building", now_seconds())) {
      fmt::print(stderr, "cannot start job {}\n", number);
      return 1;
    }
    write_log(config, number, arch);
  }
  return settle(config, dir);
}

int finish(const config::Config& config, long number)
{
  jobs::StateDir state(config.state_dir);
  const fs::path dir = state.job_dir(number);
  for (const auto& arch : arches) {
    auto build = jobs::load_build(dir, arch);
    if (!build || !jobs::begin_handover(dir, *build, "built", now_seconds()) ||
        !jobs::complete_handover(dir, *build)) {
      fmt::print(stderr, "cannot finish job {}\n", number);
      return 1;
    }
    write_log(config, number, arch);
  }
  return settle(config, dir);
}

} // namespace

int main(int argc, char** argv)
{
  if (argc != 4) {
    std::fputs("usage: report-fixture CONFIG fill COUNT | start JOB | finish JOB\n", stderr);
    return 2;
  }
  auto config = config::load_config(argv[1]);
  auto number = util::parse_count(argv[3]);
  if (!config || !number) {
    fmt::print(stderr, "report-fixture: {}\n", config ? "not a number" : config.message());
    return 2;
  }
  const std::string command = argv[2];
  const long value = static_cast<long>(*number);
  if (command == "fill") {
    return fill(*config, value);
  }
  if (command == "start") {
    return start(*config, value);
  }
  if (command == "finish") {
    return finish(*config, value);
  }
  std::fputs("report-fixture: fill, start or finish\n", stderr);
  return 2;
}
