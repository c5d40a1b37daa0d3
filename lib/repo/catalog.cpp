#include "repo/catalog.hpp"

#include <fmt/format.h>

#include <utility>

namespace buildme::repo {

namespace {

using util::sqlite::Blob;
using util::sqlite::Database;
using util::sqlite::Statement;

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
DROP INDEX IF EXISTS members_listing;
-- Index order, and what says which index a member is in: a walk of a
-- distribution's members in index order reads this index alone.
CREATE INDEX IF NOT EXISTS members_order ON members (dist, removed_at, name, path, kind,
                                                     component, arch);
CREATE INDEX IF NOT EXISTS members_path ON members (path);
CREATE INDEX IF NOT EXISTS members_removed ON members (removed_at) WHERE removed_at > 0;
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
CREATE INDEX IF NOT EXISTS chunks_used ON chunks (used_at);
CREATE TABLE IF NOT EXISTS contents (
  path TEXT PRIMARY KEY,
  names TEXT NOT NULL,
  section TEXT -- the Section of the file's stanza ('' without one), for Contents
);
-- The stanza epoch: counts the changes to what a current member's stanza or
-- file names are, made without adding or removing a member (a pool file read
-- again after it changed, names listed late, a row forgotten). An index whose
-- members and epoch are those it was written for is as it was.
CREATE TABLE IF NOT EXISTS state (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT OR IGNORE INTO state (key, value) VALUES ('stanzas', 0);
CREATE TRIGGER IF NOT EXISTS files_replaced BEFORE INSERT ON files
  WHEN EXISTS (SELECT 1 FROM files WHERE path = NEW.path AND
               (stanza != NEW.stanza OR sha256 != NEW.sha256))
  BEGIN UPDATE state SET value = value + 1 WHERE key = 'stanzas'; END;
CREATE TRIGGER IF NOT EXISTS files_updated AFTER UPDATE OF stanza, sha256 ON files
  BEGIN UPDATE state SET value = value + 1 WHERE key = 'stanzas'; END;
CREATE TRIGGER IF NOT EXISTS files_forgotten AFTER DELETE ON files
  WHEN EXISTS (SELECT 1 FROM members WHERE path = OLD.path AND removed_at = 0)
  BEGIN UPDATE state SET value = value + 1 WHERE key = 'stanzas'; END;
CREATE TRIGGER IF NOT EXISTS contents_listed BEFORE INSERT ON contents
  WHEN EXISTS (SELECT 1 FROM contents WHERE path = NEW.path AND names != NEW.names) OR
       (NOT EXISTS (SELECT 1 FROM contents WHERE path = NEW.path) AND
        EXISTS (SELECT 1 FROM members WHERE path = NEW.path AND removed_at = 0))
  BEGIN UPDATE state SET value = value + 1 WHERE key = 'stanzas'; END;
CREATE TRIGGER IF NOT EXISTS contents_forgotten AFTER DELETE ON contents
  WHEN EXISTS (SELECT 1 FROM members WHERE path = OLD.path AND removed_at = 0)
  BEGIN UPDATE state SET value = value + 1 WHERE key = 'stanzas'; END;
-- Each index file written last (PATH below dists/DIST, without a
-- compression suffix): what it was made from (`inputs`) and the digests of
-- the files it is (a digest manifest, util/digest.hpp), for Release.
CREATE TABLE IF NOT EXISTS written (
  dist TEXT NOT NULL,
  path TEXT NOT NULL,
  inputs TEXT NOT NULL,
  files TEXT NOT NULL,
  PRIMARY KEY (dist, path)
);
-- Where each piece of a written index lies in its files (index_files.hpp's
-- piece spans, one a line), so that the next index copies those that did
-- not change. Kept and forgotten with its `written` row.
CREATE TABLE IF NOT EXISTS written_pieces (
  dist TEXT NOT NULL,
  path TEXT NOT NULL,
  pieces TEXT NOT NULL,
  PRIMARY KEY (dist, path)
);
-- What a run that changes little need not look for among every member:
--  'listed'  1 while every current binary member has its names in contents;
--  'stamped' 1 while every current member has its files row;
--  touched   the (kind, name, arch) groups of a distribution that gained a
--            member since retention last counted them, and 'kept:DIST' the
--            keep_versions it counted with.
-- Triggers clear the flags and fill touched; queue-manage sets the flags
-- once it has looked.
INSERT OR IGNORE INTO state (key, value) VALUES ('listed', 0);
INSERT OR IGNORE INTO state (key, value) VALUES ('stamped', 0);
CREATE TABLE IF NOT EXISTS touched (
  dist TEXT NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  arch TEXT NOT NULL,
  PRIMARY KEY (dist, kind, name, arch)
);
CREATE TRIGGER IF NOT EXISTS members_added AFTER INSERT ON members WHEN NEW.removed_at = 0
  BEGIN
    -- (not OR IGNORE: the add_member upsert that fires this would override it)
    INSERT INTO touched (dist, kind, name, arch)
      SELECT NEW.dist, NEW.kind, NEW.name, NEW.arch WHERE NOT EXISTS
        (SELECT 1 FROM touched WHERE dist = NEW.dist AND kind = NEW.kind AND
         name = NEW.name AND arch = NEW.arch);
    UPDATE state SET value = 0 WHERE key = 'listed' AND NEW.kind = 'binary' AND
      NOT EXISTS (SELECT 1 FROM contents WHERE path = NEW.path);
    UPDATE state SET value = 0 WHERE key = 'stamped' AND
      NOT EXISTS (SELECT 1 FROM files WHERE path = NEW.path);
  END;
CREATE TRIGGER IF NOT EXISTS members_restored AFTER UPDATE OF removed_at ON members
  WHEN NEW.removed_at = 0 AND OLD.removed_at != 0
  BEGIN
    -- (not OR IGNORE: the add_member upsert that fires this would override it)
    INSERT INTO touched (dist, kind, name, arch)
      SELECT NEW.dist, NEW.kind, NEW.name, NEW.arch WHERE NOT EXISTS
        (SELECT 1 FROM touched WHERE dist = NEW.dist AND kind = NEW.kind AND
         name = NEW.name AND arch = NEW.arch);
    UPDATE state SET value = 0 WHERE key = 'listed' AND NEW.kind = 'binary' AND
      NOT EXISTS (SELECT 1 FROM contents WHERE path = NEW.path);
    UPDATE state SET value = 0 WHERE key = 'stamped' AND
      NOT EXISTS (SELECT 1 FROM files WHERE path = NEW.path);
  END;
CREATE TRIGGER IF NOT EXISTS contents_dropped AFTER DELETE ON contents
  BEGIN UPDATE state SET value = 0 WHERE key = 'listed'; END;
CREATE TRIGGER IF NOT EXISTS files_dropped AFTER DELETE ON files
  BEGIN UPDATE state SET value = 0 WHERE key = 'stamped'; END;
PRAGMA user_version = 4; -- schema_version
)";

// PRAGMA user_version of the schema above; older catalogs take the schema as
// it is, every statement being IF NOT EXISTS (version 2 added contents,
// version 3 the stanza epoch and the written indices, version 4 their
// pieces, the contents' sections, the flags and touched groups, and the
// covering members_order).
constexpr int schema_version = 4;

// The Section of the stanza of files row `files` ('' without one), as
// index.hpp's stanza_section reads it: the value of the first line that
// begins "Section:", trimmed of blanks.
std::string section_of(std::string_view files)
{
  const std::string rest =
    fmt::format("substr({0}.stanza, instr({0}.stanza, char(10) || 'Section:') + 9)", files);
  return fmt::format("CASE WHEN instr({0}.stanza, char(10) || 'Section:') = 0 THEN '' ELSE "
                     "trim(substr({1}, 1, instr({1} || char(10), char(10)) - 1), ' ' || char(9) "
                     "|| char(13)) END",
                     files, rest);
}

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
  member.added_at = row.integer(9);
  member.removed_at = row.integer(10);
  return member;
}

constexpr std::int64_t chunk_touch_interval = 24 * 3600;

constexpr const char* member_columns =
  // (members.path: the same in queries that join a table with a path.)
  "dist, kind, component, arch, name, version, source, source_version, members.path, added_at, "
  "removed_at";

} // namespace

Result<Catalog> Catalog::open(const std::string& path)
{
  TRY_ASSIGN(auto database, Database::open(path,
                                           {"repository database",
                                            "it is a cache of the pool: move it aside and "
                                            "run queue-manage again to rebuild what it can"},
                                           schema, schema_version));
  TRY(database.probe({"SELECT path FROM files ORDER BY rowid DESC LIMIT 1",
                      "SELECT path FROM members ORDER BY rowid DESC LIMIT 1"}));
  // Version 4 keeps each .deb's Section beside its names, so that Contents
  // is made without reading every stanza; a catalog from before gets the
  // column, filled from the stanzas once.
  TRY_ASSIGN(auto columns, database.prepare("SELECT 1 FROM pragma_table_info('contents') WHERE "
                                            "name = 'section'",
                                            "read the contents table"));
  TRY_ASSIGN(bool has_section, columns.next());
  if (!has_section) {
    TRY(database.begin("add the contents' sections"));
    auto added = [&]() -> Status {
      TRY(database.execute("ALTER TABLE contents ADD COLUMN section TEXT",
                           "add the contents' sections"));
      const std::string fill =
        fmt::format("UPDATE contents SET section = (SELECT {} FROM files WHERE files.path = "
                    "contents.path)",
                    section_of("files"));
      return database.execute(fill.c_str(), "add the contents' sections");
    }();
    if (!added) {
      database.rollback();
      return added.error();
    }
    TRY(database.commit("add the contents' sections"));
  }
  return Catalog(std::move(database));
}

Status Catalog::begin()
{
  return m_db.begin("begin a transaction");
}

Status Catalog::commit()
{
  return m_db.commit("commit a transaction");
}

void Catalog::rollback()
{
  m_db.rollback();
}

Result<std::optional<CachedFile>> Catalog::file(const std::string& path)
{
  TRY_ASSIGN(auto query, m_db.cached("SELECT size, mtime_ns, ctime_ns, inode, stanza, sha256 "
                                     "FROM files WHERE path = ?",
                                     "read files"));
  TRY(query.bind(path));
  TRY_ASSIGN(bool row, query.next());
  if (!row) {
    return std::optional<CachedFile>();
  }
  CachedFile file;
  file.path = path;
  file.stamp = {static_cast<std::uint64_t>(query.integer(0)), query.integer(1), query.integer(2),
                static_cast<std::uint64_t>(query.integer(3))};
  file.stanza = query.text(4);
  file.sha256 = query.text(5);
  return std::optional<CachedFile>(std::move(file));
}

Status Catalog::each_stanza(
  const std::string& dist, const std::string& kind, const std::string& component,
  const std::string& arch,
  const std::function<Status(std::string_view stanza, std::string_view path)>& each)
{
  // members_order gives the rows in index order; the rest is a filter.
  TRY_ASSIGN(auto query,
             m_db.prepare("SELECT stanza, members.path, files.path IS NULL FROM members "
                          "LEFT JOIN files ON files.path = members.path WHERE members.dist = ? AND "
                          "members.removed_at = 0 AND kind = ? AND component = ? AND "
                          "(kind = 'source' OR arch = ? OR arch = 'all') "
                          "ORDER BY dist, removed_at, name, members.path",
                          "read stanzas"));
  TRY(query.bind(dist, kind, component, arch));
  while (true) {
    TRY_ASSIGN(bool row, query.next());
    if (!row) {
      return {};
    }
    if (query.integer(2) != 0) {
      return fail("no cached index entry for {}", query.text(1));
    }
    TRY(each(query.text_view(0), query.text_view(1)));
  }
}

Status Catalog::each_listed(
  const std::string& dist,
  const std::function<Status(std::string_view kind, std::string_view component,
                             std::string_view arch, std::string_view path)>& each)
{
  TRY_ASSIGN(auto query,
             m_db.prepare("SELECT kind, component, arch, path FROM members WHERE dist = ? AND "
                          "removed_at = 0 ORDER BY dist, removed_at, name, path",
                          "read members"));
  TRY(query.bind(dist));
  while (true) {
    TRY_ASSIGN(bool row, query.next());
    if (!row) {
      return {};
    }
    TRY(each(query.text_view(0), query.text_view(1), query.text_view(2), query.text_view(3)));
  }
}

Result<std::int64_t> Catalog::stanza_epoch()
{
  TRY_ASSIGN(auto query,
             m_db.cached("SELECT value FROM state WHERE key = 'stanzas'", "read the stanza epoch"));
  TRY_ASSIGN(bool row, query.next());
  return row ? query.integer(0) : 0;
}

Result<std::optional<WrittenIndex>> Catalog::written(const std::string& dist,
                                                     const std::string& path)
{
  TRY_ASSIGN(auto query,
             m_db.cached("SELECT inputs, files, pieces FROM written LEFT JOIN written_pieces "
                         "USING (dist, path) WHERE dist = ? AND path = ?",
                         "read the written indices"));
  TRY(query.bind(dist, path));
  TRY_ASSIGN(bool row, query.next());
  if (!row) {
    return std::optional<WrittenIndex>();
  }
  return std::optional<WrittenIndex>(WrittenIndex{query.text(0), query.text(1), query.text(2)});
}

Status Catalog::put_written(const std::string& dist, const std::string& path,
                            const WrittenIndex& index)
{
  TRY_ASSIGN(auto insert, m_db.cached("INSERT OR REPLACE INTO written (dist, path, inputs, files) "
                                      "VALUES (?, ?, ?, ?)",
                                      "keep the written indices"));
  TRY(insert.bind(dist, path, index.inputs, index.files));
  TRY(insert.run());
  TRY_ASSIGN(auto pieces, m_db.cached("INSERT OR REPLACE INTO written_pieces (dist, path, pieces) "
                                      "VALUES (?, ?, ?)",
                                      "keep the written indices"));
  TRY(pieces.bind(dist, path, index.pieces));
  return pieces.run();
}

Status Catalog::forget_written(const std::string& dist, const std::string& path)
{
  TRY_ASSIGN(auto remove, m_db.cached("DELETE FROM written WHERE dist = ? AND path = ?",
                                      "forget a written index"));
  TRY(remove.bind(dist, path));
  TRY(remove.run());
  TRY_ASSIGN(auto pieces, m_db.cached("DELETE FROM written_pieces WHERE dist = ? AND path = ?",
                                      "forget a written index"));
  TRY(pieces.bind(dist, path));
  return pieces.run();
}

// The chunk cache only saves work: a piece not read or not kept is
// compressed again next time, so its errors are not the run's errors.
std::optional<std::string> Catalog::chunk(const std::string& key, std::int64_t now)
{
  auto query = m_db.cached("SELECT data, used_at FROM chunks WHERE key = ?", "read chunks");
  if (!query || !query->bind(key)) {
    return std::nullopt;
  }
  if (auto row = query->next(); !row || !*row) {
    return std::nullopt;
  }
  std::string data = query->text(0);
  // Marked used at most once a day: an UPDATE rewrites the whole row, piece
  // and all, and a run uses thousands of pieces (prune_chunks counts in
  // days).
  if (query->integer(1) < now - chunk_touch_interval) {
    auto touch = m_db.cached("UPDATE chunks SET used_at = ? WHERE key = ?", "write chunks");
    if (touch && touch->bind(now, key)) {
      (void)touch->run(); // see above: a cache
    }
  }
  return data;
}

void Catalog::put_chunk(const std::string& key, const std::string& data, std::int64_t now)
{
  auto insert = m_db.cached("INSERT OR REPLACE INTO chunks (key, data, used_at) VALUES (?, ?, ?)",
                            "write chunks");
  if (insert && insert->bind(key, Blob{data}, now)) {
    (void)insert->run(); // see chunk(): a cache
  }
}

void Catalog::prune_chunks(std::int64_t before)
{
  auto remove = m_db.prepare("DELETE FROM chunks WHERE used_at < ?", "prune chunks");
  if (remove && remove->bind(before)) {
    (void)remove->run(); // see chunk(): a cache
  }
}

Status Catalog::put_file(const CachedFile& file)
{
  TRY_ASSIGN(auto insert,
             m_db.cached("INSERT OR REPLACE INTO files (path, size, mtime_ns, ctime_ns, inode, "
                         "stanza, sha256) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         "write files"));
  TRY(insert.bind(file.path, static_cast<std::int64_t>(file.stamp.size), file.stamp.mtime_ns,
                  file.stamp.ctime_ns, static_cast<std::int64_t>(file.stamp.inode), file.stanza,
                  file.sha256));
  return insert.run();
}

Status Catalog::set_stamp(const std::string& path, const FileStamp& stamp)
{
  TRY_ASSIGN(auto update, m_db.cached("UPDATE files SET size = ?, mtime_ns = ?, ctime_ns = ?, "
                                      "inode = ? WHERE path = ?",
                                      "write files"));
  TRY(update.bind(static_cast<std::int64_t>(stamp.size), stamp.mtime_ns, stamp.ctime_ns,
                  static_cast<std::int64_t>(stamp.inode), path));
  return update.run();
}

Status Catalog::forget_file(const std::string& path)
{
  TRY_ASSIGN(auto remove, m_db.prepare("DELETE FROM files WHERE path = ?", "delete from files"));
  TRY(remove.bind(path));
  TRY(remove.run());
  TRY_ASSIGN(auto names,
             m_db.prepare("DELETE FROM contents WHERE path = ?", "delete from contents"));
  TRY(names.bind(path));
  return names.run();
}

Status Catalog::put_contents(const std::string& path, const std::string& names)
{
  // The Section from the file's stanza, which its caller keeps first.
  static const std::string sql =
    fmt::format("INSERT OR REPLACE INTO contents (path, names, section) VALUES (?1, ?2, "
                "(SELECT {} FROM files WHERE files.path = ?1))",
                section_of("files"));
  TRY_ASSIGN(auto insert, m_db.cached(sql.c_str(), "write contents"));
  TRY(insert.bind(path, names));
  return insert.run();
}

Result<std::vector<std::string>> Catalog::unlisted()
{
  TRY_ASSIGN(const std::int64_t listed, state("listed"));
  if (listed == 1) {
    return std::vector<std::string>();
  }
  TRY_ASSIGN(auto query,
             m_db.prepare("SELECT DISTINCT members.path FROM members LEFT JOIN contents ON "
                          "contents.path = members.path WHERE kind = 'binary' AND removed_at = 0 "
                          "AND contents.path IS NULL ORDER BY members.path",
                          "read contents"));
  TRY_ASSIGN(auto paths, util::sqlite::read_all(query, [](Statement& row) { return row.text(0); }));
  if (paths.empty()) {
    TRY(set_state("listed", 1));
  }
  return paths;
}

Result<std::int64_t> Catalog::state(const std::string& key, std::int64_t otherwise)
{
  TRY_ASSIGN(auto query, m_db.cached("SELECT value FROM state WHERE key = ?", "read the state"));
  TRY(query.bind(key));
  TRY_ASSIGN(bool row, query.next());
  return row ? query.integer(0) : otherwise;
}

Status Catalog::set_state(const std::string& key, std::int64_t value)
{
  TRY_ASSIGN(auto update, m_db.cached("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)",
                                      "write the state"));
  TRY(update.bind(key, value));
  return update.run();
}

Status Catalog::counted(const std::string& dist, int keep)
{
  TRY_ASSIGN(auto clear,
             m_db.cached("DELETE FROM touched WHERE dist = ?", "forget touched groups"));
  TRY(clear.bind(dist));
  TRY(clear.run());
  TRY_ASSIGN(const std::int64_t kept, state("kept:" + dist, -1));
  return kept == keep ? Status() : set_state("kept:" + dist, keep);
}

Status Catalog::each_contents(
  const std::string& dist, const std::string& component, const std::string& arch,
  const std::function<Status(std::string_view name, std::string_view section,
                             std::string_view names)>& each)
{
  TRY_ASSIGN(auto query,
             m_db.prepare("SELECT name, IFNULL(section, ''), names FROM members JOIN contents ON "
                          "contents.path = members.path "
                          "WHERE dist = ? AND removed_at = 0 AND kind = 'binary' AND "
                          "component = ? AND (arch = ? OR arch = 'all')",
                          "read contents"));
  TRY(query.bind(dist, component, arch));
  while (true) {
    TRY_ASSIGN(bool row, query.next());
    if (!row) {
      return {};
    }
    TRY(each(query.text_view(0), query.text_view(1), query.text_view(2)));
  }
}

namespace {

Result<std::vector<Member>> read_members(Statement& query)
{
  return util::sqlite::read_all(query, read_member);
}

} // namespace

Result<std::vector<Member>> Catalog::members(const std::string& dist, const std::string& kind)
{
  // With a distribution, members_order gives the rows in order: no scan
  // of the whole table, no sort.
  const std::string sql = fmt::format(
    "SELECT {} FROM members WHERE {} removed_at = 0 AND (? = '' OR kind = ?) ORDER BY {}name, "
    "path",
    member_columns, dist.empty() ? "" : "dist = ? AND", dist.empty() ? "" : "dist, removed_at, ");
  TRY_ASSIGN(auto query, m_db.prepare(sql, "read members"));
  if (!dist.empty()) {
    TRY(query.bind(dist, kind, kind));
  } else {
    TRY(query.bind(kind, kind));
  }
  return read_members(query);
}

Result<std::vector<std::pair<Member, std::optional<FileStamp>>>> Catalog::members_to_check(
  const std::string& dist, int slices, int slice)
{
  // The slice is taken on the members' rows before any file is looked up:
  // a sixteenth of the pool costs a sixteenth of the lookups. Members with
  // no files row are looked for only while 'stamped' says there may be some.
  TRY_ASSIGN(const std::int64_t stamped, state("stamped"));
  TRY_ASSIGN(auto query,
             m_db.prepare(fmt::format("SELECT {}, files.path IS NOT NULL, size, mtime_ns, "
                                      "ctime_ns, inode FROM members LEFT JOIN files ON files.path "
                                      "= members.path WHERE dist = ? AND removed_at = 0 AND "
                                      "(members.rowid % ? = ?{})",
                                      member_columns, stamped == 1 ? "" : " OR files.path IS NULL"),
                          "read members"));
  TRY(query.bind(dist, slices, slice));
  std::vector<std::pair<Member, std::optional<FileStamp>>> checked;
  while (true) {
    TRY_ASSIGN(bool row, query.next());
    if (!row) {
      return checked;
    }
    std::optional<FileStamp> stamp;
    if (query.integer(11) != 0) {
      stamp = FileStamp{static_cast<std::uint64_t>(query.integer(12)), query.integer(13),
                        query.integer(14), static_cast<std::uint64_t>(query.integer(15))};
    }
    checked.emplace_back(read_member(query), stamp);
  }
}

Result<std::vector<std::tuple<std::string, std::string, std::string>>> Catalog::crowded(
  const std::string& dist, int keep)
{
  // Only the groups that gained a member since they were counted with this
  // `keep` (touched); all of them the first time, or with another `keep`.
  TRY_ASSIGN(const std::int64_t kept, state("kept:" + dist, -1));
  TRY_ASSIGN(auto query,
             m_db.prepare(kept == keep
                            ? "SELECT kind, name, arch FROM touched AS t WHERE dist = ?1 AND "
                              "(SELECT count(*) FROM members AS m WHERE m.dist = t.dist AND "
                              "m.kind = t.kind AND m.name = t.name AND m.arch = t.arch AND "
                              "m.removed_at = 0) > ?2"
                            : "SELECT kind, name, arch FROM members WHERE dist = ?1 AND "
                              "removed_at = 0 GROUP BY kind, name, arch HAVING count(*) > ?2",
                          "read members"));
  TRY(query.bind(dist, keep));
  std::vector<std::tuple<std::string, std::string, std::string>> groups;
  while (true) {
    TRY_ASSIGN(bool row, query.next());
    if (!row) {
      return groups;
    }
    groups.emplace_back(query.text(0), query.text(1), query.text(2));
  }
}

Result<std::vector<Member>> Catalog::versions_of(const std::string& dist, const std::string& kind,
                                                 const std::string& name, const std::string& arch)
{
  TRY_ASSIGN(auto query,
             m_db.prepare(fmt::format("SELECT {} FROM members WHERE dist = ? AND kind = ? AND "
                                      "name = ? AND arch = ? AND removed_at = 0 ORDER BY path",
                                      member_columns),
                          "read members"));
  TRY(query.bind(dist, kind, name, arch));
  return read_members(query);
}

Result<std::vector<Member>> Catalog::removed_before(std::int64_t before)
{
  const std::string sql = fmt::format(
    "SELECT {} FROM members WHERE removed_at > 0 AND removed_at < ? ORDER BY path", member_columns);
  TRY_ASSIGN(auto query, m_db.prepare(sql, "read removed members"));
  TRY(query.bind(before));
  return read_members(query);
}

Status Catalog::add_member(const Member& member)
{
  TRY_ASSIGN(auto replace,
             m_db.cached("UPDATE members SET removed_at = ? WHERE dist = ? AND kind = ? AND "
                         "name = ? AND arch = ? AND version = ? AND path != ? AND removed_at = 0",
                         "replace member"));
  TRY(replace.bind(member.added_at, member.dist, member.kind, member.name, member.arch,
                   member.version, member.path));
  TRY(replace.run());
  TRY_ASSIGN(auto insert,
             m_db.cached("INSERT INTO members (dist, kind, component, arch, name, version, "
                         "source, source_version, path, added_at, removed_at) VALUES "
                         "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (dist, kind, path) DO "
                         "UPDATE SET removed_at = 0, component = excluded.component",
                         "add member"));
  TRY(insert.bind(member.dist, member.kind, member.component, member.arch, member.name,
                  member.version, member.source, member.source_version, member.path,
                  member.added_at));
  return insert.run();
}

Status Catalog::remove_member(const Member& member, std::int64_t when)
{
  TRY_ASSIGN(auto update, m_db.prepare("UPDATE members SET removed_at = ? WHERE dist = ? AND "
                                       "kind = ? AND path = ?",
                                       "remove member"));
  TRY(update.bind(when, member.dist, member.kind, member.path));
  return update.run();
}

Status Catalog::delete_member(const Member& member)
{
  TRY_ASSIGN(
    auto remove,
    m_db.prepare("DELETE FROM members WHERE dist = ? AND kind = ? AND path = ?", "delete member"));
  TRY(remove.bind(member.dist, member.kind, member.path));
  return remove.run();
}

Result<bool> Catalog::referenced(const std::string& path)
{
  TRY_ASSIGN(auto query,
             m_db.prepare("SELECT 1 FROM members WHERE removed_at = 0 AND path = ? UNION ALL "
                          "SELECT 1 FROM sources JOIN members ON members.path = sources.dsc "
                          "WHERE members.removed_at = 0 AND sources.file = ? LIMIT 1",
                          "read references"));
  TRY(query.bind(path, path));
  return query.next();
}

Status Catalog::set_source_files(const std::string& dsc_path, const std::vector<std::string>& files)
{
  TRY_ASSIGN(auto clear, m_db.prepare("DELETE FROM sources WHERE dsc = ?", "write sources"));
  TRY(clear.bind(dsc_path));
  TRY(clear.run());
  for (const auto& file : files) {
    TRY_ASSIGN(auto insert, m_db.cached("INSERT OR IGNORE INTO sources (dsc, file) VALUES (?, ?)",
                                        "write sources"));
    TRY(insert.bind(dsc_path, file));
    TRY(insert.run());
  }
  return {};
}

Result<std::vector<std::string>> Catalog::source_files(const std::string& dsc_path)
{
  TRY_ASSIGN(auto query,
             m_db.prepare("SELECT file FROM sources WHERE dsc = ? ORDER BY file", "read sources"));
  TRY(query.bind(dsc_path));
  return util::sqlite::read_all(query, [](Statement& row) { return row.text(0); });
}

} // namespace buildme::repo
