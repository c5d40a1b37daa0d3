#include "util/parallel.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace unit_test_util_parallel {

using buildme::util::parallel_for;

TEST_CASE("parallel_for calls the work once for every index, on several threads")
{
  constexpr std::size_t count = 2000;
  std::vector<std::atomic<int>> calls(count);
  std::mutex mutex;
  std::set<std::thread::id> threads;
  auto seen = [&] {
    std::lock_guard lock(mutex);
    return threads.size();
  };
  parallel_for(count, 4, [&](std::size_t i) {
    ++calls[i];
    {
      std::lock_guard lock(mutex);
      threads.insert(std::this_thread::get_id());
    }
    // Whoever takes the first index waits for another thread to show up.
    for (int waited = 0; i == 0 && seen() < 2 && waited < 5000; ++waited) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  for (std::size_t i = 0; i < count; ++i) {
    CAPTURE(i);
    CHECK(calls[i] == 1);
  }
  CHECK(threads.size() >= 2);
  CHECK(threads.size() <= 4);
}

TEST_CASE("parallel_for with nothing to do or one thread runs on the caller's thread")
{
  int called = 0;
  parallel_for(0, 8, [&](std::size_t) { ++called; });
  CHECK(called == 0);
  std::set<std::thread::id> threads;
  parallel_for(50, 1, [&](std::size_t) { threads.insert(std::this_thread::get_id()); });
  CHECK(threads == std::set<std::thread::id>{std::this_thread::get_id()});
}

} // namespace unit_test_util_parallel
