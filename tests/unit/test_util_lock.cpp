#include "util/lock.hpp"

#include "scratch.hpp"

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace unit_test_util_lock {

using buildme::test::ScratchDir;
using buildme::util::FileLock;

TEST_CASE("a second run finds the stage locked until the first releases it")
{
  // flock locks belong to an open file description, so a second acquire in
  // the same process competes just as another process would.
  ScratchDir dir;
  auto path = dir / "intake.lock";

  auto first = FileLock::acquire(path, FileLock::Mode::try_once);
  REQUIRE(first.ok());
  CHECK(first->locked());
  CHECK(std::filesystem::exists(path));

  auto second = FileLock::acquire(path, FileLock::Mode::try_once);
  REQUIRE(second.ok());
  CHECK_FALSE(second->locked());

  first->release();
  CHECK_FALSE(first->locked());
  auto third = FileLock::acquire(path, FileLock::Mode::try_once);
  REQUIRE(third.ok());
  CHECK(third->locked());
}

TEST_CASE("a lock is freed when its holder goes out of scope or is moved from")
{
  ScratchDir dir;
  auto path = dir / "slot.lock";
  {
    auto held = FileLock::acquire(path, FileLock::Mode::try_once);
    REQUIRE(held.ok());
    FileLock owner = std::move(*held);
    CHECK_FALSE(held->locked());
    CHECK(owner.locked());
    CHECK_FALSE(FileLock::acquire(path, FileLock::Mode::try_once)->locked());
  }
  CHECK(FileLock::acquire(path, FileLock::Mode::try_once)->locked());
}

TEST_CASE("waiting for a lock blocks until another process releases it")
{
  ScratchDir dir;
  auto path = dir / "slot.lock";
  int ready[2];
  REQUIRE(::pipe(ready) == 0);

  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(ready[0]);
    auto held = FileLock::acquire(path, FileLock::Mode::try_once);
    char status = held.ok() && held->locked() ? 'y' : 'n';
    (void)!::write(ready[1], &status, 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (held.ok()) {
      held->release();
    }
    ::_exit(0);
  }
  ::close(ready[1]);
  char status = 0;
  REQUIRE(::read(ready[0], &status, 1) == 1);
  ::close(ready[0]);
  REQUIRE(status == 'y');

  CHECK_FALSE(FileLock::acquire(path, FileLock::Mode::try_once)->locked());

  auto start = std::chrono::steady_clock::now();
  auto waited = FileLock::acquire(path, FileLock::Mode::wait);
  auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE(waited.ok());
  CHECK(waited->locked());
  CHECK(elapsed >= std::chrono::milliseconds(100));

  int child_status = 0;
  REQUIRE(::waitpid(child, &child_status, 0) == child);
  CHECK(WIFEXITED(child_status));
}

TEST_CASE("a lock file that cannot be created is an error naming it")
{
  ScratchDir dir;
  auto lock = FileLock::acquire(dir / "missing/stage.lock", FileLock::Mode::try_once);
  REQUIRE_FALSE(lock.ok());
  CHECK(lock.message().find((dir / "missing/stage.lock").string()) != std::string::npos);
}

} // namespace unit_test_util_lock
