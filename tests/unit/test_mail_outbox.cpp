#include "mail/outbox.hpp"

#include "util/fs.hpp"
#include "util/lock.hpp"

#include "captured_log.hpp"
#include "fake_mailer.hpp"
#include "mail_decode.hpp"
#include "scratch.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <string>

namespace unit_test_mail_outbox {

using buildme::mail::Message;
using buildme::mail::Outbox;
using buildme::mail::SendResult;
using buildme::test::CapturedLog;
using buildme::test::FakeMailer;
using buildme::test::parse_mail;
using buildme::test::ScratchDir;
namespace fs = std::filesystem;
namespace util = buildme::util;
using namespace std::chrono_literals;

namespace {

const auto start_time = std::chrono::system_clock::time_point(std::chrono::seconds(1795285359));

Message a_message(std::string subject = "[buildme] BUILT hello 1.0-1 (fremantle, armel)",
                  std::string to = "jane@example.org")
{
  Message message;
  message.from = {"buildme", "buildme@example.org"};
  message.to = {{"Jane Doe", std::move(to)}};
  message.subject = std::move(subject);
  message.body = "BUILT\n";
  return message;
}

std::vector<std::string> mail_files(const fs::path& dir)
{
  std::vector<std::string> names;
  if (auto listing = util::list_dir(dir)) {
    for (const auto& name : *listing) {
      if (name.ends_with(".mail")) {
        names.push_back(name);
      }
    }
  }
  return names;
}

int count_lines_with(const std::string& text, std::string_view what)
{
  int n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

struct Fixture
{
  ScratchDir state;
  util::FakeClock clock{start_time};
  CapturedLog log;
  Outbox outbox{state.path(), clock};
  FakeMailer mailer;
};

} // namespace

TEST_CASE("a queued mail is one file: envelope lines, an empty line, the message")
{
  Fixture f;
  REQUIRE(f.outbox.queue(a_message()).ok());
  auto names = mail_files(f.state / "mail/outbox");
  REQUIRE(names.size() == 1);
  const fs::path file = f.state / "mail/outbox" / names[0];
  const std::string content = ScratchDir::read(file);
  CHECK(content.starts_with("envelope-from: buildme@example.org\n"
                            "envelope-to: jane@example.org\n\n"
                            "Date: Sat, 21 Nov 2026 18:22:39 +0000\r\n"));
  auto mail = parse_mail(content.substr(content.find("\n\n") + 2));
  CHECK(mail.raw("Message-ID").ends_with("@example.org>"));
  struct stat info
  {};
  REQUIRE(::stat(file.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
}

TEST_CASE("mail that cannot be addressed is not queued")
{
  Fixture f;
  CHECK_FALSE(f.outbox.queue(a_message("x", "jane@example.org\r\nBcc: evil@x")).ok());
  Message nobody = a_message();
  nobody.to.clear();
  CHECK_FALSE(f.outbox.queue(nobody).ok());
  Message bad_sender = a_message();
  bad_sender.from.email = "not an address";
  auto refused = f.outbox.queue(bad_sender);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.message().find("from in [mail]") != std::string::npos);
  CHECK(mail_files(f.state / "mail/outbox").empty());
}

TEST_CASE("waiting mail is sent oldest first and then kept in sent/")
{
  Fixture f;
  for (const char* subject : {"first", "second", "third"}) {
    REQUIRE(f.outbox.queue(a_message(subject)).ok());
  }
  f.clock.advance(-60s); // a clock stepped back does not reorder the queue's sequence...
  REQUIRE(f.outbox.queue(a_message("fourth, queued at an earlier time")).ok());
  auto result = f.outbox.flush(f.mailer, f.log);
  CHECK(result.sent == 4);
  CHECK(result.waiting == 0);
  REQUIRE(f.mailer.sent.size() == 4);
  // ...but names sort by queue time, so that one goes first.
  CHECK(parse_mail(f.mailer.sent[0].rendered).decoded("Subject") ==
        "fourth, queued at an earlier time");
  CHECK(parse_mail(f.mailer.sent[1].rendered).decoded("Subject") == "first");
  CHECK(parse_mail(f.mailer.sent[2].rendered).decoded("Subject") == "second");
  CHECK(parse_mail(f.mailer.sent[3].rendered).decoded("Subject") == "third");
  CHECK(f.mailer.sent[0].from == "buildme@example.org");
  CHECK(f.mailer.sent[0].recipients == std::vector<std::string>{"jane@example.org"});
  CHECK(mail_files(f.state / "mail/sent").size() == 4);
  CHECK(f.outbox.flush(f.mailer, f.log).sent == 0);
  CHECK(f.mailer.sent.size() == 4);
}

TEST_CASE("when the server is unavailable the flush stops at the first mail")
{
  Fixture f;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(f.outbox.queue(a_message()).ok());
  }
  f.mailer.answer = {SendResult::Outcome::unavailable, "not sent through smtp://x: refused"};
  auto result = f.outbox.flush(f.mailer, f.log);
  CHECK(f.mailer.attempts == 1);
  CHECK(result.sent == 0);
  CHECK(result.failed == 1);
  CHECK(result.waiting == 3);
  CHECK(mail_files(f.state / "mail/sending").empty());
}

TEST_CASE("a mail refused for now stays, and the ones after it are still tried")
{
  Fixture f;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(f.outbox.queue(a_message()).ok());
  }
  f.mailer.answer = {SendResult::Outcome::refused, "451 mailbox busy"};
  auto result = f.outbox.flush(f.mailer, f.log);
  CHECK(f.mailer.attempts == 3);
  CHECK(result.failed == 3);
  CHECK(result.waiting == 3);
  CHECK(mail_files(f.state / "mail/undeliverable").empty());
}

TEST_CASE("a mail refused for good is set aside with its reason and never tried again")
{
  Fixture f;
  // The server takes mail...
  REQUIRE(f.outbox.queue(a_message("fine")).ok());
  REQUIRE(f.outbox.flush(f.mailer, f.log).sent == 1);
  f.mailer.attempts = 0;
  f.clock.advance(10min);
  // ... but not these.
  REQUIRE(f.outbox.queue(a_message("one")).ok());
  REQUIRE(f.outbox.queue(a_message("two")).ok());
  f.mailer.answer = {SendResult::Outcome::undeliverable, "550 5.1.1 no such user"};
  auto result = f.outbox.flush(f.mailer, f.log);
  CHECK(f.mailer.attempts == 2);
  CHECK(result.failed == 2);
  CHECK(result.waiting == 0);
  const auto aside = mail_files(f.state / "mail/undeliverable");
  REQUIRE(aside.size() == 2);
  CHECK(ScratchDir::read(f.state / "mail/undeliverable" / aside[0])
          .find("last-error: 550 5.1.1 no such user") != std::string::npos);
  CHECK(count_lines_with(f.log.text(), "given up: 550 5.1.1 no such user") == 2);
  f.mailer.answer = {};
  CHECK(f.outbox.flush(f.mailer, f.log).sent == 0);
  CHECK(f.mailer.attempts == 2);
}

TEST_CASE("a refusal for good from a server that took no mail lately is kept: it may be the "
          "server's configuration")
{
  Fixture f;
  REQUIRE(f.outbox.queue(a_message("one")).ok());
  REQUIRE(f.outbox.queue(a_message("two")).ok());
  // Relaying denied: every recipient refused for good.
  f.mailer.answer = {SendResult::Outcome::undeliverable, "554 5.7.1 relay access denied"};
  auto result = f.outbox.flush(f.mailer, f.log);
  CHECK(result.failed == 2);
  CHECK(result.waiting == 2);
  CHECK(mail_files(f.state / "mail/undeliverable").empty());
  CHECK(f.log.text().find("the fault may be its configuration") != std::string::npos);
  // Fixed: both go.
  f.mailer.answer = {};
  CHECK(f.outbox.flush(f.mailer, f.log).sent == 2);
  // A server that took mail more than an hour ago counts as not lately.
  f.clock.advance(2h);
  REQUIRE(f.outbox.queue(a_message("three")).ok());
  f.mailer.answer = {SendResult::Outcome::undeliverable, "554 5.7.1 relay access denied"};
  CHECK(f.outbox.flush(f.mailer, f.log).waiting == 1);
  CHECK(mail_files(f.state / "mail/undeliverable").empty());
}

TEST_CASE("a mail not sent in five days is given up; newer ones keep waiting")
{
  Fixture f;
  REQUIRE(f.outbox.queue(a_message("old")).ok());
  f.clock.advance(std::chrono::hours(5 * 24) + 1s);
  REQUIRE(f.outbox.queue(a_message("new")).ok());
  f.mailer.answer = {SendResult::Outcome::refused, "451 mailbox busy"};
  auto result = f.outbox.flush(f.mailer, f.log);
  CHECK(f.mailer.attempts == 2);
  CHECK(result.waiting == 1);
  const auto aside = mail_files(f.state / "mail/undeliverable");
  REQUIRE(aside.size() == 1);
  const auto text = ScratchDir::read(f.state / "mail/undeliverable" / aside[0]);
  CHECK(text.find("last-error: not sent in 5 days; last error: 451 mailbox busy") !=
        std::string::npos);
  CHECK(parse_mail(text.substr(text.find("\n\n") + 2)).decoded("Subject") == "old");

  // Waiting for a server that is down: the oldest is given up when tried,
  // and the flush still stops there.
  f.clock.advance(std::chrono::hours(5 * 24) + 1s);
  REQUIRE(f.outbox.queue(a_message("newest")).ok());
  f.mailer.answer = {SendResult::Outcome::unavailable, "server down"};
  f.mailer.attempts = 0;
  result = f.outbox.flush(f.mailer, f.log);
  CHECK(f.mailer.attempts == 1);
  CHECK(result.waiting == 1);
  CHECK(mail_files(f.state / "mail/undeliverable").size() == 2);
}

TEST_CASE("a failure is logged the first time and when it changes, not on every tick")
{
  Fixture f;
  REQUIRE(f.outbox.queue(a_message()).ok());
  f.mailer.answer = {SendResult::Outcome::unavailable, "server down"};
  for (int tick = 0; tick < 3; ++tick) {
    CHECK(f.outbox.flush(f.mailer, f.log).failed == 1);
  }
  CHECK(count_lines_with(f.log.text(), "kept to retry: server down") == 1);
  f.mailer.answer = {SendResult::Outcome::unavailable, "login denied"};
  f.outbox.flush(f.mailer, f.log);
  f.outbox.flush(f.mailer, f.log);
  CHECK(count_lines_with(f.log.text(), "kept to retry: login denied") == 1);
  f.mailer.answer = {};
  CHECK(f.outbox.flush(f.mailer, f.log).sent == 1);
  CHECK(f.log.text().find("sent after all") != std::string::npos);
  // What went on the wire is the message, without the outbox's notes.
  REQUIRE(f.mailer.sent.size() == 1);
  CHECK(f.mailer.sent[0].rendered.starts_with("Date: "));
}

TEST_CASE("an unreadable outbox file is set aside for a person, not retried for ever")
{
  Fixture f;
  f.state.write("mail/outbox/0000000000000001-1-000001.mail", "garbage without envelope");
  f.state.write("mail/outbox/0000000000000002-1-000001.mail",
                "envelope-from: a@b\nenvelope-to: evil@x\r\nBcc: y@z\n\ntext");
  auto result = f.outbox.flush(f.mailer, f.log);
  CHECK(f.mailer.attempts == 0);
  CHECK(result.failed == 2);
  CHECK(result.waiting == 0);
  CHECK(mail_files(f.state / "mail/broken").size() == 2);
  CHECK(f.log.text().find("unreadable") != std::string::npos);
}

TEST_CASE("a flush while another one runs sends nothing and reports what waits")
{
  Fixture f;
  REQUIRE(f.outbox.queue(a_message()).ok());
  auto held = util::FileLock::acquire(f.state / "mail/flush.lock", util::FileLock::Mode::wait);
  REQUIRE(held.ok());
  auto result = f.outbox.flush(f.mailer, f.log);
  CHECK(f.mailer.attempts == 0);
  CHECK(result.sent == 0);
  CHECK(result.waiting == 1);
  held->release();
  CHECK(f.outbox.flush(f.mailer, f.log).sent == 1);
}

TEST_CASE("sent mail is kept for a week")
{
  Fixture f;
  REQUIRE(f.outbox.queue(a_message("old")).ok());
  REQUIRE(f.outbox.queue(a_message("recent")).ok());
  REQUIRE(f.outbox.flush(f.mailer, f.log).sent == 2);
  auto names = mail_files(f.state / "mail/sent");
  REQUIRE(names.size() == 2);
  // A week by the outbox's clock, not the machine's.
  fs::last_write_time(f.state / "mail/sent" / names[0],
                      fs::file_time_type::clock::from_sys(start_time - std::chrono::hours(8 * 24)));
  fs::last_write_time(f.state / "mail/sent" / names[1],
                      fs::file_time_type::clock::from_sys(start_time - std::chrono::hours(1)));
  f.outbox.flush(f.mailer, f.log);
  CHECK(mail_files(f.state / "mail/sent") == std::vector<std::string>{names[1]});
  f.clock.advance(std::chrono::hours(7 * 24));
  f.outbox.flush(f.mailer, f.log);
  CHECK(mail_files(f.state / "mail/sent").empty());
}

TEST_CASE("the list hears of a key once per window")
{
  Fixture f;
  CHECK(f.outbox.list_may_hear("hello FAILED", 3600s));
  CHECK_FALSE(f.outbox.list_may_hear("hello FAILED", 3600s));
  CHECK(f.outbox.list_may_hear("other FAILED", 3600s));
  f.clock.advance(3599s);
  CHECK_FALSE(f.outbox.list_may_hear("hello FAILED", 3600s));
  f.clock.advance(1s);
  CHECK(f.outbox.list_may_hear("hello FAILED", 3600s));
  CHECK_FALSE(f.outbox.list_may_hear("hello FAILED", 3600s));
  // No window: always.
  CHECK(f.outbox.list_may_hear("hello FAILED", 0s));
  // Another Outbox on the same state folder (the next tick) remembers.
  Outbox next_tick(f.state.path(), f.clock);
  CHECK_FALSE(next_tick.list_may_hear("hello FAILED", 3600s));
}

TEST_CASE("throttle records older than the window are removed by the next run")
{
  Fixture f;
  CHECK(f.outbox.list_may_hear("alpha FAILED", 3600s));
  f.clock.advance(30min);
  Outbox second_run(f.state.path(), f.clock);
  CHECK(second_run.list_may_hear("beta FAILED", 3600s));
  f.clock.advance(40min);
  Outbox third_run(f.state.path(), f.clock);
  CHECK(third_run.list_may_hear("gamma FAILED", 3600s));
  auto names = util::list_dir(f.state / "mail/throttle");
  REQUIRE(names.ok());
  int records = 0;
  for (const auto& name : *names) {
    records += name.size() == 64 ? 1 : 0;
  }
  CHECK(records == 2); // alpha's (70 minutes old) is gone
  CHECK_FALSE(third_run.list_may_hear("beta FAILED", 3600s));
  CHECK_FALSE(third_run.list_may_hear("gamma FAILED", 3600s));
  CHECK(third_run.list_may_hear("alpha FAILED", 3600s));
}

TEST_CASE("a throttle key of any text is a plain file name")
{
  Fixture f;
  CHECK(f.outbox.list_may_hear("../../etc/passwd\n/\0x", 3600s));
  auto names = util::list_dir(f.state / "mail/throttle");
  REQUIRE(names.ok());
  for (const auto& name : *names) {
    CHECK((name == ".lock" || name.size() == 64));
  }
  CHECK_FALSE(f.outbox.list_may_hear("../../etc/passwd\n/\0x", 3600s));
}

} // namespace unit_test_mail_outbox
