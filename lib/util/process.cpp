#include "util/process.hpp"

#include "util/fs.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <optional>
#include <poll.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>

namespace buildme::util {

namespace {

using Clock = std::chrono::steady_clock;

// How long a child may take to exit after SIGTERM before SIGKILL, and after
// SIGKILL before we stop waiting for its pipes (something outside its
// process group may still hold them).
constexpr std::chrono::seconds kill_grace{2};

std::string errno_text(int error)
{
  return std::system_category().message(error);
}

class Fd
{
public:
  Fd() = default;
  explicit Fd(int fd) : m_fd(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return m_fd; }
  explicit operator bool() const { return m_fd >= 0; }
  void reset(int fd = -1)
  {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = fd;
  }

private:
  int m_fd = -1;
};

// Both ends close-on-exec, and above stderr so that the child's dup2() onto
// 0, 1 and 2 never overwrites a pipe end it has yet to move.
bool make_pipe(Fd& read_end, Fd& write_end)
{
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return false;
  }
  for (int& fd : fds) {
    if (fd <= 2) {
      int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
      ::close(fd);
      fd = moved;
    }
  }
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  return read_end && write_end;
}

// Writing to a child that has closed its stdin must give EPIPE, not kill us
// with SIGPIPE. Blocking the signal in this thread (rather than ignoring it
// process-wide) leaves the rest of the program alone; a SIGPIPE we caused is
// consumed before the old mask comes back.
class SigpipeBlock
{
public:
  SigpipeBlock()
  {
    sigemptyset(&m_pipe);
    sigaddset(&m_pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &m_pipe, &m_old);
    sigset_t pending;
    sigpending(&pending);
    m_was_pending = sigismember(&pending, SIGPIPE) == 1;
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;
  ~SigpipeBlock()
  {
    if (!m_was_pending) {
      timespec zero{};
      while (sigtimedwait(&m_pipe, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &m_old, nullptr);
  }

  const sigset_t& old_mask() const { return m_old; }

private:
  sigset_t m_pipe;
  sigset_t m_old;
  bool m_was_pending = false;
};

// What the child sends back through the status pipe when it cannot exec.
struct ChildFailure
{
  enum Stage { enter_folder, start } stage;
  int error;
};

// Runs in the forked child: only async-signal-safe calls from here on.
[[noreturn]] void run_child(char* const* args,
                            const char* cwd,
                            const sigset_t& mask,
                            int in,
                            int out,
                            int err,
                            int status)
{
  ::setpgid(0, 0);
  ::signal(SIGPIPE, SIG_DFL);
  ::signal(SIGXFSZ, SIG_DFL);
  ::sigprocmask(SIG_SETMASK, &mask, nullptr);
  // Descriptors others opened without O_CLOEXEC (a slot lock, say) must not
  // outlive us in a build that forks into the background.
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);

  auto report = [status](ChildFailure::Stage stage) {
    ChildFailure failure{stage, errno};
    [[maybe_unused]] auto ignored = ::write(status, &failure, sizeof failure);
    ::_exit(127);
  };
  if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) {
    report(ChildFailure::start);
  }
  if (cwd && ::chdir(cwd) != 0) {
    report(ChildFailure::enter_folder);
  }
  ::execvp(args[0], args);
  report(ChildFailure::start);
  ::_exit(127); // not reached; report() exits
}

// Reads what the child sent before exec; nothing (EOF) means exec worked.
bool child_failed(int status, ChildFailure& failure)
{
  auto* bytes = reinterpret_cast<char*>(&failure);
  size_t got = 0;
  while (got < sizeof failure) {
    ssize_t n = ::read(status, bytes + got, sizeof failure - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    got += static_cast<size_t>(n);
  }
  return got == sizeof failure;
}

int wait_for(pid_t pid)
{
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// The whole group, so that a build's own children go too; the child alone
// should it have no group of its own (setpgid failed on both sides).
void signal_group(pid_t pid, int signal)
{
  if (::kill(-pid, signal) != 0) {
    ::kill(pid, signal);
  }
}

// Reads what is there; closes `fd` at end of file or on error.
void drain(Fd& fd, std::string& into)
{
  char buffer[65536];
  ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
  if (n > 0) {
    into.append(buffer, static_cast<size_t>(n));
  } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
    fd.reset();
  }
}

// Writes what the pipe takes; closes `fd` when all is written or the child
// has stopped reading (EPIPE), so the child sees end of file.
void feed(Fd& fd, std::string_view data, size_t& written)
{
  ssize_t n = ::write(fd.get(), data.data() + written, data.size() - written);
  if (n > 0) {
    written += static_cast<size_t>(n);
  } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
    fd.reset();
    return;
  }
  if (written == data.size()) {
    fd.reset();
  }
}

} // namespace

Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                  const ProcessOptions& options)
{
  if (argv.empty() || argv[0].empty()) {
    return fail("cannot run a program: no program name given");
  }
  const std::string program = printable(argv[0]);

  std::vector<char*> args;
  for (const auto& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  const std::string cwd = options.cwd ? options.cwd->string() : std::string();

  Fd in_r, in_w, out_r, out_w, err_r, err_w, status_r, status_w;
  if (!make_pipe(in_r, in_w) || !make_pipe(out_r, out_w) ||
      (!options.merge_stderr && !make_pipe(err_r, err_w)) || !make_pipe(status_r, status_w)) {
    return fail("cannot run {}: cannot create a pipe: {}", program, errno_text(errno));
  }

  SigpipeBlock sigpipe_block;
  pid_t pid = ::fork();
  if (pid < 0) {
    return fail("cannot run {}: cannot fork: {}", program, errno_text(errno));
  }
  if (pid == 0) {
    run_child(args.data(),
              options.cwd ? cwd.c_str() : nullptr,
              sigpipe_block.old_mask(),
              in_r.get(),
              out_w.get(),
              options.merge_stderr ? out_w.get() : err_w.get(),
              status_w.get());
  }
  // Also here, so that a timeout that comes before the child has run still
  // reaches its whole group. EACCES after the child's exec is harmless.
  ::setpgid(pid, pid);
  in_r.reset();
  out_w.reset();
  err_w.reset();
  status_w.reset();

  ChildFailure failure{};
  if (child_failed(status_r.get(), failure)) {
    wait_for(pid);
    if (failure.stage == ChildFailure::enter_folder) {
      return fail("cannot run {}: cannot enter folder {}: {}",
                  program, printable(cwd), errno_text(failure.error));
    }
    return fail("cannot run {}: {}", program, errno_text(failure.error));
  }
  status_r.reset();

  ProcessResult result;
  size_t written = 0;
  if (options.stdin_data.empty()) {
    in_w.reset();
  } else {
    ::fcntl(in_w.get(), F_SETFL, ::fcntl(in_w.get(), F_GETFL) | O_NONBLOCK);
  }

  // Stages of a timeout: running until the deadline, then SIGTERM, then
  // SIGKILL, then we give up on the pipes.
  enum class Stage { running, terminated, killed, abandoned } stage = Stage::running;
  std::optional<Clock::time_point> deadline;
  if (options.timeout) {
    deadline = Clock::now() + *options.timeout;
  }

  int status = 0;
  bool reaped = false;
  int exit_check_ms = 1;
  while (!reaped) {
    if (deadline && Clock::now() >= *deadline) {
      switch (stage) {
      case Stage::running:
        result.timed_out = true;
        signal_group(pid, SIGTERM);
        stage = Stage::terminated;
        break;
      case Stage::terminated:
        signal_group(pid, SIGKILL);
        stage = Stage::killed;
        break;
      case Stage::killed:
      case Stage::abandoned:
        in_w.reset();
        out_r.reset();
        err_r.reset();
        stage = Stage::abandoned;
        break;
      }
      deadline = stage == Stage::abandoned ? std::nullopt
                                           : std::optional(Clock::now() + kill_grace);
    }

    if (!in_w && !out_r && !err_r) {
      // Output is complete; what is left is the child's exit.
      if (!deadline) {
        status = wait_for(pid);
        reaped = true;
        continue;
      }
      pid_t done = ::waitpid(pid, &status, WNOHANG);
      if (done == pid || (done < 0 && errno != EINTR)) {
        reaped = true;
        continue;
      }
    }

    pollfd fds[3];
    nfds_t count = 0;
    int in_slot = -1, out_slot = -1, err_slot = -1;
    if (in_w) {
      in_slot = static_cast<int>(count);
      fds[count++] = {in_w.get(), POLLOUT, 0};
    }
    if (out_r) {
      out_slot = static_cast<int>(count);
      fds[count++] = {out_r.get(), POLLIN, 0};
    }
    if (err_r) {
      err_slot = static_cast<int>(count);
      fds[count++] = {err_r.get(), POLLIN, 0};
    }

    int wait_ms = -1;
    if (deadline) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now());
      wait_ms = static_cast<int>(std::clamp<long long>(left.count(), 0, 1000 * 1000));
    }
    if (count == 0) {
      // Only the exit is awaited, and only with a deadline: check it soon,
      // then less often.
      wait_ms = std::min(wait_ms, exit_check_ms);
      exit_check_ms = std::min(exit_check_ms * 2, 50);
    }
    int ready = ::poll(fds, count, wait_ms);
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      int error = errno;
      signal_group(pid, SIGKILL);
      wait_for(pid);
      return fail("lost track of {}: poll failed: {}", program, errno_text(error));
    }
    if (in_slot >= 0 && fds[in_slot].revents != 0) {
      feed(in_w, options.stdin_data, written);
    }
    if (out_slot >= 0 && fds[out_slot].revents != 0) {
      drain(out_r, result.out);
    }
    if (err_slot >= 0 && fds[err_slot].revents != 0) {
      drain(err_r, result.err);
    }
  }

  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

} // namespace buildme::util
