// The lines buildme prints, in the shape the original buildme printed them:
//
//   >>>> /srv/incoming/fremantle/foo_1.0-1.dsc
//   [2026-11-21 18:22:39] ACCEPTED: foo 1.0-1 queued as job 7
//
// On a terminal the verdicts are coloured; under cron (no terminal) the same
// lines are written plain. With a log file configured every line is also
// appended there. Untrusted text passes through printable() first.
#pragma once

#include "util/clock.hpp"
#include "util/result.hpp"

#include <cstdio>
#include <string>
#include <string_view>

namespace buildme::util {

class Log
{
public:
  enum class Tone
  {
    plain,
    good,
    bad,
    pending
  };

  // Writes to `out` (colour when it is a terminal and NO_COLOR is unset).
  explicit Log(std::FILE* out, const Clock& clock);
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Also append every line to `path` (opened O_APPEND). Error names it.
  Status open_file(const std::string& path);
  void set_verbose(bool verbose) { m_verbose = verbose; }
  bool verbose() const { return m_verbose; }

  // ">>>> WHAT"
  void heading(std::string_view what);
  // "[time] LABEL: message", LABEL coloured by tone.
  void verdict(std::string_view label, Tone tone, std::string_view message);
  // "[time] message"
  void info(std::string_view message);
  // Only with --verbose.
  void detail(std::string_view message);

private:
  void emit(const std::string& plain, const std::string& coloured);

  std::FILE* m_out;
  const Clock& m_clock;
  std::FILE* m_file = nullptr;
  bool m_colour = false;
  bool m_verbose = false;
};

} // namespace buildme::util
