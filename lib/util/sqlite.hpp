// The one SQLite layer of buildme's two databases (the build history and a
// repository's catalog). Both are caches of what the disk says, so every
// error names the file and, when the file is damaged, what to do about it.
//
//  - WAL mode and a busy timeout: readers never wait for the writer, writers
//    queue rather than fail.
//  - The schema is created under a write lock and versioned by PRAGMA
//    user_version; a file from a newer buildme is refused, not misread.
//  - SQL is constant text: every value reaches the database bound to a
//    parameter, so no upload's name is ever part of a statement.
#pragma once

#include "util/result.hpp"

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace buildme::util::sqlite {

// What a database is for, for its messages: "history database", and what a
// person should do with a damaged file.
struct Purpose
{
  std::string name;
  std::string if_damaged;
};

// Bytes bound as a BLOB (no text conversion).
struct Blob
{
  std::string_view data;
};

class Statement
{
public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  // Binds ?1, ?2, ... in order: integers as integers, strings as text.
  template<typename... Values>
  Status bind(const Values&... values)
  {
    int index = 0;
    bool ok = true;
    ((ok = ok && bind_one(++index, values)), ...);
    return ok ? Status() : failed();
  }

  // True with a row to read, false when done.
  Result<bool> next();
  // Runs a statement that returns no rows (or ignores them).
  Status run();

  std::int64_t integer(int column) const;
  // The bytes as stored: text that is not UTF-8 comes back as it went in.
  std::string text(int column) const;
  // The same bytes without a copy, valid until the next next() or reset.
  std::string_view text_view(int column) const;

  // Who the database is, kept where a moved Database leaves it.
  struct Identity
  {
    std::string path;
    Purpose purpose;
  };

private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* statement, std::string_view doing, const Identity& identity,
            bool cached);

  template<typename Value>
  bool bind_one(int index, const Value& value)
  {
    if constexpr (std::is_integral_v<Value>) {
      return bind_integer(index, static_cast<std::int64_t>(value));
    } else if constexpr (std::is_same_v<Value, Blob>) {
      return bind_blob(index, value.data);
    } else {
      return bind_text(index, std::string_view(value));
    }
  }
  bool bind_integer(int index, std::int64_t value);
  bool bind_text(int index, std::string_view value);
  bool bind_blob(int index, std::string_view value);
  Error failed() const;

  sqlite3* m_db;
  sqlite3_stmt* m_statement;
  std::string m_doing;
  const Identity* m_identity;
  bool m_cached; // kept by its Database: reset, not finalized, when done
};

class Database
{
public:
  // Opens (or creates) `path` in WAL mode; with `schema`, creates it in a
  // new file and refuses a file whose user_version is above `version`. The
  // schema text sets user_version itself. A new file in a folder shared
  // through a group (setgid and group-writable) is group-writable, and so
  // are its -wal and -shm files.
  static Result<Database> open(const std::string& path, Purpose purpose, const char* schema,
                               int version);
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  ~Database();

  Result<Statement> prepare(std::string_view sql, std::string_view doing);
  // For statements run once per package: prepared on first use, kept until
  // the Database closes. `sql` must be a string literal (it is the key).
  Result<Statement> cached(const char* sql, std::string_view doing);
  // Constant SQL with no values (pragmas, transactions).
  Status execute(const char* sql, std::string_view doing);

  Status begin(std::string_view doing);
  Status commit(std::string_view doing);
  // After a failure: the error that matters is the one that caused it.
  void rollback();

  // Runs each query (a cheap SELECT of the newest rows: the end of the file
  // is what a truncation loses), so that a damaged file is reported when the
  // program starts, not first in the middle of its work.
  Status probe(std::initializer_list<const char*> queries);

  // Rows the last statement changed.
  std::int64_t changes() const;
  const std::string& path() const { return m_identity->path; }
  // The Error for what this database just failed at.
  Error error(std::string_view doing) const;

private:
  Database(sqlite3* db, std::string path, Purpose purpose);
  void close();
  Status switch_to_wal();
  Status prepare_schema(const char* schema, int version);

  sqlite3* m_db = nullptr;
  std::unique_ptr<Statement::Identity> m_identity;
  std::map<const char*, sqlite3_stmt*> m_cached;
};

// Every row `rows` gives, each made into a record by `read`.
template<typename Read>
auto read_all(Statement& rows, Read read) -> Result<std::vector<decltype(read(rows))>>
{
  std::vector<decltype(read(rows))> records;
  while (true) {
    TRY_ASSIGN(bool row, rows.next());
    if (!row) {
      return records;
    }
    records.push_back(read(rows));
  }
}

} // namespace buildme::util::sqlite
