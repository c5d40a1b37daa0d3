// The pool of one repository as a run writes into it (reprepro's pool.c):
// where a source package's files go, what stat says of a pool file, and
// what a run keeps so that taking thousands of files in stays cheap and
// still durable:
//  - a folder is made once per run (ensure_dir);
//  - moves are not synced one by one: each folder a run changed (in the
//    pool, and the queue folders it emptied) is synced once, by
//    sync_touched, and the caller puts no Release in place before that has
//    succeeded;
//  - a file the run placed and stamped in the catalog itself is not stat'ed
//    again by the same run.
// Paths are relative to the staging folder (the root) and start with pool/.
// One run at a time (the repository's lock); sync_touched may run on
// another thread while the run only asks is_fresh.
#pragma once

#include "repo/catalog.hpp"
#include "util/result.hpp"

#include <filesystem>
#include <set>
#include <unordered_set>
#include <string>

namespace buildme::repo {

// Where a source package's files go: pool/<component>/<prefix>/<source>,
// prefix "libf" for libfoo, else the first letter.
std::string pool_dir(const std::string& component, const std::string& source);

// What stat says of `path` now, as the catalog keeps it; an Error when it
// is missing or not a regular file.
Result<FileStamp> stamp_of(const std::filesystem::path& path);

// How the folders a run changed reach the disk; a test records the order
// of events here instead.
struct FolderSync
{
  virtual ~FolderSync() = default;
  virtual Status sync_dir(const std::filesystem::path& dir) = 0;
  // One call for every folder on the filesystem holding `path`.
  virtual Status sync_filesystem(const std::filesystem::path& path) = 0;
};

// util::sync_dir and util::sync_filesystem.
FolderSync& disk_sync();

class Pool
{
public:
  explicit Pool(std::filesystem::path root, FolderSync& sync = disk_sync())
    : m_root(std::move(root)), m_sync(sync)
  {
  }

  const std::filesystem::path& root() const { return m_root; }

  // mkdir -p, once per folder per run.
  Status ensure_dir(const std::filesystem::path& dir);
  // A folder whose entries changed without a sync: sync_touched syncs it.
  void touch(const std::filesystem::path& dir) { m_touched.insert(dir.native()); }
  void untouch(const std::filesystem::path& dir) { m_touched.erase(dir.native()); }
  // A pool file this run placed and stamped in the catalog itself. Kept by
  // a 64-bit hash of its path (a run may place hundreds of thousands): a
  // file whose hash meets another's is not checked again this run, which
  // only defers its check to another run's slice.
  void stamped(const std::string& path) { m_fresh.insert(std::hash<std::string>{}(path)); }
  bool is_fresh(const std::string& path) const
  {
    return m_fresh.count(std::hash<std::string>{}(path)) > 0;
  }
  // Syncs the touched folders (every one, whatever fails) and forgets them;
  // the first failure is the result.
  Status sync_touched();

private:
  std::filesystem::path m_root;
  FolderSync& m_sync;
  // (Strings, not paths: a path keeps each of its parts apart, several
  // times the memory, and a cold run makes tens of thousands of folders.)
  std::unordered_set<std::string> m_made;
  std::set<std::string> m_touched;
  std::unordered_set<std::size_t> m_fresh;
};

} // namespace buildme::repo
