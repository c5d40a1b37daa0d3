#include "mail/notify.hpp"

#include "captured_log.hpp"
#include "fake_mailer.hpp"
#include "mail_decode.hpp"
#include "scratch.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

namespace unit_test_mail_notify {

using buildme::mail::Notice;
using buildme::mail::notify;
using buildme::mail::Outbox;
using buildme::test::CapturedLog;
using buildme::test::FakeMailer;
using buildme::test::parse_mail;
using buildme::test::ParsedMail;
using buildme::test::ScratchDir;
namespace util = buildme::util;
using namespace std::chrono_literals;

namespace {

struct Fixture
{
  Fixture()
  {
    config.smtp_url = "smtp://mail.example.org:587";
    config.from = "buildme <buildme@example.org>";
    config.list = "Extras Builds <builds@example.org>";
    config.log_url = "https://builder.example.org/logs/%(product)s/%(job)s/%(arch)s/build.log";
    config.list_throttle = 6h;
    log.log().set_verbose(true);
  }

  // Everything notify() queued since the last call, as sent.
  std::vector<FakeMailer::Sent> mails()
  {
    FakeMailer mailer;
    outbox.flush(mailer, log);
    return mailer.sent;
  }

  buildme::config::Mail config;
  ScratchDir state;
  util::FakeClock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1795285359))};
  CapturedLog log;
  Outbox outbox{state.path(), clock};
};

Notice a_failure()
{
  Notice notice;
  notice.verdict = "FAILED";
  notice.source = "hello-buildme";
  notice.version = "1.0-1";
  notice.product = "fremantle";
  notice.arch = "armel";
  notice.job = 7;
  notice.uploader = "Jane Doe <jane@example.org>";
  notice.reason = "dpkg-buildpackage exited with status 2";
  notice.summary = "make: *** [debian/rules:4: build] Error 1\n";
  return notice;
}

std::vector<std::string> recipients_of(const std::vector<FakeMailer::Sent>& mails)
{
  std::vector<std::string> out;
  for (const auto& mail : mails) {
    out.insert(out.end(), mail.recipients.begin(), mail.recipients.end());
  }
  return out;
}

const std::vector<std::string> both = {"jane@example.org", "builds@example.org"};
const std::vector<std::string> uploader_only = {"jane@example.org"};

} // namespace

TEST_CASE("a failed build mails the uploader and the list, one mail each")
{
  Fixture f;
  notify(f.config, f.outbox, a_failure(), f.log);
  auto mails = f.mails();
  REQUIRE(mails.size() == 2);
  CHECK(recipients_of(mails) == both);
  for (const auto& sent : mails) {
    CHECK(sent.from == "buildme@example.org");
    CHECK(sent.recipients.size() == 1);
    const ParsedMail mail = parse_mail(sent.rendered);
    CHECK(mail.raw("From") == "buildme <buildme@example.org>");
    CHECK(mail.decoded("Subject") == "[buildme] FAILED hello-buildme 1.0-1 (fremantle, armel)");
    CHECK(mail.raw("X-Buildme-Job") == "7");
    CHECK(mail.body.find("Verdict: FAILED\n") != std::string::npos);
    CHECK(mail.body.find("Source:  hello-buildme\n") != std::string::npos);
    CHECK(mail.body.find("Version: 1.0-1\n") != std::string::npos);
    CHECK(mail.body.find("Product: fremantle\n") != std::string::npos);
    CHECK(mail.body.find("Arch:    armel\n") != std::string::npos);
    CHECK(mail.body.find("Job:     7\n") != std::string::npos);
    CHECK(mail.body.find("Reason:  dpkg-buildpackage exited with status 2\n") != std::string::npos);
    CHECK(mail.body.find("make: *** [debian/rules:4: build] Error 1\n") != std::string::npos);
    CHECK(
      mail.body.find("Full log: https://builder.example.org/logs/fremantle/7/armel/build.log\n") !=
      std::string::npos);
  }
  CHECK(parse_mail(mails[0].rendered).raw("To") == "Jane Doe <jane@example.org>");
  CHECK(parse_mail(mails[1].rendered).raw("To") == "Extras Builds <builds@example.org>");
}

TEST_CASE("a reject names product but no arch, job or log link")
{
  Fixture f;
  Notice notice = a_failure();
  notice.verdict = "REJECTED";
  notice.arch.clear();
  notice.job = 0;
  notice.reason = "hello-buildme_1.0-1.tar.xz: SHA256 does not match the .dsc";
  notice.summary = "";
  notify(f.config, f.outbox, notice, f.log);
  auto mails = f.mails();
  REQUIRE(mails.size() == 2);
  const ParsedMail mail = parse_mail(mails[0].rendered);
  CHECK(mail.decoded("Subject") == "[buildme] REJECTED hello-buildme 1.0-1 (fremantle)");
  CHECK(mail.body.find("Full log") == std::string::npos);
  CHECK(mail.body.find("Arch:") == std::string::npos);
  CHECK(mail.body.find("Job:") == std::string::npos);
  CHECK(mail.body.find("SHA256 does not match") != std::string::npos);
  CHECK(mail.count("X-Buildme-Job") == 0);
}

TEST_CASE("the list hears of a repeated identical failure once, the uploader every time")
{
  Fixture f;
  notify(f.config, f.outbox, a_failure(), f.log);
  CHECK(recipients_of(f.mails()) == both);
  f.clock.advance(1h);
  notify(f.config, f.outbox, a_failure(), f.log);
  CHECK(recipients_of(f.mails()) == uploader_only);
  CHECK(f.log.text().find("the list heard of FAILED hello-buildme") != std::string::npos);

  // A new version failing the same way is the same failure...
  Notice next_version = a_failure();
  next_version.version = "1.0-2";
  notify(f.config, f.outbox, next_version, f.log);
  CHECK(recipients_of(f.mails()) == uploader_only);

  // ...until the window has passed.
  f.clock.advance(5h);
  notify(f.config, f.outbox, a_failure(), f.log);
  CHECK(recipients_of(f.mails()) == both);
}

TEST_CASE("a failure with a different reason or verdict reaches the list")
{
  Fixture f;
  notify(f.config, f.outbox, a_failure(), f.log);
  Notice other_reason = a_failure();
  other_reason.reason = "build timed out after 24h";
  notify(f.config, f.outbox, other_reason, f.log);
  Notice gave_up = a_failure();
  gave_up.verdict = "GAVE UP";
  notify(f.config, f.outbox, gave_up, f.log);
  Notice other_source = a_failure();
  other_source.source = "other";
  notify(f.config, f.outbox, other_source, f.log);
  CHECK(recipients_of(f.mails()) ==
        std::vector<std::string>{"jane@example.org", "builds@example.org", "jane@example.org",
                                 "builds@example.org", "jane@example.org", "builds@example.org",
                                 "jane@example.org", "builds@example.org"});
}

TEST_CASE("a built package always reaches the list")
{
  Fixture f;
  Notice built = a_failure();
  built.verdict = "BUILT";
  built.reason = "";
  for (int i = 0; i < 3; ++i) {
    notify(f.config, f.outbox, built, f.log);
  }
  CHECK(recipients_of(f.mails()).size() == 6);
}

TEST_CASE("list_throttle = 0 never holds the list back")
{
  Fixture f;
  f.config.list_throttle = 0s;
  notify(f.config, f.outbox, a_failure(), f.log);
  notify(f.config, f.outbox, a_failure(), f.log);
  CHECK(recipients_of(f.mails()).size() == 4);
}

TEST_CASE("without a list only the uploader hears")
{
  Fixture f;
  f.config.list.clear();
  notify(f.config, f.outbox, a_failure(), f.log);
  CHECK(recipients_of(f.mails()) == uploader_only);
}

TEST_CASE("the log link fills in product, job and arch, percent-encoded")
{
  Fixture f;
  f.config.log_url =
    "https://b.example.org/%(product)s/%(job)s/%(arch)s/%(arch)s.log?p=%(product)s";
  Notice notice = a_failure();
  notice.product = "fre mantle/../x?";
  notice.job = 1234;
  notice.arch = "arm#el";
  notify(f.config, f.outbox, notice, f.log);
  auto mails = f.mails();
  REQUIRE_FALSE(mails.empty());
  CHECK(parse_mail(mails[0].rendered)
          .body.find("Full log: https://b.example.org/fre%20mantle%2F..%2Fx%3F/1234/arm%23el/"
                     "arm%23el.log?p=fre%20mantle%2F..%2Fx%3F\n") != std::string::npos);
}

TEST_CASE("an uploader field that is not an address: only the list hears, and the log says why")
{
  Fixture f;
  Notice notice = a_failure();
  notice.uploader = "A <a@x>\r\nBcc: evil@example.org";
  notify(f.config, f.outbox, notice, f.log);
  auto mails = f.mails();
  CHECK(recipients_of(mails) == std::vector<std::string>{"builds@example.org"});
  for (const auto& sent : mails) {
    CHECK(parse_mail(sent.rendered).count("Bcc") == 0);
    CHECK(sent.rendered.find("evil@example.org") == std::string::npos);
  }
  CHECK(f.log.text().find("cannot mail the uploader") != std::string::npos);
  // The log line stays one line.
  CHECK(f.log.text().find("\r") == std::string::npos);
}

TEST_CASE("hostile text from an upload cannot add headers or break the mail")
{
  Fixture f;
  Notice notice = a_failure();
  notice.uploader = "\"Jürgen \\\"Evil\\\" Müller\" <juergen@example.de>";
  notice.source = "hello\r\nBcc: evil@example.org";
  notice.version = std::string("1.0\0-1", 6);
  notice.reason = "reason\nX-Injected: yes";
  notice.summary = std::string("\x1b[31mred\x1b[0m\r\nnul\0byte\n\xff\xfe\n", 27);
  notify(f.config, f.outbox, notice, f.log);
  auto mails = f.mails();
  REQUIRE(mails.size() == 2);
  for (const auto& sent : mails) {
    const ParsedMail mail = parse_mail(sent.rendered);
    CHECK(mail.count("Bcc") == 0);
    CHECK(mail.count("X-Injected") == 0);
    CHECK(sent.rendered.find('\0') == std::string::npos);
    CHECK(sent.rendered.find('\x1b') == std::string::npos);
    CHECK(mail.decoded("Subject") ==
          "[buildme] FAILED hello Bcc: evil@example.org 1.0 -1 (fremantle, armel)");
    CHECK(mail.body.find("X-Injected: yes") != std::string::npos); // in the body, as text
  }
  // A name that is not ASCII travels as encoded-words, quotes and all.
  CHECK(parse_mail(mails[0].rendered).decoded("To") ==
        "Jürgen \"Evil\" Müller <juergen@example.de>");
  CHECK(mails[0].recipients == std::vector<std::string>{"juergen@example.de"});
}

TEST_CASE("a from address that does not parse is logged and nothing is queued")
{
  Fixture f;
  f.config.from = "buildme@";
  notify(f.config, f.outbox, a_failure(), f.log);
  CHECK(f.mails().empty());
  CHECK(f.log.text().find("[mail] from") != std::string::npos);
}

} // namespace unit_test_mail_notify
