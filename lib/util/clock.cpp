#include "util/clock.hpp"

#include <fmt/format.h>

#include <ctime>

namespace buildme::util {

namespace {

std::string format_with(Clock::time_point when, const char* format, bool utc)
{
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm parts{};
  if (utc) {
    gmtime_r(&seconds, &parts);
  } else {
    localtime_r(&seconds, &parts);
  }
  char text[64];
  const std::size_t length = std::strftime(text, sizeof text, format, &parts);
  return std::string(text, length);
}

} // namespace

std::string format_local_time(Clock::time_point when)
{
  return format_with(when, "%Y-%m-%d %H:%M:%S", false);
}

std::string format_rfc2822(Clock::time_point when)
{
  return format_with(when, "%a, %d %b %Y %H:%M:%S +0000", true);
}

namespace {

Clock::time_point from_seconds(std::int64_t seconds)
{
  return Clock::time_point(std::chrono::seconds(seconds));
}

} // namespace

std::string format_utc(std::int64_t seconds)
{
  return format_with(from_seconds(seconds), "%Y-%m-%d %H:%M UTC", true);
}

std::string format_rfc3339(std::int64_t seconds)
{
  return format_with(from_seconds(seconds), "%Y-%m-%dT%H:%M:%SZ", true);
}

std::string age_text(std::int64_t seconds)
{
  if (seconds < 120) {
    return fmt::format("{} s", seconds < 0 ? 0 : seconds);
  }
  if (seconds < 7200) {
    return fmt::format("{} min", seconds / 60);
  }
  if (seconds < 2 * 86400) {
    return fmt::format("{} h", seconds / 3600);
  }
  return fmt::format("{} days", seconds / 86400);
}

} // namespace buildme::util
