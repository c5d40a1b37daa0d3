// What every buildme program does with its command line: one parser, one
// set of exit statuses, one answer to --help and --version.
#pragma once

#include "util/result.hpp"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace buildme::util {

// The same situation gives the same status in every program.
inline constexpr int exit_ok = 0;
inline constexpr int exit_attention = 1; // something needs an operator
inline constexpr int exit_usage = 2;     // a usage or config error

// When an argument before any "--" is --help or -h (prints `usage`) or
// --version (prints `version_line` and a newline), answers on stdout and
// returns the exit status 0; nullopt when neither was asked for.
std::optional<int> answer_help_or_version(int argc, char** argv, std::string_view usage,
                                          std::string_view version_line);

// One option a program takes: "--name" (and "-l" when `letter` is set),
// with a value ("--name VALUE" or "--name=VALUE") or without.
struct OptionSpec
{
  std::string_view name; // without the dashes
  char letter = 0;
  bool takes_value = false;
};

struct CommandLine
{
  std::map<std::string, std::string, std::less<>> values; // the last one given wins
  std::set<std::string, std::less<>> flags;
  std::vector<std::string> arguments; // in order; all after "--" are arguments

  bool has(std::string_view name) const { return flags.count(name) || values.count(name); }
  std::optional<std::string> value(std::string_view name) const
  {
    auto found = values.find(name);
    return found == values.end() ? std::nullopt : std::optional(found->second);
  }
};

// Parses argv[1..] against `specs`. An Error (for exit_usage) names an
// unknown option, a value missing, or a value given to a flag. "-" alone is
// an argument; "--" ends the options.
Result<CommandLine> parse_command_line(int argc, char** argv, const std::vector<OptionSpec>& specs);

} // namespace buildme::util
