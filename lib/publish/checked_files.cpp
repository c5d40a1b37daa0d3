#include "publish/checked_files.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <optional>

namespace buildme::publish {

namespace {

constexpr std::string_view header = "buildme-checked-files 1 ";

// The next space-separated word of `line`, taken off it.
std::string_view next_word(std::string_view& line)
{
  const auto space = line.find(' ');
  const auto word = line.substr(0, space);
  line.remove_prefix(space == std::string_view::npos ? line.size() : space + 1);
  return word;
}

template<typename Number>
std::optional<Number> number(std::string_view word)
{
  Number value{};
  auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), value);
  if (word.empty() || error != std::errc() || end != word.data() + word.size()) {
    return std::nullopt;
  }
  return value;
}

bool is_sha256(std::string_view word)
{
  return word.size() == 64 && word.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

} // namespace

CheckedFiles CheckedFiles::parse(std::string_view text, const std::filesystem::path& tree)
{
  CheckedFiles record;
  const auto first_end = text.find('\n');
  if (first_end == std::string_view::npos ||
      text.substr(0, first_end) != fmt::format("{}{}", header, tree.string())) {
    return record;
  }
  text.remove_prefix(first_end + 1);
  std::map<std::string, int, std::less<>> seen;
  while (!text.empty()) {
    const auto end = text.find('\n');
    if (end == std::string_view::npos) {
      break; // a last line without its line end was cut short
    }
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    auto size = number<std::uint64_t>(next_word(line));
    auto mtime = number<std::int64_t>(next_word(line));
    auto ctime = number<std::int64_t>(next_word(line));
    auto inode = number<std::uint64_t>(next_word(line));
    const auto sha256 = next_word(line);
    const auto path = line;
    if (!size || !mtime || !ctime || !inode || !is_sha256(sha256) || path.empty()) {
      continue;
    }
    if (++seen[std::string(path)] > 1) {
      // Which of two lines is right cannot be told: neither counts.
      record.m_entries.erase(std::string(path));
      continue;
    }
    record.m_entries[std::string(path)] = {{*size, *mtime, *ctime, *inode}, std::string(sha256)};
  }
  return record;
}

std::string CheckedFiles::write(const std::filesystem::path& tree) const
{
  std::string out = fmt::format("{}{}\n", header, tree.string());
  for (const auto& [path, entry] : m_entries) {
    out += fmt::format("{} {} {} {} {} {}\n", entry.stamp.size, entry.stamp.mtime_ns,
                       entry.stamp.ctime_ns, entry.stamp.inode, entry.sha256, path);
  }
  return out;
}

const std::string* CheckedFiles::sha256(const std::string& path, const repo::FileStamp& stamp) const
{
  auto found = m_entries.find(path);
  return found != m_entries.end() && found->second.stamp == stamp ? &found->second.sha256 : nullptr;
}

void CheckedFiles::put(const std::string& path, const repo::FileStamp& stamp,
                       const std::string& sha256, util::Clock::time_point checked)
{
  const auto settled =
    std::chrono::duration_cast<std::chrono::nanoseconds>((checked - settle).time_since_epoch())
      .count();
  if (stamp.ctime_ns >= settled || path.empty() || path.find('\n') != std::string::npos ||
      !is_sha256(sha256)) {
    m_entries.erase(path);
    return;
  }
  m_entries[path] = {stamp, sha256};
}

} // namespace buildme::publish
