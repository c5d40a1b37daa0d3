#include "history/history.hpp"

#include "util/fs.hpp"
#include "util/sqlite.hpp"

#include <algorithm>
#include <utility>

namespace buildme::history {

namespace {

using util::printable;
using util::sqlite::Database;
using util::sqlite::read_all;
using util::sqlite::Statement;

// PRAGMA user_version of the schema below. A later buildme that changes the
// schema migrates from each older number in open().
constexpr int schema_version = 1;

// Constant text only: every value reaches the database as a bound parameter.
// jobs.job is the rowid, so a job is found by its number without another
// index; attempts_running holds only the few attempts still going.
constexpr const char* schema = R"sql(
CREATE TABLE jobs (
  job         INTEGER PRIMARY KEY,
  product     TEXT NOT NULL,
  source      TEXT NOT NULL,
  version     TEXT NOT NULL,
  uploader    TEXT NOT NULL,
  state       TEXT NOT NULL,
  accepted_at INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
CREATE INDEX jobs_by_acceptance ON jobs (accepted_at, job);
CREATE TABLE attempts (
  id          INTEGER PRIMARY KEY,
  job         INTEGER NOT NULL,
  arch        TEXT NOT NULL,
  attempt     INTEGER NOT NULL,
  builder     TEXT NOT NULL,
  slot        TEXT NOT NULL,
  started_at  INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  result      TEXT NOT NULL,
  reason      TEXT NOT NULL
);
CREATE INDEX attempts_by_job ON attempts (job, id);
CREATE INDEX attempts_running ON attempts (started_at, id) WHERE finished_at = 0;
PRAGMA user_version = 1; -- schema_version

)sql";

constexpr const char* job_columns =
  "job, product, source, version, uploader, state, accepted_at, updated_at";
constexpr const char* attempt_columns =
  "id, job, arch, attempt, builder, slot, started_at, finished_at, result, reason";

JobRecord read_job(Statement& row)
{
  JobRecord job;
  job.job = static_cast<long>(row.integer(0));
  job.product = row.text(1);
  job.source = row.text(2);
  job.version = row.text(3);
  job.uploader = row.text(4);
  job.state = row.text(5);
  job.accepted_at = row.integer(6);
  job.updated_at = row.integer(7);
  return job;
}

AttemptRecord read_attempt(Statement& row)
{
  AttemptRecord attempt;
  attempt.id = row.integer(0);
  attempt.job = static_cast<long>(row.integer(1));
  attempt.arch = row.text(2);
  attempt.attempt = static_cast<int>(row.integer(3));
  attempt.builder = row.text(4);
  attempt.slot = row.text(5);
  attempt.started_at = row.integer(6);
  attempt.finished_at = row.integer(7);
  attempt.result = row.text(8);
  attempt.reason = row.text(9);
  return attempt;
}

} // namespace

Result<History> History::open(const std::string& path)
{
  TRY_ASSIGN(auto database,
             Database::open(path,
                            {"history database", "move it aside and buildme starts a new one; it "
                                                 "holds history only, so no upload is lost"},
                            schema, schema_version));
  TRY(database.probe({"SELECT job FROM jobs ORDER BY job DESC LIMIT 1",
                      "SELECT id FROM attempts ORDER BY id DESC LIMIT 1"}));
  return History(std::move(database));
}

Status History::record_job(const JobRecord& job)
{
  TRY_ASSIGN(auto insert,
             m_db.prepare("INSERT OR REPLACE INTO jobs (job, product, source, version, uploader, "
                          "state, accepted_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                          "record job " + std::to_string(job.job)));
  TRY(insert.bind(job.job, job.product, job.source, job.version, job.uploader, job.state,
                  job.accepted_at, job.updated_at));
  return insert.run();
}

Status History::set_job_state(long job, const std::string& state, std::int64_t when)
{
  TRY_ASSIGN(auto update, m_db.prepare("UPDATE jobs SET state = ?2, updated_at = ?3 WHERE job = ?1",
                                       "set the state of job " + std::to_string(job)));
  TRY(update.bind(job, state, when));
  TRY(update.run());
  if (m_db.changes() == 0) {
    return fail("history database {}: job {} is not recorded, so its state cannot become {}",
                printable(m_db.path()), job, printable(state));
  }
  return {};
}

Result<std::int64_t> History::start_attempt(const AttemptRecord& attempt)
{
  TRY_ASSIGN(auto insert,
             m_db.prepare("INSERT INTO attempts (job, arch, attempt, builder, slot, started_at, "
                          "finished_at, result, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                          "?9) RETURNING id",
                          "record an attempt of job " + std::to_string(attempt.job)));
  TRY(insert.bind(attempt.job, attempt.arch, attempt.attempt, attempt.builder, attempt.slot,
                  attempt.started_at, attempt.finished_at, attempt.result, attempt.reason));
  TRY_ASSIGN(bool row, insert.next());
  if (!row) {
    return fail("history database {}: recording an attempt of job {} gave no id",
                printable(m_db.path()), attempt.job);
  }
  std::int64_t id = insert.integer(0);
  // The insert is done when the statement has run to its end.
  TRY(insert.run());
  return id;
}

Status History::finish_attempt(std::int64_t id, std::int64_t when, const std::string& result,
                               const std::string& reason)
{
  TRY_ASSIGN(auto update,
             m_db.prepare("UPDATE attempts SET finished_at = ?2, result = ?3, reason = ?4 WHERE "
                          "id = ?1",
                          "record the end of attempt " + std::to_string(id)));
  TRY(update.bind(id, when, result, reason));
  TRY(update.run());
  if (m_db.changes() == 0) {
    return fail("history database {}: attempt {} is not recorded, so it cannot be finished",
                printable(m_db.path()), id);
  }
  return {};
}

Status History::reflect(const JobRecord& job, const std::vector<LatestAttempt>& latest)
{
  const std::string doing = "record job " + std::to_string(job.job);
  TRY(m_db.begin(doing));
  auto body = [&]() -> Status {
    TRY(record_job(job));
    for (const auto& attempt : latest) {
      TRY_ASSIGN(auto lost,
                 m_db.prepare("UPDATE attempts SET finished_at = ?4, result = 'builder-error', "
                              "reason = 'its worker stopped before the build ended' "
                              "WHERE job = ?1 AND arch = ?2 AND attempt < ?3 AND finished_at = 0",
                              doing));
      TRY(lost.bind(job.job, attempt.arch, attempt.attempt,
                    std::max(job.updated_at, std::int64_t{1})));
      TRY(lost.run());
      TRY_ASSIGN(auto find, m_db.prepare("SELECT id FROM attempts WHERE job = ?1 AND arch = ?2 AND "
                                         "attempt = ?3",
                                         doing));
      TRY(find.bind(job.job, attempt.arch, attempt.attempt));
      TRY_ASSIGN(bool found, find.next());
      std::int64_t id = 0;
      if (found) {
        id = find.integer(0);
      } else {
        TRY_ASSIGN(id, start_attempt({0, job.job, attempt.arch, attempt.attempt, attempt.builder,
                                      attempt.slot, attempt.started_at, 0, "", ""}));
      }
      if (attempt.running) {
        continue;
      }
      // An attempt that ended keeps how it ended: a build retried by an
      // operator, or a depwait retried, is queued again with that attempt
      // as its last, and is not a builder error.
      TRY_ASSIGN(auto finish,
                 m_db.prepare("UPDATE attempts SET finished_at = ?2, result = ?3, reason = ?4 "
                              "WHERE id = ?1 AND finished_at = 0",
                              doing));
      TRY(finish.bind(id, std::max(attempt.finished_at, std::int64_t{1}), attempt.result,
                      attempt.reason));
      TRY(finish.run());
    }
    return {};
  };
  if (auto done = body(); !done) {
    m_db.rollback();
    return done;
  }
  return m_db.commit(doing);
}

Result<std::optional<JobRecord>> History::job(long job)
{
  TRY_ASSIGN(auto query,
             m_db.prepare(std::string("SELECT ") + job_columns + " FROM jobs WHERE job = ?1",
                          "read job " + std::to_string(job)));
  TRY(query.bind(job));
  TRY_ASSIGN(bool row, query.next());
  if (!row) {
    return std::optional<JobRecord>();
  }
  return std::optional<JobRecord>(read_job(query));
}

Result<std::vector<JobRecord>> History::jobs(int limit)
{
  TRY_ASSIGN(auto query, m_db.prepare(std::string("SELECT ") + job_columns +
                                        " FROM jobs ORDER BY accepted_at DESC, job DESC LIMIT ?1",
                                      "list jobs"));
  TRY(query.bind(limit));
  return read_all(query, read_job);
}

Result<std::vector<AttemptRecord>> History::attempts(long job)
{
  TRY_ASSIGN(auto query, m_db.prepare(std::string("SELECT ") + attempt_columns +
                                        " FROM attempts WHERE job = ?1 ORDER BY id",
                                      "list the attempts of job " + std::to_string(job)));
  TRY(query.bind(job));
  return read_all(query, read_attempt);
}

Result<std::vector<long>> History::jobs_updated_since(std::int64_t since)
{
  TRY_ASSIGN(auto query, m_db.prepare("SELECT job FROM jobs WHERE updated_at >= ?1 ORDER BY job",
                                      "list the jobs changed since a time"));
  TRY(query.bind(since));
  return read_all(query, [](Statement& row) { return static_cast<long>(row.integer(0)); });
}

Result<std::vector<AttemptRecord>> History::running()
{
  TRY_ASSIGN(auto query,
             m_db.prepare(std::string("SELECT ") + attempt_columns +
                            " FROM attempts WHERE finished_at = 0 ORDER BY started_at, id",
                          "list running attempts"));
  return read_all(query, read_attempt);
}

} // namespace buildme::history
