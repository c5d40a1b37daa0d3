#include "util/folder_check.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <pwd.h>
#include <unistd.h>

namespace buildme::util {

namespace fs = std::filesystem;

std::string this_account()
{
  const passwd* entry = ::getpwuid(::geteuid());
  return entry ? std::string(entry->pw_name) : fmt::format("uid {}", ::geteuid());
}

std::optional<ExistingFolder> nearest_existing(const fs::path& folder)
{
  fs::path path = folder.lexically_normal();
  for (bool self = true;; self = false) {
    ExistingFolder found;
    if (::stat(path.c_str(), &found.info) == 0) {
      found.path = path;
      found.is_self = self;
      return found;
    }
    if ((errno != ENOENT && errno != ENOTDIR) || !path.has_relative_path()) {
      return std::nullopt;
    }
    path = path.parent_path();
  }
}

std::string folder_fault(const fs::path& folder, std::string_view key, std::string_view owner,
                         bool must_exist)
{
  const std::string subject = fmt::format("{} {}{}", key, folder.string(), owner);
  auto found = nearest_existing(folder);
  if (!found) {
    return fmt::format("{}: cannot be looked at ({}); fix the path or its parents' permissions",
                       subject, std::strerror(errno));
  }
  if (!found->is_self && must_exist) {
    return fmt::format("{}: does not exist; create it (mkdir -p {}) and give it to {}", subject,
                       folder.string(), this_account());
  }
  if (!S_ISDIR(found->info.st_mode)) {
    return fmt::format("{}: {} is not a folder; fix {} in the config", subject,
                       found->path.string(), key);
  }
  if (::access(found->path.c_str(), W_OK | X_OK) != 0) {
    if (found->is_self) {
      return fmt::format("{}: {} cannot write it; chown {} {} (or chmod g+w with a group {} is "
                         "in)",
                         subject, this_account(), this_account(), folder.string(), this_account());
    }
    return fmt::format("{}: does not exist and {} cannot create it in {}; create it (mkdir -p "
                       "{}) and give it to {}",
                       subject, this_account(), found->path.string(), folder.string(),
                       this_account());
  }
  return {};
}

} // namespace buildme::util
