// A util::Log whose lines a test can read back: what an administrator would
// see on the terminal, without colour.
#pragma once

#include "util/clock.hpp"
#include "util/log.hpp"

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

namespace buildme::test {

class CapturedLog
{
public:
  CapturedLog() : m_file(std::tmpfile())
  {
    if (!m_file) {
      throw std::runtime_error("tmpfile failed");
    }
    m_log = std::make_unique<util::Log>(m_file, m_clock);
  }
  ~CapturedLog()
  {
    m_log.reset();
    std::fclose(m_file);
  }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  util::Log& log() { return *m_log; }
  operator util::Log&() { return *m_log; }

  std::string text() const
  {
    std::fflush(m_file);
    std::string out;
    std::rewind(m_file);
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, m_file)) > 0) {
      out.append(buffer, n);
    }
    std::fseek(m_file, 0, SEEK_END);
    return out;
  }

private:
  std::FILE* m_file;
  util::SystemClock m_clock;
  std::unique_ptr<util::Log> m_log;
};

} // namespace buildme::test
