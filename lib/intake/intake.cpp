#include "intake/intake.hpp"

#include "debian/syntax.hpp"
#include "intake/uploaders.hpp"
#include "jobs/handover.hpp"
#include "jobs/transitions.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace buildme::intake {

namespace fs = std::filesystem;

namespace {

using util::join;

constexpr std::string_view priority_file = "priority.txt";

bool is_control_name(std::string_view name)
{
  return !name.starts_with('.') && (name.ends_with(".changes") || name.ends_with(".dsc"));
}

// The names listed in priority.txt: one per line, '#' comments and blank
// lines ignored. A priority.txt that is not a plain file is ignored.
std::vector<std::string> read_priorities(const fs::path& dir, util::Log& log)
{
  std::vector<std::string> names;
  auto info = util::stat_no_follow(dir / priority_file);
  if (!info || !*info) {
    return names;
  }
  if ((*info)->type != util::FileInfo::Type::regular) {
    log.info(fmt::format("ignoring {}: not a regular file", (dir / priority_file).string()));
    return names;
  }
  auto text = util::read_file(dir / priority_file, 1024 * 1024);
  if (!text) {
    log.info(fmt::format("ignoring {}", text.message()));
    return names;
  }
  std::string_view rest = *text;
  while (!rest.empty()) {
    std::size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) {
      line.remove_suffix(1);
    }
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) {
      line.remove_prefix(1);
    }
    if (line.empty() || line.starts_with('#')) {
      continue;
    }
    if (debian::check_file_name(line)) {
      names.emplace_back(line);
    }
  }
  return names;
}

// Every file that the uploads in `dir` other than `upload` list (a .dsc of
// `upload` itself is part of it, not another upload).
std::set<std::string> files_listed_by_others(const Upload& upload, const Verification& verified)
{
  std::set<std::string> names;
  auto entries = util::list_dir(upload.dir);
  if (!entries) {
    return names;
  }
  // What the upload lists, even when verification stopped before it read
  // the list whole.
  const auto own_list = listed_files(upload);
  const std::set<std::string> own(own_list.begin(), own_list.end());
  for (const auto& name : *entries) {
    if (name == upload.control || verified.files.count(name) || own.count(name) ||
        !is_control_name(name)) {
      continue;
    }
    names.insert(name);
    for (auto& listed : listed_files(Upload{upload.dir, name})) {
      names.insert(std::move(listed));
    }
  }
  return names;
}

class Intake
{
public:
  Intake(const config::Config& config, const IntakeOptions& options, const util::Clock& clock,
         util::Log& log)
    : m_config(config), m_options(options), m_clock(clock), m_log(log), m_state(config.state_dir)
  {
  }

  IntakeSummary run();

private:
  void take_product(const config::Product& product);
  void take_upload(const config::Product& product, const QueuedUpload& queued);
  void set_aside_orphans(const config::Product& product);
  void accept(const config::Product& product, const Upload& upload, const Verification& result,
              bool priority);
  void reject(const config::Product& product, const Upload& upload, const Verification& result,
              const std::string& reason);
  void error(const std::string& message)
  {
    m_log.verdict("ERROR", util::Log::Tone::bad, message);
    ++m_summary.errors;
  }

  // The signatures a product's uploads are checked against; null when the
  // product takes unsigned uploads.
  const debian::UploadSignatures* signatures(const config::Product& product) const
  {
    auto found = m_uploaders.find(product.name);
    return found == m_uploaders.end() ? nullptr : found->second.get();
  }

  const config::Config& m_config;
  const IntakeOptions& m_options;
  const util::Clock& m_clock;
  util::Log& m_log;
  jobs::StateDir m_state;
  UploadersByProduct m_uploaders;
  IntakeSummary m_summary;
};

IntakeSummary Intake::run()
{
  auto uploaders = load_all_uploaders(m_config, m_clock);
  if (!uploaders) {
    m_summary.stopped = uploaders.message();
    error(uploaders.message() + "; no upload is taken until this is fixed");
    return m_summary;
  }
  m_uploaders = std::move(*uploaders);
  if (!m_options.dry_run) {
    if (auto prepared = m_state.prepare(); !prepared) {
      error(prepared.message());
      return m_summary;
    }
    auto recovered = m_state.recover();
    if (!recovered) {
      // Taking new uploads now could repeat half of the interrupted move.
      error(recovered.message());
      return m_summary;
    }
    for (const auto& line : *recovered) {
      m_log.info(line);
    }
  }
  for (const auto& product : m_config.products) {
    take_product(product);
  }
  return m_summary;
}

void Intake::take_product(const config::Product& product)
{
  auto info = util::stat_no_follow(product.incoming_dir);
  if (!info || !*info || (*info)->type != util::FileInfo::Type::directory) {
    error(fmt::format("incoming folder {} of product {} is missing or not a folder (create it, "
                      "or fix incoming_dir in {})",
                      product.incoming_dir.string(), product.name, m_config.path));
    return;
  }
  auto rejected = util::stat_no_follow(product.incoming_dir / "rejected");
  if (rejected && *rejected && (*rejected)->type != util::FileInfo::Type::directory) {
    error(fmt::format("{} is not a folder (a symlink or file stands there); move it away so "
                      "that buildme can keep rejected uploads in it",
                      (product.incoming_dir / "rejected").string()));
    return;
  }
  for (const auto& queued : find_uploads(product.incoming_dir, m_log)) {
    take_upload(product, queued);
  }
  set_aside_orphans(product);
}

void Intake::set_aside_orphans(const config::Product& product)
{
  if (m_config.orphan_after.count() <= 0) {
    return;
  }
  const fs::path& dir = product.incoming_dir;
  auto entries = util::list_dir(dir);
  if (!entries) {
    error(entries.message());
    return;
  }
  // What the uploads still here list, read after they were taken. While a
  // control file cannot be read (still arriving), what it lists is unknown:
  // nothing is set aside then.
  std::set<std::string> listed{std::string(priority_file), "rejected"};
  for (const auto& name : *entries) {
    if (is_control_name(name)) {
      listed.insert(name);
      auto files = listed_files(Upload{dir, name});
      if (files.empty()) {
        return;
      }
      for (auto& file : files) {
        listed.insert(std::move(file));
      }
    }
  }
  for (const auto& name : *entries) {
    if (name.starts_with('.') || listed.count(name)) {
      continue;
    }
    if (!debian::check_file_name(name)) {
      // The journal could not carry it through a crash: a person's job.
      m_log.detail(fmt::format("{}: no upload lists it, and it is not a name buildme moves; "
                               "remove it by hand",
                               util::printable((dir / name).string())));
      continue;
    }
    auto info = util::stat_no_follow(dir / name);
    if (!info || !*info || (*info)->type == util::FileInfo::Type::directory) {
      continue;
    }
    // How long it has been here: the ctime, which the uploader cannot set
    // (scp -p and touch set the mtime to anything).
    const auto age =
      std::chrono::duration_cast<std::chrono::seconds>(m_clock.now() - (*info)->ctime);
    if (age < m_config.orphan_after) {
      continue;
    }
    const std::string why =
      fmt::format("no upload in {} lists {}, and it has been there {} h (orphan_after is {} h); "
                  "the rest of its upload never came, or it was left behind",
                  dir.string(), util::printable(name), age.count() / 3600,
                  m_config.orphan_after.count() / 3600);
    m_log.heading((dir / name).string());
    ++m_summary.orphans;
    if (m_options.dry_run) {
      m_log.verdict("ORPHAN", util::Log::Tone::bad, why + " (dry run: nothing moved)");
      continue;
    }
    jobs::SetAside move;
    move.from_dir = dir;
    move.rejected_dir = dir / "rejected";
    move.control = name;
    move.control_inode = static_cast<unsigned long>((*info)->inode);
    move.header = {{"File", util::printable(name)},
                   {"Product", product.name},
                   {"Set aside", util::format_local_time(m_clock.now())}};
    move.reason = fmt::format("{}.\nNothing was deleted; move it back into {} if an upload still "
                              "needs it.",
                              why, dir.string());
    auto outcome = m_state.reject(std::move(move));
    if (!outcome) {
      error(fmt::format("setting aside {}: {}", util::printable(name), outcome.message()));
      continue;
    }
    m_log.verdict("ORPHAN", util::Log::Tone::bad,
                  fmt::format("{}; moved to {}", why, outcome->control.string()));
  }
}

void Intake::take_upload(const config::Product& product, const QueuedUpload& queued)
{
  const Upload& upload = queued.upload;
  const bool priority = queued.priority;
  m_log.heading(upload.control_path().string());
  VerifyOptions verify_options{m_clock.now(), m_config.grace_period};
  verify_options.signatures = signatures(product);
  Verification result = verify_upload(upload, verify_options);

  if (result.verdict == Verdict::accepted && !upload.is_changes()) {
    const auto newest = result.last_change;
    const auto quiet = std::chrono::duration_cast<std::chrono::seconds>(m_clock.now() - newest);
    if (quiet < m_options.settle_time) {
      result.verdict = Verdict::waiting;
      result.reason = fmt::format(
        "complete; a lone .dsc is taken once it has been still for {} s (now {} s), in case "
        "a .changes naming it is still on its way",
        m_options.settle_time.count(), std::max<long long>(quiet.count(), 0));
    } else if (!queued.unread_changes.empty()) {
      result.verdict = Verdict::waiting;
      result.reason = fmt::format("complete, but {} here cannot be read yet and may list it; a "
                                  "lone .dsc waits until it can",
                                  util::printable(queued.unread_changes));
    }
  }
  if (result.verdict == Verdict::accepted) {
    if (auto job = m_state.accepted_job(product.name, result.source(), result.version())) {
      result.verdict = Verdict::rejected;
      result.reason = fmt::format("{} {} was already accepted for {} (job {}); upload a new "
                                  "version instead",
                                  result.source(), result.version(), product.name, *job);
    }
  }

  switch (result.verdict) {
  case Verdict::waiting:
    m_log.verdict("WAITING", util::Log::Tone::pending, result.reason);
    ++m_summary.waiting;
    return;
  case Verdict::rejected:
    reject(product, upload, result, result.reason);
    return;
  case Verdict::accepted:
    accept(product, upload, result, priority);
    return;
  }
}

void Intake::accept(const config::Product& product, const Upload& upload,
                    const Verification& result, bool priority)
{
  if (m_options.dry_run) {
    m_log.verdict("ACCEPTED", util::Log::Tone::good,
                  fmt::format("{} (dry run: nothing moved)", result.reason));
    ++m_summary.accepted;
    return;
  }
  auto number = m_state.allocate_job_number();
  if (!number) {
    error(number.message());
    return;
  }
  jobs::AcceptMove move;
  move.from_dir = upload.dir;
  jobs::Job& job = move.job;
  job.number = *number;
  job.product = product.name;
  job.source = result.source();
  job.version = result.version();
  job.upload = upload.control;
  job.dsc = result.dsc_name;
  job.uploader = result.uploader();
  if (result.signature && result.signature->signer) {
    job.signed_by = result.signature->signer->fingerprint;
    job.signature = result.signature->signature_id;
  }
  job.architectures = result.architectures();
  job.priority = priority;
  job.accepted_at =
    std::chrono::duration_cast<std::chrono::seconds>(m_clock.now().time_since_epoch()).count();
  job.files.push_back(upload.control);
  const auto needed = files_listed_by_others(upload, result);
  move.move.push_back(upload.control);
  for (const auto& [name, file] : result.files) {
    job.files.push_back(name);
    (needed.count(name) ? move.copy : move.move).push_back(name);
  }

  auto job_dir = m_state.accept(move);
  if (!job_dir) {
    error(fmt::format("accepting {}: {}", upload.control, job_dir.message()));
    return;
  }

  // A file rewritten between verification and the move (a second scp of the
  // same name) is caught here: the job's copy is verified again.
  bool changed = false;
  const std::map<std::string, util::Digests>* digests = &result.digests;
  Verification again;
  for (const auto& name : move.move) {
    auto now = util::stat_no_follow(*job_dir / "upload" / name);
    const auto& before = name == upload.control ? *result.control_info : result.files.at(name);
    if (!now || !*now || (*now)->inode != before.inode || (*now)->size != before.size ||
        (*now)->mtime != before.mtime) {
      changed = true;
    }
  }
  if (changed) {
    VerifyOptions again_options{m_clock.now(), std::chrono::seconds(0)};
    again_options.signatures = signatures(product);
    again_options.job = job.number;
    again = verify_upload(Upload{*job_dir / "upload", upload.control}, again_options);
    digests = &again.digests;
    if (again.verdict != Verdict::accepted) {
      // Held, never built: a person looks at the files first.
      const std::string why = fmt::format(
        "a file changed while it was being accepted and no longer verifies ({})", again.reason);
      if (auto held = jobs::hold(*job_dir, job, why); !held) {
        error(
          fmt::format("job {}: {}; and it cannot be held: {}", job.number, why, held.message()));
        return;
      }
      m_log.verdict("HELD", util::Log::Tone::bad,
                    fmt::format("job {}: {}: inspect {} and 'buildme retry {}' or remove it",
                                job.number, why, (*job_dir / "upload").string(), job.number));
      ++m_summary.held;
      return;
    }
  }
  // The digests travel with the job into its builds' units, so that
  // queue-manage need not read the source files again. Without them it does.
  if (auto written = util::write_file_atomic(*job_dir / jobs::digests_file,
                                             util::write_digest_manifest(*digests));
      !written) {
    m_log.detail(fmt::format("job {}: {}", job.number, written.message()));
  }
  m_log.verdict("ACCEPTED", util::Log::Tone::good,
                fmt::format("{} {} queued as job {}", job.source, job.version, job.number));
  m_log.detail(fmt::format("job folder {}", job_dir->string()));
  ++m_summary.accepted;
}

void Intake::reject(const config::Product& product, const Upload& upload,
                    const Verification& result, const std::string& reason)
{
  ++m_summary.rejected;
  if (m_options.dry_run) {
    m_log.verdict("REJECTED", util::Log::Tone::bad,
                  fmt::format("{} (dry run: nothing moved)", reason));
    return;
  }
  jobs::SetAside move;
  move.from_dir = upload.dir;
  move.rejected_dir = upload.dir / "rejected";
  move.control = upload.control;
  const auto needed = files_listed_by_others(upload, result);
  // Every file the upload lists that is here, whether or not verification got
  // as far as looking at it; names that fail the syntax check never parse,
  // so they are never touched.
  std::set<std::string> listed;
  for (const auto& [name, file] : result.files) {
    listed.insert(name);
  }
  for (auto& name : listed_files(upload)) {
    listed.insert(std::move(name));
  }
  std::vector<std::string> kept;
  for (const auto& name : listed) {
    auto info = util::stat_no_follow(upload.dir / name);
    if (name == upload.control || !info || !*info) {
      continue;
    }
    if (needed.count(name)) {
      kept.push_back(name);
    } else {
      move.files.push_back(name);
      move.inodes.push_back(static_cast<unsigned long>((*info)->inode));
    }
  }
  if (result.control_info) {
    move.control_inode = static_cast<unsigned long>(result.control_info->inode);
  }
  move.header = {{"Upload", util::printable(upload.control)},
                 {"Product", product.name},
                 {"Rejected", util::format_local_time(m_clock.now())}};
  move.reason = util::printable(reason);
  if (!kept.empty()) {
    move.reason += fmt::format("\n\nLeft in the incoming folder because another upload there "
                               "also lists them: {}",
                               join(kept, ", "));
  }
  auto outcome = m_state.reject(std::move(move));
  if (!outcome) {
    error(fmt::format("rejecting {}: {}", util::printable(upload.control), outcome.message()));
    return;
  }
  m_log.verdict("REJECTED", util::Log::Tone::bad, reason);
  m_log.detail(fmt::format("reason written to {}", outcome->reason.string()));
  if (m_options.on_reject) {
    auto text = util::read_file(outcome->reason, 1024 * 1024);
    m_options.on_reject({product.name, upload.control, result.source(), result.version(),
                         result.uploader(), reason, text ? *text : reason});
  }
}

} // namespace

std::vector<QueuedUpload> find_uploads(const fs::path& dir, util::Log& log)
{
  auto entries = util::list_dir(dir);
  if (!entries) {
    log.verdict("ERROR", util::Log::Tone::bad, entries.message());
    return {};
  }
  // A .dsc that a .changes here lists belongs to that upload.
  std::map<std::string, std::string> claimed; // .dsc -> .changes
  std::string unread;                         // a .changes that lists nothing yet
  for (const auto& name : *entries) {
    if (is_control_name(name) && name.ends_with(".changes")) {
      auto listed = listed_files(Upload{dir, name});
      if (listed.empty()) {
        unread = name;
      }
      for (auto& file : listed) {
        if (file.ends_with(".dsc")) {
          claimed.emplace(std::move(file), name);
        }
      }
    }
  }
  const auto priorities = read_priorities(dir, log);
  std::map<std::string, std::size_t> rank; // control name -> place in priority.txt
  for (std::size_t i = 0; i < priorities.size(); ++i) {
    auto owner = claimed.find(priorities[i]);
    rank.emplace(owner == claimed.end() ? priorities[i] : owner->second, i);
  }
  struct Candidate
  {
    QueuedUpload queued;
    std::size_t rank;
    util::Clock::time_point mtime;
  };
  std::vector<Candidate> candidates;
  for (const auto& name : *entries) {
    if (!is_control_name(name) || claimed.count(name)) {
      continue;
    }
    auto info = util::stat_no_follow(dir / name);
    if (!info || !*info) {
      continue;
    }
    auto place = rank.find(name);
    const bool priority = place != rank.end();
    candidates.push_back(
      {QueuedUpload{Upload{dir, name}, priority, name.ends_with(".dsc") ? unread : std::string()},
       priority ? place->second : priorities.size(), (*info)->mtime});
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) {
                     if (a.rank != b.rank) {
                       return a.rank < b.rank;
                     }
                     return a.mtime < b.mtime;
                   });
  std::vector<QueuedUpload> uploads;
  for (auto& candidate : candidates) {
    uploads.push_back(std::move(candidate.queued));
  }
  return uploads;
}

IntakeSummary run_intake(const config::Config& config, const IntakeOptions& options,
                         const util::Clock& clock, util::Log& log)
{
  return Intake(config, options, clock, log).run();
}

} // namespace buildme::intake
