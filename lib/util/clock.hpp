// Time behind an interface, so that unit tests can decide how old an upload
// is without sleeping.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace buildme::util {

class Clock
{
public:
  using time_point = std::chrono::system_clock::time_point;
  virtual ~Clock() = default;
  virtual time_point now() const = 0;
};

class SystemClock : public Clock
{
public:
  time_point now() const override { return std::chrono::system_clock::now(); }
};

class FakeClock : public Clock
{
public:
  explicit FakeClock(time_point start) : m_now(start) {}
  time_point now() const override { return m_now; }
  void advance(std::chrono::seconds by) { m_now += by; }

private:
  time_point m_now;
};

// Seconds since the epoch, as the catalogs keep times.
inline std::int64_t unix_seconds(Clock::time_point when)
{
  return std::chrono::duration_cast<std::chrono::seconds>(when.time_since_epoch()).count();
}

// Seconds since it was made, for the --verbose timings of long work.
class Stopwatch
{
public:
  double seconds() const
  {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
  }

private:
  std::chrono::steady_clock::time_point m_start = std::chrono::steady_clock::now();
};

// "2026-11-21 18:22:39" in local time, as buildme's log lines show it.
std::string format_local_time(Clock::time_point when);
// "Sat, 21 Nov 2026 18:22:39 +0000" (RFC 5322 style, UTC).
std::string format_rfc2822(Clock::time_point when);
// "2026-11-21 18:22 UTC", and "2026-11-21T18:22:39Z" (RFC 3339) for
// machines, from seconds since the epoch.
std::string format_utc(std::int64_t seconds);
std::string format_rfc3339(std::int64_t seconds);
// A span for people: "40 s", "12 min", "5 h", "3 days".
std::string age_text(std::int64_t seconds);

} // namespace buildme::util
