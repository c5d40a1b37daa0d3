#include "util/clock.hpp"

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

} // namespace buildme::util
