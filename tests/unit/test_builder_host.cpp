#include "builder/host.hpp"
#include "util/process.hpp"
#include "util/text.hpp"

#include "scratch.hpp"

#include <doctest/doctest.h>

#include <filesystem>

namespace unit_test_builder_host {

using buildme::builder::describe;
using buildme::builder::ExecResult;
using buildme::builder::shell_command;
using buildme::builder::shell_quote;
using buildme::test::ScratchDir;

namespace {

// What /bin/sh makes of the command line: each word it passes to printf,
// NUL-terminated.
std::vector<std::string> words_seen_by_sh(const std::string& command_line,
                                          const std::filesystem::path& cwd)
{
  buildme::util::ProcessOptions options;
  options.cwd = cwd;
  auto result =
    buildme::util::run_process({"/bin/sh", "-c", "printf '%s\\0' " + command_line}, options);
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.message()));
  REQUIRE_MESSAGE(result->exit_code == 0, result->err);
  std::vector<std::string> words;
  std::string word;
  for (char c : result->out) {
    if (c == '\0') {
      words.push_back(word);
      word.clear();
    } else {
      word += c;
    }
  }
  CHECK(word.empty());
  return words;
}

} // namespace

TEST_CASE("a quoted word is single-quoted with embedded quotes escaped")
{
  CHECK(shell_quote("plain") == "'plain'");
  CHECK(shell_quote("") == "''");
  CHECK(shell_quote("it's") == "'it'\\''s'");
  CHECK(shell_quote("''") == "''\\'''\\'''");
  CHECK(shell_command({"rm", "-rf", "--", "a b"}) == "'rm' '-rf' '--' 'a b'");
  CHECK(shell_command({}).empty());
}

TEST_CASE("hostile words reach the program verbatim through a shell and run nothing")
{
  ScratchDir dir;
  std::vector<std::string> words = {"with space",
                                    "it's",
                                    "'",
                                    "''",
                                    "\"double\"",
                                    "$(touch PWNED1)",
                                    "`touch PWNED2`",
                                    "; touch PWNED3",
                                    "&& touch PWNED4",
                                    "| touch PWNED5",
                                    "line\nbreak",
                                    "*",
                                    "?",
                                    "~",
                                    "$HOME",
                                    "${HOME}",
                                    "",
                                    "-n",
                                    "--",
                                    "back\\slash",
                                    "tab\there",
                                    "!",
                                    "#comment",
                                    "a'b\"c$d`e\\f",
                                    "trailing\\",
                                    "\r\x1b[31mred",
                                    "\xff\xfe non-UTF-8"};
  std::string all_bytes;
  for (int c = 1; c < 256; ++c) {
    all_bytes += static_cast<char>(c);
  }
  words.push_back(all_bytes);

  CHECK(words_seen_by_sh(shell_command(words), dir.path()) == words);
  for (const auto& word : words) {
    CHECK(words_seen_by_sh(shell_quote(word), dir.path()) == std::vector<std::string>{word});
  }
  CHECK(std::filesystem::is_empty(dir.path()));
}

TEST_CASE("every way a command can end has words for messages")
{
  CHECK(describe(ExecResult::End::exited) == "exited");
  CHECK(describe(ExecResult::End::timed_out) == "timed out");
  CHECK(describe(ExecResult::End::cancelled) == "cancelled");
  CHECK(!describe(ExecResult::End::idle).empty());
  CHECK(!describe(ExecResult::End::killed).empty());
}

} // namespace unit_test_builder_host
