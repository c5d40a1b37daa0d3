// flock(2) locks held for the life of an object: one per stage, one per
// builder slot. The kernel drops the lock when the process dies, so a crashed
// run never leaves a stale lock behind.
#pragma once

#include "util/result.hpp"

#include <filesystem>

namespace buildme::util {

class FileLock
{
public:
  enum class Mode
  {
    try_once,
    wait
  };

  // Opens (creating) `path` and takes an exclusive flock. With try_once,
  // returns an unlocked FileLock (locked() == false) when another process
  // holds it; with wait, blocks until it is free. Error when the file cannot
  // be opened (the message names it).
  static Result<FileLock> acquire(const std::filesystem::path& path, Mode mode);

  FileLock() = default;
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

  bool locked() const { return m_fd >= 0; }
  void release();

  // The locked descriptor, to hand to a child process (util::spawn) that
  // holds the lock from then on.
  int fd() const { return m_fd; }
  // Closes this process's descriptor WITHOUT unlocking: after the lock was
  // handed to a child, which now holds it alone (flock locks belong to the
  // open file description, which the child shares).
  void hand_over();

private:
  explicit FileLock(int fd) : m_fd(fd) {}
  int m_fd = -1;
};

} // namespace buildme::util
