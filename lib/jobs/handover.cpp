#include "jobs/handover.hpp"

#include "debian/syntax.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <system_error>

namespace buildme::jobs {

namespace fs = std::filesystem;

namespace {

fs::path partial_path(const fs::path& queue, const std::string& name)
{
  return queue / fmt::format(".{}.partial", name);
}

// A unit folder gets its queue folder's permissions, less the sticky bit: a
// queue that buildme's account shares with queue-manage's through a group
// (group-writable and setgid, as the admin guide makes it) stays shared in
// every unit, so that queue-manage can take the unit's files out and remove
// the folder.
Result<mode_t> unit_mode(const fs::path& queue)
{
  struct stat st;
  if (::stat(queue.c_str(), &st) != 0) {
    return fail("cannot read the permissions of {}: {}", queue.string(), std::strerror(errno));
  }
  return static_cast<mode_t>((st.st_mode & 07777 & ~S_ISVTX) | S_IRWXU);
}

} // namespace

std::string unit_name(long job, const std::string& arch, int attempt)
{
  return fmt::format("job-{}-{}-{}", job, arch, attempt);
}

std::optional<UnitName> parse_unit_name(std::string_view name)
{
  // job-<number>-<arch>-<number>, the arch a Debian architecture name.
  if (!name.starts_with("job-")) {
    return std::nullopt;
  }
  const auto first = name.find('-', 4);
  const auto last = name.rfind('-');
  if (first == std::string_view::npos || last <= first) {
    return std::nullopt;
  }
  const auto job = util::parse_count(name.substr(4, first - 4));
  const auto attempt = util::parse_count(name.substr(last + 1));
  const auto arch = name.substr(first + 1, last - first - 1);
  if (!job || !attempt || *job > std::numeric_limits<long>::max() ||
      *attempt > std::numeric_limits<int>::max() || !debian::is_valid_architecture(arch)) {
    return std::nullopt;
  }
  return UnitName{static_cast<long>(*job), std::string(arch), static_cast<int>(*attempt)};
}

bool is_unit_name(const std::string& name)
{
  return parse_unit_name(name).has_value();
}

Status assemble_unit(const fs::path& queue, const std::string& name,
                     const std::vector<fs::path>& files)
{
  TRY(util::make_dirs(queue));
  TRY_ASSIGN(const mode_t mode, unit_mode(queue));
  const fs::path partial = partial_path(queue, name);
  TRY(discard_unit(queue, name));
  TRY(util::make_dirs(partial, mode));
  for (const auto& file : files) {
    TRY(util::copy_exclusive(file, partial / file.filename()));
  }
  return util::sync_dir(partial);
}

Status commit_unit(const fs::path& queue, const std::string& name)
{
  const fs::path partial = partial_path(queue, name);
  auto present = util::stat_no_follow(partial);
  if (!present) {
    return Error{present.error()};
  }
  if (*present) {
    TRY(util::move_exclusive(partial, queue / name));
  }
  return util::sync_dir(queue);
}

Status discard_unit(const fs::path& queue, const std::string& name)
{
  const fs::path partial = partial_path(queue, name);
  std::error_code error;
  fs::remove_all(partial, error);
  if (error) {
    return fail("cannot remove {}: {}", partial.string(), error.message());
  }
  return {};
}

} // namespace buildme::jobs
