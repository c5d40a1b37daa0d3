// What a real decompressor makes of compressed bytes: gzip and xz are the
// oracles for the index files queue-manage writes.
#pragma once

#include "util/process.hpp"

#include <doctest/doctest.h>

#include <string>

namespace buildme::test {

// What `tool -dc` (gzip, xz) makes of `compressed`; fails the test when the
// tool does.
inline std::string decompress(const char* tool, const std::string& compressed)
{
  util::ProcessOptions options;
  options.stdin_data = compressed;
  auto result = util::run_process({tool, "-dc"}, options);
  REQUIRE_MESSAGE(result, result.message());
  CHECK_MESSAGE(result->exit_code == 0, result->err);
  return result->out;
}

} // namespace buildme::test
