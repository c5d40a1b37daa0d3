// What every buildme program does with its command line before anything
// else.
#pragma once

#include <optional>
#include <string_view>

namespace buildme::util {

// When an argument before any "--" is --help or -h (prints `usage`) or
// --version (prints `version_line` and a newline), answers on stdout and
// returns the exit status 0; nullopt when neither was asked for.
std::optional<int> answer_help_or_version(int argc, char** argv, std::string_view usage,
                                          std::string_view version_line);

} // namespace buildme::util
