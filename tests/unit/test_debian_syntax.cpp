#include "debian/syntax.hpp"

#include <doctest/doctest.h>

#include <string>

namespace unit_test_debian_syntax {

using namespace buildme::debian;

namespace {

std::string file_name_problem(std::string_view name)
{
  auto status = check_file_name(name);
  if (status.ok()) {
    FAIL_CHECK("accepted a bad file name: ", std::string(name));
    return {};
  }
  // However hostile the name, the message stays one printable line.
  for (char c : status.message()) {
    CHECK((static_cast<unsigned char>(c) >= 0x20 && c != 0x7f));
  }
  return status.message();
}

std::string package_name_problem(std::string_view name)
{
  auto status = check_package_name(name);
  if (status.ok()) {
    FAIL_CHECK("accepted a bad package name: ", std::string(name));
    return {};
  }
  CHECK_FALSE(is_valid_package_name(name));
  return status.message();
}

bool mentions(const std::string& message, std::string_view what)
{
  INFO("message: ", message);
  return message.find(what) != std::string::npos;
}

} // namespace

TEST_CASE("ordinary package names are accepted")
{
  for (const char* name :
       {"hello", "libc6", "g++", "libstdc++6", "0ad", "python3.11", "xserver-xorg", "a0", "ab"}) {
    INFO(name);
    CHECK(is_valid_package_name(name));
    CHECK(check_package_name(name).ok());
  }
}

TEST_CASE("an upper-case package name is refused with the reason")
{
  CHECK(mentions(package_name_problem("Foo"), "'Foo' has an upper-case letter"));
  CHECK(mentions(package_name_problem("fOO"), "lower case"));
}

TEST_CASE("a package name with a character outside a-z 0-9 + - . is refused")
{
  CHECK(mentions(package_name_problem("foo_bar"), "character '_'"));
  CHECK(mentions(package_name_problem("a b"), "character ' '"));
  CHECK(mentions(package_name_problem("../x"), "character '/'"));
  CHECK(mentions(package_name_problem("a/b"), "character '/'"));
  CHECK(mentions(package_name_problem("x\n"), "character '\\x0a'"));
  CHECK(mentions(package_name_problem(std::string("ab\0c", 4)), "character '\\x00'"));
  auto escape = package_name_problem("x\x1b[31m");
  CHECK(escape.find('\x1b') == std::string::npos);
}

TEST_CASE("a package name must start with a letter or digit and have two characters")
{
  CHECK(mentions(package_name_problem("-foo"), "must start with"));
  CHECK(mentions(package_name_problem(".hidden"), "must start with"));
  CHECK(mentions(package_name_problem("+x"), "must start with"));
  CHECK(mentions(package_name_problem("a"), "too short"));
  CHECK(mentions(package_name_problem(""), "package name is empty"));
}

TEST_CASE("plain file names of an upload are accepted")
{
  for (const char* name : {"hello_1.0-1.dsc", "hello_1.0.orig.tar.gz", "hello_1:1.0-1_amd64.deb",
                           "g++-12_12.2.0-14.debian.tar.xz", "a", "x~y+z"}) {
    INFO(name);
    CHECK(check_file_name(name).ok());
  }
  CHECK(check_file_name(std::string(255, 'a')).ok());
}

TEST_CASE("a file name that could leave the upload's folder is refused")
{
  CHECK(mentions(file_name_problem("../x"), "'/'"));
  CHECK(mentions(file_name_problem("a/b"), "'/'"));
  CHECK(mentions(file_name_problem("/etc/passwd"), "'/'"));
  CHECK(mentions(file_name_problem("."), "names a folder"));
  CHECK(mentions(file_name_problem(".."), "names a folder"));
}

TEST_CASE("hidden, empty and over-long file names are refused")
{
  CHECK(mentions(file_name_problem(".hidden"), "starts with '.'"));
  CHECK(mentions(file_name_problem(""), "file name is empty"));
  auto long_name = file_name_problem(std::string(256, 'a'));
  CHECK(mentions(long_name, "256 bytes"));
  CHECK(long_name.size() < 200); // the message quotes only the start
  CHECK(mentions(file_name_problem(std::string(100000, 'b')), "100000 bytes"));
}

TEST_CASE("file names with control characters, spaces or backslashes are refused")
{
  CHECK(mentions(file_name_problem("x\n"), "control character"));
  CHECK(mentions(file_name_problem("x\x1b[31m"), "control character"));
  CHECK(mentions(file_name_problem("x\x7f"), "control character"));
  CHECK(mentions(file_name_problem(std::string("a\0b", 3)), "control character"));
  CHECK(mentions(file_name_problem("a\tb"), "control character"));
  CHECK(mentions(file_name_problem("a b"), "has a space"));
  CHECK(mentions(file_name_problem("a\\b"), "backslash"));
}

TEST_CASE("the message names the refused file")
{
  CHECK(mentions(file_name_problem("evil name.dsc"), "'evil name.dsc'"));
  CHECK(mentions(file_name_problem("x\n"), "'x\\x0a'"));
}

TEST_CASE("architecture names and wildcards are recognised")
{
  for (const char* arch : {"any", "all", "source", "amd64", "armel", "i386", "linux-any", "any-arm",
                           "kfreebsd-amd64", "x32"}) {
    INFO(arch);
    CHECK(is_valid_architecture(arch));
  }
  for (const char* arch :
       {"", "AMD64", "-any", "amd 64", "../x", "amd64\n", "arm_el", "a/b", "i386,amd64"}) {
    INFO(arch);
    CHECK_FALSE(is_valid_architecture(arch));
  }
  CHECK_FALSE(is_valid_architecture(std::string("amd64\0", 6)));
}

} // namespace unit_test_debian_syntax
