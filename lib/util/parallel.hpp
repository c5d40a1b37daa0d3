// Spreading independent pieces of work over the machine's cores.
#pragma once

#include <cstddef>
#include <functional>

namespace buildme::util {

// The number of threads worth running: the cores the machine has (at least 1).
unsigned core_count();

// Calls work(i) for every i in [0, count), on up to `threads` threads (the
// caller's own included), each thread taking the next i as it becomes free;
// returns when all calls have returned. `work` must be safe to call from
// several threads at once and must not throw.
void parallel_for(std::size_t count, unsigned threads,
                  const std::function<void(std::size_t)>& work);

} // namespace buildme::util
