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

std::string describe(const PackageCount& count)
{
  const auto sources = count.sources.size();
  const auto binaries = count.binaries.size();
  std::string packages;
  if (sources > 0 && binaries > 0) {
    packages =
      fmt::format("{} source and {} binary package{}", sources, binaries, binaries == 1 ? "" : "s");
  } else if (sources > 0) {
    packages = fmt::format("{} source package{}", sources, sources == 1 ? "" : "s");
  } else {
    packages = fmt::format("{} binary package{}", binaries, binaries == 1 ? "" : "s");
  }
  return fmt::format("{} ({} file{})", packages, count.files.size(),
                     count.files.size() == 1 ? "" : "s");
}

} // namespace buildme::repo
