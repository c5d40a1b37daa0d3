#include "debian/syntax.hpp"

#include "util/fs.hpp"

#include <algorithm>

namespace buildme::debian {

namespace {

bool is_lower_or_digit(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_upper(char c)
{
  return c >= 'A' && c <= 'Z';
}

// A hostile name may be megabytes long; the message needs only its start.
std::string quoted(std::string_view text)
{
  constexpr size_t shown = 80;
  if (text.size() <= shown) {
    return util::printable(text);
  }
  return util::printable(text.substr(0, shown)) + "...";
}

} // namespace

bool is_valid_package_name(std::string_view name)
{
  return check_package_name(name).ok();
}

Status check_package_name(std::string_view name)
{
  if (name.empty()) {
    return fail("package name is empty");
  }
  if (std::any_of(name.begin(), name.end(), is_upper)) {
    return fail("package name '{}' has an upper-case letter; Debian names are lower case",
                quoted(name));
  }
  auto bad = std::find_if(name.begin(), name.end(), [](char c) {
    return !is_lower_or_digit(c) && c != '+' && c != '-' && c != '.';
  });
  if (bad != name.end()) {
    return fail("package name '{}' has the character '{}'; only a-z, 0-9, '+', '-' and '.' "
                "are allowed",
                quoted(name), util::printable(std::string_view(&*bad, 1)));
  }
  if (!is_lower_or_digit(name[0])) {
    return fail("package name '{}' must start with a lower-case letter or a digit", quoted(name));
  }
  if (name.size() < 2) {
    return fail("package name '{}' is too short; Debian names have at least two characters",
                quoted(name));
  }
  return {};
}

Status check_file_name(std::string_view name)
{
  constexpr size_t max_length = 255;
  if (name.empty()) {
    return fail("file name is empty");
  }
  if (name.size() > max_length) {
    return fail("file name '{}' is {} bytes long; at most {} are allowed", quoted(name),
                name.size(), max_length);
  }
  if (name == "." || name == "..") {
    return fail("file name '{}' names a folder, not a file in the upload", quoted(name));
  }
  if (name.find('/') != std::string_view::npos) {
    return fail("file name '{}' has a '/'; the files of an upload must be plain names in "
                "its own folder",
                quoted(name));
  }
  if (std::any_of(name.begin(), name.end(), is_control)) {
    return fail("file name '{}' has a control character", quoted(name));
  }
  if (name.find(' ') != std::string_view::npos) {
    return fail("file name '{}' has a space", quoted(name));
  }
  if (name.find('\\') != std::string_view::npos) {
    return fail("file name '{}' has a backslash", quoted(name));
  }
  if (name[0] == '.') {
    return fail("file name '{}' starts with '.'; hidden files are not accepted", quoted(name));
  }
  return {};
}

bool is_valid_architecture(std::string_view arch)
{
  // "any", "all", "source" and wildcards such as "linux-any" all fit this.
  return !arch.empty() && is_lower_or_digit(arch[0]) &&
         std::all_of(arch.begin(), arch.end(),
                     [](char c) { return is_lower_or_digit(c) || c == '-'; });
}

std::optional<BinaryKind> binary_kind(std::string_view name)
{
  if (name.ends_with(".deb")) {
    return BinaryKind::deb;
  }
  if (name.ends_with(".udeb")) {
    return BinaryKind::udeb;
  }
  if (name.ends_with(".ddeb")) {
    return BinaryKind::ddeb;
  }
  return std::nullopt;
}

bool is_published_binary(std::string_view name)
{
  auto kind = binary_kind(name);
  return kind && *kind != BinaryKind::ddeb;
}

bool is_control(char c)
{
  return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
}

bool all_digits(std::string_view text)
{
  return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

bool only_chars(std::string_view text, std::string_view punctuation)
{
  for (char c : text) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && punctuation.find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

} // namespace buildme::debian
