// The syntax of names in the archive (Debian Policy 5.6.1, 5.6.7) and the rule
// that keeps every file an upload names inside the upload's own folder.
#pragma once

#include "util/result.hpp"

#include <optional>
#include <string_view>

namespace buildme::debian {

// Source and binary package names: [a-z0-9][a-z0-9+.-]+ (two or more).
bool is_valid_package_name(std::string_view name);

// The bytes below 0x20 and DEL, which no name in the archive holds.
bool is_control(char c);
// One or more ASCII digits and nothing else.
bool all_digits(std::string_view text);
// Only ASCII letters, digits and the characters of `punctuation`.
bool only_chars(std::string_view text, std::string_view punctuation);
// Same, with an Error in words when it is not ("package name 'Foo' has an
// upper-case letter; Debian names are lower case").
Status check_package_name(std::string_view name);

// A file name listed by a .dsc/.changes must be a plain name in the
// upload's folder: not empty, at most 255 bytes, no '/', not "." or "..",
// no leading '.', no control characters (bytes < 0x20 and 0x7f), no space
// or backslash. The Error names the offending name (printable-escaped) and
// says which rule it breaks.
Status check_file_name(std::string_view name);

// Architecture names in a .dsc/.changes Architecture field: "any", "all",
// "source", or [a-z0-9][a-z0-9-]* wildcards like "linux-any", "any-arm".
bool is_valid_architecture(std::string_view arch);

// What kind of binary package a file is, by its name: .deb, .udeb (the
// installer's), .ddeb (debug symbols, which this archive does not publish:
// they stay with the build's results). The one place that decides it.
enum class BinaryKind
{
  deb,
  udeb,
  ddeb
};
std::optional<BinaryKind> binary_kind(std::string_view name);
// A .deb or .udeb: a binary package that goes into the repository.
bool is_published_binary(std::string_view name);

} // namespace buildme::debian
