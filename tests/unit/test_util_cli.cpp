#include "util/cli.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace unit_test_util_cli {

using buildme::util::OptionSpec;
using buildme::util::parse_command_line;

namespace {

const std::vector<OptionSpec> specs = {{"config", 'c', true}, {"verbose", 'v'}, {"dry-run", 'n'}};

auto parse(std::vector<std::string> words)
{
  words.insert(words.begin(), "program");
  std::vector<char*> argv;
  for (auto& word : words) {
    argv.push_back(word.data());
  }
  return parse_command_line(static_cast<int>(argv.size()), argv.data(), specs);
}

} // namespace

TEST_SUITE("util: the command line every program shares")
{
  TEST_CASE("--config FILE, --config=FILE and -c FILE say the same")
  {
    for (auto words : std::vector<std::vector<std::string>>{{"--config", "/etc/b.conf", "list"},
                                                            {"--config=/etc/b.conf", "list"},
                                                            {"-c", "/etc/b.conf", "list"},
                                                            {"list", "--config", "/etc/b.conf"}}) {
      auto line = parse(words);
      REQUIRE_MESSAGE(line, line.message());
      CHECK(line->value("config") == "/etc/b.conf");
      CHECK(line->arguments == std::vector<std::string>{"list"});
    }
  }

  TEST_CASE("flags, '-' as an argument, and everything after '--' as arguments")
  {
    auto line = parse({"-v", "--dry-run", "-", "--", "--config", "-v"});
    REQUIRE(line);
    CHECK(line->has("verbose"));
    CHECK(line->has("dry-run"));
    CHECK_FALSE(line->has("config"));
    CHECK(line->arguments == std::vector<std::string>{"-", "--config", "-v"});
  }

  TEST_CASE("an unknown option, a missing value and a value for a flag are usage errors")
  {
    CHECK(parse({"--colour"}).message() == "unknown option --colour");
    CHECK(parse({"-x"}).message() == "unknown option -x");
    CHECK(parse({"--config"}).message() == "--config needs a value");
    CHECK(parse({"--verbose=yes"}).message() == "--verbose takes no value");
    // Hostile text in an option name is shown escaped.
    CHECK(parse({"--\x1b[2J"}).message() == "unknown option --\\x1b[2J");
  }

  TEST_CASE("an empty value is a value; the last of two wins")
  {
    auto line = parse({"--config=", "--config", "b"});
    REQUIRE(line);
    CHECK(line->value("config") == "b");
    CHECK(parse({"--config="})->value("config") == "");
  }
}

} // namespace unit_test_util_cli
