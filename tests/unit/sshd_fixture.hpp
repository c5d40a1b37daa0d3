// A real OpenSSH server for one test: its own folder, host key, client key,
// authorized_keys and sshd_config, listening on 127.0.0.1 at a free port,
// letting in the user the tests run as. Stopped (with every session it
// started) when the fixture goes. A missing sshd fails the test: the SSH
// code is only ever tested against the real thing.
#pragma once

#include "builder/ssh_host.hpp"
#include "util/process.hpp"

#include "scratch.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace buildme::test {

class SshServer
{
public:
  static constexpr const char* sshd = "/usr/sbin/sshd";

  SshServer()
  {
    REQUIRE_MESSAGE(std::filesystem::exists(sshd),
                    sshd << " is missing: install openssh-server to run the SSH tests");
    // sshd insists on its privilege separation folder even for tests.
    ::mkdir("/run/sshd", 0755);

    keygen(m_dir / "host_key");
    keygen(m_dir / "id_ed25519");
    keygen(m_dir / "other_key");
    m_dir.write("authorized_keys", ScratchDir::read(m_dir / "id_ed25519.pub"));
    ::chmod((m_dir / "authorized_keys").c_str(), 0600);

    m_port = free_port();
    m_dir.write("sshd_config", "ListenAddress 127.0.0.1\n"
                               "Port " +
                                 std::to_string(m_port) +
                                 "\n"
                                 "HostKey " +
                                 (m_dir / "host_key").string() +
                                 "\n"
                                 "AuthorizedKeysFile " +
                                 (m_dir / "authorized_keys").string() +
                                 "\n"
                                 "PidFile " +
                                 (m_dir / "sshd.pid").string() +
                                 "\n"
                                 "PasswordAuthentication no\n"
                                 "KbdInteractiveAuthentication no\n"
                                 "UsePAM no\n"
                                 "StrictModes no\n"
                                 "PermitRootLogin yes\n"
                                 "LogLevel VERBOSE\n"
                                 "Subsystem sftp internal-sftp\n"
                                 // Hermetic sessions: Debian's bash sources ~/.bashrc for a
                                 // command run over ssh only while it is a top-level shell
                                 // (SHLVL < 2 after its own increment); SHLVL=1 here makes
                                 // it 2, so the user's startup files never run in a test.
                                 "SetEnv SHLVL=1\n");
    m_dir.write("known_hosts", known_hosts_line(m_dir / "host_key.pub"));
    start();
  }

  ~SshServer() { kill_all(); }
  SshServer(const SshServer&) = delete;
  SshServer& operator=(const SshServer&) = delete;

  int port() const { return m_port; }
  const ScratchDir& dir() const { return m_dir; }
  std::filesystem::path path(std::string_view name) const { return m_dir / name; }

  // "[127.0.0.1]:PORT <key>" for a public key file.
  std::string known_hosts_line(const std::filesystem::path& public_key) const
  {
    return "[127.0.0.1]:" + std::to_string(m_port) + " " + ScratchDir::read(public_key);
  }

  // A target that connects: the authorized key, the right known_hosts.
  builder::SshTarget target() const
  {
    builder::SshTarget target;
    target.host = "127.0.0.1";
    target.port = m_port;
    target.user = user();
    target.identity = (m_dir / "id_ed25519").string();
    target.known_hosts = (m_dir / "known_hosts").string();
    target.connect_timeout = std::chrono::seconds(10);
    return target;
  }

  static std::string user()
  {
    const passwd* entry = ::getpwuid(::geteuid());
    REQUIRE_MESSAGE(entry != nullptr, "the user running the tests has no passwd entry");
    return entry->pw_name;
  }

  // SIGKILL to the listener and every process below it (the per-connection
  // sshd processes and the commands they run): a builder whose sshd dies.
  void kill_all()
  {
    if (m_pid <= 0) {
      return;
    }
    auto pids = descendants(m_pid);
    pids.push_back(m_pid);
    for (pid_t pid : pids) {
      ::kill(pid, SIGKILL);
    }
    ::waitpid(m_pid, nullptr, 0);
    m_pid = -1;
  }

  std::string log() const { return ScratchDir::read(m_dir / "sshd.log"); }

private:
  static void keygen(const std::filesystem::path& file)
  {
    auto result = util::run_process(
      {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "buildme-test", "-f", file.string()});
    REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.message())
                                   << " (install openssh-client for ssh-keygen)");
    REQUIRE_MESSAGE(result->exit_code == 0, "ssh-keygen failed: " << result->err);
  }

  // A port that was free a moment ago; sshd binds it right after.
  static int free_port()
  {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    ::close(fd);
    return ntohs(address.sin_port);
  }

  static bool accepts(int port)
  {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return ok;
  }

  void start()
  {
    std::string config = (m_dir / "sshd_config").string();
    std::string log = (m_dir / "sshd.log").string();
    m_pid = ::fork();
    REQUIRE(m_pid >= 0);
    if (m_pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::setpgid(0, 0);
      // A test that crashes takes its sshd with it.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      ::execl(sshd, sshd, "-D", "-e", "-f", config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!accepts(m_port)) {
      int status = 0;
      if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_pid = -1;
        FAIL("sshd did not start: " << this->log());
      }
      if (std::chrono::steady_clock::now() > deadline) {
        kill_all(); // the destructor of a half-made fixture does not run
        FAIL("sshd does not listen after 10 s: " << this->log());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  static std::vector<pid_t> descendants(pid_t root)
  {
    std::vector<std::pair<pid_t, pid_t>> parents; // (pid, ppid)
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) {
        continue;
      }
      std::ifstream stat(entry.path() / "stat");
      std::string line;
      if (!std::getline(stat, line)) {
        continue;
      }
      auto close = line.rfind(')');
      if (close == std::string::npos) {
        continue;
      }
      std::istringstream fields(line.substr(close + 2));
      std::string state;
      pid_t ppid = 0;
      fields >> state >> ppid;
      parents.emplace_back(std::stoi(name), ppid);
    }
    std::vector<pid_t> found{root};
    for (std::size_t i = 0; i < found.size(); ++i) {
      for (auto [pid, ppid] : parents) {
        if (ppid == found[i]) {
          found.push_back(pid);
        }
      }
    }
    found.erase(found.begin());
    return found;
  }

  ScratchDir m_dir;
  int m_port = 0;
  pid_t m_pid = -1;
};

} // namespace buildme::test
