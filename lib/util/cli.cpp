#include "util/cli.hpp"

#include "util/fs.hpp"

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

namespace buildme::util {

Result<CommandLine> parse_command_line(int argc, char** argv, const std::vector<OptionSpec>& specs)
{
  CommandLine line;
  auto find = [&](std::string_view arg) -> const OptionSpec* {
    for (const auto& spec : specs) {
      if ((arg.starts_with("--") && arg.substr(2) == spec.name) ||
          (spec.letter && arg.size() == 2 && arg[0] == '-' && arg[1] == spec.letter)) {
        return &spec;
      }
    }
    return nullptr;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) {
        line.arguments.emplace_back(argv[i]);
      }
      break;
    }
    if (!arg.starts_with('-') || arg == "-") {
      line.arguments.emplace_back(arg);
      continue;
    }
    const auto equals = arg.find('=');
    const bool inline_value = arg.starts_with("--") && equals != std::string_view::npos;
    const std::string_view named = inline_value ? arg.substr(0, equals) : arg;
    const OptionSpec* spec = find(named);
    if (!spec) {
      return fail("unknown option {}", printable(named));
    }
    const std::string name(spec->name);
    if (!spec->takes_value) {
      if (inline_value) {
        return fail("--{} takes no value", name);
      }
      line.flags.insert(name);
      continue;
    }
    if (inline_value) {
      line.values[name] = std::string(arg.substr(equals + 1));
    } else if (i + 1 < argc) {
      line.values[name] = argv[++i];
    } else {
      return fail("--{} needs a value", name);
    }
  }
  return line;
}

} // namespace buildme::util
