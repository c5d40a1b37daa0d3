#include "util/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace buildme::util {

unsigned core_count()
{
  return std::max(1u, std::thread::hardware_concurrency());
}

void parallel_for(std::size_t count, unsigned threads, const std::function<void(std::size_t)>& work)
{
  std::atomic<std::size_t> next{0};
  auto take = [&] {
    for (std::size_t i; (i = next++) < count;) {
      work(i);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads && t < count; ++t) {
    pool.emplace_back(take);
  }
  take();
  for (auto& thread : pool) {
    thread.join();
  }
}

} // namespace buildme::util
