#include "debian/upload.hpp"

#include <doctest/doctest.h>

#include <string>

namespace unit_test_debian_upload {

using buildme::Result;
using buildme::debian::Changes;
using buildme::debian::Dsc;
using buildme::util::DigestKind;

namespace {

// A 3.0 (quilt) source package as dpkg-source -b wrote it.
const std::string dsc_text = R"(Format: 3.0 (quilt)
Source: hello
Binary: hello, hello-doc
Architecture: any all
Version: 1.0-1
Maintainer: Jane Doe <jane@example.org>
Uploaders: "Doe, John" <john@example.org>, Max Mustermann <max@example.org>
Homepage: https://example.org/hello
Standards-Version: 4.6.2
Build-Depends: debhelper-compat (= 13)
Package-List:
 hello deb devel optional arch=any
 hello-doc deb devel optional arch=all
Checksums-Sha1:
 359e28cf7ac392d781b1c51de94e48240a54c023 176 hello_1.0.orig.tar.gz
 d35a482f66918ac35515c8c1d726794003dbf844 656 hello_1.0-1.debian.tar.xz
Checksums-Sha256:
 75ec06d5a91105c1cc0906fcc3c2e133ac2cee8078e85215e2978bf74cf82256 176 hello_1.0.orig.tar.gz
 70e9e0fb722759aa015d306d810b1eb1089d3ee15ae5c9e3a09cba831c98ed31 656 hello_1.0-1.debian.tar.xz
Files:
 d33a9ca0a7b0e1fff2f83ffa556eb150 176 hello_1.0.orig.tar.gz
 7ca39aa4e23d366a489bca631884fe32 656 hello_1.0-1.debian.tar.xz
)";

// The same, clear-signed by gpg --clearsign (three armor lines before it).
const std::string signed_dsc_text = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" +
                                    dsc_text + R"(-----BEGIN PGP SIGNATURE-----

iHUEARYKAB0WIQSJP7RI1bwThZACPPIHin1LrCjRAwUCawHDkAAKCRAHin1LrCjR
A4Y3AP4+ovQyU95qTdoOXlmTk5FD93cY6g5CkloyonZ7yq1zRwD+LmqpKZ6KSqyk
G47BpjdMWNZtbD6wfye2095LZ94zyAM=
=yY0a
-----END PGP SIGNATURE-----
)";

// Its source-only upload as dpkg-genchanges -S wrote it.
const std::string changes_text = R"(Format: 1.8
Date: Mon, 01 Jan 2024 00:00:00 +0000
Source: hello
Architecture: source
Version: 1.0-1
Distribution: unstable
Urgency: medium
Maintainer: Jane Doe <jane@example.org>
Changed-By: Jane Doe <jane@example.org>
Changes:
 hello (1.0-1) unstable; urgency=medium
 .
   * Initial release.
Checksums-Sha1:
 6b5ffffa83a1b69854cb86591ad3b983d25c1bac 893 hello_1.0-1.dsc
 359e28cf7ac392d781b1c51de94e48240a54c023 176 hello_1.0.orig.tar.gz
 d35a482f66918ac35515c8c1d726794003dbf844 656 hello_1.0-1.debian.tar.xz
Checksums-Sha256:
 005a2101c9c02ac384d9200dbf2492d790cc2fafc8e4e4b94a5ba5ce49bc5650 893 hello_1.0-1.dsc
 75ec06d5a91105c1cc0906fcc3c2e133ac2cee8078e85215e2978bf74cf82256 176 hello_1.0.orig.tar.gz
 70e9e0fb722759aa015d306d810b1eb1089d3ee15ae5c9e3a09cba831c98ed31 656 hello_1.0-1.debian.tar.xz
Files:
 e361a19c353f185ee17c785d747f48fb 893 devel optional hello_1.0-1.dsc
 d33a9ca0a7b0e1fff2f83ffa556eb150 176 devel optional hello_1.0.orig.tar.gz
 7ca39aa4e23d366a489bca631884fe32 656 devel optional hello_1.0-1.debian.tar.xz
)";

const std::string signed_changes_text = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" +
                                        changes_text +
                                        R"(-----BEGIN PGP SIGNATURE-----

iHUEARYKAB0WIQSJP7RI1bwThZACPPIHin1LrCjRAwUCawHDkAAKCRAHin1LrCjR
A4Y3AP4+ovQyU95qTdoOXlmTk5FD93cY6g5CkloyonZ7yq1zRwD+LmqpKZ6KSqyk
G47BpjdMWNZtbD6wfye2095LZ94zyAM=
=yY0a
-----END PGP SIGNATURE-----
)";

constexpr std::string_view dsc_name = "hello_1.0-1.dsc";
constexpr std::string_view changes_name = "hello_1.0-1_source.changes";

// `text` with the one occurrence of `from` replaced; fails the test when
// the fixture no longer holds `from`.
std::string replaced(std::string text, std::string_view from, std::string_view to)
{
  auto at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from);
  REQUIRE_MESSAGE(text.find(from, at + 1) == std::string::npos, from);
  return text.replace(at, from.size(), to);
}

std::string dsc_with(std::string_view from, std::string_view to)
{
  return replaced(dsc_text, from, to);
}

std::string changes_with(std::string_view from, std::string_view to)
{
  return replaced(changes_text, from, to);
}

// The message of a parse that must fail: it starts with "FILE:LINE: " and
// says `what`.
template<typename T>
void check_error(const Result<T>& result, std::string_view where, std::string_view what)
{
  REQUIRE_FALSE(result.ok());
  INFO(result.message());
  CHECK(result.message().starts_with(std::string(where) + ": "));
  CHECK(result.message().find(what) != std::string::npos);
}

std::string with_crlf(std::string_view text)
{
  std::string out;
  for (char c : text) {
    if (c == '\n') {
      out += '\r';
    }
    out += c;
  }
  return out;
}

void check_hello_dsc(const Dsc& dsc)
{
  CHECK(dsc.source == "hello");
  CHECK(dsc.version.to_string() == "1.0-1");
  CHECK(dsc.format == "3.0 (quilt)");
  CHECK(dsc.maintainer == "Jane Doe <jane@example.org>");
  CHECK(dsc.uploaders == std::vector<std::string>{"\"Doe, John\" <john@example.org>",
                                                  "Max Mustermann <max@example.org>"});
  CHECK(dsc.architectures == std::vector<std::string>{"any", "all"});
  CHECK(dsc.binaries == std::vector<std::string>{"hello", "hello-doc"});
  REQUIRE(dsc.files.size() == 2);
  const auto& orig = dsc.files[0];
  CHECK(orig.name == "hello_1.0.orig.tar.gz");
  CHECK(orig.size == 176);
  CHECK(orig.digests.size == 176);
  CHECK(orig.digests.md5 == "d33a9ca0a7b0e1fff2f83ffa556eb150");
  CHECK(orig.digests.sha1 == "359e28cf7ac392d781b1c51de94e48240a54c023");
  CHECK(orig.digests.sha256 == "75ec06d5a91105c1cc0906fcc3c2e133ac2cee8078e85215e2978bf74cf82256");
  CHECK_FALSE(orig.digests.sha512.has_value());
  const auto& debian = dsc.files[1];
  CHECK(debian.name == "hello_1.0-1.debian.tar.xz");
  CHECK(debian.size == 656);
  CHECK(debian.digests[DigestKind::md5] == "7ca39aa4e23d366a489bca631884fe32");
  CHECK(debian.digests[DigestKind::sha256] ==
        "70e9e0fb722759aa015d306d810b1eb1089d3ee15ae5c9e3a09cba831c98ed31");
}

} // namespace

TEST_CASE("a .dsc from dpkg-source gives its source, people and files")
{
  auto dsc = Dsc::parse(dsc_text, dsc_name);
  REQUIRE_MESSAGE(dsc.ok(), dsc.message());
  check_hello_dsc(*dsc);
  CHECK_FALSE(dsc->control.is_signed);
}

TEST_CASE("a signed .dsc reads like the unsigned one and keeps its signature")
{
  auto dsc = Dsc::parse(signed_dsc_text, dsc_name);
  REQUIRE_MESSAGE(dsc.ok(), dsc.message());
  check_hello_dsc(*dsc);
  CHECK(dsc->control.is_signed);
  CHECK(dsc->control.signed_text == dsc_text);
  CHECK(dsc->control.signature.starts_with("-----BEGIN PGP SIGNATURE-----\n"));
}

TEST_CASE("a .dsc with CRLF line ends reads like one with LF")
{
  auto dsc = Dsc::parse(with_crlf(signed_dsc_text), dsc_name);
  REQUIRE_MESSAGE(dsc.ok(), dsc.message());
  check_hello_dsc(*dsc);
}

TEST_CASE("digests in upper case are kept in lower case")
{
  auto dsc = Dsc::parse(
    dsc_with("d33a9ca0a7b0e1fff2f83ffa556eb150", "D33A9CA0A7B0E1FFF2F83FFA556EB150"), dsc_name);
  REQUIRE_MESSAGE(dsc.ok(), dsc.message());
  CHECK(dsc->files.at(0).digests.md5 == "d33a9ca0a7b0e1fff2f83ffa556eb150");
}

TEST_CASE("a format 1.0 .dsc needs no Checksums-Sha256, and may have Sha512")
{
  std::string text = dsc_with("Format: 3.0 (quilt)", "Format: 1.0");
  text = replaced(text, "Checksums-Sha256:", "Checksums-Sha512:");
  text = replaced(text, "75ec06d5a91105c1cc0906fcc3c2e133ac2cee8078e85215e2978bf74cf82256",
                  std::string(128, 'a'));
  text = replaced(text, "70e9e0fb722759aa015d306d810b1eb1089d3ee15ae5c9e3a09cba831c98ed31",
                  std::string(128, 'b'));
  auto dsc = Dsc::parse(text, dsc_name);
  REQUIRE_MESSAGE(dsc.ok(), dsc.message());
  CHECK(dsc->format == "1.0");
  CHECK(dsc->files.at(1).digests.sha512 == std::string(128, 'b'));
  CHECK_FALSE(dsc->files.at(1).digests.sha256.has_value());
}

TEST_CASE("a .dsc without Architecture, Binary and Uploaders is fine")
{
  std::string text = dsc_with("Binary: hello, hello-doc\nArchitecture: any all\n", "");
  text = replaced(text,
                  "Uploaders: \"Doe, John\" <john@example.org>, Max Mustermann "
                  "<max@example.org>\n",
                  "");
  auto dsc = Dsc::parse(text, dsc_name);
  REQUIRE_MESSAGE(dsc.ok(), dsc.message());
  CHECK(dsc->architectures.empty());
  CHECK(dsc->binaries.empty());
  CHECK(dsc->uploaders.empty());
}

TEST_CASE("folded Binary and Uploaders fields are read across their lines")
{
  std::string text = dsc_with("Binary: hello, hello-doc", "Binary: hello,\n hello-doc");
  text = replaced(text, ", Max Mustermann", ",\n Max Mustermann");
  auto dsc = Dsc::parse(text, dsc_name);
  REQUIRE_MESSAGE(dsc.ok(), dsc.message());
  CHECK(dsc->binaries == std::vector<std::string>{"hello", "hello-doc"});
  CHECK(dsc->uploaders.at(1) == "Max Mustermann <max@example.org>");
}

TEST_CASE("a .dsc without a required field is refused, naming the field")
{
  for (std::string field :
       {"Source", "Version", "Format", "Maintainer", "Files", "Checksums-Sha256"}) {
    CAPTURE(field);
    // Drop the field and its continuation lines.
    std::string text;
    bool dropping = false;
    for (std::size_t start = 0; start < dsc_text.size();) {
      auto end = dsc_text.find('\n', start) + 1;
      auto line = std::string_view(dsc_text).substr(start, end - start);
      if (line.front() != ' ') {
        dropping = line.starts_with(field + ":");
      }
      if (!dropping) {
        text += line;
      }
      start = end;
    }
    REQUIRE(text.size() < dsc_text.size());
    check_error(Dsc::parse(text, dsc_name), "hello_1.0-1.dsc:1", "'" + field + "' is missing");
  }
}

TEST_CASE("a .dsc that is not one paragraph is refused")
{
  check_error(Dsc::parse("", dsc_name), "hello_1.0-1.dsc:1", "no fields");
  check_error(Dsc::parse("# only a comment\n", dsc_name), "hello_1.0-1.dsc:1", "no fields");
  check_error(Dsc::parse(dsc_text + "\nSource: evil\n", dsc_name), "hello_1.0-1.dsc:24",
              "second paragraph");
}

TEST_CASE("malformed identity fields of a .dsc are refused with their line")
{
  check_error(Dsc::parse(dsc_with("Source: hello", "Source: Hello"), dsc_name), "hello_1.0-1.dsc:2",
              "upper-case");
  check_error(Dsc::parse(dsc_with("Source: hello", "Source: hello world"), dsc_name),
              "hello_1.0-1.dsc:2", "Source");
  check_error(Dsc::parse(dsc_with("Version: 1.0-1", "Version: a1.0-1"), dsc_name),
              "hello_1.0-1.dsc:5", "Version");
  check_error(Dsc::parse(dsc_with("Version: 1.0-1", "Version:"), dsc_name), "hello_1.0-1.dsc:5",
              "Version is empty");
  check_error(Dsc::parse(dsc_with("Format: 3.0 (quilt)", "Format: 3.0 quilt"), dsc_name),
              "hello_1.0-1.dsc:1", "Format");
  check_error(Dsc::parse(dsc_with("Format: 3.0 (quilt)", "Format: 3.0 (../x)"), dsc_name),
              "hello_1.0-1.dsc:1", "Format");
  check_error(Dsc::parse(dsc_with("Architecture: any all", "Architecture: any ARM"), dsc_name),
              "hello_1.0-1.dsc:4", "'ARM' is not a valid architecture");
  check_error(Dsc::parse(dsc_with("Binary: hello, hello-doc", "Binary: hello hello-doc"), dsc_name),
              "hello_1.0-1.dsc:3", "Binary");
  check_error(
    Dsc::parse(dsc_with("Binary: hello, hello-doc", "Binary: hello,, hello-doc"), dsc_name),
    "hello_1.0-1.dsc:3", "empty");
  check_error(Dsc::parse(dsc_with("\"Doe, John\"", "\"Doe, John"), dsc_name), "hello_1.0-1.dsc:7",
              "unbalanced");
}

TEST_CASE("malformed file listings are refused with the line of the entry")
{
  SUBCASE("a digest one digit short")
  {
    check_error(
      Dsc::parse(dsc_with("d33a9ca0a7b0e1fff2f83ffa556eb150", "d33a9ca0a7b0e1fff2f83ffa556eb15"),
                 dsc_name),
      "hello_1.0-1.dsc:21", "not an MD5 digest");
  }
  SUBCASE("a digest with a letter that is not hex")
  {
    check_error(Dsc::parse(dsc_with("75ec06d5a91105c1cc", "75ec06d5a91105c1cg"), dsc_name),
                "hello_1.0-1.dsc:18", "not an SHA256 digest");
  }
  SUBCASE("sizes that are not plain decimal numbers of bytes")
  {
    for (std::string size :
         {"-1", "+176", "1e3", "0x10", "18446744073709551616", "99999999999999999999999"}) {
      CAPTURE(size);
      check_error(Dsc::parse(dsc_with("ffa556eb150 176 ", "ffa556eb150 " + size + " "), dsc_name),
                  "hello_1.0-1.dsc:21", "size '" + size + "'");
    }
  }
  SUBCASE("the largest size there is")
  {
    std::string text = dsc_with("ffa556eb150 176 ", "ffa556eb150 18446744073709551615 ");
    text = replaced(text, "51de94e48240a54c023 176 ", "51de94e48240a54c023 18446744073709551615 ");
    text = replaced(text, "f82256 176 ", "f82256 18446744073709551615 ");
    auto dsc = Dsc::parse(text, dsc_name);
    REQUIRE_MESSAGE(dsc.ok(), dsc.message());
    CHECK(dsc->files.at(0).size == UINT64_MAX);
  }
  SUBCASE("a line with a word too many or too few")
  {
    check_error(
      Dsc::parse(dsc_with("ffa556eb150 176 hello", "ffa556eb150 176 devel hello"), dsc_name),
      "hello_1.0-1.dsc:21", "is not 'MD5 SIZE NAME'");
    check_error(Dsc::parse(dsc_with("a54c023 176 hello", "a54c023 hello"), dsc_name),
                "hello_1.0-1.dsc:15", "is not 'HASH SIZE NAME'");
  }
  SUBCASE("an empty Files")
  {
    std::string text = dsc_with(" d33a9ca0a7b0e1fff2f83ffa556eb150 176 hello_1.0.orig.tar.gz\n"
                                " 7ca39aa4e23d366a489bca631884fe32 656 hello_1.0-1.debian.tar.xz\n",
                                "");
    check_error(Dsc::parse(text, dsc_name), "hello_1.0-1.dsc:20", "Files lists no files");
  }
  SUBCASE("a file listed twice")
  {
    auto text = dsc_with("Files:\n", "Files:\n d33a9ca0a7b0e1fff2f83ffa556eb150 176 "
                                     "hello_1.0.orig.tar.gz\n");
    check_error(Dsc::parse(text, dsc_name), "hello_1.0-1.dsc:22",
                "Files lists hello_1.0.orig.tar.gz twice (also on line 21)");
  }
}

TEST_CASE("listings that disagree on names or sizes are refused, naming field and file")
{
  SUBCASE("a size that differs from Files")
  {
    check_error(Dsc::parse(dsc_with("f82256 176 ", "f82256 1234 "), dsc_name), "hello_1.0-1.dsc:18",
                "Checksums-Sha256 lists hello_1.0.orig.tar.gz with size 1234 but Files says 176");
  }
  SUBCASE("a name Files does not list")
  {
    check_error(Dsc::parse(dsc_with("656 hello_1.0-1.debian.tar.xz\nChecksums-Sha256",
                                    "656 hello_1.0-2.debian.tar.xz\nChecksums-Sha256"),
                           dsc_name),
                "hello_1.0-1.dsc:16",
                "Checksums-Sha1 lists hello_1.0-2.debian.tar.xz, which Files does not list");
  }
  SUBCASE("a file missing from a checksums field")
  {
    check_error(
      Dsc::parse(
        dsc_with(" 359e28cf7ac392d781b1c51de94e48240a54c023 176 hello_1.0.orig.tar.gz\n", ""),
        dsc_name),
      "hello_1.0-1.dsc:14",
      "Checksums-Sha1 does not list hello_1.0.orig.tar.gz, which Files lists on line 20");
  }
  SUBCASE("an empty checksums field")
  {
    auto text = dsc_with(
      " 75ec06d5a91105c1cc0906fcc3c2e133ac2cee8078e85215e2978bf74cf82256 176 "
      "hello_1.0.orig.tar.gz\n 70e9e0fb722759aa015d306d810b1eb1089d3ee15ae5c9e3a09cba831c98ed31 "
      "656 hello_1.0-1.debian.tar.xz\n",
      "");
    check_error(Dsc::parse(text, dsc_name), "hello_1.0-1.dsc:17", "Checksums-Sha256 does not list");
  }
}

TEST_CASE("hostile file names in a .dsc are refused")
{
  for (std::string name : {"../../etc/passwd", "a/b", ".hidden", "..", "/etc/shadow",
                           "evil\x1b]0;pwned\x07.tar.gz", "back\\slash"}) {
    CAPTURE(name);
    auto text = dsc_with("656 hello_1.0-1.debian.tar.xz\nChecksums-Sha256",
                         "656 " + name + "\nChecksums-Sha256");
    auto dsc = Dsc::parse(text, dsc_name);
    check_error(dsc, "hello_1.0-1.dsc:16", "Checksums-Sha1: file name");
    CHECK(dsc.message().find('\x1b') == std::string::npos);
  }
}

TEST_CASE("a file name split by a continuation line is not one name")
{
  auto text =
    dsc_with("ffa556eb150 176 hello_1.0.orig.tar.gz", "ffa556eb150 176 hello\n _1.0.orig.tar.gz");
  check_error(Dsc::parse(text, dsc_name), "hello_1.0-1.dsc:22", "is not 'MD5 SIZE NAME'");
}

TEST_CASE("people fields with control characters or line breaks are refused")
{
  check_error(Dsc::parse(dsc_with("Jane Doe <jane", "Jane\x1b[31m Doe <jane"), dsc_name),
              "hello_1.0-1.dsc:6", "control character");
  check_error(
    Dsc::parse(dsc_with("Jane Doe <jane", "Jane Doe\n Bcc: all@example.org <jane"), dsc_name),
    "hello_1.0-1.dsc:6", "single line");
  check_error(Dsc::parse(dsc_with("Max Mustermann", "Max\rBcc: x"), dsc_name), "hello_1.0-1.dsc:7",
              "control character");
  auto message = Dsc::parse(dsc_with("Jane Doe <jane", "Jane\x1b[31m Doe <jane"), dsc_name);
  CHECK(message.message().find('\x1b') == std::string::npos);
}

TEST_CASE("a 10 MB field neither crashes nor passes")
{
  std::string huge(10 * 1024 * 1024, 'm');
  check_error(Dsc::parse(dsc_with("Jane Doe", huge), dsc_name), "hello_1.0-1.dsc:6", "more than");
  // Folded into short lines it is within the limits, and an unknown field
  // is ignored.
  std::string folded = "X-Junk:\n";
  while (folded.size() < huge.size()) {
    folded += " " + std::string(100, 'j') + "\n";
  }
  auto dsc = Dsc::parse(dsc_text + folded, dsc_name);
  REQUIRE_MESSAGE(dsc.ok(), dsc.message());
  CHECK(dsc->source == "hello");
}

TEST_CASE("a NUL byte in a .dsc is refused with its line")
{
  check_error(
    Dsc::parse(dsc_with("Binary: hello, hello-doc", std::string("Binary: hello, hello\0doc", 24)),
               dsc_name),
    "hello_1.0-1.dsc:3", "NUL");
}

TEST_CASE("a .dsc with armor tricks is refused")
{
  check_error(Dsc::parse(signed_dsc_text + "Source: evil\n", dsc_name), "hello_1.0-1.dsc:33",
              "after the OpenPGP signature");
  check_error(Dsc::parse(dsc_text + "\n" + signed_dsc_text, dsc_name), "hello_1.0-1.dsc:24",
              "signed message starts here");
}

TEST_CASE("a signed .dsc cut at any byte is refused, never crashes")
{
  for (std::size_t cut = 0; cut + 1 < signed_dsc_text.size(); ++cut) {
    auto dsc = Dsc::parse(std::string_view(signed_dsc_text).substr(0, cut), dsc_name);
    INFO("cut at byte " << cut << ": " << (dsc.ok() ? "" : dsc.message()));
    REQUIRE_FALSE(dsc.ok());
    CHECK(dsc.message().starts_with("hello_1.0-1.dsc:"));
  }
  // Without only its final line end it is whole.
  CHECK(Dsc::parse(signed_dsc_text.substr(0, signed_dsc_text.size() - 1), dsc_name).ok());
}

TEST_CASE("an unsigned .dsc cut at any byte is refused, never crashes")
{
  for (std::size_t cut = 0; cut + 1 < dsc_text.size(); ++cut) {
    auto dsc = Dsc::parse(std::string_view(dsc_text).substr(0, cut), dsc_name);
    INFO("cut at byte " << cut);
    REQUIRE_FALSE(dsc.ok());
    CHECK(dsc.message().starts_with("hello_1.0-1.dsc:"));
  }
}

TEST_CASE("a .changes from dpkg-genchanges gives its upload")
{
  for (const auto& text : {changes_text, signed_changes_text, with_crlf(signed_changes_text)}) {
    auto changes = Changes::parse(text, changes_name);
    REQUIRE_MESSAGE(changes.ok(), changes.message());
    CHECK(changes->source == "hello");
    CHECK(changes->version.to_string() == "1.0-1");
    CHECK(changes->distribution == "unstable");
    CHECK(changes->maintainer == "Jane Doe <jane@example.org>");
    CHECK(changes->changed_by == "Jane Doe <jane@example.org>");
    CHECK(changes->architectures == std::vector<std::string>{"source"});
    CHECK(changes->binaries.empty());
    REQUIRE(changes->files.size() == 3);
    const auto& dsc = changes->files[0];
    CHECK(dsc.name == "hello_1.0-1.dsc");
    CHECK(dsc.size == 893);
    CHECK(dsc.section == "devel");
    CHECK(dsc.priority == "optional");
    CHECK(dsc.digests.md5 == "e361a19c353f185ee17c785d747f48fb");
    CHECK(dsc.digests.sha1 == "6b5ffffa83a1b69854cb86591ad3b983d25c1bac");
    CHECK(changes->files[2].name == "hello_1.0-1.debian.tar.xz");
    CHECK(changes->files[2].digests.sha256 ==
          "70e9e0fb722759aa015d306d810b1eb1089d3ee15ae5c9e3a09cba831c98ed31");
  }
}

TEST_CASE("a .changes names its source with or without a version, binaries space-separated")
{
  std::string text = changes_with("Source: hello", "Source: hello (1:1.0-1)");
  text = replaced(text, "Architecture: source",
                  "Architecture: source armel all\nBinary: hello hello-doc");
  text = replaced(text, "Changed-By: Jane Doe <jane@example.org>\n", "");
  auto changes = Changes::parse(text, changes_name);
  REQUIRE_MESSAGE(changes.ok(), changes.message());
  CHECK(changes->source == "hello");
  CHECK(changes->binaries == std::vector<std::string>{"hello", "hello-doc"});
  CHECK(changes->architectures == std::vector<std::string>{"source", "armel", "all"});
  CHECK(changes->changed_by.empty());
}

TEST_CASE("a .changes without a required field is refused, naming the field")
{
  for (std::string field :
       {"Format", "Source", "Version", "Distribution", "Maintainer", "Architecture", "Files"}) {
    CAPTURE(field);
    std::string text;
    bool dropping = false;
    for (std::size_t start = 0; start < changes_text.size();) {
      auto end = changes_text.find('\n', start) + 1;
      auto line = std::string_view(changes_text).substr(start, end - start);
      if (line.front() != ' ') {
        dropping = line.starts_with(field + ":");
      }
      if (!dropping) {
        text += line;
      }
      start = end;
    }
    REQUIRE(text.size() < changes_text.size());
    check_error(Changes::parse(text, changes_name), "hello_1.0-1_source.changes:1",
                "'" + field + "' is missing");
  }
}

TEST_CASE("malformed .changes fields are refused with their line")
{
  const std::string where = "hello_1.0-1_source.changes:";
  check_error(Changes::parse(changes_with("Format: 1.8", "Format: 1.8 (quilt)"), changes_name),
              where + "1", "Format");
  check_error(Changes::parse(changes_with("Source: hello", "Source: hello (a1)"), changes_name),
              where + "3", "NAME (VERSION)");
  check_error(Changes::parse(changes_with("Source: hello", "Source: hello 1.0"), changes_name),
              where + "3", "NAME (VERSION)");
  check_error(Changes::parse(changes_with("Source: hello", "Source: HELLO"), changes_name),
              where + "3", "upper-case");
  check_error(
    Changes::parse(changes_with("Distribution: unstable", "Distribution: ../../etc"), changes_name),
    where + "6", "not a distribution name");
  check_error(
    Changes::parse(changes_with("Changed-By: Jane", "Changed-By: \x1b[2JJane"), changes_name),
    where + "9", "control character");
  check_error(
    Changes::parse(changes_with("Architecture: source", "Architecture: source,all"), changes_name),
    where + "4", "architecture");
  check_error(Changes::parse(changes_with("Urgency: medium", "Urgency: medium\nBinary: hello,doc"),
                             changes_name),
              where + "8", "Binary");
  check_error(
    Changes::parse(changes_with("devel optional hello_1.0-1.dsc", "optional hello_1.0-1.dsc"),
                   changes_name),
    where + "23", "is not 'MD5 SIZE SECTION PRIORITY NAME'");
  check_error(Changes::parse(changes_with("devel optional hello_1.0-1.dsc",
                                          "devel\x1b optional hello_1.0-1.dsc"),
                             changes_name),
              where + "23", "section or priority");
  check_error(Changes::parse(
                changes_with("devel optional hello_1.0-1.dsc", "devel optional ../hello_1.0-1.dsc"),
                changes_name),
              where + "23", "file name");
  check_error(
    Changes::parse(changes_with("5ba5ce49bc5650 893 ", "5ba5ce49bc5650 894 "), changes_name),
    where + "19", "Checksums-Sha256 lists hello_1.0-1.dsc with size 894 but Files says 893");
  check_error(Changes::parse(changes_text + "\nFormat: 1.8\n", changes_name), where + "27",
              "second paragraph");
}

TEST_CASE("a signed .changes cut at any byte is refused, never crashes")
{
  for (std::size_t cut = 0; cut + 1 < signed_changes_text.size(); ++cut) {
    auto changes =
      Changes::parse(std::string_view(signed_changes_text).substr(0, cut), changes_name);
    INFO("cut at byte " << cut);
    REQUIRE_FALSE(changes.ok());
    CHECK(changes.message().starts_with("hello_1.0-1_source.changes:"));
  }
}

} // namespace unit_test_debian_upload
