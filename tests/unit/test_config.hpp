// A buildme.conf for unit tests: product fremantle, every folder below one
// scratch folder. `more` follows the [buildme] lines: its first keys belong
// to [buildme], then any sections of its own.
#pragma once

#include "config/config.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>
#include <string>

namespace buildme::test {

inline config::Config test_config(const std::filesystem::path& root, const std::string& more)
{
  auto parsed = config::parse_config(fmt::format("[buildme]\n"
                                                 "products = fremantle\n"
                                                 "incoming_dir = {0}/incoming/%(product)s\n"
                                                 "result_dir = {0}/results/%(product)s\n"
                                                 "repo_queue = {0}/queue/%(product)s\n"
                                                 "state_dir = {0}/state\n",
                                                 root.string()) +
                                       more,
                                     "test.conf");
  REQUIRE_MESSAGE(parsed, parsed.message());
  return std::move(*parsed);
}

} // namespace buildme::test
