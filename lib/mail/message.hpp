// Mail as buildme sends it: RFC 5322 text, MIME UTF-8, with RFC 2047
// encoded-words for non-ASCII display names and subjects. Everything that
// goes into a header comes from outside (a Maintainer field, a package name),
// so no CR or LF from a field can ever reach the text: control characters
// become spaces, bytes that are not UTF-8 become U+FFFD, and an address that
// is not a plain addr-spec is refused.
#pragma once

#include "util/clock.hpp"
#include "util/result.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace buildme::mail {

struct Address
{
  std::string name;  // display name, any UTF-8 ("Jürgen Müller"); may be empty
  std::string email; // local@domain, printable ASCII, no spaces, <, >, quotes
};

// True for a plain addr-spec as buildme sends to: a dot-atom local part of
// at most 64 bytes, '@', and a domain of letters, digits, '-' and dots.
// Nothing else (no quoted local parts, comments or domain literals).
bool valid_email(std::string_view email);

// Parses "Name <local@domain>", "\"Name, Jr.\" <local@domain>",
// "<local@domain>" and "local@domain" (a Maintainer or Changed-By field).
// The Error says what is wrong; untrusted text in it is printable().
// Text after the '>', a '<' or '>' in an unquoted name and more than 1000
// bytes are refused.
Result<Address> parse_address(std::string_view text);

struct Message
{
  Address from;
  std::vector<Address> to;
  std::string subject; // UTF-8, one line (CR/LF become spaces)
  std::string body;    // UTF-8 text; lines end in \n here, CRLF on the wire
  std::vector<std::pair<std::string, std::string>> headers; // extra, e.g. X-Buildme-Job
};

// The full message: Date, From, To, Subject, Message-ID, Auto-Submitted:
// auto-generated (RFC 3834: no vacation replies), MIME-Version,
// Content-Type: text/plain; charset=UTF-8, Content-Transfer-Encoding (7bit
// when every body line is short ASCII, else quoted-printable), the extra
// headers, then the body. CRLF line ends; header lines folded at 78 columns,
// encoded-words at most 75 bytes; no line longer than 998 bytes. Fields are
// cleaned as above, never refused: render() cannot fail.
std::string render(const Message& message, util::Clock::time_point date,
                   const std::string& message_id);

// A unique Message-ID for a message from `from_domain`: <time.random@domain>.
std::string new_message_id(std::string_view from_domain);

} // namespace buildme::mail
