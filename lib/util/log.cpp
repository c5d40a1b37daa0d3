#include "util/log.hpp"

#include "util/fs.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace buildme::util {

namespace {

const char* colour_of(Log::Tone tone)
{
  switch (tone) {
  case Log::Tone::good:
    return "\033[1;32m";
  case Log::Tone::bad:
    return "\033[1;31m";
  case Log::Tone::pending:
    return "\033[1;33m";
  case Log::Tone::plain:
    break;
  }
  return "";
}

} // namespace

Log::Log(std::FILE* out, const Clock& clock) : m_out(out), m_clock(clock)
{
  m_colour = isatty(fileno(out)) && !std::getenv("NO_COLOR");
}

Log::~Log()
{
  if (m_file) {
    std::fclose(m_file);
  }
}

Status Log::open_file(const std::string& path)
{
  std::FILE* file = std::fopen(path.c_str(), "ae");
  if (!file) {
    return fail("cannot open log file {}: {}", path, std::strerror(errno));
  }
  m_file = file;
  return {};
}

void Log::emit(const std::string& plain, const std::string& coloured)
{
  std::fputs((m_colour ? coloured : plain).c_str(), m_out);
  std::fputc('\n', m_out);
  std::fflush(m_out);
  if (m_file) {
    std::fputs(plain.c_str(), m_file);
    std::fputc('\n', m_file);
    std::fflush(m_file);
  }
}

void Log::heading(std::string_view what)
{
  const std::string line = ">>>> " + printable(what);
  emit(line, "\033[1m" + line + "\033[0m");
}

void Log::verdict(std::string_view label, Tone tone, std::string_view message)
{
  const std::string stamp = fmt::format("[{}] ", format_local_time(m_clock.now()));
  const std::string text = printable(message);
  emit(fmt::format("{}{}: {}", stamp, label, text),
       fmt::format("{}{}{}\033[0m: {}", stamp, colour_of(tone), label, text));
}

void Log::info(std::string_view message)
{
  const std::string line =
    fmt::format("[{}] {}", format_local_time(m_clock.now()), printable(message));
  emit(line, line);
}

void Log::detail(std::string_view message)
{
  if (m_verbose) {
    const std::string line = "     " + printable(message);
    emit(line, line);
  }
}

} // namespace buildme::util
