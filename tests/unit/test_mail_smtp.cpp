// The SMTP mailer and the outbox against a real SMTP server: aiosmtpd under
// /usr/bin/python3 (tests/unit/smtp_server.py) on 127.0.0.1, with STARTTLS
// on a certificate made for the test, AUTH, and every accepted message
// saved as a file for the test to read.
#include "mail/message.hpp"
#include "mail/outbox.hpp"
#include "mail/smtp.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

#include "captured_log.hpp"
#include "mail_decode.hpp"
#include "scratch.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace unit_test_mail_smtp {

using buildme::config::Mail;
using buildme::mail::Mailer;
using buildme::mail::make_smtp_mailer;
using buildme::mail::Message;
using buildme::mail::Outbox;
using buildme::mail::SendResult;
using buildme::test::CapturedLog;
using buildme::test::parse_mail;
using buildme::test::ScratchDir;
namespace fs = std::filesystem;
namespace util = buildme::util;
using namespace std::chrono_literals;

namespace {

constexpr const char* python = "/usr/bin/python3";
const fs::path server_script = fs::path(__FILE__).parent_path() / "smtp_server.py";

void require_aiosmtpd()
{
  REQUIRE_MESSAGE(fs::exists(python), python << " is missing: apt-get install python3-aiosmtpd "
                                                "to run the SMTP tests");
  auto probe = util::run_process({python, "-c", "import aiosmtpd"});
  REQUIRE_MESSAGE((probe.ok() && probe->exit_code == 0),
                  "aiosmtpd is missing for " << python
                                             << ": apt-get install python3-aiosmtpd to run the "
                                                "SMTP tests");
  REQUIRE_MESSAGE(fs::exists(server_script), server_script << " is missing");
}

struct Certificate
{
  fs::path cert;
  fs::path key;
};

// One self-signed certificate for 127.0.0.1 and localhost, made once.
const Certificate& test_certificate()
{
  static ScratchDir dir;
  static Certificate made;
  if (made.cert.empty()) {
    Certificate certificate{dir / "cert.pem", dir / "key.pem"};
    auto result = util::run_process({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                     "-days", "2", "-subj", "/CN=localhost", "-addext",
                                     "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout",
                                     certificate.key.string(), "-out", certificate.cert.string()});
    REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.message())
                                   << " (apt-get install openssl)");
    REQUIRE_MESSAGE(result->exit_code == 0, "openssl req failed: " << result->err);
    made = certificate;
  }
  return made;
}

// A TCP socket bound to a free port on 127.0.0.1 (listening when asked);
// the caller closes it.
struct LoopbackSocket
{
  int fd = -1;
  int port = 0;
};
LoopbackSocket loopback_socket(bool listening)
{
  LoopbackSocket made;
  made.fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(made.fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(made.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  if (listening) {
    REQUIRE(::listen(made.fd, 8) == 0);
  }
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(made.fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  made.port = ntohs(address.sin_port);
  return made;
}

// A port that was free a moment ago.
int free_port()
{
  const auto made = loopback_socket(false);
  ::close(made.fd);
  return made.port;
}

class SmtpServer
{
public:
  struct Options
  {
    std::string mode = "starttls"; // plain | starttls | smtps
    std::string user;              // AUTH required when set
    std::string password;
  };

  // Picks the port; start() makes it listen, so that a test can have the
  // server down first.
  explicit SmtpServer(Options options) : m_options(std::move(options))
  {
    require_aiosmtpd();
    if (m_options.mode != "plain") {
      test_certificate();
    }
    m_port = free_port();
  }
  ~SmtpServer() { stop(); }
  SmtpServer(const SmtpServer&) = delete;
  SmtpServer& operator=(const SmtpServer&) = delete;

  void start()
  {
    REQUIRE(m_pid < 0);
    std::vector<std::string> argv = {
      python,     server_script.string(), "--port", std::to_string(m_port),
      "--folder", m_dir.path().string(),  "--mode", m_options.mode};
    if (m_options.mode != "plain") {
      argv.insert(argv.end(), {"--cert", test_certificate().cert.string(), "--key",
                               test_certificate().key.string()});
    }
    if (!m_options.user.empty()) {
      argv.insert(argv.end(), {"--user", m_options.user, "--password", m_options.password});
    }
    std::vector<char*> args;
    for (auto& arg : argv) {
      args.push_back(arg.data());
    }
    args.push_back(nullptr);
    const std::string log = (m_dir / "server.log").string();
    std::error_code ignored;
    fs::remove(m_dir / "ready", ignored);

    m_pid = ::fork();
    REQUIRE(m_pid >= 0);
    if (m_pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      // A test that crashes takes its server with it.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::execv(python, args.data());
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (!fs::exists(m_dir / "ready")) {
      int status = 0;
      if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_pid = -1;
        FAIL("the SMTP server did not start: " << this->log());
      }
      if (std::chrono::steady_clock::now() > deadline) {
        stop();
        FAIL("the SMTP server does not listen after 15 s: " << this->log());
      }
      std::this_thread::sleep_for(20ms);
    }
  }

  void stop()
  {
    if (m_pid > 0) {
      ::kill(m_pid, SIGKILL);
      ::waitpid(m_pid, nullptr, 0);
      m_pid = -1;
    }
  }

  int port() const { return m_port; }
  std::string url() const
  {
    return (m_options.mode == "smtps" ? "smtps://127.0.0.1:" : "smtp://127.0.0.1:") +
           std::to_string(m_port);
  }

  // Each accepted message as the server saved it, in the order received.
  std::vector<std::string> received() const
  {
    std::vector<std::string> messages;
    auto names = util::list_dir(m_dir / "received");
    if (names) {
      for (const auto& name : *names) {
        if (name.ends_with(".eml")) {
          messages.push_back(ScratchDir::read(m_dir / "received" / name));
        }
      }
    }
    return messages;
  }

  std::string log() const { return ScratchDir::read(m_dir / "server.log"); }

private:
  Options m_options;
  ScratchDir m_dir;
  int m_port = 0;
  pid_t m_pid = -1;
};

// What the tests' own mailers use: the server, STARTTLS required, its
// certificate trusted, a short timeout.
Mail config_for(const SmtpServer& server)
{
  Mail config;
  config.smtp_url = server.url();
  config.starttls = "required";
  config.ca_file = test_certificate().cert.string();
  config.from = "buildme <buildme@example.org>";
  config.timeout = 10s;
  return config;
}

std::unique_ptr<Mailer> mailer_for(const Mail& config)
{
  auto mailer = make_smtp_mailer(config);
  REQUIRE_MESSAGE(mailer.ok(), (mailer.ok() ? "" : mailer.message()));
  return std::move(*mailer);
}

Message a_message(std::string to = "jane@example.org")
{
  Message message;
  message.from = {"buildme", "buildme@example.org"};
  message.to = {{"Jane Doe", std::move(to)}};
  message.subject = "[buildme] BUILT hello 1.0-1 (fremantle, armel)";
  message.body = "BUILT: hello 1.0-1\n";
  return message;
}

std::string render_now(const Message& message)
{
  return buildme::mail::render(message, std::chrono::system_clock::now(),
                               buildme::mail::new_message_id("example.org"));
}

// The message part of a saved file (after the envelope lines).
std::string message_part(const std::string& saved)
{
  return saved.substr(saved.find("\n\n") + 2);
}

struct TimedSend
{
  SendResult result;
  std::chrono::steady_clock::duration took;
};

TimedSend timed_send(Mailer& mailer, const std::string& rendered)
{
  const auto start = std::chrono::steady_clock::now();
  auto result = mailer.send("buildme@example.org", {"jane@example.org"}, rendered);
  return {result, std::chrono::steady_clock::now() - start};
}

int count_mail_files(const fs::path& dir)
{
  auto names = util::list_dir(dir);
  int n = 0;
  if (names) {
    for (const auto& name : *names) {
      n += name.ends_with(".mail") ? 1 : 0;
    }
  }
  return n;
}

} // namespace

TEST_CASE("a mail sent with STARTTLS and a password arrives intact, byte for byte")
{
  SmtpServer server({"starttls", "buildme", "s3cret pass"});
  server.start();
  ScratchDir scratch;
  Mail config = config_for(server);
  config.username = "buildme";
  config.password_file = scratch.write("password", "s3cret pass\nsecond line ignored\n").string();
  auto mailer = mailer_for(config);

  Message message = a_message();
  message.from = {"Jürgen Müller", "buildme@example.org"};
  message.subject = "[buildme] FAILED größe 1.0-1 (fremantle, armel)";
  // Lines that SMTP itself treats specially: a lone dot ends the DATA, a
  // leading dot is doubled on the way (dot-stuffing is libcurl's job).
  message.body = "Reason: größe ☃\n.\n..two dots\n.leading dot\n" + std::string(200, 'z') + "\n";
  const std::string rendered = render_now(message);

  auto result = mailer->send("buildme@example.org", {"jane@example.org"}, rendered);
  REQUIRE_MESSAGE(result.accepted(), result.error << "\n" << server.log());
  auto received = server.received();
  REQUIRE(received.size() == 1);
  CHECK(received[0].starts_with("MAIL FROM: buildme@example.org\nRCPT TO: jane@example.org\n\n"));
  CHECK(message_part(received[0]) == rendered);
  auto mail = parse_mail(message_part(received[0]));
  CHECK(mail.decoded("From") == "Jürgen Müller <buildme@example.org>");
  CHECK(mail.decoded("Subject") == message.subject);
  CHECK(mail.body == message.body);
}

TEST_CASE("starttls = required against a server without STARTTLS sends nothing")
{
  SmtpServer server({"plain", "", ""});
  server.start();
  auto mailer = mailer_for(config_for(server));
  auto sent = timed_send(*mailer, render_now(a_message()));
  CHECK_FALSE(sent.result.accepted());
  CHECK(sent.result.outcome == SendResult::Outcome::unavailable);
  CHECK(sent.result.error.find("STARTTLS") != std::string::npos);
  CHECK(sent.result.error.find(server.url()) != std::string::npos);
  CHECK(server.received().empty());
}

TEST_CASE("starttls = optional sends in the clear to a server without STARTTLS")
{
  SmtpServer server({"plain", "", ""});
  server.start();
  Mail config = config_for(server);
  config.starttls = "optional";
  auto sent = timed_send(*mailer_for(config), render_now(a_message()));
  CHECK_MESSAGE(sent.result.accepted(), sent.result.error);
  CHECK(server.received().size() == 1);
}

TEST_CASE("smtps:// speaks TLS from the first byte")
{
  SmtpServer server({"smtps", "buildme", "pw"});
  server.start();
  Mail config = config_for(server);
  config.starttls = "no"; // irrelevant for smtps://: TLS all the same
  config.username = "buildme";
  config.password = "pw";
  auto sent = timed_send(*mailer_for(config), render_now(a_message()));
  CHECK_MESSAGE(sent.result.accepted(), sent.result.error << "\n" << server.log());
  CHECK(server.received().size() == 1);
}

TEST_CASE("a server whose certificate is not trusted gets nothing")
{
  SmtpServer server({"starttls", "", ""});
  server.start();
  Mail config = config_for(server);
  config.ca_file.clear(); // only the system's CAs: the test certificate is unknown
  auto sent = timed_send(*mailer_for(config), render_now(a_message()));
  CHECK_FALSE(sent.result.accepted());
  CHECK(sent.result.outcome == SendResult::Outcome::unavailable);
  CHECK(sent.result.error.find("certificate") != std::string::npos);
  CHECK(server.received().empty());
}

TEST_CASE("a wrong password is an error that does not contain the password")
{
  SmtpServer server({"starttls", "buildme", "right-password"});
  server.start();
  Mail config = config_for(server);
  config.username = "buildme";
  config.password = "Wr0ng-Pa55word-xyzzy";
  auto sent = timed_send(*mailer_for(config), render_now(a_message()));
  CHECK_FALSE(sent.result.accepted());
  CHECK(sent.result.outcome == SendResult::Outcome::unavailable);
  CHECK(sent.result.error.find("Wr0ng-Pa55word-xyzzy") == std::string::npos);
  CHECK_MESSAGE(sent.result.error.find("username and password") != std::string::npos,
                sent.result.error);
  CHECK(server.received().empty());

  // Nor does a password written into the URL show.
  config.password.clear();
  config.smtp_url =
    "smtp://buildme:Wr0ng-Pa55word-xyzzy@127.0.0.1:" + std::to_string(server.port());
  sent = timed_send(*mailer_for(config), render_now(a_message()));
  CHECK_FALSE(sent.result.accepted());
  CHECK(sent.result.error.find("Wr0ng-Pa55word-xyzzy") == std::string::npos);
}

TEST_CASE("check logs in to the real server and sends nothing; a wrong password or no server "
          "is an error that names the server")
{
  SmtpServer server({"starttls", "buildme", "right-password"});
  server.start();
  Mail config = config_for(server);
  config.username = "buildme";
  config.password = "right-password";
  auto checked = mailer_for(config)->check();
  CHECK_MESSAGE(checked.ok(), checked.message());
  CHECK(server.received().empty());

  config.password = "Wr0ng-Pa55word-xyzzy";
  checked = mailer_for(config)->check();
  REQUIRE_FALSE(checked.ok());
  CHECK_MESSAGE(checked.message().find("username and password") != std::string::npos,
                checked.message());
  CHECK(checked.message().find("Wr0ng-Pa55word-xyzzy") == std::string::npos);

  SmtpServer down({"starttls", "", ""}); // never started: the port is closed
  Mail closed = config_for(down);
  closed.timeout = 5s;
  checked = mailer_for(closed)->check();
  REQUIRE_FALSE(checked.ok());
  CHECK(checked.message().find(down.url()) != std::string::npos);
}

TEST_CASE("a server that is down is an error at once")
{
  SmtpServer server({"starttls", "", ""}); // never started: the port is closed
  Mail config = config_for(server);
  config.timeout = 5s;
  auto sent = timed_send(*mailer_for(config), render_now(a_message()));
  CHECK_FALSE(sent.result.accepted());
  CHECK(sent.result.outcome == SendResult::Outcome::unavailable);
  CHECK(sent.took < 5s);
  CHECK(sent.result.error.find(server.url()) != std::string::npos);
}

TEST_CASE("a server that never answers costs the timeout, not more")
{
  // A socket that listens but never accepts: the connection is made, the
  // greeting never comes.
  const auto [fd, port] = loopback_socket(true);

  Mail config;
  config.smtp_url = "smtp://127.0.0.1:" + std::to_string(port);
  config.from = "buildme@example.org";
  config.timeout = 2s;
  auto sent = timed_send(*mailer_for(config), render_now(a_message()));
  ::close(fd);
  CHECK_FALSE(sent.result.accepted());
  CHECK(sent.result.outcome == SendResult::Outcome::unavailable);
  CHECK(sent.took >= 1500ms);
  CHECK(sent.took < 6s);
}

TEST_CASE("a recipient the server refuses for good makes that message undeliverable, "
          "one refused for now makes it wait")
{
  SmtpServer server({"starttls", "", ""});
  server.start();
  auto mailer = mailer_for(config_for(server));
  auto refused = mailer->send("buildme@example.org", {"refused@example.org"},
                              render_now(a_message("refused@example.org")));
  CHECK_FALSE(refused.accepted());
  CHECK(refused.outcome == SendResult::Outcome::undeliverable);
  CHECK(refused.error.find("550") != std::string::npos);
  auto busy = mailer->send("buildme@example.org", {"busy@example.org"},
                           render_now(a_message("busy@example.org")));
  CHECK(busy.outcome == SendResult::Outcome::refused);
  CHECK(busy.error.find("451") != std::string::npos);
  CHECK(server.received().empty());
}

TEST_CASE("a sender the server refuses is the configuration's fault, not the message's")
{
  SmtpServer server({"starttls", "", ""});
  server.start();
  auto mailer = mailer_for(config_for(server));
  auto sent = mailer->send("refused-sender@example.org", {"jane@example.org"},
                           render_now(a_message("jane@example.org")));
  CHECK(sent.outcome == SendResult::Outcome::unavailable);
  CHECK(sent.error.find("553") != std::string::npos);
  CHECK(sent.error.find("from, username in [mail]") != std::string::npos);
  CHECK(server.received().empty());
}

TEST_CASE("envelope addresses that are not plain are never sent to the server")
{
  SmtpServer server({"starttls", "", ""});
  server.start();
  auto mailer = mailer_for(config_for(server));
  auto sent = mailer->send("buildme@example.org", {"jane@example.org>\r\nRCPT TO:<evil@x"},
                           render_now(a_message()));
  CHECK_FALSE(sent.accepted());
  CHECK(sent.error.find('\n') == std::string::npos);
  CHECK(server.received().empty());
}

TEST_CASE("a password file that cannot be read stops the mailer from being made")
{
  ScratchDir scratch;
  Mail config;
  config.smtp_url = "smtp://127.0.0.1:25";
  config.from = "buildme@example.org";
  config.username = "buildme";
  config.password_file = (scratch / "missing").string();
  auto missing = make_smtp_mailer(config);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.message().find(config.password_file) != std::string::npos);

  config.password_file = scratch.write("empty", "\nsecret on line two\n").string();
  auto empty = make_smtp_mailer(config);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.message().find("first line is empty") != std::string::npos);
  CHECK(empty.message().find("secret on line two") == std::string::npos);
}

TEST_CASE("a mail queued while the server is down is kept, then sent exactly once")
{
  SmtpServer server({"starttls", "", ""});
  ScratchDir state;
  util::SystemClock clock;
  CapturedLog log;
  Outbox outbox(state.path(), clock);
  auto mailer = mailer_for(config_for(server));

  REQUIRE(outbox.queue(a_message()).ok());
  auto down = outbox.flush(*mailer, log);
  CHECK(down.sent == 0);
  CHECK(down.failed == 1);
  CHECK(down.waiting == 1);
  CHECK(count_mail_files(state / "mail/outbox") == 1);
  CHECK(log.text().find("kept to retry") != std::string::npos);

  server.start();
  auto up = outbox.flush(*mailer, log);
  CHECK(up.sent == 1);
  CHECK(up.waiting == 0);
  auto again = outbox.flush(*mailer, log);
  CHECK(again.sent == 0);
  CHECK(again.failed == 0);

  auto received = server.received();
  REQUIRE(received.size() == 1);
  CHECK(parse_mail(message_part(received[0])).decoded("To") == "Jane Doe <jane@example.org>");
  CHECK(count_mail_files(state / "mail/outbox") == 0);
  CHECK(count_mail_files(state / "mail/sending") == 0);
  CHECK(count_mail_files(state / "mail/sent") == 1);
}

TEST_CASE("two flushes racing never send one message twice")
{
  SmtpServer server({"starttls", "", ""});
  server.start();
  ScratchDir state;
  util::SystemClock clock;
  const Mail config = config_for(server);
  constexpr int messages = 12;
  {
    Outbox outbox(state.path(), clock);
    for (int i = 0; i < messages; ++i) {
      Message message = a_message();
      message.subject = "message " + std::to_string(i);
      REQUIRE(outbox.queue(message).ok());
    }
  }

  std::vector<pid_t> children;
  for (int i = 0; i < 4; ++i) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int sent = 0;
      {
        std::FILE* devnull = std::fopen("/dev/null", "w");
        util::Log child_log(devnull, clock);
        Outbox outbox(state.path(), clock);
        auto mailer = make_smtp_mailer(config);
        // Keep flushing until the outbox is empty, as ticks do.
        for (int round = 0; mailer && round < 50; ++round) {
          auto result = outbox.flush(**mailer, child_log);
          sent += result.sent;
          if (result.waiting == 0) {
            break;
          }
          std::this_thread::sleep_for(10ms);
        }
      }
      ::_exit(sent);
    }
    children.push_back(pid);
  }
  int total = 0;
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    total += WEXITSTATUS(status);
  }
  CHECK(total == messages);

  auto received = server.received();
  CHECK(received.size() == messages);
  std::set<std::string> ids;
  std::set<std::string> subjects;
  for (const auto& saved : received) {
    auto mail = parse_mail(message_part(saved));
    ids.insert(mail.raw("Message-ID"));
    subjects.insert(mail.decoded("Subject"));
  }
  CHECK(ids.size() == messages);
  CHECK(subjects.size() == messages);
  CHECK(count_mail_files(state / "mail/sent") == messages);
}

TEST_CASE("a message left in sending/ by a run that died is sent once on the next flush")
{
  SmtpServer server({"starttls", "", ""});
  server.start();
  ScratchDir state;
  util::SystemClock clock;
  CapturedLog log;
  Outbox outbox(state.path(), clock);
  REQUIRE(outbox.queue(a_message()).ok());
  // What a run that died while sending leaves behind.
  auto names = util::list_dir(state / "mail/outbox");
  REQUIRE(names.ok());
  REQUIRE(names->size() == 1);
  fs::create_directories(state / "mail/sending");
  fs::rename(state / "mail/outbox" / names->front(), state / "mail/sending" / names->front());

  auto mailer = mailer_for(config_for(server));
  auto first = outbox.flush(*mailer, log);
  CHECK(first.sent == 1);
  CHECK(log.text().find("was being sent when a run stopped") != std::string::npos);
  auto second = outbox.flush(*mailer, log);
  CHECK(second.sent == 0);
  CHECK(server.received().size() == 1);
  CHECK(count_mail_files(state / "mail/sending") == 0);
  CHECK(count_mail_files(state / "mail/sent") == 1);
}

TEST_CASE("a mail refused for good is set aside, one refused for now waits, and the mail "
          "after them still goes")
{
  SmtpServer server({"starttls", "", ""});
  server.start();
  ScratchDir state;
  util::SystemClock clock;
  CapturedLog log;
  Outbox outbox(state.path(), clock);
  REQUIRE(outbox.queue(a_message("refused@example.org")).ok());
  REQUIRE(outbox.queue(a_message("busy@example.org")).ok());
  REQUIRE(outbox.queue(a_message("jane@example.org")).ok());

  auto mailer = mailer_for(config_for(server));
  auto result = outbox.flush(*mailer, log);
  CHECK(result.sent == 1);
  CHECK(result.failed == 2);
  // The 550 came before the server had taken any mail: kept this time.
  CHECK(result.waiting == 2);
  auto received = server.received();
  REQUIRE(received.size() == 1);
  CHECK(received[0].find("RCPT TO: jane@example.org") != std::string::npos);

  // The server took mail meanwhile: the 550 is given up, the 451 waits.
  auto again = outbox.flush(*mailer, log);
  CHECK(again.failed == 2);
  CHECK(again.waiting == 1);
  REQUIRE(count_mail_files(state / "mail/undeliverable") == 1);
  CHECK(log.text().find("given up") != std::string::npos);
  CHECK(log.text().find("550") != std::string::npos);
  auto third = outbox.flush(*mailer, log);
  CHECK(third.failed == 1);
  CHECK(count_mail_files(state / "mail/undeliverable") == 1);
}

TEST_CASE("a server that refuses the session in its greeting refuses no one message")
{
  // A server that greets with 554 (no service for this client), as a
  // blocklisting relay does, then waits for the client to leave.
  const auto [fd, port] = loopback_socket(true);
  std::thread server([fd] {
    // Never waits for ever: a client that does not come ends the server.
    pollfd ready{fd, POLLIN, 0};
    if (::poll(&ready, 1, 15000) != 1) {
      return;
    }
    const int client = ::accept(fd, nullptr, nullptr);
    if (client < 0) {
      return;
    }
    timeval limit{15, 0};
    ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    const std::string_view greeting = "554 no SMTP service for you\r\n";
    (void)!::write(client, greeting.data(), greeting.size());
    char buffer[512];
    while (::read(client, buffer, sizeof buffer) > 0) {
    }
    ::close(client);
  });

  Mail config;
  config.smtp_url = "smtp://127.0.0.1:" + std::to_string(port);
  config.from = "buildme@example.org";
  config.starttls = "no";
  config.timeout = 5s;
  auto sent = mailer_for(config)->send("buildme@example.org", {"jane@example.org"},
                                       render_now(a_message("jane@example.org")));
  server.join();
  ::close(fd);
  CHECK(sent.outcome == SendResult::Outcome::unavailable);
  CHECK(sent.error.find("554") != std::string::npos);
}

} // namespace unit_test_mail_smtp
