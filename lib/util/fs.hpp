// Files: the operations every hand-over between buildme's programs is made
// of. Contract: nothing here ever overwrites an existing file, and every
// write that another program may read appears whole or not at all.
#pragma once

#include "util/result.hpp"

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace buildme::util {

namespace fs = std::filesystem;

// Whether a write survives a crash of the machine (fsync of the file and
// its folder), or only appears whole to readers (pages of the status site,
// which the next run writes again).
enum class Durability
{
  synced,
  unsynced
};

// Writes `data` to `path` through a temporary name in the same folder:
// write, fsync, rename over `path`, fsync the folder. Readers see the old
// file or the new one, never a part. (This replaces `path` if it exists: it
// is for files this program owns, such as state and indices.)
Status write_file_atomic(const fs::path& path, std::string_view data, mode_t mode = 0644,
                         Durability durability = Durability::synced);

// Creates `path` with `data` only if no file of that name exists; returns an
// Error naming the file if it does. Written through a temporary name and
// linked into place, so it too appears whole or not at all.
Status write_file_exclusive(const fs::path& path, std::string_view data, mode_t mode = 0644);

// write_file_exclusive in parts, for a file too large to hold in memory:
// appended to under a temporary name beside `path`, and linked to `path` by
// finish() (fsynced, never overwriting). Dropped before finish(), it leaves
// nothing behind.
class FileWriter
{
public:
  static Result<FileWriter> create(const fs::path& path, mode_t mode = 0644);
  FileWriter(FileWriter&& other) noexcept;
  FileWriter& operator=(FileWriter&&) = delete;
  ~FileWriter();

  Status append(std::string_view data);
  Status finish();
  const fs::path& path() const { return m_path; }

private:
  FileWriter(int fd, fs::path temp, fs::path path, mode_t mode)
    : m_fd(fd), m_temp(std::move(temp)), m_path(std::move(path)), m_mode(mode)
  {
  }
  int m_fd = -1;
  fs::path m_temp, m_path;
  mode_t m_mode = 0644;
  std::uint64_t m_written = 0, m_flushed = 0;
};

// Reads a whole regular file; refuses files larger than `max_size` bytes
// (untrusted input is never read unbounded) and non-regular files.
Result<std::string> read_file(const fs::path& path, std::uint64_t max_size = 64 * 1024 * 1024);

// The name that move_no_clobber would pick in `dir` for `name`: `name` when
// free, else `name.1`, `name.2`, ... (the first that does not exist).
std::string free_name(const fs::path& dir, std::string_view name);

// Moves `from` to `to` without ever overwriting: when `to` is taken, the file
// goes to the first free `to.N` (N = 1, 2, ...) instead. Returns where the file
// ended up. rename(2) with RENAME_NOREPLACE, falling back to link+unlink on
// filesystems without it; across filesystems a copy to a temporary name,
// fsync, link into place, then unlink of the source.
Result<fs::path> move_no_clobber(const fs::path& from, const fs::path& to);

// Moves `from` to exactly `to`; fails (naming both) when `to` exists. With
// sync = false the folders are not fsynced: a caller moving many files syncs
// each folder once at the end (sync_dir).
Status move_exclusive(const fs::path& from, const fs::path& to, bool sync = true);

// Hard-links `from` as `to` (copies when they are on different
// filesystems); fails when `to` exists.
Status link_or_copy_exclusive(const fs::path& from, const fs::path& to, bool sync = true);

// Copies `from` to `to` (through a temporary name, fsync, then link into
// place): the copy appears whole or not at all; fails when `to` exists.
Status copy_exclusive(const fs::path& from, const fs::path& to);

// mkdir -p with `mode` for the folders it creates; an Error names the folder.
Status make_dirs(const fs::path& path, mode_t mode = 0755);

// fsync of a folder, so that renames into it survive a crash.
Status sync_dir(const fs::path& path);

// syncfs(2) of the filesystem holding `path`: one call instead of an fsync
// of each of many folders touched by a batch of moves.
Status sync_filesystem(const fs::path& path);

// What lstat says of a name inside a folder, without following symlinks.
struct FileInfo
{
  enum class Type
  {
    regular,
    directory,
    symlink,
    other
  } type;
  std::uint64_t size = 0;
  std::chrono::system_clock::time_point mtime;
  // Set by this machine's clock on every change; unlike mtime, no upload
  // tool can set it.
  std::chrono::system_clock::time_point ctime;
  dev_t device = 0;
  ino_t inode = 0;
};

// lstat of `path`; std::nullopt when it does not exist; Error on other
// failures (permission denied, ...).
Result<std::optional<FileInfo>> stat_no_follow(const fs::path& path);
// Whether something (a file, folder or link, even a dangling one) is at
// `path`; a stat that fails for another reason counts as nothing there.
bool present(const fs::path& path);

// The system's words for an errno value ("No such file or directory").
std::string errno_text(int error);

// Names in `dir` (not recursive, not following symlinks), sorted, without
// "." and "..". Error names the folder.
Result<std::vector<std::string>> list_dir(const fs::path& dir);

// Opens a file for reading that must be a regular file and not a symlink
// (O_NOFOLLOW|O_NONBLOCK, then fstat). Returns an owned descriptor.
class FileHandle
{
public:
  FileHandle() = default;
  explicit FileHandle(int fd) : m_fd(fd) {}
  FileHandle(FileHandle&& other) noexcept;
  FileHandle& operator=(FileHandle&& other) noexcept;
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  ~FileHandle();

  int fd() const { return m_fd; }
  explicit operator bool() const { return m_fd >= 0; }

private:
  int m_fd = -1;
};

Result<FileHandle> open_regular_file(const fs::path& path);

// Writes a path for humans: control characters and bytes that are not
// printable UTF-8 become \xNN, so an untrusted name cannot rewrite a terminal
// or split a log line.
std::string printable(std::string_view text);

} // namespace buildme::util
