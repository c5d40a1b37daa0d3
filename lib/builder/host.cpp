#include "builder/host.hpp"

namespace buildme::builder {

std::string_view describe(ExecResult::End end)
{
  switch (end) {
  case ExecResult::End::exited:
    return "exited";
  case ExecResult::End::timed_out:
    return "timed out";
  case ExecResult::End::idle:
    return "stopped after too long without output";
  case ExecResult::End::cancelled:
    return "cancelled";
  case ExecResult::End::killed:
    return "killed by a signal";
  }
  return "ended";
}

std::string shell_quote(std::string_view word)
{
  // Inside single quotes a POSIX shell takes every byte literally except the
  // closing quote, so only ' needs care: close, an escaped quote, reopen.
  std::string quoted = "'";
  for (char c : word) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  quoted += '\'';
  return quoted;
}

std::string shell_command(const std::vector<std::string>& argv)
{
  std::string command;
  for (const auto& word : argv) {
    if (!command.empty()) {
      command += ' ';
    }
    command += shell_quote(word);
  }
  return command;
}

} // namespace buildme::builder
