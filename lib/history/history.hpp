// buildme's history: every job, every build attempt, where and when it ran
// and how it ended, in SQLite under state_dir (history.sqlite). It serves
// `buildme list/show/hosts` and, later, the status page. It is a record, not
// the hand-over: the folders stay the contract between programs, so a lost
// history database loses the record but no upload.
//
// Several processes write at once (the tick and one worker per build): WAL
// mode and a busy timeout make that safe.
#pragma once

#include "util/result.hpp"
#include "util/sqlite.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace buildme::history {

struct JobRecord
{
  long job = 0;
  std::string product;
  std::string source;
  std::string version;
  std::string uploader;
  std::string state;            // queued, building, done, failed, cancelled, ...
  std::int64_t accepted_at = 0; // seconds since the epoch
  std::int64_t updated_at = 0;
};

struct AttemptRecord
{
  std::int64_t id = 0; // assigned by the database
  long job = 0;
  std::string arch;
  int attempt = 0;     // 1, 2, ...
  std::string builder; // builder section name
  std::string slot;    // "builder1@b1"
  std::int64_t started_at = 0;
  std::int64_t finished_at = 0; // 0 while running
  std::string result;           // "", "success", "build-failed", "depwait", ...
  std::string reason;           // one line
};

// What a job's build records say of one build's latest attempt.
struct LatestAttempt
{
  std::string arch;
  int attempt = 0;
  std::string builder;
  std::string slot;
  std::int64_t started_at = 0;
  bool running = false;
  std::int64_t finished_at = 0; // when not running
  std::string result;           // when not running
  std::string reason;
};

class History
{
public:
  // Opens (creating, and migrating the schema if needed) `path`.
  static Result<History> open(const std::string& path);

  Status record_job(const JobRecord& job); // insert or replace
  Status set_job_state(long job, const std::string& state, std::int64_t when);
  Result<std::int64_t> start_attempt(const AttemptRecord& attempt); // returns id
  Status finish_attempt(std::int64_t id, std::int64_t when, const std::string& result,
                        const std::string& reason);

  // Makes the history say what the job's records say, in one transaction:
  // the job's row and state; each build's latest attempt, added when
  // missing and finished when the record says it ended; every earlier
  // attempt of the build still marked running is finished as lost. The
  // history follows the records this way whoever was killed when.
  Status reflect(const JobRecord& job, const std::vector<LatestAttempt>& latest);

  Result<std::optional<JobRecord>> job(long job);
  Result<std::vector<JobRecord>> jobs(int limit = 100); // newest first
  Result<std::vector<AttemptRecord>> attempts(long job);
  // The jobs whose row changed at `since` or later (the status site reads
  // them again).
  Result<std::vector<long>> jobs_updated_since(std::int64_t since);
  // Attempts not finished, for `buildme hosts`.
  Result<std::vector<AttemptRecord>> running();

private:
  explicit History(util::sqlite::Database db) : m_db(std::move(db)) {}
  util::sqlite::Database m_db;
};

} // namespace buildme::history
