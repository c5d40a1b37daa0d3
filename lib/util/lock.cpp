#include "util/lock.hpp"

#include "util/fs.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace buildme::util {

Result<FileLock> FileLock::acquire(const std::filesystem::path& path, Mode mode)
{
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return fail("cannot open lock file {}: {}", printable(path.string()), std::strerror(errno));
  }
  int operation = mode == Mode::try_once ? LOCK_EX | LOCK_NB : LOCK_EX;
  while (::flock(fd, operation) != 0) {
    int error = errno;
    if (error == EINTR) {
      continue;
    }
    ::close(fd);
    if (error == EWOULDBLOCK) {
      return FileLock();
    }
    return fail("cannot lock {}: {}", printable(path.string()), std::strerror(error));
  }
  return FileLock(fd);
}

FileLock::FileLock(FileLock&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept
{
  if (this != &other) {
    release();
    m_fd = std::exchange(other.m_fd, -1);
  }
  return *this;
}

FileLock::~FileLock()
{
  release();
}

void FileLock::hand_over()
{
  if (m_fd >= 0) {
    ::close(m_fd);
    m_fd = -1;
  }
}

void FileLock::release()
{
  if (m_fd < 0) {
    return;
  }
  // Unlock explicitly: a child forked without exec shares the open file
  // description, and closing our descriptor alone would leave it locked.
  ::flock(m_fd, LOCK_UN);
  ::close(m_fd);
  m_fd = -1;
}

} // namespace buildme::util
