// What a repository holds, and the sums cache, in SQLite
// (state_dir/repo/<repository>.sqlite):
//
//  files    one row per pool file that has an index stanza (.deb, .dsc):
//           what stat said when it was read (size, mtime, ctime, inode) and
//           the stanza written for it. A file whose stat changed is read
//           again: a .deb rewritten in place is noticed (each run checks a
//           sixteenth of the pool in turn, queue-manage regenerate all).
//  members  which pool file is in which distribution (binary or source),
//           with name, version, arch and component; removed_at > 0 once a
//           newer version pushed it out (the pool file stays until
//           delete_after has passed).
//  sources  the pool files a .dsc lists, so they are deleted with it.
//  contents the file names in each .deb's data.tar (one a line) and the
//           Section of its stanza, for the Contents indices: adding or
//           removing a .deb changes them without reading any other.
//  state    the stanza epoch: how often a current member's stanza or names
//           changed without a member coming or going (triggers count it);
//           and flags that spare a run looking at every member (listed,
//           stamped, kept:DIST).
//  touched  the groups that gained a member since retention counted them.
//  written  each index file written last: what it was made from and its
//           digests, so that an index whose inputs did not change is not
//           made again (Release lists it as it is).
//  written_pieces
//           where each piece of such an index lies in its files, so that an
//           index of which a piece changed copies the others.
//
// Adding one .deb to a large repository reads that .deb only; the indices
// are written from the cached stanzas.
#pragma once

#include "util/result.hpp"
#include "util/sqlite.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace buildme::repo {

struct FileStamp
{
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  std::uint64_t inode = 0;
  bool operator==(const FileStamp&) const = default;
};

struct CachedFile
{
  std::string path; // relative to the staging folder
  FileStamp stamp;
  std::string stanza;
  std::string sha256;
};

struct Member
{
  std::string dist;
  std::string kind; // "binary" or "source"
  std::string component;
  std::string arch; // binary: its Architecture; source: "source"
  std::string name;
  std::string version;
  std::string source; // the source package a binary comes from
  std::string source_version;
  std::string path; // the .deb or .dsc, relative to the staging folder
  std::int64_t added_at = 0;
  std::int64_t removed_at = 0;
};

// An index as it was written: what it was made from (Staging's fingerprint
// of its members and settings), a digest manifest of its files, and where
// its pieces lie in them (repo/index_files.hpp's piece spans; empty: none
// kept).
struct WrittenIndex
{
  std::string inputs;
  std::string files;
  std::string pieces = {};
};

class Catalog
{
public:
  static Result<Catalog> open(const std::string& path);

  Status begin();
  Status commit();
  void rollback();

  Result<std::optional<CachedFile>> file(const std::string& path);
  Status put_file(const CachedFile& file);
  // Calls `each` with the cached stanza and the path of every current member
  // of `dist` of `kind` in `component` (binary: of `arch` or "all"; source:
  // `arch` is not looked at), in index order (name, then path), one at a
  // time, so that an index is written without every stanza in memory. A
  // member with no cached stanza is an Error that names its path.
  Status each_stanza(
    const std::string& dist, const std::string& kind, const std::string& component,
    const std::string& arch,
    const std::function<Status(std::string_view stanza, std::string_view path)>& each);
  // Calls `each` with the kind, component, arch and path of every current
  // member of `dist`, in index order (name, then path).
  Status each_listed(
    const std::string& dist,
    const std::function<Status(std::string_view kind, std::string_view component,
                               std::string_view arch, std::string_view path)>& each);
  // The stanza epoch (see state above).
  Result<std::int64_t> stanza_epoch();
  // The written index PATH (below dists/DIST, "main/binary-amd64/Packages").
  Result<std::optional<WrittenIndex>> written(const std::string& dist, const std::string& path);
  Status put_written(const std::string& dist, const std::string& path, const WrittenIndex& index);
  Status forget_written(const std::string& dist, const std::string& path);
  // The current members of `dist` whose pool files a run checks: every one
  // when `slices` is 1, else those of slice `slice` (of `slices`, by row)
  // and, unless the 'stamped' flag is set (set_state), any that has no
  // cached stamp; each with its cached stamp, if any.
  Result<std::vector<std::pair<Member, std::optional<FileStamp>>>> members_to_check(
    const std::string& dist, int slices, int slice);
  // (kind, name, arch) of each group of current members of `dist` with more
  // than `keep` versions, counted in the catalog (no member is loaded):
  // of the groups touched since counted() with the same `keep`, or of all.
  Result<std::vector<std::tuple<std::string, std::string, std::string>>> crowded(
    const std::string& dist, int keep);
  // Every crowded group of `dist` was dealt with: none is until a member
  // is added (or `keep` changes).
  Status counted(const std::string& dist, int keep);
  // The current members of `dist` of one (kind, name, arch).
  Result<std::vector<Member>> versions_of(const std::string& dist, const std::string& kind,
                                          const std::string& name, const std::string& arch);
  // Forgets a file's stanza and its contents.
  Status forget_file(const std::string& path);
  // The file names of a .deb (read_deb's list_files), with the Section of
  // its stanza (put_file first).
  Status put_contents(const std::string& path, const std::string& names);
  // The pool paths of the current binary members (of any distribution)
  // whose file names are not kept (a catalog from before Contents, or from
  // while the repository had none); none without a look while the 'listed'
  // flag is set, which it sets itself when it finds none (and a caller
  // with set_state once it has listed them all).
  Result<std::vector<std::string>> unlisted();
  // A value of the state table (the flags 'listed' and 'stamped', 1 or 0);
  // `otherwise` when it has none.
  Result<std::int64_t> state(const std::string& key, std::int64_t otherwise = 0);
  Status set_state(const std::string& key, std::int64_t value);
  // Calls `each` with the name, Section ('' without one) and file names of
  // every current binary member of `dist` in `component` of `arch` or "all"
  // that has its names kept, one at a time.
  Status each_contents(const std::string& dist, const std::string& component,
                       const std::string& arch,
                       const std::function<Status(std::string_view name, std::string_view section,
                                                  std::string_view names)>& each);
  // Records where a file's stat stands now (after a move), keeping its stanza.
  Status set_stamp(const std::string& path, const FileStamp& stamp);

  // Current members (removed_at == 0) of a distribution; all dists when
  // `dist` is empty.
  Result<std::vector<Member>> members(const std::string& dist, const std::string& kind = {});
  // Members removed before `before` (seconds since the epoch).
  Result<std::vector<Member>> removed_before(std::int64_t before);
  // Adds a member, or makes a removed one current again. A current member
  // of the same dist, kind, name, arch and version but another path is
  // replaced (removed_at set).
  Status add_member(const Member& member);
  Status remove_member(const Member& member, std::int64_t when);
  Status delete_member(const Member& member);
  // Is this pool path still used by a current member, directly or as a
  // file of a current source?
  Result<bool> referenced(const std::string& path);

  // Compressed index pieces (repo/index.hpp's ChunkCache), with the time
  // they were last used; pieces unused since `before` are dropped.
  std::optional<std::string> chunk(const std::string& key, std::int64_t now);
  void put_chunk(const std::string& key, const std::string& data, std::int64_t now);
  void prune_chunks(std::int64_t before);

  Status set_source_files(const std::string& dsc_path, const std::vector<std::string>& files);
  Result<std::vector<std::string>> source_files(const std::string& dsc_path);

private:
  explicit Catalog(util::sqlite::Database db) : m_db(std::move(db)) {}

  util::sqlite::Database m_db;
};

} // namespace buildme::repo
