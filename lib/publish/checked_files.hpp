// What a check of a repository tree (publish/check.hpp) read of its pool
// files, kept for the next check: for each path, the stat it had
// (repo::FileStamp: size, mtime, ctime, inode) and its SHA256. A file whose
// stat is the same at the next check is not read again. That is sound
// because a file's content cannot change without its ctime changing, and
// only the kernel sets ctime (touch cannot); a file replaced by another (a
// rename) has another inode.
//
// One gap remains, git's "racily clean" files: ctime ticks coarser than
// writes, so a file rewritten in the same tick as it was read, with the same
// size, would keep its stamp. Such a file is never recorded: put() drops any
// entry whose ctime is less than `settle` before the time its check began,
// and the next check reads it again.
//
// The record is a text file in state_dir, one line per file:
//   SIZE MTIME_NS CTIME_NS INODE SHA256 PATH
// after a first line "buildme-checked-files 1 TREE". It is a cache: a line
// that does not parse, a duplicate, or a record of another tree is dropped,
// and its files are read again.
#pragma once

#include "repo/catalog.hpp"
#include "util/clock.hpp"

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

namespace buildme::publish {

class CheckedFiles
{
public:
  static constexpr std::chrono::seconds settle{2};

  // The entries of `text` for `tree` (see above); nothing when it is of
  // another tree or not a record at all.
  static CheckedFiles parse(std::string_view text, const std::filesystem::path& tree);
  std::string write(const std::filesystem::path& tree) const;

  // The SHA256 recorded for `path` with exactly this stamp; null otherwise.
  const std::string* sha256(const std::string& path, const repo::FileStamp& stamp) const;
  // Records what a check found, unless the file changed less than `settle`
  // before `checked` (the time the check began).
  void put(const std::string& path, const repo::FileStamp& stamp, const std::string& sha256,
           util::Clock::time_point checked);

  std::size_t size() const { return m_entries.size(); }

private:
  struct Entry
  {
    repo::FileStamp stamp;
    std::string sha256;
  };
  std::map<std::string, Entry, std::less<>> m_entries;
};

} // namespace buildme::publish
