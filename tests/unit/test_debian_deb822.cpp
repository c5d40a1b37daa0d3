#include "debian/deb822.hpp"

#include "scratch.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace unit_test_debian_deb822 {

using buildme::debian::ControlFile;
using buildme::debian::parse_control;
using buildme::debian::ParseLimits;
using buildme::debian::read_control_file;

namespace {

// A .dsc as dpkg-source wrote it, clear-signed by gpg --clearsign.
const std::string signed_dsc = R"(-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA512

Format: 3.0 (quilt)
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
-----BEGIN PGP SIGNATURE-----

iHUEARYKAB0WIQSJP7RI1bwThZACPPIHin1LrCjRAwUCawHDkAAKCRAHin1LrCjR
A4Y3AP4+ovQyU95qTdoOXlmTk5FD93cY6g5CkloyonZ7yq1zRwD+LmqpKZ6KSqyk
G47BpjdMWNZtbD6wfye2095LZ94zyAM=
=yY0a
-----END PGP SIGNATURE-----
)";

const std::string signature_block = R"(-----BEGIN PGP SIGNATURE-----

iHUEARYKAB0WIQSJP7RI1bwThZACPPIHin1LrCjRAwUCawHDkAAKCRAHin1LrCjR
A4Y3AP4+ovQyU95qTdoOXlmTk5FD93cY6g5CkloyonZ7yq1zRwD+LmqpKZ6KSqyk
G47BpjdMWNZtbD6wfye2095LZ94zyAM=
=yY0a
-----END PGP SIGNATURE-----
)";

std::string signed_message(std::string_view text)
{
  return "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" + std::string(text) +
         signature_block;
}

// The error of a parse that must fail, checked to name the file and line.
std::string error_of(const buildme::Result<ControlFile>& result, std::string_view where)
{
  REQUIRE_FALSE(result.ok());
  CHECK_MESSAGE(result.message().starts_with(std::string(where) + ": "), result.message());
  return result.message();
}

std::string replaced(std::string text, std::string_view from, std::string_view to)
{
  auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

} // namespace

TEST_CASE("fields of a paragraph are read with their names, values and lines")
{
  auto control = parse_control("Source: hello\nVersion:  1.0-1  \nEmpty:\n", "hello.dsc");
  REQUIRE(control.ok());
  CHECK_FALSE(control->is_signed);
  REQUIRE(control->paragraphs.size() == 1);
  const auto& paragraph = control->paragraphs[0];
  CHECK(paragraph.line == 1);
  REQUIRE(paragraph.fields.size() == 3);
  CHECK(paragraph.fields[0].name == "Source");
  CHECK(paragraph.fields[0].value == "hello");
  CHECK(paragraph.fields[1].value == "1.0-1");
  CHECK(paragraph.fields[1].line == 2);
  CHECK(paragraph.fields[2].value.empty());
  CHECK(paragraph.get("Empty") == std::string());
  CHECK_FALSE(paragraph.get("Binary").has_value());
}

TEST_CASE("field names are looked up whatever their case")
{
  auto control = parse_control("source: hello\nCHECKSUMS-SHA256: x\n", "hello.dsc");
  REQUIRE(control.ok());
  const auto& paragraph = control->paragraphs.at(0);
  REQUIRE(paragraph.find("Source") != nullptr);
  CHECK(paragraph.find("Source")->name == "source");
  CHECK(paragraph.get("Checksums-Sha256") == "x");
}

TEST_CASE("a multi-line field keeps one value line per continuation line")
{
  auto dsc = parse_control(signed_dsc, "hello_1.0-1.dsc");
  REQUIRE(dsc.ok());
  const auto* files = dsc->paragraphs.at(0).find("Files");
  REQUIRE(files != nullptr);
  CHECK(files->value == "\nd33a9ca0a7b0e1fff2f83ffa556eb150 176 hello_1.0.orig.tar.gz\n"
                        "7ca39aa4e23d366a489bca631884fe32 656 hello_1.0-1.debian.tar.xz");
  CHECK(files->line == 23);
  CHECK(files->value_lines == std::vector<int>{23, 24, 25});
}

TEST_CASE("comment lines are skipped, even between the lines of a field")
{
  auto control =
    parse_control("# generated\nSource: hello\nFiles:\n a 1 x\n# note\n b 2 y\n", "hello.dsc");
  REQUIRE(control.ok());
  REQUIRE(control->paragraphs.size() == 1);
  const auto& paragraph = control->paragraphs[0];
  CHECK(paragraph.line == 2);
  REQUIRE(paragraph.fields.size() == 2);
  CHECK(paragraph.fields[1].value == "\na 1 x\nb 2 y");
  CHECK(paragraph.fields[1].value_lines == std::vector<int>{3, 4, 6});
}

TEST_CASE("blank lines, also of spaces and tabs, separate paragraphs")
{
  auto control = parse_control("\n\nPackage: a\n\nPackage: b\n \t \nPackage: c\n\n\n", "x");
  REQUIRE(control.ok());
  REQUIRE(control->paragraphs.size() == 3);
  CHECK(control->paragraphs[0].line == 3);
  CHECK(control->paragraphs[1].get("package") == "b");
  CHECK(control->paragraphs[2].line == 7);
}

TEST_CASE("the same field in two paragraphs is not a duplicate")
{
  CHECK(parse_control("Package: a\n\nPackage: b\n", "x").ok());
}

TEST_CASE("CRLF line ends read like LF")
{
  std::string crlf;
  for (char c : signed_dsc) {
    if (c == '\n') {
      crlf += '\r';
    }
    crlf += c;
  }
  auto with_crlf = parse_control(crlf, "hello_1.0-1.dsc");
  auto with_lf = parse_control(signed_dsc, "hello_1.0-1.dsc");
  REQUIRE(with_crlf.ok());
  REQUIRE(with_lf.ok());
  CHECK(with_crlf->signed_text == with_lf->signed_text);
  CHECK(with_crlf->signature == with_lf->signature);
  REQUIRE(with_crlf->paragraphs.size() == 1);
  const auto& fields = with_crlf->paragraphs[0].fields;
  REQUIRE(fields.size() == with_lf->paragraphs[0].fields.size());
  for (std::size_t i = 0; i < fields.size(); ++i) {
    CHECK(fields[i].name == with_lf->paragraphs[0].fields[i].name);
    CHECK(fields[i].value == with_lf->paragraphs[0].fields[i].value);
    CHECK(fields[i].value.find('\r') == std::string::npos);
  }
}

TEST_CASE("several CRs before a line end belong to the line end, as dpkg strips them")
{
  // Fuzzing found "\r\r\n" kept one CR in each field and in the signed text,
  // which then read as other paragraphs than the file.
  auto with_crs = parse_control(signed_message("Source: hello\r\r\nDescription: x\r\r\n more\r"
                                               "\r\r\n"),
                                "hello.dsc");
  REQUIRE_MESSAGE(with_crs.ok(), with_crs.message());
  REQUIRE(with_crs->paragraphs.size() == 1);
  CHECK(with_crs->paragraphs[0].get("Source") == "hello");
  CHECK(with_crs->paragraphs[0].get("Description") == "x\nmore");
  CHECK(with_crs->signed_text == "Source: hello\nDescription: x\n more\n");
}

TEST_CASE("a line of blanks and CRs ends the paragraph, in the file and in its signed text")
{
  const std::string text = "Source: hello\nDescription: x\n \r\r\nVersion: 1\n";
  auto unsigned_file = parse_control(text, "hello.dsc");
  REQUIRE_MESSAGE(unsigned_file.ok(), unsigned_file.message());
  REQUIRE(unsigned_file->paragraphs.size() == 2);
  CHECK(unsigned_file->paragraphs[0].get("Description") == "x");
  CHECK(unsigned_file->paragraphs[1].line == 4);

  auto signed_file = parse_control(signed_message(text), "hello.dsc");
  REQUIRE_MESSAGE(signed_file.ok(), signed_file.message());
  auto again = parse_control(signed_file->signed_text, "hello.dsc");
  REQUIRE_MESSAGE(again.ok(), again.message());
  REQUIRE(signed_file->paragraphs.size() == 2);
  REQUIRE(again->paragraphs.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(again->paragraphs[i].fields.size() == signed_file->paragraphs[i].fields.size());
  }
  CHECK(again->paragraphs[0].get("Description") == signed_file->paragraphs[0].get("Description"));

  // The other blanks of dpkg's parsers (form feed, vertical tab) too.
  auto feed = parse_control("A: x\n\f\v\t\nB: y\n", "x");
  REQUIRE(feed.ok());
  CHECK(feed->paragraphs.size() == 2);
}

TEST_CASE("values are trimmed of CRs and other blanks inside the line as at its end")
{
  auto control = parse_control("A: x\r \r\nB: \r y \f\nC: z\n \v w\r \n", "x");
  REQUIRE_MESSAGE(control.ok(), control.message());
  REQUIRE(control->paragraphs.size() == 1);
  CHECK(control->paragraphs[0].get("A") == "x");
  CHECK(control->paragraphs[0].get("B") == "y");
  CHECK(control->paragraphs[0].get("C") == "z\nw");
}

TEST_CASE("control_lines cuts lines as the parser does")
{
  using buildme::debian::control_lines;
  CHECK(control_lines("a\r\r\nb\n\r\nc\r") == std::vector<std::string_view>{"a", "b", "", "c"});
  CHECK(control_lines("a \r\n") == std::vector<std::string_view>{"a "});
  CHECK(control_lines("").empty());
}

TEST_CASE("an empty file has no paragraphs")
{
  auto control = parse_control("", "x");
  REQUIRE(control.ok());
  CHECK(control->paragraphs.empty());
}

TEST_CASE("a clear-signed file gives its paragraphs, signed text and signature")
{
  auto control = parse_control(signed_dsc, "hello_1.0-1.dsc");
  REQUIRE(control.ok());
  CHECK(control->is_signed);
  REQUIRE(control->paragraphs.size() == 1);
  CHECK(control->paragraphs[0].line == 4);
  CHECK(control->paragraphs[0].get("Source") == "hello");
  CHECK(control->signed_text.starts_with("Format: 3.0 (quilt)\nSource: hello\n"));
  CHECK(control->signed_text.ends_with("hello_1.0-1.debian.tar.xz\n"));
  CHECK(control->signature == signature_block);
}

TEST_CASE("blank lines before the armor and after the signature are fine")
{
  auto control = parse_control("\n \n" + signed_dsc + "\n\t\n", "hello_1.0-1.dsc");
  REQUIRE(control.ok());
  CHECK(control->is_signed);
  CHECK(control->paragraphs.at(0).line == 6);
}

TEST_CASE("dash-escaped lines are unescaped and an escaped armor line does not end the message")
{
  auto control = parse_control(signed_message("Source: hello\n- Version: 1.0\n"), "hello.dsc");
  REQUIRE(control.ok());
  CHECK(control->signed_text == "Source: hello\nVersion: 1.0\n");
  CHECK(control->paragraphs.at(0).get("Version") == "1.0");

  // Unescaped, the armor line is signed text and so must be a field: it is
  // refused as one, not taken for the start of the signature.
  auto escaped =
    parse_control(signed_message("Source: hello\n- -----BEGIN PGP SIGNATURE-----\n"), "hello.dsc");
  auto message = error_of(escaped, "hello.dsc:5");
  CHECK(message.find("no ':'") != std::string::npos);
}

TEST_CASE("malformed lines are refused with file and line")
{
  SUBCASE("a line without a colon")
  {
    auto message = error_of(parse_control("Source: hello\nVersion 1.0\n", "a.dsc"), "a.dsc:2");
    CHECK(message.find("no ':'") != std::string::npos);
  }
  SUBCASE("a continuation line before any field")
  {
    auto message = error_of(parse_control(" hello\nSource: x\n", "a.dsc"), "a.dsc:1");
    CHECK(message.find("continuation") != std::string::npos);
  }
  SUBCASE("a continuation line after a blank line")
  {
    error_of(parse_control("Source: x\n\n continued\n", "a.dsc"), "a.dsc:3");
  }
  SUBCASE("a field repeated in another case")
  {
    auto message =
      error_of(parse_control("Source: a\nVersion: 1\nsource: b\n", "a.dsc"), "a.dsc:3");
    CHECK(message.find("duplicate value for 'source' field") != std::string::npos);
    CHECK(message.find("line 1") != std::string::npos);
  }
  SUBCASE("an empty field name")
  {
    error_of(parse_control("Source: a\n: b\n", "a.dsc"), "a.dsc:2");
  }
  SUBCASE("a space before the colon")
  {
    error_of(parse_control("Source : a\n", "a.dsc"), "a.dsc:1");
  }
  SUBCASE("a field name starting with '-'")
  {
    auto message = error_of(parse_control("Source: a\n-Bad: b\n", "a.dsc"), "a.dsc:2");
    CHECK(message.find("starts with '-'") != std::string::npos);
  }
  SUBCASE("a field name with a byte outside ASCII")
  {
    error_of(parse_control("Sourc\xc3\xa9: a\n", "a.dsc"), "a.dsc:1");
  }
}

TEST_CASE("hostile input is refused with file and line")
{
  SUBCASE("a NUL byte")
  {
    auto message =
      error_of(parse_control(std::string("Source: a\nVersion: 1\0\n", 22), "a.dsc"), "a.dsc:2");
    CHECK(message.find("NUL") != std::string::npos);
  }
  SUBCASE("a file over the size limit")
  {
    ParseLimits limits;
    limits.max_bytes = 100;
    error_of(parse_control(std::string(101, 'x'), "a.dsc", limits), "a.dsc:1");
    CHECK(parse_control("Source: a\n", "a.dsc", limits).ok());
  }
  SUBCASE("a 20 MB file with the default limits")
  {
    std::string huge = "Source: a\nX-Junk:\n";
    while (huge.size() <= 20 * 1024 * 1024) {
      huge += " " + std::string(1000, 'j') + "\n";
    }
    error_of(parse_control(huge, "a.dsc"), "a.dsc:1");
  }
  SUBCASE("a 10 MB line")
  {
    auto message = error_of(
      parse_control("Source: a\nMaintainer: " + std::string(10 * 1024 * 1024, 'm') + "\n", "a.dsc"),
      "a.dsc:2");
    CHECK(message.size() < 300);
  }
  SUBCASE("too many fields")
  {
    ParseLimits limits;
    limits.max_fields = 3;
    error_of(parse_control("A: 1\nB: 2\n\nC: 3\nD: 4\n", "a.dsc", limits), "a.dsc:5");
  }
  SUBCASE("an escape sequence in the file name and the line is not echoed raw")
  {
    auto message = error_of(parse_control("\x1b[2Jjunk\n", "a\x1b.dsc"), "a\\x1b.dsc:1");
    CHECK(message.find('\x1b') == std::string::npos);
  }
}

TEST_CASE("broken OpenPGP armor is refused with file and line")
{
  SUBCASE("a signature without a signed message")
  {
    auto message = error_of(parse_control("Source: a\n\n" + signature_block, "a.dsc"), "a.dsc:3");
    CHECK(message.find("without a signed message") != std::string::npos);
  }
  SUBCASE("unsigned text before the signed message")
  {
    error_of(parse_control("Source: evil\n\n" + signed_message("Source: a\n"), "a.dsc"), "a.dsc:3");
  }
  SUBCASE("a signed message without a signature")
  {
    auto message = error_of(
      parse_control("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nSource: a\n", "a.dsc"),
      "a.dsc:4");
    CHECK(message.find("no OpenPGP signature") != std::string::npos);
  }
  SUBCASE("a signature without its END line")
  {
    auto text = replaced(signed_message("Source: a\n"), "-----END PGP SIGNATURE-----\n", "");
    auto message = error_of(parse_control(text, "a.dsc"), "a.dsc:5");
    CHECK(message.find("truncated") != std::string::npos);
  }
  SUBCASE("an empty signature")
  {
    error_of(parse_control("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nSource: a\n"
                           "-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n",
                           "a.dsc"),
             "a.dsc:5");
  }
  SUBCASE("text after the END line")
  {
    auto message = error_of(
      parse_control(signed_message("Source: a\n") + "\nSource: evil\n", "a.dsc"), "a.dsc:13");
    CHECK(message.find("after the OpenPGP signature") != std::string::npos);
  }
  SUBCASE("a second signed message after the first")
  {
    error_of(parse_control(signed_message("Source: a\n") + signed_message("Source: b\n"), "a.dsc"),
             "a.dsc:12");
  }
  SUBCASE("a signed message nested in the signed text")
  {
    auto message = error_of(
      parse_control(signed_message("Source: a\n-----BEGIN PGP SIGNED MESSAGE-----\n"), "a.dsc"),
      "a.dsc:5");
    CHECK(message.find("dash-escaped") != std::string::npos);
  }
  SUBCASE("armor headers without the empty line")
  {
    error_of(parse_control("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\nSource: a\n" +
                             signature_block,
                           "a.dsc"),
             "a.dsc:3");
  }
  SUBCASE("an END line alone")
  {
    error_of(parse_control("Source: a\n-----END PGP SIGNATURE-----\n", "a.dsc"), "a.dsc:2");
  }
  SUBCASE("an armor line inside the signature")
  {
    auto text =
      replaced(signed_message("Source: a\n"), "=yY0a\n", "=yY0a\n-----BEGIN PGP SIGNATURE-----\n");
    error_of(parse_control(text, "a.dsc"), "a.dsc:11");
  }
}

TEST_CASE("a signed .dsc cut at any byte either parses or names where it broke")
{
  const auto end_of_armor = signed_dsc.find("-----END PGP SIGNATURE-----") +
                            std::string_view("-----END PGP SIGNATURE-----").size();
  for (std::size_t cut = 0; cut <= signed_dsc.size(); ++cut) {
    auto control = parse_control(std::string_view(signed_dsc).substr(0, cut), "hello_1.0-1.dsc");
    INFO("cut at byte " << cut);
    if (cut == 0) {
      CHECK(control.ok());
    } else if (cut < end_of_armor) {
      // Everything short of the whole END line is a truncated armor.
      REQUIRE_FALSE(control.ok());
      CHECK(control.message().starts_with("hello_1.0-1.dsc:"));
    } else {
      REQUIRE(control.ok());
      CHECK(control->is_signed);
      CHECK(control->signature == signature_block);
    }
  }
}

TEST_CASE("a control file is read from disk")
{
  buildme::test::ScratchDir dir;
  auto path = dir.write("hello_1.0-1.dsc", signed_dsc);
  auto control = read_control_file(path.string());
  REQUIRE(control.ok());
  CHECK(control->paragraphs.at(0).get("Source") == "hello");

  SUBCASE("errors in it name the path and line")
  {
    auto bad = dir.write("bad.dsc", "Source: a\nbroken\n");
    error_of(read_control_file(bad.string()), bad.string() + ":2");
  }
}

TEST_CASE("a control file is not read through a symlink, from a folder or a FIFO")
{
  buildme::test::ScratchDir dir;
  auto target = dir.write("real.dsc", "Source: a\n");
  std::filesystem::create_symlink(target, dir / "link.dsc");
  auto link = read_control_file((dir / "link.dsc").string());
  REQUIRE_FALSE(link.ok());
  CHECK(link.message().find("link.dsc") != std::string::npos);
  CHECK(link.message().find("symbolic link") != std::string::npos);

  std::filesystem::create_directory(dir / "folder.dsc");
  auto folder = read_control_file((dir / "folder.dsc").string());
  REQUIRE_FALSE(folder.ok());
  CHECK(folder.message().find("not a regular file") != std::string::npos);

  REQUIRE(::mkfifo((dir / "fifo.dsc").c_str(), 0600) == 0);
  auto fifo = read_control_file((dir / "fifo.dsc").string());
  REQUIRE_FALSE(fifo.ok());
  CHECK(fifo.message().find("not a regular file") != std::string::npos);

  auto missing = read_control_file((dir / "missing.dsc").string());
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.message().find("missing.dsc") != std::string::npos);
}

TEST_CASE("a control file over the size limit is not read")
{
  buildme::test::ScratchDir dir;
  auto path = dir.write("big.dsc", "Source: a\n" + std::string(200, '#') + "\n");
  ParseLimits limits;
  limits.max_bytes = 100;
  auto control = read_control_file(path.string(), limits);
  REQUIRE_FALSE(control.ok());
  CHECK(control.message().find("big.dsc") != std::string::npos);
  CHECK(control.message().find("100") != std::string::npos);
}

TEST_CASE("garbage around and inside OpenPGP armor is refused, never read as signed text")
{
  SUBCASE("an opaque signed message (BEGIN PGP MESSAGE) is not a clear-signed one")
  {
    error_of(parse_control(
               "-----BEGIN PGP MESSAGE-----\n\nowGbwMvMwMV4\n-----END PGP MESSAGE-----\n", "a.dsc"),
             "a.dsc:1");
  }
  SUBCASE("an armor line with text after its marker is not armor")
  {
    error_of(parse_control("-----BEGIN PGP SIGNED MESSAGE-----x\nHash: SHA512\n\nSource: a\n" +
                             signature_block,
                           "a.dsc"),
             "a.dsc:1");
  }
  SUBCASE("an armor header other than Hash")
  {
    error_of(parse_control("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\nComment: x\n\n"
                           "Source: a\n" +
                             signature_block,
                           "a.dsc"),
             "a.dsc:3");
  }
  SUBCASE("a signed message whose text is only the signature's armor")
  {
    error_of(parse_control("-----BEGIN PGP SIGNED MESSAGE-----\n\n-----BEGIN PGP SIGNATURE-----\n"
                           "-----END PGP SIGNATURE-----\n",
                           "a.dsc"),
             "a.dsc:3");
  }
  SUBCASE("pseudo-random bytes mixed with armor lines never parse as signed")
  {
    // A fixed generator, so that a failure can be replayed.
    std::uint32_t state = 12345;
    auto next = [&] {
      state = state * 1664525u + 1013904223u;
      return state >> 24;
    };
    const std::string pieces[] = {"-----BEGIN PGP SIGNED MESSAGE-----\n",
                                  "-----BEGIN PGP SIGNATURE-----\n",
                                  "-----END PGP SIGNATURE-----\n",
                                  "Hash: SHA256\n",
                                  "\n",
                                  "- ",
                                  "Source: a\n",
                                  " continued\n"};
    for (int round = 0; round < 2000; ++round) {
      std::string text;
      const auto length = next() % 12;
      for (std::uint32_t i = 0; i < length; ++i) {
        if (next() % 3 == 0) {
          text += static_cast<char>(next());
        } else {
          text += pieces[next() % std::size(pieces)];
        }
      }
      CAPTURE(text);
      auto control = parse_control(text, "a.dsc");
      if (control && control->is_signed) {
        // Only a whole, well-formed armor parses as signed.
        CHECK(text.find("-----BEGIN PGP SIGNED MESSAGE-----\n") != std::string::npos);
        CHECK(control->signature.ends_with("-----END PGP SIGNATURE-----\n"));
        CHECK(control->signature.starts_with("-----BEGIN PGP SIGNATURE-----\n"));
      } else if (!control) {
        CHECK(control.message().starts_with("a.dsc:"));
      }
    }
  }
}

} // namespace unit_test_debian_deb822
