#include "util/sqlite.hpp"

#include "scratch.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <string>

namespace unit_test_util_sqlite {

namespace fs = std::filesystem;
using buildme::test::ScratchDir;
using buildme::util::sqlite::Blob;
using buildme::util::sqlite::Database;
using buildme::util::sqlite::Purpose;

namespace {

const char* schema = R"(
CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, data BLOB);
PRAGMA user_version = 1;
)";

Purpose notes_purpose()
{
  return {"notes database", "move it aside; nothing else is lost"};
}

Database open_notes(const fs::path& path, int version = 1)
{
  auto opened = Database::open(path.string(), notes_purpose(), schema, version);
  REQUIRE_MESSAGE(opened.ok(), opened.message());
  return std::move(*opened);
}

std::string read_body(Database& db, std::int64_t id)
{
  auto query = db.prepare("SELECT body FROM notes WHERE id = ?1", "read a note");
  REQUIRE(query.ok());
  REQUIRE(query->bind(id));
  auto row = query->next();
  REQUIRE(row.ok());
  REQUIRE(*row);
  return query->text(0);
}

} // namespace

TEST_CASE("hostile text goes in and comes back byte for byte, never as SQL")
{
  ScratchDir dir;
  Database db = open_notes(dir / "notes.sqlite");
  const std::string hostile = std::string("'); DROP TABLE notes; --\0after nul\xff\xfe", 37);
  auto insert = db.prepare("INSERT INTO notes (id, body) VALUES (?1, ?2)", "write a note");
  REQUIRE(insert.ok());
  REQUIRE(insert->bind(1, hostile));
  REQUIRE(insert->run());
  CHECK(read_body(db, 1) == hostile);
}

TEST_CASE("a blob keeps its bytes")
{
  ScratchDir dir;
  Database db = open_notes(dir / "notes.sqlite");
  const std::string bytes("\0\1\2\x80", 4);
  auto insert = db.prepare("INSERT INTO notes (id, body, data) VALUES (?1, '', ?2)", "write");
  REQUIRE(insert.ok());
  REQUIRE(insert->bind(7, Blob{bytes}));
  REQUIRE(insert->run());
  auto query = db.prepare("SELECT data FROM notes WHERE id = 7", "read");
  REQUIRE(query.ok());
  REQUIRE(*query->next());
  CHECK(query->text(0) == bytes);
}

TEST_CASE("a cached statement is reset after use and runs again with new values")
{
  ScratchDir dir;
  Database db = open_notes(dir / "notes.sqlite");
  for (int id = 1; id <= 3; ++id) {
    auto insert = db.cached("INSERT INTO notes (id, body) VALUES (?, ?)", "write a note");
    REQUIRE(insert.ok());
    REQUIRE(insert->bind(id, "note " + std::to_string(id)));
    REQUIRE(insert->run());
  }
  CHECK(read_body(db, 3) == "note 3");
  CHECK(db.changes() == 1);
}

TEST_CASE("a database moved after open still names its file in errors")
{
  ScratchDir dir;
  Database first = open_notes(dir / "notes.sqlite");
  Database moved = std::move(first);
  auto bad = moved.prepare("SELECT missing FROM nowhere", "read nowhere");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.message() == "notes database " + (dir / "notes.sqlite").string() +
                           ": cannot read nowhere: no such table: nowhere");
}

TEST_CASE("a file that is not a database is called damaged, with what to do, and left as it is")
{
  ScratchDir dir;
  const std::string junk(8192, 'j');
  auto path = dir.write("notes.sqlite", junk);
  auto opened = Database::open(path.string(), notes_purpose(), schema, 1);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.message().find("notes database " + path.string() + " is damaged") == 0);
  CHECK(opened.message().find("move it aside; nothing else is lost") != std::string::npos);
  CHECK(ScratchDir::read(path) == junk);
}

TEST_CASE("a truncated file is found damaged by the probe when it opens")
{
  ScratchDir dir;
  const auto path = dir / "notes.sqlite";
  {
    Database db = open_notes(path);
    REQUIRE(db.begin("fill"));
    for (int id = 1; id <= 2000; ++id) {
      auto insert = db.cached("INSERT INTO notes (id, body) VALUES (?, ?)", "write a note");
      REQUIRE(insert.ok());
      REQUIRE(insert->bind(id, std::string(200, 'n')));
      REQUIRE(insert->run());
    }
    REQUIRE(db.commit("fill"));
  }
  fs::resize_file(path, fs::file_size(path) / 2);
  auto opened = Database::open(path.string(), notes_purpose(), schema, 1);
  std::string message;
  if (opened.ok()) {
    auto probed = opened->probe({"SELECT id FROM notes ORDER BY id DESC LIMIT 1"});
    REQUIRE_FALSE(probed.ok());
    message = probed.message();
  } else {
    message = opened.message();
  }
  CHECK(message.find("is damaged") != std::string::npos);
}

TEST_CASE("a file from a newer buildme is refused, not misread")
{
  ScratchDir dir;
  const auto path = dir / "notes.sqlite";
  {
    Database db = open_notes(path);
    REQUIRE(db.execute("PRAGMA user_version = 9", "pretend to be newer"));
  }
  auto opened = Database::open(path.string(), notes_purpose(), schema, 1);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.message().find("schema version 9, newer than this buildme knows (1)") !=
        std::string::npos);
}

TEST_CASE("a folder that does not exist is named in the error")
{
  ScratchDir dir;
  auto opened =
    Database::open((dir / "missing" / "notes.sqlite").string(), notes_purpose(), schema, 1);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.message().find("cannot open notes database " +
                              (dir / "missing" / "notes.sqlite").string()) == 0);
}

using buildme::test::mode_of;

TEST_CASE("a database in a folder shared through a group can be opened by the group, WAL and all")
{
  // As the admin guide makes state_dir/repo: queue-manage's account writes
  // the catalog there, and buildme's (in the group) reads it for its site.
  ScratchDir dir;
  fs::create_directories(dir / "shared");
  REQUIRE(::chmod((dir / "shared").c_str(), 02775) == 0);
  const fs::path path = dir / "shared" / "notes.sqlite";
  Database db = open_notes(path);
  auto insert = db.prepare("INSERT INTO notes (id, body) VALUES (1, 'x')", "write");
  REQUIRE(insert.ok());
  REQUIRE(insert->run());
  CHECK(mode_of(path) == 0664);
  CHECK(mode_of(path.string() + "-wal") == 0664);
  CHECK(mode_of(path.string() + "-shm") == 0664);
  CHECK(read_body(db, 1) == "x");
}

TEST_CASE("a database in a folder of one account is that account's alone")
{
  ScratchDir dir;
  fs::create_directories(dir / "private");
  REQUIRE(::chmod((dir / "private").c_str(), 0775) == 0); // group-writable, but not setgid
  const fs::path path = dir / "private" / "notes.sqlite";
  Database db = open_notes(path);
  CHECK(mode_of(path) == 0644);
}

TEST_CASE("a rolled-back transaction leaves nothing")
{
  ScratchDir dir;
  Database db = open_notes(dir / "notes.sqlite");
  REQUIRE(db.begin("write"));
  auto insert = db.prepare("INSERT INTO notes (id, body) VALUES (1, 'x')", "write");
  REQUIRE(insert.ok());
  REQUIRE(insert->run());
  db.rollback();
  auto query = db.prepare("SELECT count(*) FROM notes", "count");
  REQUIRE(query.ok());
  REQUIRE(*query->next());
  CHECK(query->integer(0) == 0);
}

} // namespace unit_test_util_sqlite
