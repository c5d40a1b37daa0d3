#include "report/report.hpp"

#include "builder/health.hpp"
#include "builder/slots.hpp"
#include "config/arches.hpp"
#include "history/history.hpp"
#include "jobs/state_dir.hpp"
#include "mail/notify.hpp"
#include "repo/catalog.hpp"
#include "repo/index.hpp"
#include "report/collect.hpp"
#include "report/html.hpp"
#include "report/pages.hpp"
#include "report/stuck.hpp"
#include "util/digest.hpp"
#include "util/fs.hpp"
#include "util/lock.hpp"
#include "util/sqlite.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <map>
#include <optional>
#include <set>
#include <tuple>

namespace buildme::report {

namespace fs = std::filesystem;

namespace {

using util::sqlite::Database;
using util::sqlite::Statement;

// The shape of the pages: a buildme whose pages look different raises it,
// and its first run rewrites every page.
constexpr std::int64_t site_format = 1;

// Logs above this size are also served gzip-compressed.
constexpr std::uint64_t compress_logs_over = 64 * 1024;
// Logs are copied whole; one larger than this is cut to its end.
constexpr std::uint64_t max_log_copy = 256 * 1024 * 1024;

constexpr int recent_results = 30;
constexpr std::size_t recent_rejects = 20;
constexpr std::int64_t day = 86400;

constexpr const char* schema = R"sql(
CREATE TABLE jobs (
  job         INTEGER PRIMARY KEY,
  product     TEXT NOT NULL,
  source      TEXT NOT NULL,
  version     TEXT NOT NULL,
  uploader    TEXT NOT NULL,
  state       TEXT NOT NULL,
  accepted_at INTEGER NOT NULL
);
CREATE INDEX jobs_by_source ON jobs (source, job);
CREATE INDEX jobs_open ON jobs (job) WHERE state IN ('queued', 'building', 'held');
CREATE INDEX jobs_unbuilt ON jobs (job)
  WHERE state NOT IN ('built', 'queued', 'building', 'held', 'cancelled');
CREATE TABLE builds (
  job         INTEGER NOT NULL,
  arch        TEXT NOT NULL,
  state       TEXT NOT NULL,
  builder     TEXT NOT NULL,
  attempts    INTEGER NOT NULL,
  started_at  INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  reason      TEXT NOT NULL,
  has_log     INTEGER NOT NULL,
  PRIMARY KEY (job, arch)
);
CREATE INDEX builds_by_finish ON builds (finished_at) WHERE finished_at > 0;
CREATE INDEX builds_by_builder ON builds (builder, finished_at);
CREATE TABLE pages (path TEXT PRIMARY KEY, digest TEXT NOT NULL);
CREATE TABLE stuck (item TEXT PRIMARY KEY, mailed_at INTEGER NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
PRAGMA user_version = 1;
)sql";

// The columns read_row reads, for the queries below (string literals, as
// Database::cached wants them).
#define BUILD_ROW_COLUMNS                                                                          \
  "j.job, j.product, j.source, j.version, j.uploader, b.arch, b.state, b.builder, b.attempts, "    \
  "j.accepted_at, b.started_at, b.finished_at, b.reason, b.has_log"

BuildRow read_row(Statement& row)
{
  BuildRow out;
  out.job = static_cast<long>(row.integer(0));
  out.product = row.text(1);
  out.source = row.text(2);
  out.version = row.text(3);
  out.uploader = row.text(4);
  out.arch = row.text(5);
  out.state = row.text(6);
  out.builder = row.text(7);
  out.attempts = static_cast<int>(row.integer(8));
  out.accepted_at = row.integer(9);
  out.started_at = row.integer(10);
  out.finished_at = row.integer(11);
  out.reason = row.text(12);
  out.has_log = row.integer(13) != 0;
  return out;
}

Result<std::vector<BuildRow>> read_rows(Statement& query)
{
  return util::sqlite::read_all(query, read_row);
}

std::string sha256(std::string_view data)
{
  util::DigestSet wanted;
  wanted.sha256 = true;
  return util::digest_bytes(data, wanted).sha256.value_or("");
}

class Site
{
public:
  Site(const config::Config& config, const util::Clock& clock, util::Log& log, mail::Outbox* outbox,
       Database db)
    : m_config(config), m_report(*config.report), m_clock(clock), m_log(log), m_outbox(outbox),
      m_db(std::move(db)), m_now(util::unix_seconds(clock.now()))
  {
  }

  Result<ReportSummary> run(Rewrite rewrite);

private:
  Result<std::optional<std::int64_t>> meta(const char* key);
  Status set_meta(const char* key, std::int64_t value);
  // Writes `content` at `rel` below the site unless the same bytes are
  // there; true when written.
  Result<bool> write(const std::string& rel, std::string_view content);
  Result<bool> write_page(const std::string& rel, const Page& page);
  Result<std::set<long>> jobs_to_read(bool all, history::History* history);
  Status record(const JobView& view);
  Status copy_log(const JobView& view, const BuildView& build);
  Status write_source_page(const std::string& source);
  Status write_builder_pages(const std::vector<JobView>& open);
  Status write_distribution_pages(bool all, Front& front);
  Result<std::vector<StuckItem>> stuck(const std::vector<JobView>& open);
  Status mail_stuck(const std::vector<StuckItem>& items);
  Status front_counts(Front& front);

  const config::Config& m_config;
  const config::Report& m_report;
  const util::Clock& m_clock;
  util::Log& m_log;
  mail::Outbox* m_outbox;
  Database m_db;
  std::int64_t m_now;
  ReportSummary m_summary;
};

Result<std::optional<std::int64_t>> Site::meta(const char* key)
{
  TRY_ASSIGN(auto query,
             m_db.cached("SELECT value FROM meta WHERE key = ?1", "read the site state"));
  TRY(query.bind(std::string_view(key)));
  TRY_ASSIGN(bool row, query.next());
  std::optional<std::int64_t> value;
  if (row) {
    value = query.integer(0);
  }
  TRY(query.run());
  return value;
}

Status Site::set_meta(const char* key, std::int64_t value)
{
  TRY_ASSIGN(auto update, m_db.cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                                      "write the site state"));
  TRY(update.bind(std::string_view(key), value));
  return update.run();
}

Result<bool> Site::write(const std::string& rel, std::string_view content)
{
  const std::string digest = sha256(content);
  const fs::path path = m_report.dir / rel;
  TRY_ASSIGN(auto query,
             m_db.cached("SELECT digest FROM pages WHERE path = ?1", "read the page digests"));
  TRY(query.bind(rel));
  TRY_ASSIGN(bool row, query.next());
  const bool same = row && query.text(0) == digest;
  TRY(query.run());
  if (same) {
    auto info = util::stat_no_follow(path);
    if (info && *info) {
      ++m_summary.pages_same;
      return false;
    }
  }
  TRY(util::make_dirs(path.parent_path()));
  TRY(util::write_file_atomic(path, content, 0644, util::Durability::unsynced));
  TRY_ASSIGN(auto update, m_db.cached("INSERT OR REPLACE INTO pages (path, digest) VALUES (?1, ?2)",
                                      "record a page digest"));
  TRY(update.bind(rel, digest));
  TRY(update.run());
  ++m_summary.pages_written;
  m_summary.written.push_back(rel);
  return true;
}

Result<bool> Site::write_page(const std::string& rel, const Page& page)
{
  TRY_ASSIGN(bool html, write(rel, page.html));
  TRY_ASSIGN(bool json, write(rel.substr(0, rel.rfind('.')) + ".json", page.json.dump()));
  return html || json;
}

Result<std::set<long>> Site::jobs_to_read(bool all, history::History* history)
{
  jobs::StateDir state(m_config.state_dir);
  std::set<long> numbers;
  auto from_folder = [&]() -> Status {
    if (!util::present(state.jobs_dir())) {
      return {}; // no upload taken yet
    }
    auto names = util::list_dir(state.jobs_dir());
    if (!names) {
      return names.error();
    }
    for (const auto& name : *names) {
      if (auto number = util::parse_count(name)) {
        numbers.insert(static_cast<long>(*number));
      }
    }
    return {};
  };
  TRY_ASSIGN(auto mark, meta("history_mark"));
  if (all || !history || !mark) {
    TRY(from_folder());
    return numbers;
  }
  TRY_ASSIGN(auto open, m_db.cached("SELECT job FROM jobs WHERE state IN ('queued', 'building', "
                                    "'held')",
                                    "list the open jobs"));
  while (true) {
    TRY_ASSIGN(bool row, open.next());
    if (!row) {
      break;
    }
    numbers.insert(static_cast<long>(open.integer(0)));
  }
  TRY_ASSIGN(auto changed, history->jobs_updated_since(*mark));
  numbers.insert(changed.begin(), changed.end());
  // New jobs the history may not know yet: every number up to next-job.
  TRY_ASSIGN(auto newest,
             m_db.cached("SELECT coalesce(max(job), 0) FROM jobs", "find the newest job"));
  TRY_ASSIGN(bool row, newest.next());
  const long known = row ? static_cast<long>(newest.integer(0)) : 0;
  TRY(newest.run());
  long next = known + 1;
  if (auto text = util::read_file(m_config.state_dir / "next-job", 64)) {
    next = static_cast<long>(util::parse_count(util::trim(*text)).value_or(next));
  }
  for (long number = known + 1; number < next; ++number) {
    numbers.insert(number);
  }
  return numbers;
}

Status Site::record(const JobView& view)
{
  const jobs::Job& job = view.job;
  TRY_ASSIGN(auto put, m_db.cached("INSERT OR REPLACE INTO jobs (job, product, source, version, "
                                   "uploader, state, accepted_at) VALUES (?1, ?2, ?3, ?4, ?5, "
                                   "?6, ?7)",
                                   "record a job for the site"));
  TRY(put.bind(job.number, job.product, job.source, job.version, job.uploader,
               jobs::to_string(job.state), job.accepted_at));
  TRY(put.run());
  TRY_ASSIGN(auto clear, m_db.cached("DELETE FROM builds WHERE job = ?1", "record a job's builds"));
  TRY(clear.bind(job.number));
  TRY(clear.run());
  for (const auto& build : view.builds) {
    const jobs::Build& record = build.record;
    TRY_ASSIGN(auto insert,
               m_db.cached("INSERT INTO builds (job, arch, state, builder, attempts, started_at, "
                           "finished_at, reason, has_log) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                           "?9)",
                           "record a job's builds"));
    TRY(insert.bind(job.number, record.arch, jobs::to_string(record.state), build.builder,
                    record.attempts, record.started_at, record.finished_at, record.reason,
                    build.has_log ? 1 : 0));
    TRY(insert.run());
  }
  return {};
}

Status Site::copy_log(const JobView& view, const BuildView& build)
{
  if (!build.has_log) {
    return {};
  }
  const fs::path from = log_path(m_config, view.job, build.record.arch);
  const fs::path to =
    m_report.dir / log_page_path(view.job.product, view.job.number, build.record.arch);
  const bool running = build.record.state == jobs::BuildState::building;
  if (!running) {
    auto there = util::stat_no_follow(to);
    if (there && *there && (*there)->size == build.log_size) {
      return {}; // copied when it ended
    }
  }
  auto text = util::read_file(from, max_log_copy);
  if (!text) {
    return text.error();
  }
  TRY(util::make_dirs(to.parent_path()));
  TRY(util::write_file_atomic(to, *text, 0644, util::Durability::unsynced));
  ++m_summary.pages_written;
  m_summary.written.push_back(fs::relative(to, m_report.dir).string());
  fs::path gz = to;
  gz += ".gz";
  if (!running && text->size() > compress_logs_over) {
    TRY_ASSIGN(auto packed, repo::gzip_compress(*text));
    TRY(util::write_file_atomic(gz, packed, 0644, util::Durability::unsynced));
  } else {
    std::error_code ignored;
    fs::remove(gz, ignored); // a shorter log of a retry replaced a long one
  }
  return {};
}

Status Site::write_source_page(const std::string& source)
{
  TRY_ASSIGN(auto query, m_db.cached("SELECT j.job, j.product, j.source, j.version, j.uploader, "
                                     "coalesce(b.arch, ''), coalesce(b.state, ''), "
                                     "coalesce(b.builder, ''), coalesce(b.attempts, 0), "
                                     "j.accepted_at, coalesce(b.started_at, 0), "
                                     "coalesce(b.finished_at, 0), coalesce(b.reason, ''), "
                                     "coalesce(b.has_log, 0) FROM jobs j LEFT JOIN builds b ON "
                                     "b.job = j.job WHERE j.source = ?1 ORDER BY j.job DESC, "
                                     "b.arch",
                                     "list a source's jobs"));
  TRY(query.bind(source));
  TRY_ASSIGN(auto rows, read_rows(query));
  TRY(write_page(source_page_path(source), source_page(m_config, source, rows)));
  return {};
}

Status Site::write_builder_pages(const std::vector<JobView>& open)
{
  builder::HealthStore health(m_config.state_dir);
  const auto slots = builder::all_slots(m_config);
  for (const auto& builder : m_config.builders) {
    BuilderInfo info;
    info.name = builder.name;
    info.host = builder.host;
    if (auto arches = config::builder_arches(builder)) {
      info.arches = *arches;
    }
    if (auto state = health.load(builder.name)) {
      info.health = *state;
    }
    for (const auto& slot : slots) {
      if (slot.builder != &builder) {
        continue;
      }
      Slot shown{slot.id(), slot.describe(), "", 0};
      for (const auto& view : open) {
        for (const auto& build : view.builds) {
          if (build.record.state == jobs::BuildState::building && build.record.slot == slot.id()) {
            shown.job = view.job.number;
            shown.building = fmt::format("job {}: {} {} [{}]", view.job.number, view.job.source,
                                         view.job.version, build.record.arch);
          }
        }
      }
      info.slots.push_back(std::move(shown));
    }
    TRY_ASSIGN(auto per_day,
               m_db.cached("SELECT finished_at / 86400, count(*) FROM builds WHERE builder = ?1 "
                           "AND finished_at >= ?2 GROUP BY 1 ORDER BY 1 DESC",
                           "count a builder's builds per day"));
    TRY(per_day.bind(builder.name, (m_now / day - 13) * day));
    while (true) {
      TRY_ASSIGN(bool row, per_day.next());
      if (!row) {
        break;
      }
      info.per_day.emplace_back(per_day.integer(0) * day, static_cast<int>(per_day.integer(1)));
    }
    TRY(write_page(builder_page_path(builder.name), builder_page(m_config, info, m_now)));
  }
  return {};
}

Status Site::write_distribution_pages(bool all, Front& front)
{
  for (const auto& repository : m_config.repositories) {
    const fs::path catalog_path = m_config.state_dir / "repo" / (repository.name + ".sqlite");
    for (const auto& dist : repository.products) {
      front.distributions.emplace_back(repository.name, dist);
      // Written again when its Release changed (queue-manage rewrote it).
      std::int64_t stamp = 0;
      if (auto info = util::stat_no_follow(repository.staging_dir / "dists" / dist / "Release");
          info && *info) {
        stamp = util::unix_seconds((*info)->mtime) * 1000 +
                static_cast<std::int64_t>((*info)->inode % 1000);
      }
      const std::string key = fmt::format("release:{}/{}", repository.name, dist);
      TRY_ASSIGN(auto known, meta(key.c_str()));
      const std::string page_path = distribution_page_path(repository.name, dist);
      if (!all && known && *known == stamp && util::present(m_report.dir / page_path)) {
        continue;
      }
      Distribution shown;
      shown.repository = repository.name;
      shown.dist = dist;
      shown.components = repository.components;
      shown.sign_with = repository.sign_with;
      // Where clients find it: [report] repo_url with the repository's
      // name, else the repository's own url; else the line says what to set
      // rather than show an address that is not this archive's.
      std::string where =
        m_report.repo_url.empty() ? repository.url : m_report.repo_url + repository.name;
      if (where.empty()) {
        where = "<no address: set repo_url in [report] of buildme.conf>";
      }
      // The key queue-manage exports beside the indices, served here too.
      const std::string key_file = fmt::format("keys/{}.asc", segment(repository.name));
      if (auto armored =
            util::read_file(repository.staging_dir / config::archive_key_name, 1 << 20)) {
        TRY(write(key_file, *armored));
        shown.key_link = key_file;
      }
      shown.deb_line =
        fmt::format("deb {}{} {} {}",
                    shown.key_link.empty()
                      ? std::string()
                      : fmt::format("[signed-by=/usr/share/keyrings/{}.asc] ", repository.name),
                    where, dist, util::join(repository.components, " "));
      if (util::present(catalog_path)) {
        auto catalog = repo::Catalog::open(catalog_path.string());
        auto members =
          catalog ? catalog->members(dist) : Result<std::vector<repo::Member>>(catalog.error());
        if (members) {
          shown.members = std::move(*members);
          std::sort(shown.members.begin(), shown.members.end(),
                    [](const repo::Member& a, const repo::Member& b) {
                      return std::tie(a.name, a.arch, a.kind) < std::tie(b.name, b.arch, b.kind);
                    });
        } else {
          shown.error = members.message();
        }
      }
      TRY(write_page(page_path, distribution_page(m_config, shown)));
      // Not a cached statement: its key is made at run time.
      TRY_ASSIGN(auto update,
                 m_db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                              "write the site state"));
      TRY(update.bind(key, stamp));
      TRY(update.run());
    }
  }
  return {};
}

Result<std::vector<StuckItem>> Site::stuck(const std::vector<JobView>& open)
{
  TRY_ASSIGN(auto query,
             m_db.cached("SELECT " BUILD_ROW_COLUMNS " FROM jobs j JOIN builds b ON b.job = "
                         "j.job WHERE j.state NOT IN ('built', 'queued', 'building', 'held', "
                         "'cancelled') AND b.state != 'success' AND NOT EXISTS (SELECT 1 FROM "
                         "jobs k WHERE k.source = j.source AND k.product = j.product AND k.job > "
                         "j.job)",
                         "find the sources whose latest version is not built"));
  TRY_ASSIGN(auto unbuilt, read_rows(query));
  std::string failure;
  auto past = [&](const std::string& source, const std::string& arch) {
    std::vector<std::int64_t> durations;
    auto durations_query =
      m_db.cached("SELECT b.finished_at - b.started_at FROM jobs j JOIN builds b ON b.job = j.job "
                  "WHERE j.source = ?1 AND b.arch = ?2 AND b.state = 'success' AND b.started_at "
                  "> 0 ORDER BY j.job DESC LIMIT 5",
                  "read a source's build times");
    if (!durations_query || !durations_query->bind(source, arch)) {
      failure = durations_query ? "binding" : durations_query.message();
      return durations;
    }
    while (true) {
      auto row = durations_query->next();
      if (!row || !*row) {
        break;
      }
      durations.push_back(durations_query->integer(0));
    }
    return durations;
  };
  auto items = find_stuck(open, unbuilt, past, m_report.stuck_after, m_now);
  if (!failure.empty()) {
    return fail("reading build times for the stuck list: {}", failure);
  }
  return items;
}

Status Site::mail_stuck(const std::vector<StuckItem>& items)
{
  std::set<std::string> now_stuck;
  std::vector<const StuckItem*> fresh;
  for (const auto& item : items) {
    now_stuck.insert(item.key);
    TRY_ASSIGN(auto known, m_db.cached("SELECT 1 FROM stuck WHERE item = ?1", "read stuck items"));
    TRY(known.bind(item.key));
    TRY_ASSIGN(bool row, known.next());
    TRY(known.run());
    if (!row) {
      fresh.push_back(&item);
    }
  }
  // Forget what is no longer stuck: if it sticks again, it is mailed again.
  std::vector<std::string> gone;
  TRY_ASSIGN(auto all, m_db.cached("SELECT item FROM stuck", "read stuck items"));
  while (true) {
    TRY_ASSIGN(bool row, all.next());
    if (!row) {
      break;
    }
    if (!now_stuck.count(all.text(0))) {
      gone.push_back(all.text(0));
    }
  }
  for (const auto& item : gone) {
    TRY_ASSIGN(auto forget,
               m_db.cached("DELETE FROM stuck WHERE item = ?1", "forget a stuck item"));
    TRY(forget.bind(item));
    TRY(forget.run());
  }
  if (fresh.empty() || !m_outbox || !m_config.mail || m_config.mail->list.empty()) {
    return {};
  }
  std::string body = fmt::format("{} newly stuck (longer than {}):\n\n", fresh.size(),
                                 util::age_text(m_report.stuck_after.count()));
  for (const StuckItem* item : fresh) {
    body +=
      fmt::format("- {} {} {}{} (job {}): {}\n", to_string(item->kind), item->source, item->version,
                  item->arch.empty() ? "" : " [" + item->arch + "]", item->job, item->text);
    if (!m_report.url.empty()) {
      body += fmt::format("  {}{}\n", m_report.url, job_page_path(item->job));
    }
  }
  if (!m_report.url.empty()) {
    body += fmt::format("\nEverything stuck now: {}stuck.html\n", m_report.url);
  }
  mail::notify_list(*m_config.mail, *m_outbox,
                    fmt::format("STUCK: {} item{}", fresh.size(), fresh.size() == 1 ? "" : "s"),
                    body, m_log);
  for (const StuckItem* item : fresh) {
    TRY_ASSIGN(auto remember, m_db.cached("INSERT OR REPLACE INTO stuck (item, mailed_at) VALUES "
                                          "(?1, ?2)",
                                          "remember a stuck item"));
    TRY(remember.bind(item->key, m_now));
    TRY(remember.run());
  }
  m_summary.stuck_mailed = static_cast<int>(fresh.size());
  return {};
}

Status Site::front_counts(Front& front)
{
  for (const JobView* view : front.open) {
    for (const auto& build : view->builds) {
      Counts& count = front.counts[{view->job.product, build.record.arch}];
      if (build.record.state == jobs::BuildState::building) {
        ++count.building;
      } else if (build.wait) {
        ++count.queued;
      }
    }
  }
  TRY_ASSIGN(auto query,
             m_db.cached("SELECT j.product, b.arch, b.state = 'success', count(*) FROM builds b "
                         "JOIN jobs j ON j.job = b.job WHERE b.finished_at >= ?1 AND b.state NOT "
                         "IN ('queued', 'building', 'depwait') GROUP BY 1, 2, 3",
                         "count the results per product and arch"));
  TRY(query.bind(m_now - 7 * day));
  while (true) {
    TRY_ASSIGN(bool row, query.next());
    if (!row) {
      return {};
    }
    Counts& count = front.counts[{query.text(0), query.text(1)}];
    (query.integer(2) ? count.built : count.failed) += static_cast<int>(query.integer(3));
  }
}

Result<ReportSummary> Site::run(Rewrite rewrite)
{
  TRY_ASSIGN(auto format, meta("format"));
  const bool all = rewrite == Rewrite::all || format != site_format;
  std::optional<history::History> history;
  if (auto opened = history::History::open((m_config.state_dir / "history.sqlite").string())) {
    history = std::move(*opened);
  } else {
    m_log.verdict("ERROR", util::Log::Tone::bad, opened.message());
  }
  TRY(m_db.begin("write the site"));
  auto body = [&]() -> Status {
    TRY_ASSIGN(auto numbers, jobs_to_read(all, history ? &*history : nullptr));
    jobs::StateDir state(m_config.state_dir);
    std::vector<JobView> views;
    for (long number : numbers) {
      auto view = load_job_view(m_config, state.job_dir(number), history ? &*history : nullptr);
      if (!view) {
        // Removed by hand, or half made: its pages stay as they were.
        m_log.detail(view.message());
        continue;
      }
      ++m_summary.jobs_read;
      views.push_back(std::move(*view));
    }
    // Every open job is among those read, so the views know every build
    // running now.
    const auto available = availability(m_config, views, m_now, m_log);
    std::vector<JobView> open;
    std::set<std::string> sources;
    for (auto& view : views) {
      explain_waits(m_config, view, available);
      if (jobs::is_open(view.job.state)) {
        open.push_back(view);
      }
      for (auto& build : view.builds) {
        if (auto copied = copy_log(view, build); !copied) {
          // One log that cannot be copied must not cost the whole site.
          m_log.verdict("ERROR", util::Log::Tone::bad,
                        fmt::format("status site: the log of job {} [{}]: {}", view.job.number,
                                    build.record.arch, copied.message()));
          build.has_log = false;
        }
      }
      TRY(record(view));
      TRY_ASSIGN(bool changed,
                 write_page(job_page_path(view.job.number), job_page(m_config, view)));
      if (changed || all) {
        sources.insert(view.job.source);
      }
    }
    for (const auto& source : sources) {
      TRY(write_source_page(source));
    }
    TRY(write_builder_pages(open));

    Front front;
    for (const auto& view : open) {
      front.open.push_back(&view);
    }
    front.uploads = waiting_uploads(m_config, m_now, m_log);
    front.rejected = recent_rejections(m_config, recent_rejects);
    for (const auto& builder : m_config.builders) {
      front.builders.push_back(builder.name);
    }
    TRY(write_distribution_pages(all, front));
    TRY(front_counts(front));
    TRY_ASSIGN(auto recent, m_db.cached("SELECT " BUILD_ROW_COLUMNS " FROM "
                                        "builds b JOIN jobs j ON j.job = b.job WHERE b.finished_at "
                                        "> 0 AND b.state NOT IN ('queued', 'building', 'depwait') "
                                        "ORDER BY b.finished_at DESC LIMIT ?1",
                                        "list the recent results"));
    TRY(recent.bind(recent_results));
    TRY_ASSIGN(front.recent, read_rows(recent));
    TRY_ASSIGN(front.stuck, stuck(open));
    m_summary.stuck = static_cast<int>(front.stuck.size());
    TRY(mail_stuck(front.stuck));
    TRY(write_page("stuck.html", stuck_page(m_config, front.stuck, m_now)));
    TRY(write_page("index.html", front_page(m_config, front, m_now)));
    TRY(write("feed.atom", atom_feed(m_config, front.recent)));
    TRY(write("style.css", stylesheet()));
    // The history's clock and ours may differ by a second or so.
    TRY(set_meta("history_mark", m_now - 2));
    TRY(set_meta("format", site_format));
    return {};
  };
  if (auto done = body(); !done) {
    m_db.rollback();
    return done.error();
  }
  TRY(m_db.commit("write the site"));
  return m_summary;
}

} // namespace

Result<ReportSummary> write_report(const config::Config& config, Rewrite rewrite,
                                   const util::Clock& clock, util::Log& log, mail::Outbox* outbox)
{
  if (!config.report) {
    return fail("{}: no [report] section; it says where the status site goes, like "
                "'[report]' with 'dir = /srv/www/builder'",
                config.path);
  }
  TRY(util::make_dirs(config.state_dir));
  TRY_ASSIGN(auto lock, util::FileLock::acquire(config.state_dir / "report.lock",
                                                util::FileLock::Mode::try_once));
  if (!lock.locked()) {
    ReportSummary skipped;
    skipped.skipped = true;
    return skipped;
  }
  TRY(util::make_dirs(config.report->dir));
  TRY_ASSIGN(auto db, Database::open((config.state_dir / "report.sqlite").string(),
                                     {"status site state", "remove it: the next buildme-report "
                                                           "rewrites the whole site"},
                                     schema, 1));
  // The site's index is a cache of what the records say and the pages
  // hold: a commit lost in a crash costs a rewrite of some pages, never a
  // wrong page, so commits need not wait for the disk.
  TRY(db.execute("PRAGMA synchronous = NORMAL", "set up the status site state"));
  Site site(config, clock, log, outbox, std::move(db));
  return site.run(rewrite);
}

void report_after_tick(const config::Config& config, const util::Clock& clock, util::Log& log,
                       mail::Outbox* outbox)
{
  if (!config.report) {
    return;
  }
  try {
    auto written = write_report(config, Rewrite::changed, clock, log, outbox);
    if (!written) {
      log.verdict("ERROR", util::Log::Tone::bad,
                  fmt::format("status site not written: {}", written.message()));
    } else if (!written->skipped) {
      log.detail(fmt::format("status site: {} jobs read, {} files written, {} unchanged",
                             written->jobs_read, written->pages_written, written->pages_same));
    }
  } catch (const std::exception& unexpected) {
    log.verdict("ERROR", util::Log::Tone::bad,
                fmt::format("status site not written: {}", unexpected.what()));
  }
}

} // namespace buildme::report
