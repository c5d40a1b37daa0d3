#include "util/process.hpp"

#include "scratch.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using buildme::test::ScratchDir;
using buildme::util::ProcessOptions;
using buildme::util::ProcessResult;
using buildme::util::run_process;
using namespace std::chrono_literals;

namespace {

ProcessResult run(const std::vector<std::string>& argv, const ProcessOptions& options = {})
{
  auto result = run_process(argv, options);
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? std::string() : result.message()));
  return *result;
}

ProcessResult shell(const std::string& script, ProcessOptions options = {})
{
  // A generous limit so that a deadlock fails the test instead of hanging it.
  if (!options.timeout) {
    options.timeout = 60s;
  }
  return run({"sh", "-c", script}, options);
}

double seconds_since(std::chrono::steady_clock::time_point start)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Gone, or a zombie waiting for a parent that is not us.
bool process_is_dead(pid_t pid)
{
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) {
    return true;
  }
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

} // namespace

TEST_CASE("the exit code of a program that ran is reported, not an error")
{
  auto result = shell("exit 3");
  CHECK(result.exit_code == 3);
  CHECK(result.signal == 0);
  CHECK_FALSE(result.timed_out);
  CHECK(shell("true").exit_code == 0);
}

TEST_CASE("standard output and standard error are captured apart")
{
  auto result = shell("echo out; echo err >&2; echo more");
  CHECK(result.out == "out\nmore\n");
  CHECK(result.err == "err\n");
}

TEST_CASE("merged standard error arrives in the output in order")
{
  ProcessOptions options;
  options.merge_stderr = true;
  auto result = shell("echo one; echo two >&2; echo three", options);
  CHECK(result.out == "one\ntwo\nthree\n");
  CHECK(result.err.empty());
}

TEST_CASE("megabytes on both output streams do not deadlock")
{
  // stderr is filled first: a reader that waits for stdout alone would hang.
  auto result = shell("head -c 3000000 /dev/zero >&2; head -c 2000000 /dev/zero; "
                      "head -c 1500000 /dev/zero >&2");
  CHECK_FALSE(result.timed_out);
  CHECK(result.exit_code == 0);
  CHECK(result.out.size() == 2000000);
  CHECK(result.err.size() == 4500000);
}

TEST_CASE("input data reaches the program, however large")
{
  std::string data;
  for (int i = 0; data.size() < 3000000; ++i) {
    data += std::to_string(i) + "\n";
  }
  ProcessOptions options;
  options.stdin_data = data;
  options.timeout = 60s;
  auto result = run({"cat"}, options);
  CHECK_FALSE(result.timed_out);
  CHECK(result.exit_code == 0);
  CHECK(result.out.size() == data.size());
  CHECK(result.out == data);
}

TEST_CASE("a program that does not read its input neither hangs nor kills us")
{
  ProcessOptions options;
  options.stdin_data = std::string(4000000, 'x');
  auto result = shell("exec 0<&-; echo done", options);
  CHECK_FALSE(result.timed_out);
  CHECK(result.exit_code == 0);
  CHECK(result.out == "done\n");
}

TEST_CASE("without input data the program reads end of file at once")
{
  auto result = shell("cat; echo end");
  CHECK(result.out == "end\n");
}

TEST_CASE("a missing program is an error that names it")
{
  auto result = run_process({"buildme-no-such-program", "--help"});
  REQUIRE_FALSE(result.ok());
  CHECK(result.message() == "cannot run buildme-no-such-program: No such file or directory");
}

TEST_CASE("a program that is not executable is an error that says so")
{
  ScratchDir dir;
  auto script = dir.write("script", "#!/bin/sh\necho hi\n");
  auto result = run_process({script.string()});
  REQUIRE_FALSE(result.ok());
  CHECK(result.message() == "cannot run " + script.string() + ": Permission denied");
}

TEST_CASE("an empty argument list is an error, not a crash")
{
  CHECK_FALSE(run_process({}).ok());
  CHECK_FALSE(run_process({""}).ok());
}

TEST_CASE("arguments reach the program as they are, never through a shell")
{
  auto result = run({"printf", "%s|", "$(echo hi)", "; rm -rf /tmp/x", "a b", "", "*"});
  CHECK(result.out == "$(echo hi)|; rm -rf /tmp/x|a b||*|");
}

TEST_CASE("the program runs in the folder it is given")
{
  ScratchDir dir;
  dir.write("marker", "found it");
  ProcessOptions options;
  options.cwd = dir.path();
  auto result = run({"cat", "marker"}, options);
  CHECK(result.exit_code == 0);
  CHECK(result.out == "found it");
}

TEST_CASE("a folder that does not exist is an error naming it")
{
  ScratchDir dir;
  ProcessOptions options;
  options.cwd = dir / "missing";
  auto result = run_process({"true"}, options);
  REQUIRE_FALSE(result.ok());
  CHECK(result.message().find("cannot run true") == 0);
  CHECK(result.message().find((dir / "missing").string()) != std::string::npos);
  CHECK(result.message().find("No such file or directory") != std::string::npos);
}

TEST_CASE("a program killed by a signal reports the signal")
{
  auto result = shell("kill -KILL $$");
  CHECK(result.exit_code == -1);
  CHECK(result.signal == SIGKILL);
  CHECK_FALSE(result.timed_out);
}

TEST_CASE("a timeout stops a long sleep quickly")
{
  ProcessOptions options;
  options.timeout = 200ms;
  auto start = std::chrono::steady_clock::now();
  auto result = run({"sleep", "30"}, options);
  CHECK(seconds_since(start) < 1.8);
  CHECK(result.timed_out);
  CHECK(result.exit_code == -1);
  CHECK(result.signal == SIGTERM);
}

TEST_CASE("a timeout also stops the program's own children")
{
  ProcessOptions options;
  options.timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  auto result = shell("sleep 30 & echo $!; wait", options);
  // Well before the SIGKILL grace: SIGTERM reached the whole group.
  CHECK(seconds_since(start) < 1.8);
  CHECK(result.timed_out);
  REQUIRE_FALSE(result.out.empty());
  pid_t grandchild = std::stoi(result.out);
  // The kernel delivers the signal at once, but reaping by init may lag.
  for (int i = 0; i < 100 && !process_is_dead(grandchild); ++i) {
    usleep(20000);
  }
  CHECK(process_is_dead(grandchild));
}

TEST_CASE("a program that ignores SIGTERM is killed after a short grace")
{
  ProcessOptions options;
  options.timeout = 200ms;
  auto start = std::chrono::steady_clock::now();
  auto result = shell("trap '' TERM; sleep 30; echo survived", options);
  CHECK(seconds_since(start) < 10);
  CHECK(result.timed_out);
  CHECK(result.signal == SIGKILL);
  CHECK(result.out.empty());
}

TEST_CASE("a program that closes its output early is still timed out")
{
  ProcessOptions options;
  options.timeout = 200ms;
  auto start = std::chrono::steady_clock::now();
  auto result = shell("exec >&- 2>&-; sleep 30", options);
  CHECK(seconds_since(start) < 5);
  CHECK(result.timed_out);
}

TEST_CASE("the program inherits none of our open files beyond its three streams")
{
  int leaky = ::open("/dev/null", O_RDONLY); // deliberately without O_CLOEXEC
  REQUIRE(leaky >= 0);
  auto result = shell("ls /proc/$$/fd");
  ::close(leaky);
  CHECK(result.out == "0\n1\n2\n");
}

TEST_CASE("the program starts with our signal mask and SIGPIPE at its default")
{
  // run_process blocks SIGPIPE while it feeds the child; the child must not
  // keep that, or `yes | head` in a build would spin on EPIPE.
  auto signal_line = [](const std::string& status, const std::string& name) {
    auto at = status.find(name + ":");
    REQUIRE(at != std::string::npos);
    return status.substr(at, status.find('\n', at) - at);
  };
  auto ours = ScratchDir::read("/proc/self/status");
  auto child = run({"cat", "/proc/self/status"}).out;
  CHECK(signal_line(child, "SigBlk") == signal_line(ours, "SigBlk"));

  // Even when the calling program ignores SIGPIPE, as servers often do.
  auto old_handler = std::signal(SIGPIPE, SIG_IGN);
  auto with_ignored = run({"cat", "/proc/self/status"}).out;
  std::signal(SIGPIPE, old_handler);
  auto ignored = std::stoull(signal_line(with_ignored, "SigIgn").substr(7), nullptr, 16);
  CHECK((ignored & (1ULL << (SIGPIPE - 1))) == 0);

  auto result = shell("(yes; echo $? >&2) | head -n 1");
  CHECK(result.out == "y\n");
  CHECK(result.err == "141\n");
}
