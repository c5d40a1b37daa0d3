#include "builder/ssh_host.hpp"

#include "util/fs.hpp"
#include "util/text.hpp"

#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <deque>
#include <optional>
#include <system_error>
#include <utility>

namespace buildme::builder {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using util::printable;

// What a stopped command gets after each signal before the next, stronger one.
constexpr std::chrono::seconds stop_grace{3};
// How long run() waits for output before it looks at the clocks and at
// cancelled() again.
constexpr int poll_ms = 100;

// libssh 0.10 sends each sftp_write as one SFTP request and waits for its
// answer, so the request size sets the upload speed. OpenSSH's sftp-server
// takes messages of up to 256 KiB and announces (limits@openssh.com) 261120
// bytes of data per write; this stays within that.
constexpr std::size_t write_chunk = 255 * 1024;
// Downloads keep reads in flight so that the link never waits for a round
// trip: 2 MiB, as OpenSSH's own sftp client does, in 64 KiB requests, which
// every OpenSSH sftp-server answers whole. A server that answers with less
// makes the request size shrink to its own.
constexpr std::uint32_t read_chunk = 64 * 1024;
constexpr std::size_t reads_in_flight = 32;

// The first line the remote shell writes (to stderr) names its process
// group, which run() needs to stop the command with all its children.
constexpr std::string_view pgid_marker = "BUILDME-PGID ";

struct ChannelFree
{
  void operator()(ssh_channel channel) const { ssh_channel_free(channel); }
};
using Channel = std::unique_ptr<ssh_channel_struct, ChannelFree>;

struct SftpFileClose
{
  void operator()(sftp_file file) const { sftp_close(file); }
};
using SftpFile = std::unique_ptr<sftp_file_struct, SftpFileClose>;

struct AttributesFree
{
  void operator()(sftp_attributes attributes) const { sftp_attributes_free(attributes); }
};
using Attributes = std::unique_ptr<sftp_attributes_struct, AttributesFree>;

std::string_view file_type_name(std::uint8_t type)
{
  switch (type) {
  case SSH_FILEXFER_TYPE_REGULAR:
    return "a regular file";
  case SSH_FILEXFER_TYPE_DIRECTORY:
    return "a folder";
  case SSH_FILEXFER_TYPE_SYMLINK:
    return "a symlink";
  case SSH_FILEXFER_TYPE_SPECIAL:
    return "a special file";
  default:
    return "of unknown type";
  }
}

// rm -rf is only for work folders: an absolute or home-relative path that
// names something below its start, never the start itself, never with "..".
bool removable_path(const std::string& dir)
{
  auto parts = util::split(dir, "/");
  bool below_start = false;
  for (auto part : parts) {
    if (part == "..") {
      return false;
    }
    if (part != ".") {
      below_start = true;
    }
  }
  return below_start;
}

Status write_all(int fd, const char* data, std::size_t size, const fs::path& path)
{
  while (size > 0) {
    ssize_t written = ::write(fd, data, size);
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail("cannot write {}: {}", printable(path.string()), util::errno_text(errno));
    }
    data += written;
    size -= static_cast<std::size_t>(written);
  }
  return {};
}

// A temporary file beside a download's target, removed unless kept.
class LocalTemp
{
public:
  static Result<LocalTemp> create(const fs::path& target)
  {
    fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::string pattern =
      (dir / ("." + target.filename().string() + ".buildme-tmp-XXXXXX")).string();
    int fd = ::mkostemp(pattern.data(), O_CLOEXEC);
    if (fd < 0) {
      return fail("cannot create a temporary file in {}: {}", printable(dir.string()),
                  util::errno_text(errno));
    }
    // Results are read by other programs (queue-manage, the status page).
    ::fchmod(fd, 0644);
    return LocalTemp(std::move(pattern), fd);
  }
  LocalTemp(LocalTemp&& other) noexcept
    : m_path(std::exchange(other.m_path, {})), m_fd(std::exchange(other.m_fd, -1))
  {
  }
  LocalTemp& operator=(LocalTemp&&) = delete;
  ~LocalTemp()
  {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    if (!m_path.empty()) {
      ::unlink(m_path.c_str());
    }
  }

  const std::string& path() const { return m_path; }
  int fd() const { return m_fd; }
  Status close()
  {
    int fd = std::exchange(m_fd, -1);
    if (::close(fd) != 0) {
      return fail("cannot write {}: {}", printable(m_path), util::errno_text(errno));
    }
    return {};
  }
  void keep() { m_path.clear(); }

private:
  LocalTemp(std::string path, int fd) : m_path(std::move(path)), m_fd(fd) {}

  std::string m_path;
  int m_fd = -1;
};

// Passes a command's output on as it comes, less the marker line that the
// remote shell writes first. Login scripts may print before it, so stderr
// is held line by line until the marker shows.
class OutputFilter
{
public:
  explicit OutputFilter(const std::function<void(std::string_view)>& sink) : m_sink(sink) {}

  void stdout_data(std::string_view data) { emit(data); }

  void stderr_data(std::string_view data)
  {
    if (m_pgid || m_gave_up) {
      emit(data);
      return;
    }
    m_pending.append(data);
    std::size_t end;
    while (!m_pgid && (end = m_pending.find('\n')) != std::string::npos) {
      std::string_view line(m_pending.data(), end);
      if (auto pgid = parse_marker(line)) {
        m_pgid = pgid;
        emit(std::string_view(m_pending).substr(end + 1));
        m_pending.clear();
        return;
      }
      emit(std::string_view(m_pending).substr(0, end + 1));
      m_pending.erase(0, end + 1);
    }
    // A remote shell that does not write the marker: no process group.
    if (m_pending.size() > 4096) {
      flush();
      m_gave_up = true;
    }
  }

  void flush()
  {
    emit(m_pending);
    m_pending.clear();
  }

  std::optional<long> pgid() const { return m_pgid; }

private:
  static std::optional<long> parse_marker(std::string_view line)
  {
    if (line.substr(0, pgid_marker.size()) != pgid_marker) {
      return std::nullopt;
    }
    auto digits = line.substr(pgid_marker.size());
    long value = 0;
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (error != std::errc() || end != digits.data() + digits.size() || value <= 1) {
      return std::nullopt;
    }
    return value;
  }

  void emit(std::string_view data)
  {
    if (!data.empty() && m_sink) {
      m_sink(data);
    }
  }

  const std::function<void(std::string_view)>& m_sink;
  std::string m_pending;
  std::optional<long> m_pgid;
  bool m_gave_up = false;
};

class SshHost final : public Host
{
public:
  explicit SshHost(SshTarget target) : m_target(std::move(target)) {}
  ~SshHost() override
  {
    if (m_sftp) {
      sftp_free(m_sftp);
    }
    if (m_session) {
      ssh_disconnect(m_session);
      ssh_free(m_session);
    }
  }
  SshHost(const SshHost&) = delete;
  SshHost& operator=(const SshHost&) = delete;

  Status connect();

  std::string name() const override
  {
    return fmt::format("{}@{}:{}", m_target.user, m_target.host, m_target.port);
  }

  Status make_dir(const std::string& dir) override;
  Status remove_tree(const std::string& dir) override;
  Status upload(const fs::path& local, const std::string& remote, mode_t mode) override;
  Status download(const std::string& remote, const fs::path& local,
                  std::uint64_t max_size) override;
  Result<std::vector<RemoteFile>> list_dir(const std::string& dir) override;
  Result<ExecResult> run(const std::vector<std::string>& argv, const std::string& cwd,
                         const ExecOptions& options) override;

private:
  std::string address() const { return fmt::format("{}:{}", m_target.host, m_target.port); }
  std::string why() const { return printable(ssh_get_error(m_session)); }
  std::string on_host(const std::string& path) const
  {
    return fmt::format("{} on {}", printable(path), name());
  }
  Status check_host_key();
  Status authenticate();
  void enable_tcp_keepalive();
  Status open_sftp();

  enum class Pumped
  {
    running,
    ended,
    lost
  };
  // What run() does while the command runs: wait up to `wait_ms` for
  // output and pass on all there is; `got_output` says whether there was any.
  Pumped pump(ssh_channel channel, OutputFilter& output, int wait_ms, bool& got_output);
  // Sends `signal` to the command's process group, from a second channel.
  Status signal_group(ssh_channel command, std::optional<long> pgid, const char* signal);
  Error lost_connection(const std::vector<std::string>& argv) const
  {
    return fail("lost connection to {} while running {}: {}", name(),
                printable(argv.empty() ? std::string() : argv[0]), why());
  }

  SshTarget m_target;
  ssh_session m_session = nullptr;
  sftp_session m_sftp = nullptr;
};

Status SshHost::connect()
{
  const auto& t = m_target;
  if (t.host.empty() || t.host.find_first_of("@ \t\n") != std::string::npos) {
    return fail("builder host name \"{}\" is not a host name", printable(t.host));
  }
  if (t.port <= 0 || t.port > 65535) {
    return fail("port {} of builder {} is not a TCP port", t.port, printable(t.host));
  }
  m_session = ssh_new();
  if (!m_session) {
    return fail("cannot start an SSH session for {}: out of memory", name());
  }
  unsigned int port = static_cast<unsigned int>(t.port);
  long timeout = static_cast<long>(t.connect_timeout.count());
  bool process_config = false;
  // SFTP requests are small packets sent while earlier ones are unanswered:
  // with Nagle's algorithm each would wait for a delayed ACK (a 200 MB
  // upload in 64 KiB writes took 90 s instead of 1).
  int no_delay = 1;
  // Both known_hosts options: libssh also reads the global file
  // (/etc/ssh/ssh_known_hosts) unless told otherwise, and the contract is
  // that the configured file alone decides.
  if (ssh_options_set(m_session, SSH_OPTIONS_HOST, t.host.c_str()) != SSH_OK ||
      ssh_options_set(m_session, SSH_OPTIONS_PORT, &port) != SSH_OK ||
      (!t.user.empty() && ssh_options_set(m_session, SSH_OPTIONS_USER, t.user.c_str()) != SSH_OK) ||
      ssh_options_set(m_session, SSH_OPTIONS_TIMEOUT, &timeout) != SSH_OK ||
      ssh_options_set(m_session, SSH_OPTIONS_KNOWNHOSTS, t.known_hosts.c_str()) != SSH_OK ||
      ssh_options_set(m_session, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, t.known_hosts.c_str()) != SSH_OK ||
      ssh_options_set(m_session, SSH_OPTIONS_PROCESS_CONFIG, &process_config) != SSH_OK ||
      ssh_options_set(m_session, SSH_OPTIONS_NODELAY, &no_delay) != SSH_OK) {
    return fail("cannot set up the SSH session for {}: {}", name(), why());
  }
  if (t.user.empty()) {
    char* user = nullptr;
    if (ssh_options_get(m_session, SSH_OPTIONS_USER, &user) == SSH_OK) {
      m_target.user = user;
      ssh_string_free_char(user);
    }
  }
  if (ssh_connect(m_session) != SSH_OK) {
    return fail("cannot connect to {}: {}", address(), why());
  }
  TRY(check_host_key());
  TRY(authenticate());
  enable_tcp_keepalive();
  return {};
}

Status SshHost::check_host_key()
{
  ssh_key key = nullptr;
  if (ssh_get_server_publickey(m_session, &key) != SSH_OK) {
    return fail("{} sent no host key: {}", address(), why());
  }
  std::string fingerprint;
  unsigned char* hash = nullptr;
  std::size_t hash_length = 0;
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hash_length) == 0) {
    char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hash_length);
    if (text) {
      fingerprint = fmt::format("{} {}", ssh_key_type_to_char(ssh_key_type(key)), text);
      ssh_string_free_char(text);
    }
    ssh_clean_pubkey_hash(&hash);
  }
  ssh_key_free(key);
  if (fingerprint.empty()) {
    return fail("cannot compute the fingerprint of the host key of {}: {}", address(), why());
  }

  const auto& known_hosts = m_target.known_hosts;
  switch (ssh_session_is_known_server(m_session)) {
  case SSH_KNOWN_HOSTS_OK:
    return {};
  case SSH_KNOWN_HOSTS_CHANGED:
  case SSH_KNOWN_HOSTS_OTHER:
    return fail("host key of {} has CHANGED (now {}) from the one in {}: someone may be "
                "impersonating the builder, or it was reinstalled; check the new fingerprint "
                "on the builder itself before replacing its line in {}; refusing to connect",
                address(), fingerprint, printable(known_hosts), printable(known_hosts));
  case SSH_KNOWN_HOSTS_UNKNOWN:
  case SSH_KNOWN_HOSTS_NOT_FOUND:
    return fail("host key of {} is not in {} ({}); add it after checking the fingerprint, "
                "e.g. ssh-keyscan -p {} {} >> {}",
                address(), printable(known_hosts), fingerprint, m_target.port,
                printable(m_target.host), printable(known_hosts));
  case SSH_KNOWN_HOSTS_ERROR:
    break;
  }
  return fail("cannot check the host key of {} against {}: {}", address(), printable(known_hosts),
              why());
}

Status SshHost::authenticate()
{
  const auto& identity = m_target.identity;
  ssh_key key = nullptr;
  if (ssh_pki_import_privkey_file(identity.c_str(), nullptr, nullptr, nullptr, &key) != SSH_OK) {
    return fail("cannot read the private key {} to log in as {} on {}: it must exist, be "
                "readable by this user and have no passphrase",
                printable(identity), printable(m_target.user), address());
  }
  int result = ssh_userauth_publickey(m_session, nullptr, key);
  ssh_key_free(key);
  if (result == SSH_AUTH_SUCCESS) {
    return {};
  }
  if (result == SSH_AUTH_ERROR) {
    return fail("cannot log in as {} on {} with {}: {}", printable(m_target.user), address(),
                printable(identity), why());
  }
  return fail("{} refused the key {} for user {}: add {}.pub to ~{}/.ssh/authorized_keys "
              "on {}",
              address(), printable(identity), printable(m_target.user), printable(identity),
              printable(m_target.user), printable(m_target.host));
}

// A builder that vanishes (power cut, network gone) sends no FIN; TCP
// keepalive notices within minutes instead of after the build timeout.
void SshHost::enable_tcp_keepalive()
{
  int fd = ssh_get_fd(m_session);
  if (fd < 0) {
    return;
  }
  int on = 1, idle = 60, interval = 10, count = 6;
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

Status SshHost::open_sftp()
{
  if (m_sftp) {
    return {};
  }
  sftp_session sftp = sftp_new(m_session);
  if (!sftp) {
    return fail("cannot open an SFTP session on {}: {}", name(), why());
  }
  if (sftp_init(sftp) != SSH_OK) {
    auto error = fail("cannot start SFTP on {} (is the sftp subsystem enabled in its "
                      "sshd_config?): {}",
                      name(), why());
    sftp_free(sftp);
    return error;
  }
  m_sftp = sftp;
  return {};
}

Status SshHost::make_dir(const std::string& dir)
{
  if (dir.empty()) {
    return fail("cannot make a folder with an empty name on {}", name());
  }
  TRY(open_sftp());
  std::string path = dir.front() == '/' ? "/" : "";
  for (auto part : util::split(dir, "/")) {
    path += part;
    if (sftp_mkdir(m_sftp, path.c_str(), 0755) != SSH_OK) {
      std::string error = why();
      Attributes existing(sftp_stat(m_sftp, path.c_str()));
      if (!existing) {
        return fail("cannot make folder {}: {}", on_host(path), error);
      }
      if (existing->type != SSH_FILEXFER_TYPE_DIRECTORY) {
        return fail("cannot make folder {}: {} of that name is in the way", on_host(path),
                    file_type_name(existing->type));
      }
    }
    path += '/';
  }
  return {};
}

Status SshHost::remove_tree(const std::string& dir)
{
  if (!removable_path(dir)) {
    return fail("refusing to remove \"{}\" on {}: a work folder is never empty, the root, "
                "the home folder or a path with ..",
                printable(dir), name());
  }
  std::string output;
  ExecOptions options;
  options.timeout = std::chrono::hours(1);
  options.on_output = [&output](std::string_view data) {
    output.append(data.substr(0, 1000 - std::min<std::size_t>(output.size(), 1000)));
  };
  auto result = run({"rm", "-rf", "--", dir}, "", options);
  if (!result) {
    return result.error();
  }
  if (result->end != ExecResult::End::exited || result->exit_code != 0) {
    return fail("cannot remove {}: rm {} (exit code {}): {}", on_host(dir), describe(result->end),
                result->exit_code, printable(util::trim(output)));
  }
  return {};
}

Status SshHost::upload(const fs::path& local, const std::string& remote, mode_t mode)
{
  auto source = util::open_regular_file(local);
  if (!source) {
    return source.error();
  }
  TRY(open_sftp());
  const std::string temp = remote + std::string(upload_suffix);
  // A leftover of an upload that was cut off: sftp_open would truncate it
  // anyway, but it may belong to another user or be a symlink.
  sftp_unlink(m_sftp, temp.c_str());

  SftpFile file(sftp_open(m_sftp, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600));
  if (!file) {
    return fail("cannot create {}: {}", on_host(temp), why());
  }
  auto send = [&]() -> Status {
    std::vector<char> buffer(write_chunk);
    while (true) {
      ssize_t got = ::read(source->fd(), buffer.data(), buffer.size());
      if (got < 0) {
        if (errno == EINTR) {
          continue;
        }
        return fail("cannot read {}: {}", printable(local.string()), util::errno_text(errno));
      }
      if (got == 0) {
        return {};
      }
      const char* data = buffer.data();
      auto left = static_cast<std::size_t>(got);
      while (left > 0) {
        ssize_t sent = sftp_write(file.get(), data, left);
        if (sent <= 0) {
          return fail("cannot write {}: {}", on_host(temp), why());
        }
        data += sent;
        left -= static_cast<std::size_t>(sent);
      }
    }
  };
  Status status = send();
  if (sftp_close(file.release()) != SSH_OK && status) {
    status = fail("cannot write {}: {}", on_host(temp), why());
  }
  if (status && sftp_chmod(m_sftp, temp.c_str(), mode) != SSH_OK) {
    status = fail("cannot set the mode of {}: {}", on_host(temp), why());
  }
  if (status && sftp_rename(m_sftp, temp.c_str(), remote.c_str()) != SSH_OK) {
    // SFTP v3 rename does not replace; an older regular file of the same
    // name (a resend) goes first.
    std::string error = why();
    Attributes existing(sftp_lstat(m_sftp, remote.c_str()));
    if (!existing || existing->type != SSH_FILEXFER_TYPE_REGULAR ||
        sftp_unlink(m_sftp, remote.c_str()) != SSH_OK ||
        sftp_rename(m_sftp, temp.c_str(), remote.c_str()) != SSH_OK) {
      status = fail("cannot rename {} to {}: {}", on_host(temp), printable(remote), error);
    }
  }
  if (!status && ssh_is_connected(m_session)) {
    sftp_unlink(m_sftp, temp.c_str());
  }
  return status;
}

Status SshHost::download(const std::string& remote, const fs::path& local, std::uint64_t max_size)
{
  TRY(open_sftp());
  Attributes attributes(sftp_lstat(m_sftp, remote.c_str()));
  if (!attributes) {
    return fail("cannot fetch {}: {}", on_host(remote), why());
  }
  if (attributes->type != SSH_FILEXFER_TYPE_REGULAR) {
    return fail("refusing to fetch {}: it is {}, not a regular file", on_host(remote),
                file_type_name(attributes->type));
  }
  if (attributes->size > max_size) {
    return fail("refusing to fetch {}: it has {} bytes, more than the limit of {}", on_host(remote),
                attributes->size, max_size);
  }
  auto existing = util::stat_no_follow(local);
  if (!existing) {
    return existing.error();
  }
  if (*existing) {
    return fail("cannot fetch {} to {}: the target exists already", on_host(remote),
                printable(local.string()));
  }

  SftpFile file(sftp_open(m_sftp, remote.c_str(), O_RDONLY, 0));
  if (!file) {
    return fail("cannot open {}: {}", on_host(remote), why());
  }
  auto temp = LocalTemp::create(local);
  if (!temp) {
    return temp.error();
  }

  struct Request
  {
    int id;
    std::uint32_t length;
  };
  std::deque<Request> in_flight;
  std::uint64_t next_offset = 0; // where the next request starts
  std::uint64_t received = 0;    // bytes written to the temporary file
  std::uint32_t chunk = read_chunk;
  bool at_end = false;
  std::vector<char> buffer(read_chunk);

  // Every request sent must be read back, or libssh keeps its answer.
  auto drain = [&] {
    while (!in_flight.empty()) {
      sftp_async_read(file.get(), buffer.data(), in_flight.front().length,
                      static_cast<std::uint32_t>(in_flight.front().id));
      in_flight.pop_front();
    }
  };

  while (!at_end || !in_flight.empty()) {
    while (!at_end && in_flight.size() < reads_in_flight) {
      sftp_seek64(file.get(), next_offset);
      int id = sftp_async_read_begin(file.get(), chunk);
      if (id < 0) {
        drain();
        return fail("cannot read {}: {}", on_host(remote), why());
      }
      in_flight.push_back({id, chunk});
      next_offset += chunk;
    }
    Request request = in_flight.front();
    in_flight.pop_front();
    int got = sftp_async_read(file.get(), buffer.data(), request.length,
                              static_cast<std::uint32_t>(request.id));
    if (got < 0) {
      drain();
      return fail("cannot read {}: {}", on_host(remote), why());
    }
    if (got == 0) {
      at_end = true;
      drain();
      break;
    }
    auto length = static_cast<std::uint32_t>(got);
    if (received + length > max_size) {
      drain();
      return fail("refusing to fetch {}: it grew beyond the limit of {} bytes", on_host(remote),
                  max_size);
    }
    if (auto written = write_all(temp->fd(), buffer.data(), length, temp->path()); !written) {
      drain();
      return written;
    }
    received += length;
    if (length < request.length) {
      // The requests behind this one asked for the wrong offsets.
      drain();
      next_offset = received;
      chunk = length;
    }
  }
  file.reset();

  TRY(temp->close());
  TRY(util::move_exclusive(temp->path(), local));
  temp->keep();
  return {};
}

Result<std::vector<RemoteFile>> SshHost::list_dir(const std::string& dir)
{
  TRY(open_sftp());
  sftp_dir handle = sftp_opendir(m_sftp, dir.c_str());
  if (!handle) {
    return fail("cannot list {}: {}", on_host(dir), why());
  }
  std::vector<RemoteFile> files;
  while (Attributes entry{sftp_readdir(m_sftp, handle)}) {
    std::string entry_name = entry->name ? entry->name : "";
    if (entry_name.empty() || entry_name == "." || entry_name == "..") {
      continue;
    }
    files.push_back({entry_name, entry->size, entry->type == SSH_FILEXFER_TYPE_REGULAR});
  }
  bool complete = sftp_dir_eof(handle);
  std::string error = why();
  sftp_closedir(handle);
  if (!complete) {
    return fail("cannot list {}: {}", on_host(dir), error);
  }
  std::sort(files.begin(), files.end(),
            [](const RemoteFile& a, const RemoteFile& b) { return a.name < b.name; });
  return files;
}

SshHost::Pumped SshHost::pump(ssh_channel channel, OutputFilter& output, int wait_ms,
                              bool& got_output)
{
  if (ssh_channel_is_eof(channel)) {
    // The output has ended but the channel is open: the command (or what
    // it left behind) still runs. libssh's channel calls all return at once
    // at end of output, so wait on the session itself for the exit status
    // and the close that follow.
    ssh_event event = ssh_event_new();
    if (!event || ssh_event_add_session(event, m_session) != SSH_OK) {
      ssh_event_free(event);
      return Pumped::lost;
    }
    int polled = ssh_event_dopoll(event, wait_ms);
    ssh_event_remove_session(event, m_session);
    ssh_event_free(event);
    if (polled == SSH_ERROR) {
      return Pumped::lost;
    }
  } else {
    if (ssh_channel_poll_timeout(channel, wait_ms, 0) == SSH_ERROR) {
      return Pumped::lost;
    }
    char buffer[32 * 1024];
    for (int is_stderr : {0, 1}) {
      while (true) {
        int got = ssh_channel_read_nonblocking(channel, buffer, sizeof buffer, is_stderr);
        if (got == SSH_ERROR) {
          return Pumped::lost;
        }
        if (got <= 0) {
          break;
        }
        got_output = true;
        std::string_view data(buffer, static_cast<std::size_t>(got));
        if (is_stderr) {
          output.stderr_data(data);
        } else {
          output.stdout_data(data);
        }
      }
    }
  }
  if (!ssh_is_connected(m_session)) {
    return Pumped::lost;
  }
  // sshd closes the channel once the command has exited and its output has
  // ended; the exit status comes before the close.
  return ssh_channel_is_closed(channel) ? Pumped::ended : Pumped::running;
}

Status SshHost::signal_group(ssh_channel command, std::optional<long> pgid, const char* signal)
{
  if (!pgid) {
    // The marker never came (a shell that does not print it): the best left
    // is the SSH "signal" request, which reaches the command but not its
    // children.
    ssh_channel_request_send_signal(command, signal);
    return {};
  }
  Channel channel(ssh_channel_new(m_session));
  if (!channel || ssh_channel_open_session(channel.get()) != SSH_OK) {
    return fail("cannot open a channel to {} to stop a command: {}", name(), why());
  }
  // `kill -SIG -PGID`: dash's kill takes no "--".
  std::string kill = fmt::format("kill -{} -{}", signal, *pgid);
  if (ssh_channel_request_exec(channel.get(), kill.c_str()) != SSH_OK) {
    return fail("cannot run kill on {}: {}", name(), why());
  }
  ssh_channel_send_eof(channel.get());
  // Wait for kill to finish, so the grace period starts when the signal has
  // been sent; its own output (no such process, ...) does not matter.
  char ignored[1024];
  auto deadline = Clock::now() + stop_grace;
  while (!ssh_channel_is_eof(channel.get()) && !ssh_channel_is_closed(channel.get()) &&
         Clock::now() < deadline) {
    if (ssh_channel_poll_timeout(channel.get(), poll_ms, 0) == SSH_ERROR) {
      return fail("lost connection to {}: {}", name(), why());
    }
    for (int is_stderr : {0, 1}) {
      while (ssh_channel_read_nonblocking(channel.get(), ignored, sizeof ignored, is_stderr) > 0) {
      }
    }
  }
  return {};
}

Result<ExecResult> SshHost::run(const std::vector<std::string>& argv, const std::string& cwd,
                                const ExecOptions& options)
{
  if (argv.empty()) {
    return fail("no command given to run on {}", name());
  }
  // sshd starts the command through the user's shell as a session leader,
  // so the shell's $$ is the process group of the command and all it starts.
  std::string command = fmt::format("echo {}$$ >&2; ", pgid_marker);
  if (!cwd.empty()) {
    command += "cd -- " + shell_quote(cwd) + " && ";
  }
  command += "exec " + shell_command(argv);

  Channel channel(ssh_channel_new(m_session));
  if (!channel || ssh_channel_open_session(channel.get()) != SSH_OK) {
    if (!ssh_is_connected(m_session)) {
      return lost_connection(argv);
    }
    return fail("cannot open a channel on {} to run {}: {}", name(), printable(argv[0]), why());
  }
  if (ssh_channel_request_exec(channel.get(), command.c_str()) != SSH_OK) {
    if (!ssh_is_connected(m_session)) {
      return lost_connection(argv);
    }
    return fail("cannot run {} on {}: {}", printable(argv[0]), name(), why());
  }
  // Nothing is sent to the command: a program that reads stdin sees its end
  // instead of waiting forever.
  ssh_channel_send_eof(channel.get());

  OutputFilter output(options.on_output);
  const auto start = Clock::now();
  auto last_output = start;
  std::optional<ExecResult::End> stop;
  bool finished = false;

  while (!finished && !stop) {
    bool got_output = false;
    auto pumped = pump(channel.get(), output, poll_ms, got_output);
    if (pumped == Pumped::lost) {
      return lost_connection(argv);
    }
    finished = pumped == Pumped::ended;
    auto now = Clock::now();
    if (got_output) {
      last_output = now;
    }
    if (finished) {
      break;
    }
    if (options.timeout.count() > 0 && now - start >= options.timeout) {
      stop = ExecResult::End::timed_out;
    } else if (options.idle_timeout.count() > 0 && now - last_output >= options.idle_timeout) {
      stop = ExecResult::End::idle;
    } else if (options.cancelled && options.cancelled()) {
      stop = ExecResult::End::cancelled;
    }
  }

  if (stop) {
    // A command stopped very early may not have named its process group
    // yet; the name is the first thing it writes.
    auto deadline = Clock::now() + stop_grace;
    while (!finished && !output.pgid() && Clock::now() < deadline) {
      bool ignored = false;
      auto pumped = pump(channel.get(), output, poll_ms, ignored);
      if (pumped == Pumped::lost) {
        return lost_connection(argv);
      }
      finished = pumped == Pumped::ended;
    }
    for (const char* signal : {"INT", "TERM", "KILL"}) {
      if (finished) {
        break;
      }
      if (auto sent = signal_group(channel.get(), output.pgid(), signal); !sent) {
        if (!ssh_is_connected(m_session)) {
          return lost_connection(argv);
        }
        return sent.error();
      }
      deadline = Clock::now() + stop_grace;
      while (!finished && Clock::now() < deadline) {
        bool ignored = false;
        auto pumped = pump(channel.get(), output, poll_ms, ignored);
        if (pumped == Pumped::lost) {
          return lost_connection(argv);
        }
        finished = pumped == Pumped::ended;
      }
    }
  }
  output.flush();

  ExecResult result;
  if (!finished) {
    // Even SIGKILL did not end the output: something outside the process
    // group holds it open. The command is stopped as far as we can tell.
    result.end = *stop;
    return result;
  }
  int status = ssh_channel_get_exit_status(channel.get());
  if (!ssh_is_connected(m_session)) {
    return lost_connection(argv);
  }
  result.exit_code = status;
  if (stop) {
    result.end = *stop;
  } else if (status < 0) {
    result.end = ExecResult::End::killed; // exit-signal instead of exit-status
  } else {
    result.end = ExecResult::End::exited;
  }
  return result;
}

} // namespace

Result<std::unique_ptr<Host>> connect_ssh(const SshTarget& target)
{
  auto host = std::make_unique<SshHost>(target);
  TRY(host->connect());
  return std::unique_ptr<Host>(std::move(host));
}

} // namespace buildme::builder
