#include "history/history.hpp"

#include "util/fs.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>

namespace buildme::history {

namespace {

using util::printable;

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

// Long enough for any build's few writes; a lock held longer than this is a
// stuck process, and an operator should hear of it.
constexpr int busy_timeout_ms = 10000;

constexpr const char* job_columns =
  "job, product, source, version, uploader, state, accepted_at, updated_at";
constexpr const char* attempt_columns =
  "id, job, arch, attempt, builder, slot, started_at, finished_at, result, reason";

std::string path_of(sqlite3* db)
{
  const char* file = db ? sqlite3_db_filename(db, "main") : nullptr;
  return printable(file ? file : "");
}

Error damaged(const std::string& path, const char* why)
{
  return fail("history database {} is damaged ({}): move it aside and buildme starts a new "
              "one; it holds history only, so no upload is lost",
              path, why);
}

// The Error for what `db` just failed at; `doing` says what that was.
Error db_error(sqlite3* db, std::string_view doing)
{
  int code = sqlite3_errcode(db) & 0xff;
  if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) {
    return damaged(path_of(db), sqlite3_errmsg(db));
  }
  return fail("history database {}: cannot {}: {}", path_of(db), doing, sqlite3_errmsg(db));
}

// One prepared statement; values are bound, never written into the SQL.
class Statement
{
public:
  static Result<Statement> prepare(sqlite3* db, std::string_view sql, std::string_view doing)
  {
    if (!db) {
      return fail("cannot {}: the history database is closed", doing);
    }
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &statement, nullptr) !=
        SQLITE_OK) {
      return db_error(db, doing);
    }
    return Statement(db, statement, doing);
  }

  Statement(Statement&& other) noexcept
    : m_db(other.m_db), m_statement(std::exchange(other.m_statement, nullptr)),
      m_doing(std::move(other.m_doing))
  {
  }
  Statement& operator=(Statement&&) = delete;
  ~Statement() { sqlite3_finalize(m_statement); }

  // Binds ?1, ?2, ... in order: integers as integers, strings as text.
  template<typename... Values>
  Status bind(const Values&... values)
  {
    int index = 0;
    int code = SQLITE_OK;
    ((code = code == SQLITE_OK ? bind_one(++index, values) : code), ...);
    if (code != SQLITE_OK) {
      return db_error(m_db, m_doing);
    }
    return {};
  }

  // True with a row to read, false when done.
  Result<bool> next()
  {
    int code = sqlite3_step(m_statement);
    if (code == SQLITE_ROW) {
      return true;
    }
    if (code == SQLITE_DONE) {
      return false;
    }
    return db_error(m_db, m_doing);
  }

  // Runs a statement that returns no rows.
  Status run()
  {
    auto stepped = next();
    if (!stepped) {
      return stepped.error();
    }
    return {};
  }

  std::int64_t integer(int column) { return sqlite3_column_int64(m_statement, column); }

  // The bytes as stored: no conversion, so text that is not UTF-8 comes
  // back as it went in.
  std::string text(int column)
  {
    auto* bytes = reinterpret_cast<const char*>(sqlite3_column_text(m_statement, column));
    int size = sqlite3_column_bytes(m_statement, column);
    return bytes ? std::string(bytes, static_cast<std::size_t>(size)) : std::string();
  }

private:
  Statement(sqlite3* db, sqlite3_stmt* statement, std::string_view doing)
    : m_db(db), m_statement(statement), m_doing(doing)
  {
  }

  template<typename Value>
  int bind_one(int index, const Value& value)
  {
    if constexpr (std::is_integral_v<Value>) {
      return sqlite3_bind_int64(m_statement, index, static_cast<sqlite3_int64>(value));
    } else {
      std::string_view text(value);
      return sqlite3_bind_text64(m_statement, index, text.data(), text.size(), SQLITE_TRANSIENT,
                                 SQLITE_UTF8);
    }
  }

  sqlite3* m_db;
  sqlite3_stmt* m_statement;
  std::string m_doing;
};

// Constant SQL with no values (pragmas, transactions, the schema).
Status execute(sqlite3* db, const char* sql, std::string_view doing)
{
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return db_error(db, doing);
  }
  return {};
}

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

template<typename Record>
Result<std::vector<Record>> read_all(Statement& rows, Record (*read)(Statement&))
{
  std::vector<Record> records;
  while (true) {
    auto row = rows.next();
    if (!row) {
      return row.error();
    }
    if (!*row) {
      return records;
    }
    records.push_back(read(rows));
  }
}

// WAL: readers never wait for the writer, and writers queue on the busy
// timeout. The mode is kept in the file, so this is a no-op after the first
// open. Switching a new file needs a lock that SQLite will not wait for
// when waiting could deadlock (two connections both reading the new file and
// both switching it), answering SQLITE_BUSY at once: so wait here instead,
// as long as the busy timeout.
Status switch_to_wal(sqlite3* db)
{
  constexpr int pause_ms = 20;
  for (int waited = 0;; waited += pause_ms) {
    int code = sqlite3_exec(db, "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr);
    if (code == SQLITE_OK) {
      return {};
    }
    if ((code & 0xff) != SQLITE_BUSY || waited >= busy_timeout_ms) {
      return db_error(db, "switch it to WAL mode");
    }
    sqlite3_sleep(pause_ms);
  }
}

// Creates the schema in a new database, under a write lock so that two
// processes opening a new file at once do not both create it.
Status prepare_schema(sqlite3* db)
{
  TRY(execute(db, "BEGIN IMMEDIATE", "lock it to check the schema"));
  auto checked = [db]() -> Status {
    auto version = Statement::prepare(db, "PRAGMA user_version", "read the schema version");
    if (!version) {
      return version.error();
    }
    auto row = version->next();
    if (!row) {
      return row.error();
    }
    auto found = *row ? version->integer(0) : 0;
    if (found == 0) {
      return execute(db, schema, "create the tables");
    }
    if (found > schema_version) {
      return fail("history database {} has schema version {}, newer than this buildme "
                  "knows ({}): run the newer buildme, or move the file aside",
                  path_of(db), found, schema_version);
    }
    return {};
  }();
  if (!checked) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return checked;
  }
  return execute(db, "COMMIT", "save the schema");
}

// A cheap look at the newest rows of both tables (the end of the file is
// what a truncation loses), so that a damaged file is reported when buildme
// starts, not first in the middle of a build. Damage elsewhere is reported
// as damage when a query reaches it.
Status probe(sqlite3* db)
{
  for (const char* sql : {"SELECT job FROM jobs ORDER BY job DESC LIMIT 1",
                          "SELECT id FROM attempts ORDER BY id DESC LIMIT 1"}) {
    auto query = Statement::prepare(db, sql, "read its newest rows");
    if (!query) {
      return query.error();
    }
    TRY(query->next());
  }
  return {};
}

struct CloseDb
{
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};

} // namespace

Result<History> History::open(const std::string& path)
{
  sqlite3* raw = nullptr;
  int code =
    sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  std::unique_ptr<sqlite3, CloseDb> db(raw);
  if (code != SQLITE_OK) {
    return fail("cannot open history database {}: {}", printable(path),
                raw ? sqlite3_errmsg(raw) : sqlite3_errstr(code));
  }
  sqlite3_busy_timeout(db.get(), busy_timeout_ms);
  TRY(switch_to_wal(db.get()));
  TRY(prepare_schema(db.get()));
  TRY(probe(db.get()));
  return History(db.release());
}

History::History(History&& other) noexcept : m_db(std::exchange(other.m_db, nullptr)) {}

History& History::operator=(History&& other) noexcept
{
  if (this != &other) {
    sqlite3_close_v2(m_db);
    m_db = std::exchange(other.m_db, nullptr);
  }
  return *this;
}

History::~History()
{
  sqlite3_close_v2(m_db);
}

Status History::record_job(const JobRecord& job)
{
  auto insert = Statement::prepare(
    m_db,
    "INSERT OR REPLACE INTO jobs (job, product, source, version, uploader, state, "
    "accepted_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    "record job " + std::to_string(job.job));
  if (!insert) {
    return insert.error();
  }
  if (auto bound = insert->bind(job.job, job.product, job.source, job.version, job.uploader,
                                job.state, job.accepted_at, job.updated_at);
      !bound) {
    return bound;
  }
  return insert->run();
}

Status History::set_job_state(long job, const std::string& state, std::int64_t when)
{
  auto update =
    Statement::prepare(m_db, "UPDATE jobs SET state = ?2, updated_at = ?3 WHERE job = ?1",
                       "set the state of job " + std::to_string(job));
  if (!update) {
    return update.error();
  }
  TRY(update->bind(job, state, when));
  TRY(update->run());
  if (sqlite3_changes(m_db) == 0) {
    return fail("history database {}: job {} is not recorded, so its state cannot become {}",
                path_of(m_db), job, printable(state));
  }
  return {};
}

Result<std::int64_t> History::start_attempt(const AttemptRecord& attempt)
{
  auto insert = Statement::prepare(
    m_db,
    "INSERT INTO attempts (job, arch, attempt, builder, slot, started_at, finished_at, "
    "result, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
    "record an attempt of job " + std::to_string(attempt.job));
  if (!insert) {
    return insert.error();
  }
  if (auto bound =
        insert->bind(attempt.job, attempt.arch, attempt.attempt, attempt.builder, attempt.slot,
                     attempt.started_at, attempt.finished_at, attempt.result, attempt.reason);
      !bound) {
    return bound.error();
  }
  auto row = insert->next();
  if (!row) {
    return row.error();
  }
  if (!*row) {
    return fail("history database {}: recording an attempt of job {} gave no id", path_of(m_db),
                attempt.job);
  }
  std::int64_t id = insert->integer(0);
  // The insert is done when the statement has run to its end.
  TRY(insert->run());
  return id;
}

Status History::finish_attempt(std::int64_t id, std::int64_t when, const std::string& result,
                               const std::string& reason)
{
  auto update = Statement::prepare(
    m_db, "UPDATE attempts SET finished_at = ?2, result = ?3, reason = ?4 WHERE id = ?1",
    "record the end of attempt " + std::to_string(id));
  if (!update) {
    return update.error();
  }
  TRY(update->bind(id, when, result, reason));
  TRY(update->run());
  if (sqlite3_changes(m_db) == 0) {
    return fail("history database {}: attempt {} is not recorded, so it cannot be finished",
                path_of(m_db), id);
  }
  return {};
}

Status History::reflect(const JobRecord& job, const std::vector<LatestAttempt>& latest)
{
  const std::string doing = "record job " + std::to_string(job.job);
  TRY(execute(m_db, "BEGIN IMMEDIATE", doing));
  auto body = [&]() -> Status {
    TRY(record_job(job));
    for (const auto& attempt : latest) {
      auto lost =
        Statement::prepare(m_db,
                           "UPDATE attempts SET finished_at = ?4, result = 'builder-error', "
                           "reason = 'its worker stopped before the build ended' "
                           "WHERE job = ?1 AND arch = ?2 AND attempt < ?3 AND finished_at = 0",
                           doing);
      if (!lost) {
        return lost.error();
      }
      if (auto bound = lost->bind(job.job, attempt.arch, attempt.attempt,
                                  std::max(job.updated_at, std::int64_t{1}));
          !bound) {
        return bound;
      }
      TRY(lost->run());
      auto find = Statement::prepare(
        m_db, "SELECT id FROM attempts WHERE job = ?1 AND arch = ?2 AND attempt = ?3", doing);
      if (!find) {
        return find.error();
      }
      TRY(find->bind(job.job, attempt.arch, attempt.attempt));
      auto row = find->next();
      if (!row) {
        return row.error();
      }
      std::int64_t id = 0;
      if (*row) {
        id = find->integer(0);
      } else {
        auto started = start_attempt({0, job.job, attempt.arch, attempt.attempt, attempt.builder,
                                      attempt.slot, attempt.started_at, 0, "", ""});
        if (!started) {
          return started.error();
        }
        id = *started;
      }
      if (attempt.running) {
        continue;
      }
      auto finish =
        Statement::prepare(m_db,
                           "UPDATE attempts SET finished_at = ?2, result = ?3, reason = ?4 "
                           "WHERE id = ?1 AND (finished_at = 0 OR result != ?3 OR reason != ?4)",
                           doing);
      if (!finish) {
        return finish.error();
      }
      if (auto bound = finish->bind(id, std::max(attempt.finished_at, std::int64_t{1}),
                                    attempt.result, attempt.reason);
          !bound) {
        return bound;
      }
      TRY(finish->run());
    }
    return {};
  };
  if (auto done = body(); !done) {
    (void)execute(m_db, "ROLLBACK", doing); // the error that matters is the first
    return done;
  }
  return execute(m_db, "COMMIT", doing);
}

Result<std::optional<JobRecord>> History::job(long job)
{
  auto query =
    Statement::prepare(m_db, std::string("SELECT ") + job_columns + " FROM jobs WHERE job = ?1",
                       "read job " + std::to_string(job));
  if (!query) {
    return query.error();
  }
  TRY(query->bind(job));
  auto row = query->next();
  if (!row) {
    return row.error();
  }
  if (!*row) {
    return std::optional<JobRecord>();
  }
  return std::optional<JobRecord>(read_job(*query));
}

Result<std::vector<JobRecord>> History::jobs(int limit)
{
  auto query = Statement::prepare(m_db,
                                  std::string("SELECT ") + job_columns +
                                    " FROM jobs ORDER BY accepted_at DESC, job DESC LIMIT ?1",
                                  "list jobs");
  if (!query) {
    return query.error();
  }
  TRY(query->bind(limit));
  return read_all(*query, read_job);
}

Result<std::vector<AttemptRecord>> History::attempts(long job)
{
  auto query = Statement::prepare(
    m_db, std::string("SELECT ") + attempt_columns + " FROM attempts WHERE job = ?1 ORDER BY id",
    "list the attempts of job " + std::to_string(job));
  if (!query) {
    return query.error();
  }
  TRY(query->bind(job));
  return read_all(*query, read_attempt);
}

Result<std::vector<AttemptRecord>> History::running()
{
  auto query = Statement::prepare(m_db,
                                  std::string("SELECT ") + attempt_columns +
                                    " FROM attempts WHERE finished_at = 0 ORDER BY started_at, id",
                                  "list running attempts");
  if (!query) {
    return query.error();
  }
  return read_all(*query, read_attempt);
}

} // namespace buildme::history
