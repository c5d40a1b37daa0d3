// Time behind an interface, so that unit tests can decide how old an upload
// is without sleeping.
#pragma once

#include <chrono>
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

// "2026-11-21 18:22:39" in local time, as buildme's log lines show it.
std::string format_local_time(Clock::time_point when);
// "Sat, 21 Nov 2026 18:22:39 +0000" (RFC 5322 style, UTC).
std::string format_rfc2822(Clock::time_point when);

} // namespace buildme::util
