#include "util/sqlite.hpp"

#include "util/fs.hpp"

#include <sqlite3.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

namespace buildme::util::sqlite {

namespace {

// Long enough for any writer's few statements; a lock held longer than this
// is a stuck process, and an operator should hear of it.
constexpr int busy_timeout_ms = 10000;

Error error_of(sqlite3* db, const Statement::Identity& identity, std::string_view doing)
{
  const char* why = db ? sqlite3_errmsg(db) : "out of memory";
  int code = db ? sqlite3_errcode(db) & 0xff : SQLITE_NOMEM;
  if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) {
    return fail("{} {} is damaged ({}): {}", identity.purpose.name, printable(identity.path), why,
                identity.purpose.if_damaged);
  }
  return fail("{} {}: cannot {}: {}", identity.purpose.name, printable(identity.path), doing, why);
}

// A new database in a folder shared through a group (group-writable and
// setgid, as the admin guide makes state_dir/repo, whose catalogs
// queue-manage writes and buildme's status site reads as another account)
// is made group-writable; SQLite gives its -wal and -shm files the
// database's permissions, so every account of the group can open it.
// Elsewhere SQLite makes it as usual (0644).
Status create_in_shared_folder(const std::string& path)
{
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  struct stat st;
  constexpr mode_t shared = S_ISGID | S_IWGRP;
  if (folder.empty() || ::stat(folder.c_str(), &st) != 0 || (st.st_mode & shared) != shared) {
    return {};
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0664);
  if (fd < 0) {
    if (errno == EEXIST) {
      return {};
    }
    return fail("cannot create {}: {}", printable(path), std::strerror(errno));
  }
  // An empty file is an empty database; fchmod: past the umask.
  const bool moded = ::fchmod(fd, 0664) == 0;
  const int error = errno;
  ::close(fd);
  if (!moded) {
    return fail("cannot set the mode of {}: {}", printable(path), std::strerror(error));
  }
  return {};
}

} // namespace

Statement::Statement(sqlite3* db, sqlite3_stmt* statement, std::string_view doing,
                     const Identity& identity, bool cached)
  : m_db(db), m_statement(statement), m_doing(doing), m_identity(&identity), m_cached(cached)
{
}

Statement::Statement(Statement&& other) noexcept
  : m_db(other.m_db), m_statement(std::exchange(other.m_statement, nullptr)),
    m_doing(std::move(other.m_doing)), m_identity(other.m_identity), m_cached(other.m_cached)
{
}

Statement::~Statement()
{
  if (!m_statement) {
    return;
  }
  if (m_cached) {
    sqlite3_reset(m_statement);
    sqlite3_clear_bindings(m_statement);
  } else {
    sqlite3_finalize(m_statement);
  }
}

Error Statement::failed() const
{
  return error_of(m_db, *m_identity, m_doing);
}

bool Statement::bind_integer(int index, std::int64_t value)
{
  return sqlite3_bind_int64(m_statement, index, value) == SQLITE_OK;
}

bool Statement::bind_text(int index, std::string_view value)
{
  return sqlite3_bind_text64(m_statement, index, value.data(), value.size(), SQLITE_TRANSIENT,
                             SQLITE_UTF8) == SQLITE_OK;
}

bool Statement::bind_blob(int index, std::string_view value)
{
  return sqlite3_bind_blob64(m_statement, index, value.data(), value.size(), SQLITE_TRANSIENT) ==
         SQLITE_OK;
}

Result<bool> Statement::next()
{
  int code = sqlite3_step(m_statement);
  if (code == SQLITE_ROW) {
    return true;
  }
  if (code == SQLITE_DONE) {
    return false;
  }
  return failed();
}

Status Statement::run()
{
  while (true) {
    TRY_ASSIGN(bool row, next());
    if (!row) {
      return {};
    }
  }
}

std::int64_t Statement::integer(int column) const
{
  return sqlite3_column_int64(m_statement, column);
}

std::string Statement::text(int column) const
{
  // column_blob, not column_text: the bytes as stored, with no conversion.
  const auto* bytes = static_cast<const char*>(sqlite3_column_blob(m_statement, column));
  int size = sqlite3_column_bytes(m_statement, column);
  return bytes ? std::string(bytes, static_cast<std::size_t>(size)) : std::string();
}

std::string_view Statement::text_view(int column) const
{
  const auto* bytes = static_cast<const char*>(sqlite3_column_blob(m_statement, column));
  int size = sqlite3_column_bytes(m_statement, column);
  return bytes ? std::string_view(bytes, static_cast<std::size_t>(size)) : std::string_view();
}

Database::Database(sqlite3* db, std::string path, Purpose purpose)
  : m_db(db), m_identity(std::make_unique<Statement::Identity>(
                Statement::Identity{std::move(path), std::move(purpose)}))
{
}

Database::Database(Database&& other) noexcept
  : m_db(std::exchange(other.m_db, nullptr)), m_identity(std::move(other.m_identity)),
    m_cached(std::exchange(other.m_cached, {}))
{
}

Database& Database::operator=(Database&& other) noexcept
{
  if (this != &other) {
    close();
    m_db = std::exchange(other.m_db, nullptr);
    m_identity = std::move(other.m_identity);
    m_cached = std::exchange(other.m_cached, {});
  }
  return *this;
}

Database::~Database()
{
  close();
}

void Database::close()
{
  for (auto& [sql, statement] : m_cached) {
    sqlite3_finalize(statement);
  }
  m_cached.clear();
  sqlite3_close_v2(m_db);
  m_db = nullptr;
}

Result<Database> Database::open(const std::string& path, Purpose purpose, const char* schema,
                                int version)
{
  TRY(create_in_shared_folder(path));
  sqlite3* raw = nullptr;
  int code =
    sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  Database database(raw, path, std::move(purpose));
  if (code != SQLITE_OK) {
    return fail("cannot open {} {}: {}", database.m_identity->purpose.name, printable(path),
                raw ? sqlite3_errmsg(raw) : sqlite3_errstr(code));
  }
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  TRY(database.switch_to_wal());
  // A cache of the disk: a power cut may lose the last transactions, never
  // the file (WAL with NORMAL stays consistent).
  TRY(database.execute("PRAGMA synchronous = NORMAL", "set its sync mode"));
  if (schema) {
    TRY(database.prepare_schema(schema, version));
  }
  return database;
}

Error Database::error(std::string_view doing) const
{
  return error_of(m_db, *m_identity, doing);
}

Result<Statement> Database::prepare(std::string_view sql, std::string_view doing)
{
  if (!m_db) {
    return fail("cannot {}: the {} is closed", doing, m_identity->purpose.name);
  }
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(m_db, sql.data(), static_cast<int>(sql.size()), &statement, nullptr) !=
      SQLITE_OK) {
    return error(doing);
  }
  return Statement(m_db, statement, doing, *m_identity, false);
}

Result<Statement> Database::cached(const char* sql, std::string_view doing)
{
  auto found = m_cached.find(sql);
  if (found == m_cached.end()) {
    TRY_ASSIGN(auto fresh, prepare(sql, doing));
    found = m_cached.emplace(sql, std::exchange(fresh.m_statement, nullptr)).first;
  }
  return Statement(m_db, found->second, doing, *m_identity, true);
}

Status Database::execute(const char* sql, std::string_view doing)
{
  if (sqlite3_exec(m_db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return error(doing);
  }
  return {};
}

Status Database::begin(std::string_view doing)
{
  return execute("BEGIN IMMEDIATE", doing);
}

Status Database::commit(std::string_view doing)
{
  return execute("COMMIT", doing);
}

void Database::rollback()
{
  // The error that matters is the one that made the caller roll back.
  sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
}

std::int64_t Database::changes() const
{
  return sqlite3_changes64(m_db);
}

Status Database::probe(std::initializer_list<const char*> queries)
{
  for (const char* sql : queries) {
    TRY_ASSIGN(auto query, prepare(sql, "read its newest rows"));
    TRY(query.run());
  }
  return {};
}

// WAL: the mode is kept in the file, so this is a no-op after the first
// open. Switching a new file needs a lock that SQLite will not wait for
// when waiting could deadlock (two connections both reading the new file and
// both switching it), answering SQLITE_BUSY at once: so wait here instead,
// as long as the busy timeout.
Status Database::switch_to_wal()
{
  constexpr int pause_ms = 20;
  for (int waited = 0;; waited += pause_ms) {
    int code = sqlite3_exec(m_db, "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr);
    if (code == SQLITE_OK) {
      return {};
    }
    if ((code & 0xff) != SQLITE_BUSY || waited >= busy_timeout_ms) {
      return error("switch it to WAL mode");
    }
    sqlite3_sleep(pause_ms);
  }
}

// Under a write lock, so that two processes opening a new file at once do
// not both create the schema.
Status Database::prepare_schema(const char* schema, int version)
{
  TRY(begin("lock it to check the schema"));
  auto checked = [&]() -> Status {
    std::int64_t found = 0;
    {
      // Done with before the schema runs: a statement still open on the
      // database makes a DROP in the schema fail ("database table is locked").
      TRY_ASSIGN(auto query, prepare("PRAGMA user_version", "read the schema version"));
      TRY_ASSIGN(bool row, query.next());
      found = row ? query.integer(0) : 0;
    }
    if (found < version) {
      return execute(schema, "create the tables");
    }
    if (found > version) {
      return fail("{} {} has schema version {}, newer than this buildme knows ({}): run the "
                  "newer buildme, or move the file aside",
                  m_identity->purpose.name, printable(m_identity->path), found, version);
    }
    return {};
  }();
  if (!checked) {
    rollback();
    return checked;
  }
  return commit("save the schema");
}

} // namespace buildme::util::sqlite
