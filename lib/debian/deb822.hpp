// deb822 control files (Debian Policy 5.1): paragraphs of "Field: value"
// lines, continuation lines that start with a space or tab, '#' comments
// outside fields. A line ends at its LF; carriage returns just before the LF
// belong to the line end ("\r\n", also "\r\r\n"), and blanks are those of
// dpkg's parsers (control_blanks), so that a file, its signed text and an
// index written from it all read as the same paragraphs. OpenPGP clear-signed armor
// (RFC 4880 section 7) is recognised and stripped; the signed text and the
// signature block are kept so that a later stage can check the signature.
// Every Error carries "FILE:LINE: what is wrong".
#pragma once

#include "util/result.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace buildme::debian {

// The white space of a control file as dpkg's parsers count it (C's
// isspace without the LF; dpkg-source strips it from the end of every line):
// a line of only these is an empty line, which ends a paragraph, and they
// are trimmed from both ends of every value line.
inline constexpr std::string_view control_blanks = " \t\r\f\v";

// Whether `text` holds nothing but control_blanks.
bool is_blank_line(std::string_view text);

// `text` cut into lines as parse_control cuts and numbers them: at each LF,
// without the LF and the carriage returns before it. Line N is element N-1.
std::vector<std::string_view> control_lines(std::string_view text);

struct Field
{
  std::string name; // as written
  // The value: the text after the colon on the first line, trimmed; each
  // continuation line follows after a '\n' with its leading and trailing
  // control_blanks removed. A multi-line field such as Files therefore
  // starts with '\n' when its first line is empty.
  std::string value;
  int line = 0; // 1-based line of the field name in the file
  // The file line of each '\n'-separated line of `value` (value_lines[0] ==
  // line), so that a listing such as Files can name the line of an entry
  // even when comment lines sit between its continuation lines.
  std::vector<int> value_lines;
};

struct Paragraph
{
  std::vector<Field> fields; // in file order; names unique (case-insensitive)
  int line = 0;              // first line of the paragraph

  // Case-insensitive lookup; nullptr when absent.
  const Field* find(std::string_view name) const;
  // The value, or std::nullopt.
  std::optional<std::string> get(std::string_view name) const;
};

struct ControlFile
{
  std::vector<Paragraph> paragraphs;
  bool is_signed = false;
  // The clear-signed text, dash-escaping undone, every line ending in a
  // plain '\n' (the CRs of its line ends dropped); empty when the file is
  // not signed. Parsed again, it gives the same paragraphs.
  std::string signed_text;
  // The whole block from "-----BEGIN PGP SIGNATURE-----" to
  // "-----END PGP SIGNATURE-----", every line ending in '\n'.
  std::string signature;
};

struct ParseLimits
{
  std::size_t max_bytes = 16 * 1024 * 1024;
  std::size_t max_line = 64 * 1024;
  std::size_t max_fields = 10000;
};

// Parses `text`; `filename` is used only in messages. Errors for: NUL
// bytes; a line without ':' in a field; a continuation line before any
// field; an empty field name, one starting with '-' or one with characters
// outside printable ASCII without ':'; a field repeated in one paragraph
// (names compared case-insensitively); armor that is incomplete (no
// signature, no END line, truncated), nested, unbalanced (a signature
// without a signed message) or preceded by text; a line in the signed text
// that starts with '-' without dash-escaping; text after the armor; input
// over the limits. Blank lines (control_blanks only) separate paragraphs;
// blank lines before the armor or the first paragraph are fine. An empty
// file gives a ControlFile without paragraphs.
Result<ControlFile> parse_control(std::string_view text, std::string_view filename,
                                  const ParseLimits& limits = {});

// Reads and parses a file: a regular file only, never through a symlink
// (O_NOFOLLOW), and never more than limits.max_bytes of it. Messages name
// `path` as given.
Result<ControlFile> read_control_file(const std::string& path, const ParseLimits& limits = {});

// `text` parsed as a file that holds exactly one paragraph (a .dsc, a
// .changes, a job record): none, or a second one, is an error that names
// `kind` ("a .dsc", "a job record") and the line.
Result<ControlFile> parse_one_paragraph(std::string_view text, std::string_view filename,
                                        std::string_view kind);

// A field of buildme's own records that holds a count or a time in seconds:
// absent or empty is 0; anything but digits is an Error naming the file,
// the field and the text.
Result<long long> count_field(const Paragraph& record, std::string_view field,
                              std::string_view filename);

} // namespace buildme::debian
