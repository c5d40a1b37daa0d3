#include "jobs/state_dir.hpp"

#include "debian/deb822.hpp"
#include "jobs/journal.hpp"
#include "util/digest.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <unistd.h>

namespace buildme::jobs {

namespace fs = std::filesystem;

namespace {

using util::split_words;

Result<std::optional<util::FileInfo>> look(const fs::path& path)
{
  return util::stat_no_follow(path);
}

Status remove_file(const fs::path& path)
{
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return fail("cannot remove {}: {}", path.string(), std::strerror(errno));
  }
  return {};
}

} // namespace

fs::path StateDir::job_dir(long number) const
{
  return jobs_dir() / std::to_string(number);
}

fs::path StateDir::marker(std::string_view product, std::string_view source,
                          std::string_view version) const
{
  return m_root / "accepted" / std::string(product) / fmt::format("{}_{}", source, version);
}

fs::path StateDir::signature_marker(std::string_view id) const
{
  return m_root / "signatures" / std::string(id);
}

Status StateDir::prepare() const
{
  for (const auto& dir :
       {m_root, jobs_dir(), txn_dir(), m_root / "accepted", signature_marker("").parent_path()}) {
    TRY(util::make_dirs(dir, 0755));
  }
  return {};
}

namespace {

// The job number a marker file holds.
std::optional<long> job_in_marker(const fs::path& path)
{
  auto text = util::read_file(path, 4096);
  if (!text) {
    return std::nullopt;
  }
  std::string_view number = *text;
  while (!number.empty() && std::isspace(static_cast<unsigned char>(number.back()))) {
    number.remove_suffix(1);
  }
  return static_cast<long>(util::parse_count(number).value_or(0));
}

} // namespace

std::optional<long> StateDir::accepted_job(std::string_view product, std::string_view source,
                                           std::string_view version) const
{
  return job_in_marker(marker(product, source, version));
}

std::optional<long> StateDir::signature_used(std::string_view id) const
{
  // An id is lower-case hex (Job::signature); anything else was never
  // recorded, and must not name a path.
  if (id.empty() || id.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    return std::nullopt;
  }
  return job_in_marker(signature_marker(id));
}

Result<long> StateDir::allocate_job_number() const
{
  // The counter file, but never below a job that exists: a lost or stale
  // counter must not hand out a number twice.
  long next = 1;
  if (auto text = util::read_file(m_root / "next-job", 64)) {
    std::string_view value = *text;
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
      value.remove_suffix(1);
    }
    next = std::max(1L, static_cast<long>(util::parse_count(value).value_or(1)));
  }
  auto names = util::list_dir(jobs_dir());
  if (!names) {
    return Error{names.error()};
  }
  for (std::string_view name : *names) {
    if (name.starts_with('.')) {
      name.remove_prefix(1);
      if (auto dot = name.find('.'); dot != std::string_view::npos) {
        name = name.substr(0, dot);
      }
    }
    if (auto number = util::parse_count(name)) {
      next = std::max(next, static_cast<long>(*number) + 1);
    }
  }
  if (auto written = util::write_file_atomic(m_root / "next-job", fmt::format("{}\n", next + 1));
      !written) {
    return Error{written.error()};
  }
  return next;
}

Result<fs::path> StateDir::accept(const AcceptMove& move) const
{
  debian::FieldList fields = move.job.fields();
  fields.insert(fields.begin(), {{"Action", "accept"}, {"From", move.from_dir.string()}});
  fields.emplace_back("Move", debian::list_value(move.move));
  fields.emplace_back("Copy", debian::list_value(move.copy));
  const fs::path journal = txn_dir() / journal_name("accept");
  TRY(write_journal(journal, fields));
  return run_accept(move, journal);
}

Result<fs::path> StateDir::run_accept(const AcceptMove& move, const fs::path& journal) const
{
  const Job& job = move.job;
  const fs::path final_dir = job_dir(job.number);
  const fs::path partial = jobs_dir() / fmt::format(".{}.partial", job.number);
  const fs::path upload = partial / "upload";

  if (!util::present(final_dir)) {
    TRY(util::make_dirs(upload, 0755));
    for (const auto& name : move.copy) {
      if (util::present(upload / name)) {
        continue; // copied before a crash: a copy appears whole or not at all
      }
      TRY(util::copy_exclusive(move.from_dir / name, upload / name));
    }
    for (const auto& name : move.move) {
      const fs::path from = move.from_dir / name;
      const fs::path to = upload / name;
      auto there = look(to);
      if (!there) {
        return Error{there.error()};
      }
      if (*there) {
        // Moved before a crash; a source still present is a finished copy
        // (across filesystems) or a link whose unlink did not happen.
        auto here = look(from);
        if (here && *here &&
            (((*here)->inode == (*there)->inode && (*here)->device == (*there)->device) ||
             util::same_content(from, to))) {
          TRY(remove_file(from));
        }
        continue;
      }
      TRY(util::move_exclusive(from, to));
    }
    if (auto written =
          util::write_file_atomic(partial / "job.info", debian::write_paragraph(job.fields()));
        !written) {
      return Error{written.error()};
    }
    TRY(util::make_dirs(marker(job.product, "", "").parent_path(), 0755));
    if (auto marked = util::write_file_atomic(marker(job.product, job.source, job.version),
                                              fmt::format("{}\n", job.number));
        !marked) {
      return Error{marked.error()};
    }
    if (!job.signature.empty() && !signature_used(job.signature)) {
      TRY(util::make_dirs(signature_marker("").parent_path(), 0755));
      TRY(
        util::write_file_atomic(signature_marker(job.signature), fmt::format("{}\n", job.number)));
    }
    TRY(util::move_exclusive(partial, final_dir));
    TRY(util::sync_dir(jobs_dir()));
  }
  TRY(remove_journal(journal));
  return final_dir;
}

Result<SetAsideOutcome> StateDir::reject(SetAside move) const
{
  return set_aside(txn_dir(), std::move(move));
}

Result<std::vector<std::string>> StateDir::recover() const
{
  // Intake stops at a journal it cannot replay: taking new uploads could
  // repeat half of that move. An operator has to look.
  constexpr std::string_view advice =
    "inspect it, finish the move by hand, then delete it; buildme takes no upload until then";
  std::vector<std::string> done;
  // next-job is only written under buildme.lock, which the caller holds: a
  // temporary of it here is a killed run's.
  TRY_ASSIGN(const auto names, util::list_dir(m_root));
  for (const auto& name : names) {
    if (name.starts_with(".next-job.")) {
      std::error_code ignored;
      fs::remove(m_root / name, ignored); // one that stays is tried again next tick
      done.push_back(fmt::format("removed {}, left by a killed run", name));
    }
  }
  TRY_ASSIGN(const std::vector<fs::path> journals, pending_journals(txn_dir()));
  for (const auto& journal : journals) {
    auto record = read_journal(journal);
    if (!record) {
      return fail("cannot replay {}: {} ({})", journal.string(), record.message(), advice);
    }
    const std::string action = record->get("Action").value_or("");
    if (action == "accept") {
      auto text = util::read_file(journal, 16 * 1024 * 1024);
      auto job = Job::from_text(*text, journal.string());
      if (!job) {
        return fail("cannot replay {} ({})", job.message(), advice);
      }
      if (record->get("From").value_or("").empty()) {
        return fail("cannot replay {}: it lacks From ({})", journal.string(), advice);
      }
      AcceptMove move{record->get("From").value_or(""), std::move(*job),
                      split_words(record->get("Move").value_or("")),
                      split_words(record->get("Copy").value_or(""))};
      auto finished = run_accept(move, journal);
      if (!finished) {
        return Error{finished.error()};
      }
      done.push_back(fmt::format("finished accepting {} {} as job {} (interrupted run)",
                                 move.job.source, move.job.version, move.job.number));
    } else if (is_set_aside_journal(*record)) {
      TRY_ASSIGN(const SetAsideOutcome finished, replay_set_aside(journal, *record, advice));
      done.push_back(
        fmt::format("finished rejecting {} (interrupted run)", finished.moved.back().first));
    } else {
      return fail("cannot replay {}: unknown Action '{}' ({})", journal.string(),
                  util::printable(action), advice);
    }
  }
  return done;
}

Result<std::vector<Job>> StateDir::list_jobs() const
{
  std::vector<Job> jobs;
  // Before the first tick there is no jobs/ folder, and so no job.
  auto folder = util::stat_no_follow(jobs_dir());
  if (folder && !*folder) {
    return jobs;
  }
  auto names = util::list_dir(jobs_dir());
  if (!names) {
    return Error{names.error()};
  }
  for (const auto& name : *names) {
    if (!util::parse_count(name)) {
      continue;
    }
    const fs::path info = jobs_dir() / name / "job.info";
    auto text = util::read_file(info, 16 * 1024 * 1024);
    if (!text) {
      return Error{text.error()};
    }
    auto job = Job::from_text(*text, info.string());
    if (!job) {
      return Error{job.error()};
    }
    jobs.push_back(std::move(*job));
  }
  std::sort(jobs.begin(), jobs.end(),
            [](const Job& a, const Job& b) { return a.number < b.number; });
  return jobs;
}

} // namespace buildme::jobs
