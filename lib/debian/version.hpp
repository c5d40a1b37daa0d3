// Debian version numbers, [epoch:]upstream_version[-debian_revision], parsed
// and validated as dpkg's parseversion() does and ordered as dpkg's
// verrevcmp() orders them (Debian Policy 5.6.12).
#pragma once

#include "util/result.hpp"

#include <string>
#include <string_view>

namespace buildme::debian {

struct Version
{
  unsigned long epoch = 0;
  std::string upstream;
  std::string revision;   // empty when the version has no '-'
  bool has_epoch = false; // written with an explicit "N:"

  // Parses `text`; the Error says what is wrong in dpkg's words ("version
  // number does not start with digit", "invalid character in revision
  // number", ...), quoting the text.
  static Result<Version> parse(std::string_view text);

  // As written: epoch only when it was given.
  std::string to_string() const;
  // Without epoch, as it appears in file names (foo_1.0-1.dsc).
  std::string without_epoch() const;
};

// <0, 0, >0 like strcmp; identical to `dpkg --compare-versions`.
int compare(const Version& a, const Version& b);

inline bool operator<(const Version& a, const Version& b)
{
  return compare(a, b) < 0;
}
inline bool operator==(const Version& a, const Version& b)
{
  return compare(a, b) == 0;
}

} // namespace buildme::debian
