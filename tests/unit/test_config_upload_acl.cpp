// upload_acl: the archive's list of which key may upload which sources.
#include "config/upload_acl.hpp"

#include "scratch.hpp"

#include <doctest/doctest.h>

#include <string>

namespace unit_test_config_upload_acl {

using buildme::config::load_upload_acl;
using buildme::config::parse_upload_acl;
using buildme::config::UploadAcl;
using buildme::test::has;
using buildme::test::ScratchDir;

namespace {

const std::string jane = "0123456789ABCDEF0123456789ABCDEF01234567";
const std::string team = "89ABCDEF0123456789ABCDEF0123456789ABCDEF";

UploadAcl parse_ok(const std::string& text)
{
  auto acl = parse_upload_acl(text, "uploaders.acl");
  REQUIRE_MESSAGE(acl.ok(), (acl.ok() ? std::string() : acl.message()));
  return std::move(*acl);
}

std::string parse_error(const std::string& text)
{
  auto acl = parse_upload_acl(text, "uploaders.acl");
  REQUIRE_FALSE(acl.ok());
  return acl.message();
}

} // namespace

TEST_SUITE("config: upload_acl")
{
  TEST_CASE("each key may upload the sources its line names, globs included; no line, nothing")
  {
    auto acl = parse_ok("# the hello team\n"
                        "\n"
                        "0123456789abcdef0123456789abcdef01234567  hello hello-* lib?ello # Jane\n"
                        "   " +
                        team + "\t*\n");
    CHECK(acl.allows(jane, "hello"));
    CHECK(acl.allows(jane, "hello-doc"));
    CHECK(acl.allows(jane, "libhello"));
    CHECK_FALSE(acl.allows(jane, "hello2"));
    CHECK_FALSE(acl.allows(jane, "libxhello"));
    CHECK_FALSE(acl.allows(jane, "bash"));
    CHECK(acl.allows(team, "bash"));
    CHECK(acl.sources_of(jane) == std::vector<std::string>{"hello", "hello-*", "lib?ello"});
    const std::string stranger = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF";
    CHECK(acl.sources_of(stranger).empty());
    CHECK_FALSE(acl.allows(stranger, "hello"));
  }

  TEST_CASE("bracket globs match one character of a set, '!' negating it")
  {
    auto acl = parse_ok(jane + " hello[0-9] lib[!x]y\n");
    CHECK(acl.allows(jane, "hello7"));
    CHECK_FALSE(acl.allows(jane, "hellox"));
    CHECK(acl.allows(jane, "libay"));
    CHECK_FALSE(acl.allows(jane, "libxy"));
  }

  TEST_CASE("an empty file, or one of comments only, lets no key upload anything")
  {
    CHECK_FALSE(parse_ok("").allows(jane, "hello"));
    CHECK_FALSE(parse_ok("# nobody yet\n\n   \n").allows(jane, "hello"));
  }

  TEST_CASE("a bad line stops with file:line and what is wrong")
  {
    CHECK(parse_error("# ok\n" + jane.substr(24) + " hello\n") ==
          "uploaders.acl:2: '89ABCDEF01234567' is not a key's full fingerprint (40 hex digits, "
          "as gpg --with-colons --fingerprint shows them, without spaces)");
    CHECK(has(parse_error("0123 4567 89AB CDEF 0123 4567 89AB CDEF 0123 4567 hello\n"),
              "uploaders.acl:1: '0123' is not a key's full fingerprint"));
    CHECK(has(parse_error(jane + "\n"),
              "uploaders.acl:1: key " + jane + " is given no source package"));
    CHECK(has(parse_error(jane + " # hello\n"), "uploaders.acl:1: key " + jane));
    CHECK(has(parse_error(jane + " hello\n\n" + jane + " bash\n"),
              "uploaders.acl:3: key " + jane + " has a line already (line 1)"));
    CHECK(has(parse_error(jane + " Hello\n"),
              "uploaders.acl:1: 'Hello' is not a source package name or glob"));
    CHECK(has(parse_error(jane + " ../etc\n"), "'../etc' is not a source package name"));
    CHECK(has(parse_error(jane + " hello[\n"), "'hello[' is not a source package name"));
    CHECK(has(parse_error(jane + " hel]lo\n"), "'hel]lo' is not"));
    CHECK(has(parse_error(jane + " [[a]]\n"), "'[[a]]' is not"));
    CHECK(has(parse_error(jane + " h!llo\n"), "'h!llo' is not"));
    CHECK(has(parse_error(jane + "0 hello\n"), "is not a key's full fingerprint"));
  }

  TEST_CASE("hostile input: NUL bytes, control characters, huge lines, truncation")
  {
    CHECK(has(parse_error(jane + std::string(" hello\0x\n", 9)), "uploaders.acl: a NUL byte"));
    auto message = parse_error(jane + " \x1b[2J\n");
    CHECK(has(message, "\\x1b"));
    CHECK(message.find('\x1b') == std::string::npos);
    message = parse_error(std::string(1 << 20, 'A') + " hello\n");
    CHECK(message.size() < 400);
    // Every cut of a good file is good or names its line: never half read.
    const std::string whole = "# team\n" + jane + " hello hello-*\n" + team + " *\n";
    for (std::size_t cut = 0; cut <= whole.size(); ++cut) {
      CAPTURE(cut);
      auto acl = parse_upload_acl(whole.substr(0, cut), "uploaders.acl");
      if (!acl) {
        CHECK(acl.message().starts_with("uploaders.acl:"));
      }
    }
  }

  TEST_CASE("the file is read from disk; a missing one is an error naming it")
  {
    ScratchDir scratch;
    auto path = scratch.write("uploaders.acl", jane + " hello\n");
    auto acl = load_upload_acl(path);
    REQUIRE(acl.ok());
    CHECK(acl->allows(jane, "hello"));
    auto missing = load_upload_acl(scratch / "absent.acl");
    REQUIRE_FALSE(missing.ok());
    CHECK(has(missing.message(), (scratch / "absent.acl").string()));
    CHECK(has(missing.message(), "missing"));
    auto broken = load_upload_acl(scratch.write("broken.acl", jane + "\n"));
    REQUIRE_FALSE(broken.ok());
    CHECK(has(broken.message(), (scratch / "broken.acl").string() + ":1: key"));
  }
}

} // namespace unit_test_config_upload_acl
