#include "util/spawn.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace buildme::util {

namespace {

// In the child, after fork: set up descriptors and exec. Only
// async-signal-safe calls; on failure, exit 127 (the output file says why
// when it could be opened).
[[noreturn]] void exec_child(const std::vector<char*>& argv, const SpawnOptions& options,
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
    exec_child(args, options, output_fd);
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
