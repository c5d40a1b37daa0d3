#include "repo/summary.hpp"

#include <fmt/format.h>

namespace buildme::repo {

void note_catalog(util::Log& log, const Status& written, std::string_view file, RunSummary& summary)
{
  if (written) {
    return;
  }
  log.verdict(
    "ERROR", util::Log::Tone::bad,
    fmt::format("{}: the repository database was not updated: {}", file, written.message()));
  ++summary.errors;
}

} // namespace buildme::repo
