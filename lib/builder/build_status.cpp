#include "builder/build_status.hpp"

#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <array>
#include <cstddef>

namespace buildme::builder {

namespace {

struct ResultName
{
  BuildResult result;
  std::string_view word;
  std::string_view label;
};

constexpr std::array<ResultName, 7> result_names{{
  {BuildResult::success, "success", "BUILT"},
  {BuildResult::build_failed, "build-failed", "FAILED"},
  {BuildResult::depwait, "depwait", "DEPWAIT"},
  {BuildResult::bad_package, "bad-package", "BAD-PACKAGE"},
  {BuildResult::builder_unfit, "builder-unfit", "BUILDER-UNFIT"},
  {BuildResult::base_missing, "base-missing", "BASE-MISSING"},
  {BuildResult::builder_error, "builder-error", "BUILDER-ERROR"},
}};

const ResultName& name_of(BuildResult result)
{
  for (const auto& name : result_names) {
    if (name.result == result) {
      return name;
    }
  }
  return result_names.back();
}

constexpr std::string_view status_prefix = "BUILDME-STATUS:";
constexpr std::string_view blanks = " \t";

// The build wrote the line, so it may be any length; the detail is a one-line
// summary (the log itself is kept), and an endless one must not end up whole
// in every mail and status page.
constexpr std::size_t max_detail = 1000;

// Splits the first blank-separated word off `rest`; the word is empty when
// `rest` does not start with blanks followed by a word.
std::string_view next_word(std::string_view& rest)
{
  auto start = rest.find_first_not_of(blanks);
  if (start == 0 || start == std::string_view::npos) {
    return {};
  }
  rest.remove_prefix(start);
  auto end = std::min(rest.find_first_of(blanks), rest.size());
  auto word = rest.substr(0, end);
  rest.remove_prefix(end);
  return word;
}

// The code as buildme-build prints it: "0" or two digits, no sign, no
// leading zero. Anything longer is not one of the codes, and refusing it
// here keeps the arithmetic from overflowing.
std::optional<int> parse_code(std::string_view digits)
{
  if (digits.empty() || digits.size() > 2 || (digits.size() > 1 && digits[0] == '0')) {
    return std::nullopt;
  }
  int code = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    code = code * 10 + (c - '0');
  }
  return code;
}

// One line of the log, without its line end.
std::optional<BuildStatus> parse_status_line(std::string_view line)
{
  if (!line.starts_with(status_prefix)) {
    return std::nullopt;
  }
  auto rest = line.substr(status_prefix.size());
  auto code = parse_code(next_word(rest));
  if (!code) {
    return std::nullopt;
  }
  auto by_code = result_from_code(*code);
  auto by_word = result_from_word(next_word(rest));
  if (!by_code || !by_word || *by_code != *by_word) {
    return std::nullopt;
  }
  if (!rest.empty() && blanks.find(rest.front()) == std::string_view::npos) {
    return std::nullopt;
  }
  auto detail = util::trim(rest, blanks);
  bool cut = detail.size() > max_detail;
  detail = detail.substr(0, max_detail);
  BuildStatus status{*by_code, util::printable(detail)};
  if (cut) {
    status.detail += "...";
  }
  return status;
}

} // namespace

std::string_view result_word(BuildResult result)
{
  return name_of(result).word;
}

std::string_view result_label(BuildResult result)
{
  return name_of(result).label;
}

std::optional<BuildResult> result_from_code(int code)
{
  for (const auto& name : result_names) {
    if (static_cast<int>(name.result) == code) {
      return name.result;
    }
  }
  return std::nullopt;
}

std::optional<BuildResult> result_from_word(std::string_view word)
{
  for (const auto& name : result_names) {
    if (name.word == word) {
      return name.result;
    }
  }
  return std::nullopt;
}

std::optional<BuildStatus> parse_build_status(std::string_view log)
{
  // From the end: the status line is normally the last line, and a log can
  // be gigabytes. Every byte is looked at a bounded number of times.
  auto rest = log;
  for (;;) {
    auto newline = rest.rfind('\n');
    auto line = newline == std::string_view::npos ? rest : rest.substr(newline + 1);
    if (line.ends_with('\r')) {
      line.remove_suffix(1);
    }
    if (auto status = parse_status_line(line)) {
      return status;
    }
    if (newline == std::string_view::npos) {
      break;
    }
    rest = rest.substr(0, newline);
  }
  return std::nullopt;
}

BuildStatus classify_build(std::string_view log, int exit_code)
{
  if (auto status = parse_build_status(log)) {
    return *status;
  }
  if (auto result = result_from_code(exit_code)) {
    return {*result, fmt::format("no status line in the build log; exit code {}", exit_code)};
  }
  return {
    BuildResult::builder_error,
    fmt::format("no status line in the build log; exit code {} is not a build result", exit_code)};
}

} // namespace buildme::builder
