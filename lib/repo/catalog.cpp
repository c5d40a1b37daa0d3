#include "repo/catalog.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <map>
#include <utility>

namespace buildme::repo {

namespace {

constexpr const char* schema = R"(
CREATE TABLE IF NOT EXISTS files (
  path TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  ctime_ns INTEGER NOT NULL,
  inode INTEGER NOT NULL,
  stanza TEXT NOT NULL,
  sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS members (
  dist TEXT NOT NULL,
  kind TEXT NOT NULL,
  component TEXT NOT NULL,
  arch TEXT NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  source TEXT NOT NULL,
  source_version TEXT NOT NULL,
  path TEXT NOT NULL,
  added_at INTEGER NOT NULL,
  removed_at INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (dist, kind, path)
);
DROP INDEX IF EXISTS members_current;
CREATE INDEX IF NOT EXISTS members_listing ON members (dist, removed_at, name, path);
CREATE INDEX IF NOT EXISTS members_path ON members (path);
CREATE INDEX IF NOT EXISTS members_identity ON members (dist, kind, name, arch);
CREATE TABLE IF NOT EXISTS sources (
  dsc TEXT NOT NULL,
  file TEXT NOT NULL,
  PRIMARY KEY (dsc, file)
);
CREATE INDEX IF NOT EXISTS sources_file ON sources (file);
CREATE TABLE IF NOT EXISTS chunks (
  key TEXT PRIMARY KEY,
  data BLOB NOT NULL,
  used_at INTEGER NOT NULL
);
)";

// A prepared statement with bound parameters. Statements in the catalog's
// cache (the ones run once per package) are prepared once and reset after
// use; the rest are finalized on destruction.
class Statement
{
public:
  Statement(sqlite3* db, const char* sql, std::map<const char*, sqlite3_stmt*>* cache = nullptr)
    : m_cached(cache != nullptr)
  {
    if (cache) {
      auto found = cache->find(sql);
      if (found != cache->end()) {
        m_stmt = found->second;
        m_status = SQLITE_OK;
        return;
      }
    }
    m_status = sqlite3_prepare_v2(db, sql, -1, &m_stmt, nullptr);
    if (cache && m_status == SQLITE_OK) {
      (*cache)[sql] = m_stmt;
    }
  }
  ~Statement()
  {
    if (m_cached) {
      sqlite3_reset(m_stmt);
      sqlite3_clear_bindings(m_stmt);
    } else {
      sqlite3_finalize(m_stmt);
    }
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return m_status == SQLITE_OK; }

  Statement& bind(std::string_view text)
  {
    sqlite3_bind_text(m_stmt, ++m_index, text.data(), static_cast<int>(text.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind_blob(std::string_view data)
  {
    sqlite3_bind_blob(m_stmt, ++m_index, data.data(), static_cast<int>(data.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(std::int64_t number)
  {
    sqlite3_bind_int64(m_stmt, ++m_index, number);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(m_stmt); }
  std::string text(int column) const
  {
    const auto* data = sqlite3_column_text(m_stmt, column);
    return data ? std::string(reinterpret_cast<const char*>(data),
                              static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, column)))
                : std::string();
  }
  std::int64_t number(int column) const { return sqlite3_column_int64(m_stmt, column); }

private:
  sqlite3_stmt* m_stmt = nullptr;
  int m_status = SQLITE_ERROR;
  int m_index = 0;
  bool m_cached;
};

Member read_member(const Statement& row)
{
  Member member;
  member.dist = row.text(0);
  member.kind = row.text(1);
  member.component = row.text(2);
  member.arch = row.text(3);
  member.name = row.text(4);
  member.version = row.text(5);
  member.source = row.text(6);
  member.source_version = row.text(7);
  member.path = row.text(8);
  member.added_at = row.number(9);
  member.removed_at = row.number(10);
  return member;
}

constexpr const char* member_columns =
  "dist, kind, component, arch, name, version, source, source_version, path, added_at, "
  "removed_at";

} // namespace

Error Catalog::error(std::string_view what) const
{
  return fail("repository database {}: {}: {} (it is a cache of the pool: move it aside and "
              "run queue-manage again to rebuild what it can)",
              m_path, what, sqlite3_errmsg(m_db));
}

Result<Catalog> Catalog::open(const std::string& path)
{
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return fail("cannot open repository database {}: {}", path, why);
  }
  Catalog catalog(db, path);
  sqlite3_busy_timeout(db, 10000);
  char* message = nullptr;
  if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", nullptr, nullptr,
                   &message) != SQLITE_OK ||
      sqlite3_exec(db, schema, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string why = message ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    return fail("repository database {} is not usable: {} (move it aside; queue-manage "
                "rebuilds it)",
                path, why);
  }
  return catalog;
}

Catalog::Catalog(Catalog&& other) noexcept
  : m_db(std::exchange(other.m_db, nullptr)), m_path(std::move(other.m_path)),
    m_statements(std::move(other.m_statements))
{
  other.m_statements.clear();
}

Catalog& Catalog::operator=(Catalog&& other) noexcept
{
  if (this != &other) {
    finalize_statements();
    sqlite3_close(m_db);
    m_db = std::exchange(other.m_db, nullptr);
    m_path = std::move(other.m_path);
    m_statements = std::move(other.m_statements);
    other.m_statements.clear();
  }
  return *this;
}

void Catalog::finalize_statements()
{
  for (auto& [sql, statement] : m_statements) {
    sqlite3_finalize(statement);
  }
  m_statements.clear();
}

Catalog::~Catalog()
{
  finalize_statements();
  sqlite3_close(m_db);
}

Status Catalog::begin()
{
  if (sqlite3_exec(m_db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return error("begin");
  }
  return {};
}

Status Catalog::commit()
{
  if (sqlite3_exec(m_db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return error("commit");
  }
  return {};
}

void Catalog::rollback()
{
  sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
}

Result<std::optional<CachedFile>> Catalog::file(const std::string& path)
{
  Statement query(m_db, "SELECT size, mtime_ns, ctime_ns, inode, stanza, sha256 FROM files "
                        "WHERE path = ?");
  if (!query.ok()) {
    return error("read files");
  }
  query.bind(path);
  const int status = query.step();
  if (status == SQLITE_DONE) {
    return std::optional<CachedFile>();
  }
  if (status != SQLITE_ROW) {
    return error("read files");
  }
  CachedFile file;
  file.path = path;
  file.stamp = {static_cast<std::uint64_t>(query.number(0)), query.number(1), query.number(2),
                static_cast<std::uint64_t>(query.number(3))};
  file.stanza = query.text(4);
  file.sha256 = query.text(5);
  return std::optional<CachedFile>(std::move(file));
}

Result<std::vector<CachedFile>> Catalog::files_of(const std::string& dist)
{
  Statement query(m_db, "SELECT files.path, size, mtime_ns, ctime_ns, inode, stanza, sha256 "
                        "FROM files JOIN members ON members.path = files.path WHERE "
                        "members.dist = ? AND members.removed_at = 0");
  query.bind(dist);
  std::vector<CachedFile> files;
  int status;
  while ((status = query.step()) == SQLITE_ROW) {
    files.push_back({query.text(0),
                     {static_cast<std::uint64_t>(query.number(1)), query.number(2), query.number(3),
                      static_cast<std::uint64_t>(query.number(4))},
                     query.text(5),
                     query.text(6)});
  }
  if (!query.ok() || status != SQLITE_DONE) {
    return error("read files");
  }
  return files;
}

std::optional<std::string> Catalog::chunk(const std::string& key, std::int64_t now)
{
  Statement query(m_db, "SELECT data FROM chunks WHERE key = ?", &m_statements);
  query.bind(key);
  if (query.step() != SQLITE_ROW) {
    return std::nullopt;
  }
  std::string data = query.text(0);
  Statement touch(m_db, "UPDATE chunks SET used_at = ? WHERE key = ?", &m_statements);
  touch.bind(now).bind(key);
  touch.step();
  return data;
}

void Catalog::put_chunk(const std::string& key, const std::string& data, std::int64_t now)
{
  Statement insert(m_db, "INSERT OR REPLACE INTO chunks (key, data, used_at) VALUES (?, ?, ?)",
                   &m_statements);
  insert.bind(key).bind_blob(data).bind(now);
  insert.step(); // a cache: a chunk not kept is compressed again next time
}

void Catalog::prune_chunks(std::int64_t before)
{
  Statement remove(m_db, "DELETE FROM chunks WHERE used_at < ?");
  remove.bind(before);
  remove.step();
}

Status Catalog::put_file(const CachedFile& file)
{
  Statement insert(m_db,
                   "INSERT OR REPLACE INTO files (path, size, mtime_ns, ctime_ns, inode, "
                   "stanza, sha256) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   &m_statements);
  insert.bind(file.path)
    .bind(static_cast<std::int64_t>(file.stamp.size))
    .bind(file.stamp.mtime_ns)
    .bind(file.stamp.ctime_ns)
    .bind(static_cast<std::int64_t>(file.stamp.inode))
    .bind(file.stanza)
    .bind(file.sha256);
  if (!insert.ok() || insert.step() != SQLITE_DONE) {
    return error("write files");
  }
  return {};
}

Status Catalog::set_stamp(const std::string& path, const FileStamp& stamp)
{
  Statement update(
    m_db, "UPDATE files SET size = ?, mtime_ns = ?, ctime_ns = ?, inode = ? WHERE path = ?",
    &m_statements);
  update.bind(static_cast<std::int64_t>(stamp.size))
    .bind(stamp.mtime_ns)
    .bind(stamp.ctime_ns)
    .bind(static_cast<std::int64_t>(stamp.inode))
    .bind(path);
  if (!update.ok() || update.step() != SQLITE_DONE) {
    return error("write files");
  }
  return {};
}

Status Catalog::forget_file(const std::string& path)
{
  Statement remove(m_db, "DELETE FROM files WHERE path = ?");
  remove.bind(path);
  if (!remove.ok() || remove.step() != SQLITE_DONE) {
    return error("delete from files");
  }
  return {};
}

Result<std::vector<Member>> Catalog::members(const std::string& dist, const std::string& kind)
{
  // With a distribution, members_listing gives the rows in order: no scan
  // of the whole table, no sort.
  const std::string sql = fmt::format(
    "SELECT {} FROM members WHERE {} removed_at = 0 AND (? = '' OR kind = ?) ORDER BY {}name, "
    "path",
    member_columns, dist.empty() ? "" : "dist = ? AND", dist.empty() ? "" : "dist, removed_at, ");
  Statement query(m_db, sql.c_str());
  if (!dist.empty()) {
    query.bind(dist);
  }
  query.bind(kind).bind(kind);
  std::vector<Member> result;
  int status;
  while ((status = query.step()) == SQLITE_ROW) {
    result.push_back(read_member(query));
  }
  if (!query.ok() || status != SQLITE_DONE) {
    return error("read members");
  }
  return result;
}

Result<std::vector<Member>> Catalog::removed_before(std::int64_t before)
{
  const std::string sql = fmt::format(
    "SELECT {} FROM members WHERE removed_at > 0 AND removed_at < ? ORDER BY path", member_columns);
  Statement query(m_db, sql.c_str());
  query.bind(before);
  std::vector<Member> result;
  int status;
  while ((status = query.step()) == SQLITE_ROW) {
    result.push_back(read_member(query));
  }
  if (!query.ok() || status != SQLITE_DONE) {
    return error("read removed members");
  }
  return result;
}

Status Catalog::add_member(const Member& member)
{
  Statement replace(m_db,
                    "UPDATE members SET removed_at = ? WHERE dist = ? AND kind = ? AND "
                    "name = ? AND arch = ? AND version = ? AND path != ? AND removed_at = 0",
                    &m_statements);
  replace.bind(member.added_at)
    .bind(member.dist)
    .bind(member.kind)
    .bind(member.name)
    .bind(member.arch)
    .bind(member.version)
    .bind(member.path);
  if (!replace.ok() || replace.step() != SQLITE_DONE) {
    return error("replace member");
  }
  Statement insert(m_db,
                   "INSERT INTO members (dist, kind, component, arch, name, version, "
                   "source, source_version, path, added_at, removed_at) VALUES "
                   "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (dist, kind, path) DO "
                   "UPDATE SET removed_at = 0, component = excluded.component",
                   &m_statements);
  insert.bind(member.dist)
    .bind(member.kind)
    .bind(member.component)
    .bind(member.arch)
    .bind(member.name)
    .bind(member.version)
    .bind(member.source)
    .bind(member.source_version)
    .bind(member.path)
    .bind(member.added_at);
  if (!insert.ok() || insert.step() != SQLITE_DONE) {
    return error("add member");
  }
  return {};
}

Status Catalog::remove_member(const Member& member, std::int64_t when)
{
  Statement update(m_db, "UPDATE members SET removed_at = ? WHERE dist = ? AND kind = ? AND "
                         "path = ?");
  update.bind(when).bind(member.dist).bind(member.kind).bind(member.path);
  if (!update.ok() || update.step() != SQLITE_DONE) {
    return error("remove member");
  }
  return {};
}

Status Catalog::delete_member(const Member& member)
{
  Statement remove(m_db, "DELETE FROM members WHERE dist = ? AND kind = ? AND path = ?");
  remove.bind(member.dist).bind(member.kind).bind(member.path);
  if (!remove.ok() || remove.step() != SQLITE_DONE) {
    return error("delete member");
  }
  return {};
}

Result<bool> Catalog::referenced(const std::string& path)
{
  Statement query(m_db, "SELECT 1 FROM members WHERE removed_at = 0 AND path = ? UNION ALL "
                        "SELECT 1 FROM sources JOIN members ON members.path = sources.dsc "
                        "WHERE members.removed_at = 0 AND sources.file = ? LIMIT 1");
  query.bind(path).bind(path);
  const int status = query.step();
  if (!query.ok() || (status != SQLITE_ROW && status != SQLITE_DONE)) {
    return error("read references");
  }
  return status == SQLITE_ROW;
}

Status Catalog::set_source_files(const std::string& dsc_path, const std::vector<std::string>& files)
{
  Statement clear(m_db, "DELETE FROM sources WHERE dsc = ?");
  clear.bind(dsc_path);
  if (!clear.ok() || clear.step() != SQLITE_DONE) {
    return error("write sources");
  }
  for (const auto& file : files) {
    Statement insert(m_db, "INSERT OR IGNORE INTO sources (dsc, file) VALUES (?, ?)");
    insert.bind(dsc_path).bind(file);
    if (!insert.ok() || insert.step() != SQLITE_DONE) {
      return error("write sources");
    }
  }
  return {};
}

Result<std::vector<std::string>> Catalog::source_files(const std::string& dsc_path)
{
  Statement query(m_db, "SELECT file FROM sources WHERE dsc = ? ORDER BY file");
  query.bind(dsc_path);
  std::vector<std::string> files;
  int status;
  while ((status = query.step()) == SQLITE_ROW) {
    files.push_back(query.text(0));
  }
  if (!query.ok() || status != SQLITE_DONE) {
    return error("read sources");
  }
  return files;
}

} // namespace buildme::repo
