#include "mail/message.hpp"

#include "mail_decode.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <regex>
#include <set>
#include <string>

namespace unit_test_mail_message {

using buildme::mail::Address;
using buildme::mail::Message;
using buildme::mail::new_message_id;
using buildme::mail::parse_address;
using buildme::mail::render;
using buildme::test::crlf_lines;
using buildme::test::decode_words;
using buildme::test::parse_mail;

namespace {

const auto a_date = std::chrono::system_clock::time_point(std::chrono::seconds(1795285359));

Message a_message()
{
  Message message;
  message.from = {"buildme", "buildme@example.org"};
  message.to = {{"Jane Doe", "jane@example.org"}};
  message.subject = "[buildme] BUILT hello 1.0-1 (fremantle, armel)";
  message.body = "BUILT: hello 1.0-1\n\nAll went well.\n";
  return message;
}

std::string rendered(const Message& message)
{
  return render(message, a_date, "<1.abc@example.org>");
}

// Every line ends in CRLF, none is longer than 998 bytes, and no CR, LF or
// NUL stands anywhere else.
void check_wire_form(const std::string& text)
{
  REQUIRE(text.ends_with("\r\n"));
  CHECK(text.find('\0') == std::string::npos);
  for (const auto& line : crlf_lines(text)) {
    CHECK(line.size() <= 998);
    CHECK(line.find('\r') == std::string::npos);
    CHECK(line.find('\n') == std::string::npos);
  }
}

// The header lines (before the empty line), unfolded lines not joined.
std::vector<std::string> header_lines(const std::string& text)
{
  auto lines = crlf_lines(text.substr(0, text.find("\r\n\r\n")));
  return lines;
}

bool valid_utf8(std::string_view text)
{
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > text.size()) {
      return false;
    }
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) >> 6) != 2) {
        return false;
      }
    }
    i += n;
  }
  return true;
}

} // namespace

TEST_CASE("a plain message has every header a mail reader expects, with CRLF line ends")
{
  const std::string text = rendered(a_message());
  check_wire_form(text);
  const auto mail = parse_mail(text);
  CHECK(mail.raw("Date") == "Sat, 21 Nov 2026 18:22:39 +0000");
  CHECK(mail.raw("From") == "buildme <buildme@example.org>");
  CHECK(mail.raw("To") == "Jane Doe <jane@example.org>");
  CHECK(mail.raw("Subject") == "[buildme] BUILT hello 1.0-1 (fremantle, armel)");
  CHECK(mail.raw("Message-ID") == "<1.abc@example.org>");
  CHECK(mail.raw("MIME-Version") == "1.0");
  CHECK(mail.raw("Content-Type") == "text/plain; charset=UTF-8");
  CHECK(mail.raw("Content-Transfer-Encoding") == "7bit");
  CHECK(mail.raw("Auto-Submitted") == "auto-generated");
  CHECK(mail.raw_body == "BUILT: hello 1.0-1\r\n\r\nAll went well.\r\n");
  CHECK(mail.body == "BUILT: hello 1.0-1\n\nAll went well.\n");
}

TEST_CASE("non-ASCII names and subjects arrive as encoded-words that decode to the original")
{
  Message message = a_message();
  message.from = {"Jürgen Müller", "juergen@example.de"};
  message.to = {{"Łukasz Żółć", "lz@example.pl"}, {"plain", "p@example.org"}};
  message.subject = "[buildme] FAILED größe 1.0-1 (fremantle, armel) – ☃ 🐧";
  const std::string text = rendered(message);
  check_wire_form(text);
  const auto mail = parse_mail(text);
  CHECK(mail.decoded("From") == "Jürgen Müller <juergen@example.de>");
  CHECK(mail.decoded("To") == "Łukasz Żółć <lz@example.pl>, plain <p@example.org>");
  CHECK(mail.decoded("Subject") == message.subject);
  // Header text itself is 7-bit: the non-ASCII bytes are all encoded.
  for (const auto& line : header_lines(text)) {
    for (char c : line) {
      CHECK((c & 0x80) == 0);
    }
  }
}

TEST_CASE("a long non-ASCII subject is split into short encoded-words of whole characters")
{
  Message message = a_message();
  std::string subject;
  for (int i = 0; i < 60; ++i) {
    subject += "ü€🐧 ";
  }
  message.subject = subject + "end";
  const std::string text = rendered(message);
  check_wire_form(text);

  const std::regex word(R"(=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=)");
  int words = 0;
  for (const auto& line : header_lines(text)) {
    if (line.starts_with("Subject:") || line.starts_with(" ")) {
      CHECK(line.size() <= 78);
    }
    for (std::sregex_iterator it(line.begin(), line.end(), word), end; it != end; ++it) {
      ++words;
      CHECK(it->length(0) <= 75);
      // Each word decodes on its own to whole UTF-8 characters.
      CHECK(valid_utf8(buildme::test::decode_base64(it->str(1))));
    }
  }
  CHECK(words > 5);
  CHECK(parse_mail(text).decoded("Subject") == message.subject);
}

TEST_CASE("a long ASCII subject is folded at spaces and unfolds to the same text")
{
  Message message = a_message();
  message.subject = "[buildme] FAILED hello 1.0-1 (fremantle, armel): "
                    "dpkg-buildpackage exited with status 2 after running the test suite "
                    "for a very long time indeed";
  const std::string text = rendered(message);
  check_wire_form(text);
  for (const auto& line : header_lines(text)) {
    CHECK(line.size() <= 78);
  }
  CHECK(text.find("Subject: [buildme]") != std::string::npos);
  CHECK(parse_mail(text).decoded("Subject") == message.subject);
}

TEST_CASE("ASCII text that looks like an encoded-word comes back literally")
{
  Message message = a_message();
  message.subject = "=?UTF-8?B?RXZpbA==?= is not Evil";
  CHECK(parse_mail(rendered(message)).decoded("Subject") == message.subject);
}

TEST_CASE("a CR LF in the subject cannot add a header")
{
  Message message = a_message();
  message.subject = "Subject\r\nBcc: evil@x";
  const std::string text = rendered(message);
  check_wire_form(text);
  const auto mail = parse_mail(text);
  CHECK(mail.count("Bcc") == 0);
  CHECK(mail.count("Subject") == 1);
  CHECK(mail.decoded("Subject") == "Subject Bcc: evil@x");
  for (const auto& line : header_lines(text)) {
    CHECK_FALSE(line.starts_with("Bcc"));
  }
}

TEST_CASE("a Maintainer field with CR LF and a second header is refused as an address")
{
  auto parsed = parse_address("A <a@x>\r\nBcc: evil@example.org");
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.message().find('\n') == std::string::npos);
  CHECK(parsed.message().find('\r') == std::string::npos);
  CHECK(parsed.message().find("text after the closing '>'") != std::string::npos);
}

TEST_CASE("hostile names, headers and bodies given directly never reach the wire raw")
{
  Message message = a_message();
  message.from = {"A <a@x>\r\nBcc: evil@example.org", "buildme@example.org"};
  message.to = {{"B\nCc: evil@example.org\n", "jane@example.org"},
                {"C", "c@x\r\nBcc: evil@example.org"}};
  message.subject = std::string("nul\0here", 8);
  message.headers = {{"X-Buildme-Job", "7\r\nBcc: evil@example.org"}, {"X-Bad\r\nBcc", "value"}};
  message.body = "line one\r\n.\r\nBcc: not a header\r\n";
  const std::string text = rendered(message);
  check_wire_form(text);
  const auto mail = parse_mail(text);
  CHECK(mail.count("Bcc") == 0);
  CHECK(mail.count("Cc") == 0);
  CHECK(mail.count("From") == 1);
  CHECK(mail.count("To") == 1);
  CHECK(mail.decoded("From") == "\"A <a@x> Bcc: evil@example.org\" <buildme@example.org>");
  CHECK(mail.decoded("Subject") == "nul here");
  CHECK(mail.raw("X-Buildme-Job") == "7 Bcc: evil@example.org");
  CHECK(mail.body == "line one\n.\nBcc: not a header\n");
  // An invalid address is defused rather than trusted.
  CHECK(mail.raw("To").find("c@x__Bcc__evil@example.org") != std::string::npos);
}

TEST_CASE("display names with specials are quoted, plain ones are not")
{
  Message message = a_message();
  message.to = {{"Doe, Jane", "jane@example.org"},
                {"Bob \"the builder\" O'Neil", "bob@example.org"},
                {"John Q. Public", "jqp@example.org"},
                {"Back\\slash", "b@example.org"},
                {"", "bare@example.org"}};
  const auto mail = parse_mail(rendered(message));
  CHECK(mail.raw("To") ==
        "\"Doe, Jane\" <jane@example.org>, \"Bob \\\"the builder\\\" O'Neil\" <bob@example.org>, "
        "\"John Q. Public\" <jqp@example.org>, \"Back\\\\slash\" <b@example.org>, "
        "bare@example.org");
}

TEST_CASE("a 10 KB display name is encoded and folded, never one overlong line")
{
  Message message = a_message();
  message.to = {{std::string(10 * 1024, 'x'), "jane@example.org"}};
  const std::string text = rendered(message);
  check_wire_form(text);
  CHECK(parse_mail(text).decoded("To") == std::string(10 * 1024, 'x') + " <jane@example.org>");
}

TEST_CASE("a body with non-ASCII text or long lines is quoted-printable and decodes back")
{
  Message message = a_message();
  const std::string long_line(300, 'y');
  message.body = "Größe: ☃\n" + long_line + "\ntrailing space \nequals = sign\n\ttab\n.\n";
  const std::string text = rendered(message);
  check_wire_form(text);
  const auto mail = parse_mail(text);
  CHECK(mail.raw("Content-Transfer-Encoding") == "quoted-printable");
  for (const auto& line : crlf_lines(mail.raw_body)) {
    CHECK(line.size() <= 76);
    for (char c : line) {
      CHECK((c & 0x80) == 0);
    }
    CHECK_FALSE(line.ends_with(" "));
  }
  CHECK(mail.body == message.body);
}

TEST_CASE("bytes that are not UTF-8 and control characters in the body are replaced")
{
  Message message = a_message();
  message.body = std::string("bad \xff byte\nnul \0 and \x1b[31mescape\rold mac\n", 40);
  const auto mail = parse_mail(rendered(message));
  CHECK(mail.body == "bad \xEF\xBF\xBD byte\nnul   and  [31mescape\nold mac\n");
}

TEST_CASE("a body without a final newline gets one; an empty body is an empty line-less body")
{
  Message message = a_message();
  message.body = "no newline";
  CHECK(parse_mail(rendered(message)).raw_body == "no newline\r\n");
  message.body = "";
  CHECK(parse_mail(rendered(message)).raw_body == "");
}

TEST_CASE("addresses in the forms a Maintainer field takes are parsed")
{
  struct Case
  {
    const char* text;
    const char* name;
    const char* email;
  };
  for (const Case& c : {Case{"Jane Doe <jane@example.org>", "Jane Doe", "jane@example.org"},
                        Case{"<jane@example.org>", "", "jane@example.org"},
                        Case{"jane@example.org", "", "jane@example.org"},
                        Case{"\"Doe, Jane\" <jane@example.org>", "Doe, Jane", "jane@example.org"},
                        Case{"\"Say \\\"hi\\\"\" <a@b.c>", "Say \"hi\"", "a@b.c"},
                        Case{"Jürgen Müller <j@example.de>", "Jürgen Müller", "j@example.de"},
                        Case{"  Spaced    Name   <x@y.z>  ", "Spaced Name", "x@y.z"},
                        Case{"Tab\tName <x+tag@sub.y.z>", "Tab Name", "x+tag@sub.y.z"},
                        Case{"Debian QA Group <packages@qa.debian.org>", "Debian QA Group",
                             "packages@qa.debian.org"}}) {
    CAPTURE(c.text);
    auto parsed = parse_address(c.text);
    REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.message()));
    CHECK(parsed->name == c.name);
    CHECK(parsed->email == c.email);
  }
}

TEST_CASE("hostile or malformed address text is refused with a one-line reason")
{
  const std::string nul_inside("Ja\0ne <ja\0ne@example.org>", 26);
  for (const std::string& text :
       std::vector<std::string>{"",
                                "   ",
                                "no at sign",
                                "Jane <jane example.org>",
                                "jane@exa mple.org",
                                "Jane <jane@example.org> extra",
                                "Jane <a <b@c>>",
                                "Jane <<b@c>>",
                                "Jane <a@b",
                                "Jane a@b>",
                                "\"unterminated <a@b>",
                                "\"Quoted\" a@b",
                                "<>",
                                "<@example.org>",
                                "<jane@>",
                                "a@b@c",
                                "<\"j\"@example.org>",
                                "<j..k@example.org>",
                                "<.j@example.org>",
                                "<j@-x.org>",
                                "<j@x..org>",
                                "<j@x_y.org>",
                                "Jane <jane@example.org>\nBcc: x@y",
                                "Jane <jane@example.org\r\n>",
                                "jane@example.org (Jane)",
                                nul_inside,
                                std::string(10 * 1024, 'n') + " <jane@example.org>",
                                "<" + std::string(65, 'l') + "@example.org>"}) {
    CAPTURE(text);
    auto parsed = parse_address(text);
    CHECK_FALSE(parsed.ok());
    if (!parsed.ok()) {
      CHECK(parsed.message().find_first_of(std::string("\r\n\0", 3)) == std::string::npos);
      CHECK(parsed.message().size() < 1200);
    }
  }
}

TEST_CASE("a NUL or newline in a display name becomes a space")
{
  auto parsed = parse_address(std::string("Ja\0ne\nDoe <jane@example.org>", 28));
  REQUIRE(parsed.ok());
  CHECK(parsed->name == "Ja ne Doe");
}

TEST_CASE("message ids are unique and name the sender's domain")
{
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string id = new_message_id("example.org");
    CHECK(std::regex_match(id, std::regex(R"(<\d+\.[0-9a-f]{16}@example\.org>)")));
    seen.insert(id);
  }
  CHECK(seen.size() == 100);
  CHECK(new_message_id("bad domain\r\n").ends_with("@buildme.invalid>"));
}

} // namespace unit_test_mail_message
