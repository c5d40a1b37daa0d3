#include "history/history.hpp"

#include "scratch.hpp"

#include <doctest/doctest.h>

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <latch>
#include <string>
#include <thread>
#include <vector>

namespace unit_test_history_history {

using buildme::history::AttemptRecord;
using buildme::history::History;
using buildme::history::JobRecord;
using buildme::test::ScratchDir;
namespace fs = std::filesystem;

namespace {

History open_history(const fs::path& path)
{
  auto history = History::open(path.string());
  REQUIRE_MESSAGE(history.ok(), (history.ok() ? std::string() : history.message()));
  return std::move(*history);
}

JobRecord a_job(long number, std::int64_t accepted_at = 1000)
{
  return {number,   "fremantle", "foo",      "1.0-1", "Jane <jane@example.org>",
          "queued", accepted_at, accepted_at};
}

AttemptRecord an_attempt(long job, std::string arch, int attempt, std::int64_t started_at)
{
  AttemptRecord record;
  record.job = job;
  record.arch = std::move(arch);
  record.attempt = attempt;
  record.builder = "b1";
  record.slot = "builder1@b1";
  record.started_at = started_at;
  return record;
}

void check_same(const JobRecord& got, const JobRecord& want)
{
  CHECK(got.job == want.job);
  CHECK(got.product == want.product);
  CHECK(got.source == want.source);
  CHECK(got.version == want.version);
  CHECK(got.uploader == want.uploader);
  CHECK(got.state == want.state);
  CHECK(got.accepted_at == want.accepted_at);
  CHECK(got.updated_at == want.updated_at);
}

// What the sqlite3 shell would answer for a one-value query, read with
// SQLite directly rather than through History.
std::string ask_sqlite(const fs::path& path, const char* sql)
{
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  std::string answer;
  if (sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) == SQLITE_OK &&
      sqlite3_step(statement) == SQLITE_ROW) {
    auto* text = sqlite3_column_text(statement, 0);
    answer = text ? reinterpret_cast<const char*>(text) : "";
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return answer;
}

void check_damaged_message(const std::string& message, const fs::path& path)
{
  CAPTURE(message);
  CHECK(message.find("history database " + path.string()) == 0);
  CHECK(message.find("damaged") != std::string::npos);
  CHECK(message.find("move it aside") != std::string::npos);
  CHECK(message.find("no upload is lost") != std::string::npos);
}

// A database whose file was damaged after it was written: opening it, or
// failing that the first listing, gives the message.
std::string first_error(const fs::path& path)
{
  auto history = History::open(path.string());
  if (!history) {
    return history.message();
  }
  auto listed = history->jobs(1000000);
  if (!listed) {
    return listed.message();
  }
  auto running = history->running();
  if (!running) {
    return running.message();
  }
  return "";
}

} // namespace

TEST_CASE("a job recorded in the history reads back as it was")
{
  ScratchDir dir;
  auto history = open_history(dir / "history.sqlite");
  auto job = a_job(7);
  REQUIRE(history.record_job(job).ok());
  auto read = history.job(7);
  REQUIRE(read.ok());
  REQUIRE(read->has_value());
  check_same(**read, job);

  auto missing = history.job(8);
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->has_value());
}

TEST_CASE("recording a job again replaces it, and its state can be changed")
{
  ScratchDir dir;
  auto history = open_history(dir / "history.sqlite");
  REQUIRE(history.record_job(a_job(7)).ok());
  auto again = a_job(7);
  again.version = "1.0-2";
  REQUIRE(history.record_job(again).ok());
  REQUIRE(history.set_job_state(7, "building", 2000).ok());

  auto read = history.job(7);
  REQUIRE(read.ok());
  REQUIRE(read->has_value());
  CHECK((*read)->version == "1.0-2");
  CHECK((*read)->state == "building");
  CHECK((*read)->updated_at == 2000);
  CHECK((*read)->accepted_at == 1000);
  CHECK(history.jobs()->size() == 1);
}

TEST_CASE("changing the state of a job never recorded is an error naming the database")
{
  ScratchDir dir;
  auto history = open_history(dir / "history.sqlite");
  auto changed = history.set_job_state(99, "done", 1);
  REQUIRE_FALSE(changed.ok());
  CHECK(changed.message().find((dir / "history.sqlite").string()) != std::string::npos);
  CHECK(changed.message().find("job 99") != std::string::npos);

  auto finished = history.finish_attempt(12345, 1, "success", "");
  REQUIRE_FALSE(finished.ok());
  CHECK(finished.message().find("attempt 12345") != std::string::npos);
}

TEST_CASE("jobs are listed newest first, as many as asked for")
{
  ScratchDir dir;
  auto history = open_history(dir / "history.sqlite");
  REQUIRE(history.record_job(a_job(1, 100)).ok());
  REQUIRE(history.record_job(a_job(3, 300)).ok());
  REQUIRE(history.record_job(a_job(2, 200)).ok());
  REQUIRE(history.record_job(a_job(4, 300)).ok()); // same second: the higher number is newer

  auto all = history.jobs();
  REQUIRE(all.ok());
  std::vector<long> order;
  for (const auto& job : *all) {
    order.push_back(job.job);
  }
  CHECK(order == std::vector<long>{4, 3, 2, 1});

  auto two = history.jobs(2);
  REQUIRE(two.ok());
  REQUIRE(two->size() == 2);
  CHECK((*two)[0].job == 4);
  CHECK((*two)[1].job == 3);
}

TEST_CASE("attempts of a job are listed in the order they started, with their ends")
{
  ScratchDir dir;
  auto history = open_history(dir / "history.sqlite");
  REQUIRE(history.record_job(a_job(5)).ok());
  REQUIRE(history.record_job(a_job(6)).ok());
  auto first = history.start_attempt(an_attempt(5, "armel", 1, 100));
  auto other = history.start_attempt(an_attempt(6, "i386", 1, 150));
  auto second = history.start_attempt(an_attempt(5, "armel", 2, 200));
  REQUIRE(first.ok());
  REQUIRE(other.ok());
  REQUIRE(second.ok());
  CHECK(*first != *second);
  REQUIRE(history.finish_attempt(*first, 180, "builder-error", "connection lost").ok());
  REQUIRE(history.finish_attempt(*second, 400, "success", "").ok());

  auto attempts = history.attempts(5);
  REQUIRE(attempts.ok());
  REQUIRE(attempts->size() == 2);
  const auto& a = (*attempts)[0];
  CHECK(a.id == *first);
  CHECK(a.job == 5);
  CHECK(a.arch == "armel");
  CHECK(a.attempt == 1);
  CHECK(a.builder == "b1");
  CHECK(a.slot == "builder1@b1");
  CHECK(a.started_at == 100);
  CHECK(a.finished_at == 180);
  CHECK(a.result == "builder-error");
  CHECK(a.reason == "connection lost");
  CHECK((*attempts)[1].id == *second);
  CHECK((*attempts)[1].attempt == 2);
  CHECK((*attempts)[1].result == "success");

  CHECK(history.attempts(7)->empty());
}

TEST_CASE("running shows only the attempts not finished, oldest first")
{
  ScratchDir dir;
  auto history = open_history(dir / "history.sqlite");
  auto later = history.start_attempt(an_attempt(1, "i386", 1, 300));
  auto done = history.start_attempt(an_attempt(2, "i386", 1, 100));
  auto earlier = history.start_attempt(an_attempt(3, "armel", 1, 200));
  REQUIRE(later.ok());
  REQUIRE(done.ok());
  REQUIRE(earlier.ok());
  REQUIRE(history.finish_attempt(*done, 250, "build-failed", "dpkg-buildpackage failed").ok());

  auto running = history.running();
  REQUIRE(running.ok());
  REQUIRE(running->size() == 2);
  CHECK((*running)[0].id == *earlier);
  CHECK((*running)[0].job == 3);
  CHECK((*running)[1].id == *later);

  REQUIRE(history.finish_attempt(*earlier, 400, "success", "").ok());
  REQUIRE(history.finish_attempt(*later, 400, "success", "").ok());
  CHECK(history.running()->empty());
}

TEST_CASE("hostile text is stored verbatim, never read as SQL")
{
  ScratchDir dir;
  auto history = open_history(dir / "history.sqlite");
  std::string binary;
  for (int byte = 1; byte < 256; ++byte) {
    binary += static_cast<char>(byte);
  }
  std::string huge(1024 * 1024, 'r');
  huge[500] = '\'';
  huge[600] = '\n';

  JobRecord job = a_job(1);
  job.source = "foo'; DROP TABLE jobs; --";
  job.version = "1.0\"); DELETE FROM attempts; --";
  job.uploader = binary;
  job.state = "%s %n ?1 :name @x $y";
  REQUIRE(history.record_job(job).ok());
  REQUIRE(history.set_job_state(1, "it's \"done\"", 5).ok());
  job.state = "it's \"done\"";
  job.updated_at = 5;

  auto attempt = an_attempt(1, "armel'--", 1, 10);
  attempt.slot = binary;
  auto id = history.start_attempt(attempt);
  REQUIRE(id.ok());
  REQUIRE(history.finish_attempt(*id, 20, "build-failed'", huge).ok());

  auto read = history.job(1);
  REQUIRE(read.ok());
  REQUIRE(read->has_value());
  check_same(**read, job);
  auto attempts = history.attempts(1);
  REQUIRE(attempts.ok());
  REQUIRE(attempts->size() == 1);
  CHECK((*attempts)[0].arch == "armel'--");
  CHECK((*attempts)[0].slot == binary);
  CHECK((*attempts)[0].result == "build-failed'");
  CHECK((*attempts)[0].reason.size() == huge.size());
  CHECK((*attempts)[0].reason == huge);
  CHECK(history.jobs()->size() == 1);
}

TEST_CASE("reopening the history keeps what was recorded")
{
  ScratchDir dir;
  const auto path = dir / "history.sqlite";
  std::int64_t id = 0;
  {
    auto history = open_history(path);
    REQUIRE(history.record_job(a_job(42)).ok());
    auto started = history.start_attempt(an_attempt(42, "i386", 1, 10));
    REQUIRE(started.ok());
    id = *started;
  }
  auto history = open_history(path);
  auto job = history.job(42);
  REQUIRE(job.ok());
  REQUIRE(job->has_value());
  check_same(**job, a_job(42));
  auto running = history.running();
  REQUIRE(running.ok());
  REQUIRE(running->size() == 1);
  CHECK((*running)[0].id == id);
  // New attempts never take an old one's id.
  auto next = history.start_attempt(an_attempt(42, "i386", 2, 20));
  REQUIRE(next.ok());
  CHECK(*next > id);
}

TEST_CASE("the history is in WAL mode with a schema version")
{
  ScratchDir dir;
  const auto path = dir / "history.sqlite";
  {
    auto history = open_history(path);
  }
  CHECK(ask_sqlite(path, "PRAGMA journal_mode") == "wal");
  CHECK(ask_sqlite(path, "PRAGMA user_version") == "1");
}

TEST_CASE("a history written by a newer buildme is refused, not changed")
{
  ScratchDir dir;
  const auto path = dir / "history.sqlite";
  {
    auto history = open_history(path);
  }
  ask_sqlite(path, "PRAGMA user_version = 7");
  auto opened = History::open(path.string());
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.message().find(path.string()) != std::string::npos);
  CHECK(opened.message().find("schema version 7") != std::string::npos);
  CHECK(ask_sqlite(path, "PRAGMA user_version") == "7");
}

TEST_CASE("a history that cannot be created is an error naming the file")
{
  ScratchDir dir;
  auto opened = History::open((dir / "no-such-folder" / "history.sqlite").string());
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.message().find((dir / "no-such-folder" / "history.sqlite").string()) !=
        std::string::npos);
}

TEST_CASE("a history file full of junk is a clear error: move it aside")
{
  ScratchDir dir;
  std::string junk;
  while (junk.size() < 10000) {
    junk += "this is not an SQLite database at all\n";
  }
  auto path = dir.write("history.sqlite", junk);
  auto opened = History::open(path.string());
  REQUIRE_FALSE(opened.ok());
  check_damaged_message(opened.message(), path);
  // Refused, not "repaired" into a new database over the junk.
  CHECK(ScratchDir::read(path) == junk);
}

TEST_CASE("a truncated history file is a clear error: move it aside")
{
  ScratchDir dir;
  const auto path = dir / "history.sqlite";
  {
    auto history = open_history(path);
    bool written = true;
    for (long job = 1; job <= 500 && written; ++job) {
      auto record = a_job(job, job);
      record.uploader = std::string(400, 'u');
      written = history.record_job(record).ok() &&
                history.start_attempt(an_attempt(job, "i386", 1, job)).ok();
    }
    REQUIRE(written);
  }
  // Closing the last connection folded the write-ahead log into the file.
  REQUIRE_FALSE(fs::exists(dir / "history.sqlite-wal"));
  auto size = fs::file_size(path);
  REQUIRE(size > 100000);

  SUBCASE("cut in half")
  {
    fs::resize_file(path, size / 2);
    check_damaged_message(first_error(path), path);
  }
  SUBCASE("cut inside its header")
  {
    fs::resize_file(path, 60);
    check_damaged_message(first_error(path), path);
  }
  SUBCASE("a page overwritten")
  {
    std::string content = ScratchDir::read(path);
    for (std::size_t at = 4096; at < 3 * 4096; ++at) {
      content[at] = static_cast<char>(at * 7);
    }
    fs::remove(path);
    dir.write("history.sqlite", content);
    check_damaged_message(first_error(path), path);
  }
}

TEST_CASE("two threads writing at once through their own connections both succeed")
{
  ScratchDir dir;
  const auto path = dir / "history.sqlite";
  constexpr int per_writer = 150;
  // Both open a new file at the same moment, so that creating the schema
  // races too.
  std::latch start(2);
  std::vector<std::string> errors(2);
  auto writer = [&](int which) {
    start.arrive_and_wait();
    auto history = History::open(path.string());
    if (!history) {
      errors[which] = history.message();
      return;
    }
    for (int i = 0; i < per_writer; ++i) {
      long job = which * 10000 + i;
      auto step = [&]() -> buildme::Status {
        if (auto recorded = history->record_job(a_job(job, i)); !recorded) {
          return recorded;
        }
        auto id = history->start_attempt(an_attempt(job, "i386", 1, i));
        if (!id) {
          return id.error();
        }
        if (auto listed = history->running(); !listed) {
          return listed.error();
        }
        return history->finish_attempt(*id, i + 1, "success", "");
      }();
      if (!step) {
        errors[which] = step.message();
        return;
      }
    }
  };
  std::thread one(writer, 0);
  std::thread two(writer, 1);
  one.join();
  two.join();
  CHECK(errors[0] == "");
  CHECK(errors[1] == "");

  auto history = open_history(path);
  CHECK(history.jobs(100000)->size() == 2 * per_writer);
  CHECK(history.running()->empty());
  CHECK(history.attempts(10000 + per_writer - 1)->size() == 1);
}

TEST_CASE("a worker process and the tick writing at once both succeed")
{
  ScratchDir dir;
  const auto path = dir / "history.sqlite";
  constexpr int per_writer = 150;
  auto write_jobs = [&](long first) -> std::string {
    auto history = History::open(path.string());
    if (!history) {
      return history.message();
    }
    for (long job = first; job < first + per_writer; ++job) {
      if (auto recorded = history->record_job(a_job(job)); !recorded) {
        return recorded.message();
      }
      if (auto changed = history->set_job_state(job, "building", 2); !changed) {
        return changed.message();
      }
      auto id = history->start_attempt(an_attempt(job, "armel", 1, 1));
      if (!id) {
        return id.message();
      }
    }
    return "";
  };

  // Neither side holds a connection across the fork.
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::string error = write_jobs(100000);
    if (!error.empty()) {
      std::fprintf(stderr, "child: %s\n", error.c_str());
    }
    ::_exit(error.empty() ? 0 : 1);
  }
  std::string error = write_jobs(1);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(error == "");
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);

  auto history = open_history(path);
  CHECK(history.jobs(100000)->size() == 2 * per_writer);
  CHECK(history.running()->size() == 2 * per_writer);
}

TEST_CASE("reflecting a job's records makes the history say what they say, killed or not")
{
  ScratchDir scratch;
  History history = open_history(scratch / "history.sqlite");
  using buildme::history::LatestAttempt;
  JobRecord job = a_job(9);
  job.state = "building";
  // The tick was killed after it claimed attempt 1 but before it told the
  // history: the reflect adds the running attempt.
  REQUIRE(
    history.reflect(job, {LatestAttempt{"armel", 1, "b1", "u1@b1:22", 100, true, 0, "", ""}}));
  auto running = history.running();
  REQUIRE(running);
  REQUIRE(running->size() == 1);
  CHECK(running->front().attempt == 1);
  CHECK(running->front().slot == "u1@b1:22");
  // Attempt 1's worker was killed and attempt 2 ran to the end: attempt 1
  // is finished as lost, attempt 2 recorded with its result.
  job.state = "built";
  job.updated_at = 300;
  REQUIRE(history.reflect(
    job, {LatestAttempt{"armel", 2, "b1", "u2@b1:22", 200, false, 290, "success", "built"}}));
  REQUIRE(history.running()->empty());
  auto attempts = history.attempts(9);
  REQUIRE(attempts);
  REQUIRE(attempts->size() == 2);
  CHECK(attempts->at(0).result == "builder-error");
  CHECK(attempts->at(0).finished_at == 300);
  CHECK(attempts->at(1).result == "success");
  CHECK(attempts->at(1).finished_at == 290);
  CHECK(history.job(9)->value().state == "built");
  // Reflecting the same records again changes nothing.
  REQUIRE(history.reflect(
    job, {LatestAttempt{"armel", 2, "b1", "u2@b1:22", 200, false, 999, "success", "built"}}));
  CHECK(history.attempts(9)->size() == 2);
  CHECK(history.attempts(9)->at(1).finished_at == 290);
}

TEST_CASE("an attempt that ended keeps its result when its build is queued again")
{
  ScratchDir scratch;
  History history = open_history(scratch / "history.sqlite");
  using buildme::history::LatestAttempt;
  JobRecord job = a_job(9);
  job.state = "failed";
  REQUIRE(history.reflect(job, {LatestAttempt{"armel", 1, "b1", "u1@b1:22", 100, false, 200,
                                              "build-failed", "build-failed: error 2"}}));
  // `buildme retry`: the build is queued again, its last attempt still 1;
  // what the records say of a queued build (reflect.cpp) must not rewrite it.
  job.state = "queued";
  REQUIRE(history.reflect(job, {LatestAttempt{"armel", 1, "b1", "u1@b1:22", 100, false, 300,
                                              "builder-error", "retried by an operator"}}));
  auto attempts = history.attempts(9);
  REQUIRE(attempts);
  REQUIRE(attempts->size() == 1);
  CHECK(attempts->at(0).result == "build-failed");
  CHECK(attempts->at(0).reason == "build-failed: error 2");
  CHECK(attempts->at(0).finished_at == 200);
}

} // namespace unit_test_history_history
