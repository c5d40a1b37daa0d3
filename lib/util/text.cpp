#include "util/text.hpp"

#include <charconv>

namespace buildme::util {

std::string_view trim(std::string_view text, std::string_view blanks)
{
  const auto first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(blanks);
  return text.substr(first, last - first + 1);
}

std::vector<std::string_view> split(std::string_view text, std::string_view separators)
{
  std::vector<std::string_view> words;
  std::size_t start = 0;
  while ((start = text.find_first_not_of(separators, start)) != std::string_view::npos) {
    auto end = text.find_first_of(separators, start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    words.push_back(text.substr(start, end - start));
    start = end;
  }
  return words;
}

std::vector<std::string> split_words(std::string_view text, std::string_view separators)
{
  std::vector<std::string> words;
  for (auto word : split(text, separators)) {
    words.emplace_back(word);
  }
  return words;
}

std::string join(const std::vector<std::string>& items, std::string_view separator)
{
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) {
      out += separator;
    }
    out += items[i];
  }
  return out;
}

std::string to_lower(std::string_view text)
{
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

std::optional<long long> parse_count(std::string_view text)
{
  long long value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < 0) {
    return std::nullopt;
  }
  return value;
}

} // namespace buildme::util
