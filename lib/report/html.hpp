// Text from uploads and logs on the status site. Every string that did not
// come from this program (names, versions, maintainer fields, changelog
// text, log lines, reasons) reaches a page through escape(), and nowhere
// else is text put into HTML.
#pragma once

#include <string>
#include <string_view>

namespace buildme::report {

// `text` as valid UTF-8 without control characters other than tab and line
// feed: a byte that is not part of a valid UTF-8 sequence, a NUL, a C0 or
// C1 control (an ANSI escape in a log), and a noncharacter become U+FFFD.
// Both the HTML and the JSON of the site take their text through it.
std::string clean_text(std::string_view text);

// `text` safe as HTML element content and as a quoted attribute value:
// clean_text, then & < > " ' as character references.
std::string escape(std::string_view text);

// A name as one path segment of the site ("hello-buildme", "libfoo+bar"):
// letters, digits and . + - _ stay, any other byte becomes ~XX (a file name
// that is also a link without more encoding), so that an untrusted name
// never leaves its folder; "." and ".." are escaped too.
std::string segment(std::string_view name);

} // namespace buildme::report
