#include "util/cli.hpp"

#include <fmt/format.h>

namespace buildme::util {

std::optional<int> answer_help_or_version(int argc, char** argv, std::string_view usage,
                                          std::string_view version_line)
{
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") {
      break;
    }
    if (arg == "--help" || arg == "-h") {
      fmt::print("{}", usage);
      return 0;
    }
    if (arg == "--version") {
      fmt::print("{}\n", version_line);
      return 0;
    }
  }
  return std::nullopt;
}

} // namespace buildme::util
