#include "util/fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <utility>
#include <vector>

namespace buildme::util {

namespace {

// More numbered names than any folder should ever hold; past this something
// is wrong and an operator should look.
constexpr unsigned max_numbered_names = 100000;

std::string show(const fs::path& path)
{
  return printable(path.string());
}

fs::path folder_of(const fs::path& path)
{
  auto parent = path.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

fs::path numbered(const fs::path& to, unsigned n)
{
  if (n == 0) {
    return to;
  }
  return fs::path(to.string() + "." + std::to_string(n));
}

Status write_all(int fd, std::string_view data, const fs::path& path)
{
  while (!data.empty()) {
    ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail("cannot write {}: {}", show(path), errno_text(errno));
    }
    data.remove_prefix(static_cast<std::size_t>(written));
  }
  return {};
}

// A file being written under a '.'-prefixed temporary name in the folder of
// `target`, so that folder scanners skip it and the final rename or link
// stays within one filesystem. Removed on destruction unless kept.
class TempFile
{
public:
  static Result<TempFile> create(const fs::path& target)
  {
    // Leave room for the suffix within NAME_MAX (255).
    std::string name = target.filename().string().substr(0, 200);
    std::string pattern = (folder_of(target) / ("." + name + ".XXXXXX")).string();
    int fd = ::mkostemp(pattern.data(), O_CLOEXEC);
    if (fd < 0) {
      return fail("cannot create a temporary file for {}: {}", show(target), errno_text(errno));
    }
    return TempFile(fd, pattern);
  }

  TempFile(TempFile&& other) noexcept
    : m_fd(std::exchange(other.m_fd, -1)), m_path(std::move(other.m_path))
  {
    other.m_path.clear();
  }
  TempFile& operator=(TempFile&&) = delete;
  ~TempFile()
  {
    close();
    if (!m_path.empty()) {
      ::unlink(m_path.c_str());
    }
  }

  int fd() const { return m_fd; }
  const fs::path& path() const { return m_path; }

  // fsync and close; an Error names `target`, the file the caller meant.
  Status finish(mode_t mode, const fs::path& target, Durability durability = Durability::synced)
  {
    if (::fchmod(m_fd, mode) != 0) {
      return fail("cannot set the mode of {}: {}", show(m_path), errno_text(errno));
    }
    if (durability == Durability::synced && ::fsync(m_fd) != 0) {
      return fail("cannot write {} to disk: {}", show(target), errno_text(errno));
    }
    int fd = std::exchange(m_fd, -1);
    if (::close(fd) != 0) {
      return fail("cannot write {}: {}", show(target), errno_text(errno));
    }
    return {};
  }

  // Forget the temporary name: it was renamed into place.
  void keep() { m_path.clear(); }

private:
  TempFile(int fd, fs::path path) : m_fd(fd), m_path(std::move(path)) {}
  void close()
  {
    if (m_fd >= 0) {
      ::close(m_fd);
      m_fd = -1;
    }
  }

  int m_fd = -1;
  fs::path m_path;
};

// Tries `attempt` on `to`, then (when `numbered_names`) on to.1, to.2, ...
// while it answers EEXIST. `attempt` returns 0 or an errno value. On success
// `where` is the name that was taken.
struct Placed
{
  fs::path where;
  int error = 0;
};

Placed place(const fs::path& to, bool numbered_names,
             const std::function<int(const fs::path&)>& attempt)
{
  unsigned last = numbered_names ? max_numbered_names : 0;
  for (unsigned n = 0; n <= last; ++n) {
    auto candidate = numbered(to, n);
    int error = attempt(candidate);
    if (error != EEXIST) {
      return {candidate, error};
    }
  }
  return {to, EEXIST};
}

// Copies the regular file `from` to a temporary name beside `to`, keeping
// its mode and times, and syncs it to disk.
Result<TempFile> copy_beside(const fs::path& from, const fs::path& to)
{
  auto source = open_regular_file(from);
  if (!source) {
    return source.error();
  }
  struct stat st;
  if (::fstat(source->fd(), &st) != 0) {
    return fail("cannot stat {}: {}", show(from), errno_text(errno));
  }
  auto temp = TempFile::create(to);
  if (!temp) {
    return temp.error();
  }
  std::vector<char> buffer(256 * 1024);
  while (true) {
    ssize_t got = ::read(source->fd(), buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail("cannot read {}: {}", show(from), errno_text(errno));
    }
    if (got == 0) {
      break;
    }
    auto written = write_all(temp->fd(), {buffer.data(), static_cast<std::size_t>(got)}, to);
    if (!written) {
      return written.error();
    }
  }
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::futimens(temp->fd(), times) != 0) {
    return fail("cannot set the times of {}: {}", show(temp->path()), errno_text(errno));
  }
  auto finished = temp->finish(st.st_mode & 07777, to);
  if (!finished) {
    return finished.error();
  }
  return std::move(*temp);
}

// The rename, link+unlink or copy+link that puts `from` at `to` (or, when
// `numbered_names`, at the first free to.N) without overwriting anything.
Result<fs::path> move_into_place(const fs::path& from, const fs::path& to, bool numbered_names,
                                 bool sync = true)
{
  bool unlinked_source = false;
  auto moved = place(to, numbered_names, [&](const fs::path& candidate) {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, candidate.c_str(), RENAME_NOREPLACE) == 0) {
      unlinked_source = true;
      return 0;
    }
    int error = errno;
    if (error != EINVAL && error != ENOSYS) {
      return error;
    }
    // A filesystem without RENAME_NOREPLACE: link(2) refuses an existing
    // name just as atomically.
    if (::link(from.c_str(), candidate.c_str()) != 0) {
      return errno;
    }
    return 0;
  });

  if (moved.error == EXDEV) {
    auto temp = copy_beside(from, to);
    if (!temp) {
      return temp.error();
    }
    moved = place(to, numbered_names, [&](const fs::path& candidate) {
      return ::link(temp->path().c_str(), candidate.c_str()) == 0 ? 0 : errno;
    });
  }

  if (moved.error == EEXIST) {
    if (numbered_names) {
      return fail("cannot move {} to {}: {} numbered names are taken already", show(from), show(to),
                  max_numbered_names);
    }
    return fail("cannot move {} to {}: the target exists already", show(from), show(to));
  }
  if (moved.error != 0) {
    return fail("cannot move {} to {}: {}", show(from), show(moved.where), errno_text(moved.error));
  }

  // From here on the file is at `where`; the messages say so.
  const fs::path& where = moved.where;
  auto synced = sync ? sync_dir(folder_of(where)) : Status();
  if (!synced) {
    return fail("moved {} to {}, but: {}", show(from), show(where), synced.message());
  }
  if (!unlinked_source && ::unlink(from.c_str()) != 0) {
    return fail("placed {} at {}, but cannot remove the original: {}", show(from), show(where),
                errno_text(errno));
  }
  if (sync && folder_of(from) != folder_of(where)) {
    synced = sync_dir(folder_of(from));
    if (!synced) {
      return fail("moved {} to {}, but: {}", show(from), show(where), synced.message());
    }
  }
  return where;
}

// Decodes one UTF-8 sequence at the start of `text`; its length, or 0 when
// it is not valid (truncated, overlong, surrogate, beyond U+10FFFF).
std::size_t utf8_length(std::string_view text, char32_t& code)
{
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(0);
  std::size_t length;
  char32_t min;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, min = 0x80, code = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, min = 0x800, code = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, min = 0x10000, code = lead & 0x07;
  } else {
    return 0;
  }
  if (text.size() < length) {
    return 0;
  }
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) {
      return 0;
    }
    code = (code << 6) | (byte(i) & 0x3F);
  }
  if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
    return 0;
  }
  return length;
}

// Valid characters that still act on a terminal or a log viewer: C1
// controls (U+009B is CSI), line and paragraph separators, and the bidi
// overrides that reorder what a reader sees.
bool is_control(char32_t code)
{
  return (code >= 0x80 && code <= 0x9F) || code == 0x2028 || code == 0x2029 ||
         (code >= 0x202A && code <= 0x202E) || (code >= 0x2066 && code <= 0x2069);
}

} // namespace

namespace {

// `data` in a temporary file beside `path`, written, given `mode` and
// fsynced: ready to be renamed or linked into place.
Result<TempFile> write_temporary(const fs::path& path, std::string_view data, mode_t mode,
                                 Durability durability = Durability::synced)
{
  auto temp = TempFile::create(path);
  if (!temp) {
    return temp.error();
  }
  TRY(write_all(temp->fd(), data, path));
  TRY(temp->finish(mode, path, durability));
  return temp;
}

} // namespace

Status write_file_atomic(const fs::path& path, std::string_view data, mode_t mode,
                         Durability durability)
{
  auto temp = write_temporary(path, data, mode, durability);
  if (!temp) {
    return temp.error();
  }
  if (::rename(temp->path().c_str(), path.c_str()) != 0) {
    return fail("cannot replace {}: {}", show(path), errno_text(errno));
  }
  temp->keep();
  if (durability == Durability::unsynced) {
    return {};
  }
  return sync_dir(folder_of(path));
}

Status write_file_exclusive(const fs::path& path, std::string_view data, mode_t mode)
{
  auto temp = write_temporary(path, data, mode);
  if (!temp) {
    return temp.error();
  }
  if (::link(temp->path().c_str(), path.c_str()) != 0) {
    if (errno == EEXIST) {
      return fail("{} exists already; not overwriting it", show(path));
    }
    return fail("cannot create {}: {}", show(path), errno_text(errno));
  }
  return sync_dir(folder_of(path));
}

Result<FileWriter> FileWriter::create(const fs::path& path, mode_t mode)
{
  auto temp = TempFile::create(path);
  if (!temp) {
    return temp.error();
  }
  // The writer owns the descriptor and the name from here on.
  FileWriter writer(::dup(temp->fd()), temp->path(), path, mode);
  if (writer.m_fd < 0) {
    return fail("cannot write {}: {}", show(path), errno_text(errno));
  }
  temp->keep();
  return writer;
}

FileWriter::FileWriter(FileWriter&& other) noexcept
  : m_fd(std::exchange(other.m_fd, -1)), m_temp(std::move(other.m_temp)),
    m_path(std::move(other.m_path)), m_mode(other.m_mode), m_written(other.m_written),
    m_flushed(other.m_flushed)
{
  other.m_temp.clear();
}

FileWriter::~FileWriter()
{
  if (m_fd >= 0) {
    ::close(m_fd);
  }
  if (!m_temp.empty()) {
    ::unlink(m_temp.c_str());
  }
}

Status FileWriter::append(std::string_view data)
{
  if (m_fd < 0) {
    return fail("cannot write {}: it is closed", show(m_path));
  }
  TRY(write_all(m_fd, data, m_path));
  // The disk starts on what was written while the rest is made, so that
  // finish()'s fsync waits for little (a hint: its failure is fsync's).
  m_written += data.size();
  if (m_written - m_flushed >= 4 * 1024 * 1024) {
    ::sync_file_range(m_fd, static_cast<off_t>(m_flushed),
                      static_cast<off_t>(m_written - m_flushed), SYNC_FILE_RANGE_WRITE);
    m_flushed = m_written;
  }
  return {};
}

Status FileWriter::finish()
{
  if (m_fd < 0) {
    return fail("cannot write {}: it is closed", show(m_path));
  }
  if (::fchmod(m_fd, m_mode) != 0) {
    return fail("cannot set the mode of {}: {}", show(m_temp), errno_text(errno));
  }
  if (::fsync(m_fd) != 0) {
    return fail("cannot write {} to disk: {}", show(m_path), errno_text(errno));
  }
  if (::close(std::exchange(m_fd, -1)) != 0) {
    return fail("cannot write {}: {}", show(m_path), errno_text(errno));
  }
  if (::link(m_temp.c_str(), m_path.c_str()) != 0) {
    if (errno == EEXIST) {
      return fail("{} exists already; not overwriting it", show(m_path));
    }
    return fail("cannot create {}: {}", show(m_path), errno_text(errno));
  }
  ::unlink(m_temp.c_str());
  m_temp.clear();
  return sync_dir(folder_of(m_path));
}

Result<std::string> read_file(const fs::path& path, std::uint64_t max_size)
{
  auto file = open_regular_file(path);
  if (!file) {
    return file.error();
  }
  struct stat st;
  if (::fstat(file->fd(), &st) != 0) {
    return fail("cannot stat {}: {}", show(path), errno_text(errno));
  }
  auto too_big = [&] {
    return fail("{} is larger than {} bytes; refusing to read it", show(path), max_size);
  };
  if (static_cast<std::uint64_t>(st.st_size) > max_size) {
    return too_big();
  }
  // The size may change while we read; read until end of file, but never
  // past the cap. Room for the size fstat gave is made at once: a large file
  // (the Packages of 64,000 packages is 50 MB) is then not copied again and
  // again as the string grows.
  std::string content;
  content.reserve(static_cast<std::size_t>(st.st_size));
  std::vector<char> buffer(64 * 1024);
  while (true) {
    ssize_t got = ::read(file->fd(), buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail("cannot read {}: {}", show(path), errno_text(errno));
    }
    if (got == 0) {
      return content;
    }
    if (content.size() + static_cast<std::uint64_t>(got) > max_size) {
      return too_big();
    }
    content.append(buffer.data(), static_cast<std::size_t>(got));
  }
}

std::string free_name(const fs::path& dir, std::string_view name)
{
  // Unbounded on purpose: a folder cannot hold unboundedly many names, and a
  // name that lstat cannot answer for is returned so the move reports why.
  auto base = dir / name;
  for (unsigned n = 0;; ++n) {
    auto candidate = numbered(base, n);
    struct stat st;
    if (::lstat(candidate.c_str(), &st) != 0) {
      return candidate.filename().string();
    }
  }
}

Result<fs::path> move_no_clobber(const fs::path& from, const fs::path& to)
{
  return move_into_place(from, to, true);
}

Status move_exclusive(const fs::path& from, const fs::path& to, bool sync)
{
  auto moved = move_into_place(from, to, false, sync);
  if (!moved) {
    return moved.error();
  }
  return {};
}

Status link_or_copy_exclusive(const fs::path& from, const fs::path& to, bool sync)
{
  if (::link(from.c_str(), to.c_str()) == 0) {
    return sync ? sync_dir(folder_of(to)) : Status();
  }
  int error = errno;
  if (error == EEXIST) {
    return fail("cannot link {} as {}: the target exists already", show(from), show(to));
  }
  if (error != EXDEV && error != EPERM && error != EMLINK) {
    return fail("cannot link {} as {}: {}", show(from), show(to), errno_text(error));
  }
  // Different filesystems (or one that refuses hard links): copy instead.
  return copy_exclusive(from, to);
}

Status copy_exclusive(const fs::path& from, const fs::path& to)
{
  auto temp = copy_beside(from, to);
  if (!temp) {
    return temp.error();
  }
  if (::link(temp->path().c_str(), to.c_str()) != 0) {
    if (errno == EEXIST) {
      return fail("cannot copy {} to {}: the target exists already", show(from), show(to));
    }
    return fail("cannot copy {} to {}: {}", show(from), show(to), errno_text(errno));
  }
  return sync_dir(folder_of(to));
}

Status make_dirs(const fs::path& path, mode_t mode)
{
  // The folder itself first: usually its parent exists, and one mkdir does.
  // Only when the parent is missing does the walk go up.
  const fs::path target = path.lexically_normal();
  if (target.empty() || target == target.root_path()) {
    return {};
  }
  if (::mkdir(target.c_str(), mode) == 0) {
    // mkdir applies the umask; the caller asked for exactly `mode`.
    if (::chmod(target.c_str(), mode) != 0) {
      return fail("cannot set the mode of folder {}: {}", show(target), errno_text(errno));
    }
    return {};
  }
  const int error = errno;
  if (error == EEXIST) {
    struct stat st;
    if (::stat(target.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return {};
    }
    return fail("cannot create folder {}: a file of that name is in the way", show(target));
  }
  if (error != ENOENT) {
    return fail("cannot create folder {}: {}", show(target), errno_text(error));
  }
  fs::path parent = target.parent_path();
  if (parent == target) {
    return fail("cannot create folder {}: {}", show(target), errno_text(error));
  }
  TRY(make_dirs(parent, mode));
  if (::mkdir(target.c_str(), mode) != 0 && errno != EEXIST) {
    return fail("cannot create folder {}: {}", show(target), errno_text(errno));
  }
  if (::chmod(target.c_str(), mode) != 0) {
    return fail("cannot set the mode of folder {}: {}", show(target), errno_text(errno));
  }
  return {};
}

Status sync_dir(const fs::path& path)
{
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return fail("cannot open folder {}: {}", show(path), errno_text(errno));
  }
  FileHandle handle(fd);
  // EINVAL: a filesystem that cannot sync folders; nothing more to do there.
  if (::fsync(fd) != 0 && errno != EINVAL) {
    return fail("cannot sync folder {} to disk: {}", show(path), errno_text(errno));
  }
  return {};
}

Status sync_filesystem(const fs::path& path)
{
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return fail("cannot open folder {}: {}", show(path), errno_text(errno));
  }
  FileHandle handle(fd);
  if (::syncfs(fd) != 0) {
    return fail("cannot sync the filesystem of {} to disk: {}", show(path), errno_text(errno));
  }
  return {};
}

Result<std::optional<FileInfo>> stat_no_follow(const fs::path& path)
{
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return std::optional<FileInfo>();
    }
    return fail("cannot stat {}: {}", show(path), errno_text(errno));
  }
  FileInfo info{};
  if (S_ISREG(st.st_mode)) {
    info.type = FileInfo::Type::regular;
  } else if (S_ISDIR(st.st_mode)) {
    info.type = FileInfo::Type::directory;
  } else if (S_ISLNK(st.st_mode)) {
    info.type = FileInfo::Type::symlink;
  } else {
    info.type = FileInfo::Type::other;
  }
  info.size = static_cast<std::uint64_t>(st.st_size);
  auto since_epoch =
    std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec);
  info.mtime = std::chrono::system_clock::time_point(
    std::chrono::duration_cast<std::chrono::system_clock::duration>(since_epoch));
  auto changed =
    std::chrono::seconds(st.st_ctim.tv_sec) + std::chrono::nanoseconds(st.st_ctim.tv_nsec);
  info.ctime = std::chrono::system_clock::time_point(
    std::chrono::duration_cast<std::chrono::system_clock::duration>(changed));
  info.device = st.st_dev;
  info.inode = st.st_ino;
  return std::optional<FileInfo>(info);
}

Result<std::vector<std::string>> list_dir(const fs::path& dir)
{
  DIR* handle = ::opendir(dir.c_str());
  if (!handle) {
    return fail("cannot list folder {}: {}", show(dir), errno_text(errno));
  }
  std::vector<std::string> names;
  while (true) {
    errno = 0;
    struct dirent* entry = ::readdir(handle);
    if (!entry) {
      break;
    }
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") {
      names.emplace_back(name);
    }
  }
  int error = errno;
  ::closedir(handle);
  if (error != 0) {
    return fail("cannot list folder {}: {}", show(dir), errno_text(error));
  }
  std::sort(names.begin(), names.end());
  return names;
}

FileHandle::FileHandle(FileHandle&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}

FileHandle& FileHandle::operator=(FileHandle&& other) noexcept
{
  if (this != &other) {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = std::exchange(other.m_fd, -1);
  }
  return *this;
}

FileHandle::~FileHandle()
{
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

Result<FileHandle> open_regular_file(const fs::path& path)
{
  // O_NONBLOCK so that opening a FIFO planted in place of a file does not
  // wait for a writer.
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    struct stat st;
    if (error == ELOOP && ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      return fail("{} is a symbolic link; refusing to follow it", show(path));
    }
    return fail("cannot open {}: {}", show(path), errno_text(error));
  }
  FileHandle handle(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return fail("cannot stat {}: {}", show(path), errno_text(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return fail("{} is not a regular file", show(path));
  }
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return fail("cannot open {}: {}", show(path), errno_text(errno));
  }
  return handle;
}

std::string printable(std::string_view text)
{
  std::string out;
  out.reserve(text.size());
  auto escape = [&](unsigned char byte) { out += fmt::format("\\x{:02x}", byte); };
  while (!text.empty()) {
    auto byte = static_cast<unsigned char>(text.front());
    if (byte < 0x80) {
      if (byte < 0x20 || byte == 0x7F || byte == '\\') {
        escape(byte);
      } else {
        out += static_cast<char>(byte);
      }
      text.remove_prefix(1);
      continue;
    }
    char32_t code = 0;
    std::size_t length = utf8_length(text, code);
    if (length == 0) {
      escape(byte);
      text.remove_prefix(1);
      continue;
    }
    if (is_control(code)) {
      for (std::size_t i = 0; i < length; ++i) {
        escape(static_cast<unsigned char>(text[i]));
      }
    } else {
      out.append(text.substr(0, length));
    }
    text.remove_prefix(length);
  }
  return out;
}

std::string errno_text(int error)
{
  return std::strerror(error);
}

bool present(const fs::path& path)
{
  auto info = stat_no_follow(path);
  return info && *info;
}

} // namespace buildme::util
