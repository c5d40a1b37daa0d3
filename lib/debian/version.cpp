#include "debian/version.hpp"

#include "debian/syntax.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <climits>

namespace buildme::debian {

namespace {

// The C locale's character classes, whatever the process locale is: dpkg
// uses its own c_isdigit/c_isalpha for the same reason.
bool is_digit(char c)
{
  return c >= '0' && c <= '9';
}
bool is_alpha(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_blank(char c)
{
  return c == ' ' || c == '\t';
}

// dpkg reports these as warnings and carries on; an archive must not accept
// what the next dpkg may refuse, so every one is an error here.
const char* check(std::string_view text, Version& version)
{
  auto colon = text.find(':');
  if (colon != std::string_view::npos) {
    std::string_view epoch = text.substr(0, colon);
    if (epoch.empty()) {
      return "epoch in version is empty";
    }
    if (epoch[0] == '-' && all_digits(epoch.substr(1))) {
      return "epoch in version is negative";
    }
    unsigned long value = 0;
    for (char c : epoch) {
      if (!is_digit(c)) {
        return "epoch in version is not number";
      }
      value = value * 10 + static_cast<unsigned long>(c - '0');
      if (value > static_cast<unsigned long>(INT_MAX)) {
        return "epoch in version is too big";
      }
    }
    text.remove_prefix(colon + 1);
    if (text.empty()) {
      return "nothing after colon in version number";
    }
    version.epoch = value;
    version.has_epoch = true;
  }

  std::string_view upstream = text;
  std::string_view revision;
  auto hyphen = text.rfind('-');
  if (hyphen != std::string_view::npos) {
    upstream = text.substr(0, hyphen);
    revision = text.substr(hyphen + 1);
    if (revision.empty()) {
      return "revision number is empty";
    }
  }
  if (upstream.empty()) {
    return "version number is empty";
  }
  if (!is_digit(upstream[0])) {
    return "version number does not start with digit";
  }
  if (!only_chars(upstream, ".-+~:")) {
    return "invalid character in version number";
  }
  if (!only_chars(revision, ".+~")) {
    return "invalid character in revision number";
  }
  version.upstream = std::string(upstream);
  version.revision = std::string(revision);
  return nullptr;
}

// The weight of one character in dpkg's ordering: '~' before the end of the
// string, the end before letters, letters before everything else.
int order(char c)
{
  if (is_digit(c)) {
    return 0;
  }
  if (is_alpha(c)) {
    return static_cast<unsigned char>(c);
  }
  if (c == '~') {
    return -1;
  }
  return static_cast<unsigned char>(c) + 256;
}

// dpkg's verrevcmp(): alternating runs of non-digits (by order()) and digits
// (by numeric value, compared as strings so no length overflows).
int compare_part(std::string_view a, std::string_view b)
{
  size_t i = 0;
  size_t j = 0;
  auto at = [](std::string_view s, size_t k) { return k < s.size() ? s[k] : '\0'; };

  while (i < a.size() || j < b.size()) {
    while ((i < a.size() && !is_digit(a[i])) || (j < b.size() && !is_digit(b[j]))) {
      int ac = i < a.size() ? order(a[i]) : 0;
      int bc = j < b.size() ? order(b[j]) : 0;
      if (ac != bc) {
        return ac - bc;
      }
      ++i;
      ++j;
    }
    while (at(a, i) == '0') {
      ++i;
    }
    while (at(b, j) == '0') {
      ++j;
    }
    int first_diff = 0;
    while (is_digit(at(a, i)) && is_digit(at(b, j))) {
      if (first_diff == 0) {
        first_diff = at(a, i) - at(b, j);
      }
      ++i;
      ++j;
    }
    if (is_digit(at(a, i))) {
      return 1;
    }
    if (is_digit(at(b, j))) {
      return -1;
    }
    if (first_diff != 0) {
      return first_diff;
    }
  }
  return 0;
}

} // namespace

Result<Version> Version::parse(std::string_view text)
{
  std::string_view trimmed = text;
  while (!trimmed.empty() && is_blank(trimmed.front())) {
    trimmed.remove_prefix(1);
  }
  while (!trimmed.empty() && is_blank(trimmed.back())) {
    trimmed.remove_suffix(1);
  }

  const char* problem = nullptr;
  Version version;
  if (trimmed.empty()) {
    problem = "version string is empty";
  } else if (std::find_if(trimmed.begin(), trimmed.end(), is_blank) != trimmed.end()) {
    problem = "version string has embedded spaces";
  } else {
    problem = check(trimmed, version);
  }
  if (problem) {
    return fail("invalid version '{}': {}", util::printable(text), problem);
  }
  return version;
}

std::string Version::to_string() const
{
  if (has_epoch) {
    return std::to_string(epoch) + ":" + without_epoch();
  }
  return without_epoch();
}

std::string Version::without_epoch() const
{
  if (revision.empty()) {
    return upstream;
  }
  return upstream + "-" + revision;
}

int compare(const Version& a, const Version& b)
{
  if (a.epoch != b.epoch) {
    return a.epoch < b.epoch ? -1 : 1;
  }
  if (int rc = compare_part(a.upstream, b.upstream); rc != 0) {
    return rc;
  }
  return compare_part(a.revision, b.revision);
}

} // namespace buildme::debian
