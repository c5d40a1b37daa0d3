#include "util/process.hpp"

#include "scratch.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <string>
#include <vector>
#include <sys/stat.h>
#include <unistd.h>

namespace unit_test_util_process {

using buildme::test::ScratchDir;
using buildme::util::ProcessOptions;
using buildme::util::ProcessResult;
using buildme::util::run_process;
using buildme::util::run_streaming;
using buildme::util::StreamOptions;
using buildme::util::StreamResult;
using End = buildme::util::StreamResult::End;
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

namespace {

// What a streamed program said, chunk by chunk, and when each chunk came.
struct Heard
{
  std::string text;
  std::vector<double> at; // seconds since the start
};

StreamResult stream(const std::vector<std::string>& argv, StreamOptions options, Heard& heard)
{
  // A generous limit so that a deadlock fails the test instead of hanging it.
  if (options.timeout.count() == 0) {
    options.timeout = 60s;
  }
  auto start = std::chrono::steady_clock::now();
  options.on_output = [&heard, start](std::string_view chunk) {
    heard.text.append(chunk);
    heard.at.push_back(seconds_since(start));
  };
  auto result = run_streaming(argv, options);
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? std::string() : result.message()));
  return *result;
}

StreamResult stream_shell(const std::string& script, StreamOptions options, Heard& heard)
{
  return stream({"sh", "-c", script}, std::move(options), heard);
}

} // namespace

TEST_CASE("streamed output arrives in order, both streams merged, while the program runs")
{
  Heard heard;
  auto result =
    stream_shell("echo one; echo two >&2; sleep 0.5; echo three >&2; echo four; exit 4", {}, heard);
  CHECK(result.end == End::exited);
  CHECK(result.exit_code == 4);
  CHECK(result.signal == 0);
  CHECK(heard.text == "one\ntwo\nthree\nfour\n");
  // The first lines were handed on half a second before the last ones, not
  // all at the end.
  REQUIRE(heard.at.size() >= 2);
  CHECK(heard.at.back() - heard.at.front() >= 0.4);
}

TEST_CASE("megabytes of streamed output arrive whole, with or without a listener")
{
  Heard heard;
  auto result = stream_shell("head -c 3000000 /dev/zero; head -c 2000000 /dev/zero >&2", {}, heard);
  CHECK(result.end == End::exited);
  CHECK(result.exit_code == 0);
  CHECK(heard.text.size() == 5000000);

  StreamOptions quiet;
  quiet.timeout = 60s;
  auto unheard = run_streaming({"sh", "-c", "head -c 3000000 /dev/zero; exit 2"}, quiet);
  REQUIRE(unheard.ok());
  CHECK(unheard->end == End::exited);
  CHECK(unheard->exit_code == 2);
}

TEST_CASE("a streamed program reads end of file from /dev/null, in the folder it is given")
{
  ScratchDir dir;
  dir.write("marker", "here\n");
  StreamOptions options;
  options.cwd = dir.path();
  Heard heard;
  auto result = stream_shell("readlink /proc/self/fd/0; cat; cat marker", options, heard);
  CHECK(result.end == End::exited);
  CHECK(heard.text == "/dev/null\nhere\n");
}

TEST_CASE("a streamed program that cannot be started is an error naming it")
{
  auto missing = run_streaming({"buildme-no-such-program"}, {});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.message() == "cannot run buildme-no-such-program: No such file or directory");

  ScratchDir dir;
  StreamOptions options;
  options.cwd = dir / "missing";
  auto nowhere = run_streaming({"true"}, options);
  REQUIRE_FALSE(nowhere.ok());
  CHECK(nowhere.message().find((dir / "missing").string()) != std::string::npos);

  CHECK_FALSE(run_streaming({}, {}).ok());
}

TEST_CASE("a streamed program killed by a signal we did not send is reported as killed")
{
  Heard heard;
  auto result = stream_shell("kill -KILL $$", {}, heard);
  CHECK(result.end == End::killed);
  CHECK(result.exit_code == -1);
  CHECK(result.signal == SIGKILL);
}

TEST_CASE("a silent program is stopped for idleness; a chatty one runs to its end")
{
  StreamOptions options;
  options.idle_timeout = 300ms;
  Heard heard;
  auto start = std::chrono::steady_clock::now();
  auto silent = stream_shell("echo started; sleep 30", options, heard);
  CHECK(seconds_since(start) < 2);
  CHECK(silent.end == End::idle);
  CHECK(silent.signal == SIGINT);
  CHECK(heard.text == "started\n");

  // Two seconds in all, never 300 ms without a line.
  Heard chatty_heard;
  auto chatty = stream_shell("for i in 1 2 3 4 5 6 7 8 9 10; do echo $i; sleep 0.2; done; exit 0",
                             options, chatty_heard);
  CHECK(chatty.end == End::exited);
  CHECK(chatty.exit_code == 0);
  CHECK(chatty_heard.text == "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n");
}

TEST_CASE("cancelling stops a streamed program at once with SIGINT")
{
  StreamOptions options;
  auto start = std::chrono::steady_clock::now();
  int asked = 0;
  options.cancelled = [&] {
    ++asked;
    return seconds_since(start) > 0.3;
  };
  Heard heard;
  auto result = stream({"sleep", "30"}, options, heard);
  CHECK(seconds_since(start) < 1.5);
  CHECK(result.end == End::cancelled);
  CHECK(result.signal == SIGINT);
  // Asked a few times a second, not in a busy loop.
  CHECK(asked >= 2);
  CHECK(asked < 30);
}

TEST_CASE("a program that closed its output is still cancelled and timed out")
{
  StreamOptions options;
  auto start = std::chrono::steady_clock::now();
  options.cancelled = [&] { return seconds_since(start) > 0.3; };
  Heard heard;
  auto cancelled = stream_shell("exec >&- 2>&-; sleep 30", options, heard);
  CHECK(seconds_since(start) < 2);
  CHECK(cancelled.end == End::cancelled);

  StreamOptions timed;
  timed.timeout = 300ms;
  start = std::chrono::steady_clock::now();
  auto timed_out = stream_shell("exec >&- 2>&-; sleep 30", timed, heard);
  CHECK(seconds_since(start) < 2);
  CHECK(timed_out.end == End::timed_out);
}

TEST_CASE("a streamed timeout also stops the program's own children")
{
  // The shell runs `sleep 60 &` with SIGINT ignored, as POSIX says for
  // background commands: SIGINT ends the shell but not the sleep, and
  // SIGTERM one grace later must reach it through the process group.
  StreamOptions options;
  options.timeout = 300ms;
  options.stop_grace = 300ms;
  Heard heard;
  auto start = std::chrono::steady_clock::now();
  auto result = stream_shell("sleep 60 & echo $!; wait", options, heard);
  CHECK(seconds_since(start) < 5);
  CHECK(result.end == End::timed_out);
  REQUIRE_FALSE(heard.text.empty());
  pid_t grandchild = std::stoi(heard.text);
  for (int i = 0; i < 100 && !process_is_dead(grandchild); ++i) {
    usleep(20000);
  }
  CHECK(process_is_dead(grandchild));
}

TEST_CASE("a program that catches SIGINT and exits cleanly is reported as stopped")
{
  // The trap is set before "ready", and the stop comes only after it.
  const std::string script =
    "trap 'echo cleaned up; exit 0' INT; echo ready; while :; do sleep 0.1; done";
  Heard heard;
  StreamOptions options;
  options.cancelled = [&heard] { return heard.text.find("ready") != std::string::npos; };
  auto cancelled = stream_shell(script, options, heard);
  CHECK(cancelled.end == End::cancelled);
  CHECK(cancelled.exit_code == 0);
  CHECK(cancelled.signal == 0);
  CHECK(heard.text == "ready\ncleaned up\n");

  StreamOptions timed;
  timed.timeout = 500ms;
  Heard timed_heard;
  auto timed_out = stream_shell(script, timed, timed_heard);
  CHECK(timed_out.end == End::timed_out);
  CHECK(timed_out.exit_code == 0);
  CHECK(timed_heard.text == "ready\ncleaned up\n");
}

TEST_CASE("a program that ignores SIGINT and SIGTERM is killed after two graces")
{
  StreamOptions options;
  options.timeout = 200ms;
  options.stop_grace = 300ms;
  Heard heard;
  auto start = std::chrono::steady_clock::now();
  auto result =
    stream_shell("trap '' INT TERM; echo ready; sleep 30; echo survived", options, heard);
  double took = seconds_since(start);
  CHECK(took >= 0.75);
  CHECK(took < 5);
  CHECK(result.end == End::timed_out);
  CHECK(result.signal == SIGKILL);
  CHECK(heard.text == "ready\n");
}

TEST_CASE("SIGINT stops a streamed program even when the caller ignores SIGINT")
{
  // As a worker started in the background by a shell does.
  auto old_handler = std::signal(SIGINT, SIG_IGN);
  StreamOptions options;
  options.timeout = 200ms;
  options.stop_grace = 10s;
  auto start = std::chrono::steady_clock::now();
  auto result = run_streaming({"sleep", "30"}, options);
  std::signal(SIGINT, old_handler);
  REQUIRE(result.ok());
  CHECK(seconds_since(start) < 5);
  CHECK(result->end == End::timed_out);
  CHECK(result->signal == SIGINT);
}

} // namespace unit_test_util_process
