#include "util/process.hpp"

#include "util/fs.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <csignal>
#include <fcntl.h>
#include <optional>
#include <poll.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace buildme::util {

namespace {

using SteadyClock = std::chrono::steady_clock;

// run_process's pause between SIGTERM and SIGKILL, and after SIGKILL before
// we stop waiting for the pipes (something outside the process group may
// still hold them).
constexpr std::chrono::seconds kill_grace{2};

// How often run_streaming asks whether it is cancelled.
constexpr std::chrono::milliseconds cancel_check_interval{100};

class Fd
{
public:
  Fd() = default;
  explicit Fd(int fd) : m_fd(fd) {}
  Fd(Fd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
  Fd& operator=(Fd&& other) noexcept
  {
    if (this != &other) {
      reset(std::exchange(other.m_fd, -1));
    }
    return *this;
  }
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

// Every descriptor meant for the child is close-on-exec and above stderr, so
// that the child's dup2() onto 0, 1 and 2 never overwrites one it has yet to
// move. Takes ownership of `fd`; -1 on failure.
int above_stderr(int fd)
{
  if (fd >= 0 && fd <= 2) {
    int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    ::close(fd);
    fd = moved;
  }
  return fd;
}

bool make_pipe(Fd& read_end, Fd& write_end)
{
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return false;
  }
  read_end.reset(above_stderr(fds[0]));
  write_end.reset(above_stderr(fds[1]));
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
  enum Stage
  {
    enter_folder,
    start
  } stage;
  int error;
};

// Runs in the forked child: only async-signal-safe calls from here on.
[[noreturn]] void run_child(char* const* args, const char* cwd, const sigset_t& mask, int in,
                            int out, int err, int status)
{
  ::setpgid(0, 0);
  ::signal(SIGPIPE, SIG_DFL);
  ::signal(SIGXFSZ, SIG_DFL);
  ::signal(SIGINT, SIG_DFL);
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

using Sink = std::function<void(std::string_view)>;

// Hands what is there to `sink`; closes `fd` at end of file or on error.
// True when something was read.
bool drain(Fd& fd, const Sink& sink)
{
  char buffer[65536];
  ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
  if (n > 0) {
    if (sink) {
      sink({buffer, static_cast<size_t>(n)});
    }
    return true;
  }
  if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
    fd.reset();
  }
  return false;
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

// A started child: its pid and our ends of its pipes. `in` is closed when
// the child's stdin is /dev/null; `err` when stderr is merged into `out`.
struct Child
{
  pid_t pid = -1;
  Fd in;
  Fd out;
  Fd err;
};

enum class Input
{
  pipe,
  null
};

// Forks and execs argv in its own process group. An Error (naming the
// program, or the folder it cannot enter) when it could not be started.
Result<Child> start_child(const std::vector<std::string>& argv,
                          const std::optional<std::filesystem::path>& cwd, Input input,
                          bool merge_stderr, const sigset_t& child_mask)
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
  const std::string folder = cwd ? cwd->string() : std::string();

  Fd in_r, in_w, out_r, out_w, err_r, err_w, status_r, status_w;
  if (input == Input::null) {
    in_r.reset(above_stderr(::open("/dev/null", O_RDONLY | O_CLOEXEC)));
    if (!in_r) {
      return fail("cannot run {}: cannot open /dev/null: {}", program, errno_text(errno));
    }
  } else if (!make_pipe(in_r, in_w)) {
    return fail("cannot run {}: cannot create a pipe: {}", program, errno_text(errno));
  }
  if (!make_pipe(out_r, out_w) || (!merge_stderr && !make_pipe(err_r, err_w)) ||
      !make_pipe(status_r, status_w)) {
    return fail("cannot run {}: cannot create a pipe: {}", program, errno_text(errno));
  }

  pid_t pid = ::fork();
  if (pid < 0) {
    return fail("cannot run {}: cannot fork: {}", program, errno_text(errno));
  }
  if (pid == 0) {
    run_child(args.data(), cwd ? folder.c_str() : nullptr, child_mask, in_r.get(), out_w.get(),
              merge_stderr ? out_w.get() : err_w.get(), status_w.get());
  }
  // Also here, so that a stop that comes before the child has run still
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
      return fail("cannot run {}: cannot enter folder {}: {}", program, printable(folder),
                  errno_text(failure.error));
    }
    return fail("cannot run {}: {}", program, errno_text(failure.error));
  }
  Child child;
  child.pid = pid;
  child.in = std::move(in_w);
  child.out = std::move(out_r);
  child.err = std::move(err_r);
  return child;
}

// Why a child was stopped.
enum class Trigger
{
  none,
  timeout,
  idle,
  cancel
};

// What supervise() watches besides the child's own end, and how it stops it.
struct Watch
{
  std::string_view input; // written to the child's stdin
  Sink on_out;            // each chunk of stdout
  Sink on_err;            // each chunk of stderr
  std::optional<SteadyClock::time_point> deadline;
  SteadyClock::duration idle{0}; // 0: silence is fine
  std::function<bool()> cancelled;
  std::vector<int> stop_signals; // sent in turn, `grace` apart
  SteadyClock::duration grace{0};
};

struct Ended
{
  int status = 0; // as waitpid reports it
  Trigger trigger = Trigger::none;
};

// Feeds the child its input, hands on its output, and waits for it to end.
// When a deadline, silence or cancelled() calls for it, walks its process
// group down `stop_signals`; a grace after the last one, stops waiting for
// pipes that something outside the group may still hold.
Result<Ended> supervise(Child& child, const std::string& program, const Watch& watch)
{
  Ended ended;
  size_t written = 0;
  if (watch.input.empty()) {
    child.in.reset();
  } else {
    ::fcntl(child.in.get(), F_SETFL, ::fcntl(child.in.get(), F_GETFL) | O_NONBLOCK);
  }

  // While running: when output was last seen and cancelled() last asked.
  // Once stopping: the next signal to send and when, until all are sent
  // and the pipes given up.
  auto last_output = SteadyClock::now();
  auto next_cancel_check = last_output;
  size_t next_signal = 0;
  SteadyClock::time_point next_step;
  bool given_up = false;

  auto step = [&] {
    if (next_signal < watch.stop_signals.size()) {
      signal_group(child.pid, watch.stop_signals[next_signal++]);
      next_step = SteadyClock::now() + watch.grace;
    } else {
      child.in.reset();
      child.out.reset();
      child.err.reset();
      given_up = true;
    }
  };

  int exit_check_ms = 1;
  while (true) {
    auto now = SteadyClock::now();
    if (ended.trigger == Trigger::none) {
      if (watch.deadline && now >= *watch.deadline) {
        ended.trigger = Trigger::timeout;
      } else if (watch.idle.count() > 0 && now >= last_output + watch.idle) {
        ended.trigger = Trigger::idle;
      } else if (watch.cancelled && now >= next_cancel_check) {
        next_cancel_check = now + cancel_check_interval;
        if (watch.cancelled()) {
          ended.trigger = Trigger::cancel;
        }
      }
      if (ended.trigger != Trigger::none) {
        step();
      }
    } else if (!given_up && now >= next_step) {
      step();
    }

    // When to look again if nothing happens before; none: only an event.
    std::optional<SteadyClock::time_point> wake;
    auto wake_by = [&wake](SteadyClock::time_point when) {
      wake = wake ? std::min(*wake, when) : when;
    };
    if (ended.trigger == Trigger::none) {
      if (watch.deadline) {
        wake_by(*watch.deadline);
      }
      if (watch.idle.count() > 0) {
        wake_by(last_output + watch.idle);
      }
      if (watch.cancelled) {
        wake_by(next_cancel_check);
      }
    } else if (!given_up) {
      wake_by(next_step);
    }

    if (!child.in && !child.out && !child.err) {
      // Output is complete; what is left is the child's exit.
      if (!wake) {
        ended.status = wait_for(child.pid);
        return ended;
      }
      pid_t done = ::waitpid(child.pid, &ended.status, WNOHANG);
      if (done == child.pid || (done < 0 && errno != EINTR)) {
        return ended;
      }
    }

    pollfd fds[3];
    nfds_t count = 0;
    int in_slot = -1, out_slot = -1, err_slot = -1;
    if (child.in) {
      in_slot = static_cast<int>(count);
      fds[count++] = {child.in.get(), POLLOUT, 0};
    }
    if (child.out) {
      out_slot = static_cast<int>(count);
      fds[count++] = {child.out.get(), POLLIN, 0};
    }
    if (child.err) {
      err_slot = static_cast<int>(count);
      fds[count++] = {child.err.get(), POLLIN, 0};
    }

    int wait_ms = -1;
    if (wake) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*wake - SteadyClock::now());
      wait_ms = static_cast<int>(std::clamp<long long>(left.count(), 0, 1000 * 1000));
    }
    if (count == 0) {
      // Only the exit is awaited, and something else is watched too: check
      // the exit soon, then less often.
      wait_ms = std::min(wait_ms, exit_check_ms);
      exit_check_ms = std::min(exit_check_ms * 2, 50);
    }
    int ready = ::poll(fds, count, wait_ms);
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      int error = errno;
      signal_group(child.pid, SIGKILL);
      wait_for(child.pid);
      return fail("lost track of {}: poll failed: {}", program, errno_text(error));
    }
    bool heard = false;
    if (in_slot >= 0 && fds[in_slot].revents != 0) {
      feed(child.in, watch.input, written);
    }
    if (out_slot >= 0 && fds[out_slot].revents != 0) {
      heard = drain(child.out, watch.on_out) || heard;
    }
    if (err_slot >= 0 && fds[err_slot].revents != 0) {
      heard = drain(child.err, watch.on_err) || heard;
    }
    if (heard) {
      last_output = SteadyClock::now();
    }
  }
}

} // namespace

Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                  const ProcessOptions& options)
{
  SigpipeBlock sigpipe_block;
  auto child =
    start_child(argv, options.cwd, Input::pipe, options.merge_stderr, sigpipe_block.old_mask());
  if (!child) {
    return child.error();
  }

  ProcessResult result;
  Watch watch;
  watch.input = options.stdin_data;
  watch.on_out = [&result](std::string_view data) { result.out.append(data); };
  watch.on_err = [&result](std::string_view data) { result.err.append(data); };
  if (options.timeout) {
    watch.deadline = SteadyClock::now() + *options.timeout;
  }
  watch.stop_signals = {SIGTERM, SIGKILL};
  watch.grace = kill_grace;

  auto ended = supervise(*child, printable(argv[0]), watch);
  if (!ended) {
    return ended.error();
  }
  result.timed_out = ended->trigger == Trigger::timeout;
  if (WIFEXITED(ended->status)) {
    result.exit_code = WEXITSTATUS(ended->status);
  } else if (WIFSIGNALED(ended->status)) {
    result.signal = WTERMSIG(ended->status);
  }
  return result;
}

Result<StreamResult> run_streaming(const std::vector<std::string>& argv,
                                   const StreamOptions& options)
{
  // Nothing is written to the child, so SIGPIPE needs no blocking: the
  // child simply starts with the mask we have.
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  auto child = start_child(argv, options.cwd, Input::null, true, mask);
  if (!child) {
    return child.error();
  }

  Watch watch;
  watch.on_out = options.on_output;
  if (options.timeout.count() > 0) {
    watch.deadline = SteadyClock::now() + options.timeout;
  }
  watch.idle = options.idle_timeout;
  watch.cancelled = options.cancelled;
  watch.stop_signals = {SIGINT, SIGTERM, SIGKILL};
  watch.grace = options.stop_grace;

  auto ended = supervise(*child, printable(argv[0]), watch);
  if (!ended) {
    return ended.error();
  }
  StreamResult result;
  if (WIFEXITED(ended->status)) {
    result.exit_code = WEXITSTATUS(ended->status);
  } else if (WIFSIGNALED(ended->status)) {
    result.signal = WTERMSIG(ended->status);
  }
  switch (ended->trigger) {
  case Trigger::timeout:
    result.end = StreamResult::End::timed_out;
    break;
  case Trigger::idle:
    result.end = StreamResult::End::idle;
    break;
  case Trigger::cancel:
    result.end = StreamResult::End::cancelled;
    break;
  case Trigger::none:
    result.end = result.signal != 0 ? StreamResult::End::killed : StreamResult::End::exited;
    break;
  }
  return result;
}

// Workers: util::spawn

namespace {

// In the child, after fork: set up descriptors and exec. Only
// async-signal-safe calls; on failure, exit 127 (the output file says why
// when it could be opened).
[[noreturn]] void exec_worker(const std::vector<char*>& argv, const SpawnOptions& options,
                              int output_fd)
{
  int null_fd = ::open("/dev/null", O_RDONLY);
  if (null_fd >= 0) {
    ::dup2(null_fd, STDIN_FILENO);
  }
  if (output_fd >= 0) {
    ::dup2(output_fd, STDOUT_FILENO);
    ::dup2(output_fd, STDERR_FILENO);
  }
  if (options.pass_fd >= 0) {
    if (options.pass_fd == 3) {
      ::fcntl(3, F_SETFD, 0); // keep it across exec
    } else {
      ::dup2(options.pass_fd, 3); // dup2 clears close-on-exec on fd 3
    }
  }
  ::close_range(options.pass_fd >= 0 ? 4 : 3, UINT_MAX, 0);
  ::execv(argv[0], argv.data());
  const char message[] = "buildme: cannot start the worker program\n";
  [[maybe_unused]] auto ignored = ::write(STDERR_FILENO, message, sizeof message - 1);
  ::_exit(127);
}

} // namespace

Result<pid_t> spawn(const std::vector<std::string>& argv, const SpawnOptions& options)
{
  if (argv.empty() || !argv[0].starts_with('/')) {
    return fail("spawn needs an absolute program path");
  }
  std::vector<char*> args;
  for (const auto& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);

  int output_fd = -1;
  if (!options.output.empty()) {
    output_fd = ::open(options.output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (output_fd < 0) {
      return fail("cannot open {}: {}", options.output.string(), std::strerror(errno));
    }
  }

  const pid_t child = ::fork();
  if (child < 0) {
    const int error = errno;
    if (output_fd >= 0) {
      ::close(output_fd);
    }
    return fail("cannot start {}: fork: {}", argv[0], std::strerror(error));
  }
  if (child == 0) {
    if (options.detach) {
      ::setsid();
      // Fork again so that the worker is not our child: the starter never
      // has to reap it, and init does.
      const pid_t grandchild = ::fork();
      if (grandchild != 0) {
        ::_exit(grandchild < 0 ? 127 : 0);
      }
    }
    exec_worker(args, options, output_fd);
  }
  if (output_fd >= 0) {
    ::close(output_fd);
  }
  if (!options.detach) {
    return child;
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fail("cannot start {}: the detaching fork failed", argv[0]);
  }
  return 0;
}

int wait_child(pid_t pid)
{
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return -1;
    }
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return WEXITSTATUS(status);
}

Result<std::string> self_executable()
{
  char path[PATH_MAX];
  const ssize_t length = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (length <= 0) {
    return fail("cannot find the running program: readlink /proc/self/exe: {}",
                std::strerror(errno));
  }
  return std::string(path, static_cast<std::size_t>(length));
}

} // namespace buildme::util
