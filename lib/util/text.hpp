// Small string helpers that every parser and writer here needs: trimming,
// splitting into words, joining, lower-casing (ASCII only: deb822 field
// names and config keys are ASCII).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace buildme::util {

inline constexpr std::string_view whitespace = " \t\n\r\f\v";

std::string_view trim(std::string_view text, std::string_view blanks = whitespace);

// The non-empty runs of `text` between any of `separators`.
std::vector<std::string_view> split(std::string_view text,
                                    std::string_view separators = whitespace);
// The same, as strings.
std::vector<std::string> split_words(std::string_view text,
                                     std::string_view separators = whitespace);

std::string join(const std::vector<std::string>& items, std::string_view separator);

std::string to_lower(std::string_view text);

// `text` as a whole non-negative decimal number (no sign, no blanks);
// nullopt for anything else, an overflow included.
std::optional<long long> parse_count(std::string_view text);

} // namespace buildme::util
