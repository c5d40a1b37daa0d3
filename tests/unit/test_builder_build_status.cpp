#include "builder/build_status.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

namespace unit_test_builder_build_status {

using namespace buildme::builder;
using namespace std::string_literals;

namespace {

// Parses a log that must hold a status line.
BuildStatus status_of(std::string_view log)
{
  auto status = parse_build_status(log);
  REQUIRE_MESSAGE(status.has_value(), "no status found in: ", std::string(log));
  return *status;
}

bool all_printable(const std::string& text)
{
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      return false;
    }
  }
  return true;
}

} // namespace

TEST_CASE("each of the five codes has its word and label, and back")
{
  struct Case
  {
    int code;
    BuildResult result;
    const char* word;
    const char* label;
  };
  for (auto c : {Case{0, BuildResult::success, "success", "BUILT"},
                 Case{10, BuildResult::build_failed, "build-failed", "FAILED"},
                 Case{30, BuildResult::depwait, "depwait", "DEPWAIT"},
                 Case{40, BuildResult::bad_package, "bad-package", "BAD-PACKAGE"},
                 Case{50, BuildResult::builder_error, "builder-error", "BUILDER-ERROR"}}) {
    INFO(c.word);
    CHECK(result_word(c.result) == c.word);
    CHECK(result_label(c.result) == c.label);
    CHECK(result_from_code(c.code) == c.result);
    CHECK(result_from_word(c.word) == c.result);
  }
  for (int code : {-1, 1, 2, 20, 60, 100, 137, 255}) {
    CHECK_FALSE(result_from_code(code).has_value());
  }
  for (auto word : {"", "Success", "SUCCESS", "built", "failed", "success "}) {
    CHECK_FALSE(result_from_word(word).has_value());
  }
}

TEST_CASE("the status line at the end of a build log gives the result and its detail")
{
  auto status = status_of("dpkg-buildpackage: info: binary-only upload\n"
                          "BUILDME-STATUS: 0 success hello-buildme_1.0-1 built for amd64\n");
  CHECK(status.result == BuildResult::success);
  CHECK(status.detail == "hello-buildme_1.0-1 built for amd64");

  status = status_of("...\nBUILDME-STATUS: 30 depwait unmet build dependencies: libfoo-dev (>= 2)");
  CHECK(status.result == BuildResult::depwait);
  CHECK(status.detail == "unmet build dependencies: libfoo-dev (>= 2)");

  status = status_of("BUILDME-STATUS: 10 build-failed\n");
  CHECK(status.result == BuildResult::build_failed);
  CHECK(status.detail == "");

  status = status_of("BUILDME-STATUS:\t40\tbad-package\t  dpkg-source -x failed  \n\n\n");
  CHECK(status.result == BuildResult::bad_package);
  CHECK(status.detail == "dpkg-source -x failed");
}

TEST_CASE("when a log has several status lines the last one wins")
{
  // A build that runs a nested build prints the nested status first.
  auto status = status_of("BUILDME-STATUS: 0 success inner build\n"
                          "more output\n"
                          "BUILDME-STATUS: 10 build-failed outer build\n"
                          "trailing output\n");
  CHECK(status.result == BuildResult::build_failed);
  CHECK(status.detail == "outer build");
}

TEST_CASE("a log with CRLF line ends parses the same")
{
  auto status = status_of("line one\r\nBUILDME-STATUS: 50 builder-error disk full\r\n");
  CHECK(status.result == BuildResult::builder_error);
  CHECK(status.detail == "disk full");
  CHECK(status_of("BUILDME-STATUS: 0 success\r\n").result == BuildResult::success);
}

TEST_CASE("a status line whose code and word disagree is ignored")
{
  CHECK_FALSE(parse_build_status("BUILDME-STATUS: 0 build-failed\n").has_value());
  CHECK_FALSE(parse_build_status("BUILDME-STATUS: 10 success\n").has_value());
  // ...and an earlier good line is used instead.
  auto status = status_of("BUILDME-STATUS: 30 depwait libfoo\n"
                          "BUILDME-STATUS: 0 depwait\n");
  CHECK(status.result == BuildResult::depwait);
  CHECK(status.detail == "libfoo");
}

TEST_CASE("malformed and truncated status lines are not trusted")
{
  for (auto line : {"BUILDME-STATUS: 0",
                    "BUILDME-STATUS: 0 ",
                    "BUILDME-STATUS:",
                    "BUILDME-STATUS: ",
                    "BUILDME-STATUS: banana",
                    "BUILDME-STATUS: success 0",
                    "BUILDME-STATUS:0 success",
                    "BUILDME-STATUS: 0success",
                    "BUILDME-STATUS: 0 successful",
                    "BUILDME-STATUS: 0 Success",
                    "BUILDME-STATUS: 0 success\x01 detail",
                    "BUILDME-STATUS: -0 success",
                    "BUILDME-STATUS: +0 success",
                    "BUILDME-STATUS: 0x0 success",
                    "BUILDME-STATUS: 20 success",
                    "BUILDME-STATUS: 137 builder-error",
                    "BUILDME-STATUS: 99999999999999999999999999 success",
                    "BUILDME-STATUS: 4294967296 success",
                    "BUILDME-STATUS: 010 build-failed",
                    "BUILDME-STATUS: 00 success",
                    "BUILDME-STAT",
                    "buildme-status: 0 success",
                    "BUILDME-STATUS 0 success"}) {
    INFO(std::string(line));
    CHECK_FALSE(parse_build_status(line).has_value());
    CHECK_FALSE(parse_build_status(std::string(line) + "\n").has_value());
  }
}

TEST_CASE("a status line that does not start its line does not count")
{
  CHECK_FALSE(parse_build_status("echo x BUILDME-STATUS: 0 success\n").has_value());
  CHECK_FALSE(parse_build_status(" BUILDME-STATUS: 0 success\n").has_value());
  CHECK_FALSE(parse_build_status("\tBUILDME-STATUS: 0 success").has_value());
  // A line end inside a line (a bare CR) does not start a new line either.
  CHECK_FALSE(parse_build_status("progress 50%\rBUILDME-STATUS: 0 success\n").has_value());
  // The preceding real status line is the one.
  auto status = status_of("BUILDME-STATUS: 10 build-failed real\n"
                          "+ echo BUILDME-STATUS: 0 success\n");
  CHECK(status.result == BuildResult::build_failed);
}

TEST_CASE("control characters and escape sequences in the detail come out printable")
{
  auto status = status_of("BUILDME-STATUS: 10 build-failed \x1b[2J\x1b]0;owned\x07 and \x7f\n"s);
  CHECK(status.result == BuildResult::build_failed);
  CHECK(all_printable(status.detail));
  CHECK(status.detail.find("owned") != std::string::npos);
  CHECK(status.detail.find("\\x1b") != std::string::npos);

  status = status_of("BUILDME-STATUS: 40 bad-package a\0b\rc\n"s);
  CHECK(status.result == BuildResult::bad_package);
  CHECK(all_printable(status.detail));
  CHECK(status.detail == "a\\x00b\\x0dc");
}

TEST_CASE("NUL bytes and binary junk around the status line do not hide it")
{
  std::string log = "\0\0\xff\xfe garbage\n"s;
  log += "BUILDME-STATUS: 0 success fine\n";
  log += "\0\n"s;
  auto status = status_of(log);
  CHECK(status.result == BuildResult::success);
  CHECK(status.detail == "fine");

  CHECK_FALSE(parse_build_status("BUILDME-STATUS: 0\0 success\n"s).has_value());
  CHECK_FALSE(parse_build_status("\0BUILDME-STATUS: 0 success\n"s).has_value());
}

TEST_CASE("an endless detail is cut to a summary")
{
  auto status = status_of("BUILDME-STATUS: 10 build-failed " + std::string(100000, 'x') + "\n");
  CHECK(status.result == BuildResult::build_failed);
  CHECK(status.detail.size() < 2000);
  CHECK(status.detail.ends_with("..."));
}

TEST_CASE("a log with no status line has no status")
{
  CHECK_FALSE(parse_build_status("").has_value());
  CHECK_FALSE(parse_build_status("\n").has_value());
  CHECK_FALSE(parse_build_status("\n\n\r\n").has_value());
  CHECK_FALSE(parse_build_status("dpkg-buildpackage: error: debian/rules build "
                                 "subprocess returned exit status 2\n")
                .has_value());
}

TEST_CASE("a huge log is scanned in linear time")
{
  // 64 MB of lines with the status line at the start: every line is looked
  // at once. Quadratic scanning would take far longer than the bound.
  std::string log = "BUILDME-STATUS: 10 build-failed early\n";
  std::string filler = "gcc -O2 -c some/file.c -o some/file.o BUILDME-STATUS: 0 success\n";
  log.reserve(64 << 20);
  while (log.size() < (64u << 20)) {
    log += filler;
  }
  // Many prefix-only lines too, each rejected quickly.
  for (int i = 0; i < 100000; ++i) {
    log += "BUILDME-STATUS: 0 banana\n";
  }
  auto start = std::chrono::steady_clock::now();
  auto status = status_of(log);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(status.result == BuildResult::build_failed);
  CHECK(status.detail == "early");
  CHECK(took < std::chrono::seconds(5));

  // A single gigantic line without line ends.
  std::string one_line(32 << 20, 'y');
  start = std::chrono::steady_clock::now();
  CHECK_FALSE(parse_build_status(one_line).has_value());
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("without a status line the exit code decides when it is one of the five")
{
  CHECK(classify_build("", 0).result == BuildResult::success);
  CHECK(classify_build("no status\n", 10).result == BuildResult::build_failed);
  CHECK(classify_build("no status\n", 30).result == BuildResult::depwait);
  CHECK(classify_build("no status\n", 40).result == BuildResult::bad_package);
  CHECK(classify_build("no status\n", 50).result == BuildResult::builder_error);
  auto status = classify_build("BUILDME-STATUS: 0 nonsense\n", 10);
  CHECK(status.result == BuildResult::build_failed);
  CHECK(status.detail.find("exit code 10") != std::string::npos);
}

TEST_CASE("an exit code that is not a build result is a builder error")
{
  for (int code : {1, 2, 20, 127, 137, 143, 255, -1}) {
    INFO(code);
    auto status = classify_build("killed\n", code);
    CHECK(status.result == BuildResult::builder_error);
    CHECK(status.detail.find("exit code " + std::to_string(code)) != std::string::npos);
  }
}

TEST_CASE("the status line outranks the exit code")
{
  // sbdmock-style wrappers may exit 1 after printing their status.
  auto status = classify_build("BUILDME-STATUS: 30 depwait libfoo-dev\n", 1);
  CHECK(status.result == BuildResult::depwait);
  CHECK(status.detail == "libfoo-dev");
}

} // namespace unit_test_builder_build_status
