// Whether this account can write a folder a program needs, or make it:
// the checks of the programs' --dry-run (buildme, queue-manage,
// repo-publish), each fault one line naming the folder, its config key and
// the fix.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <sys/stat.h>

namespace buildme::util {

// The name of the account this process runs as ("builder"), for messages.
std::string this_account();

// The folder itself when it exists, else the nearest ancestor that does
// (what make_dirs would create the rest in); std::nullopt when the path
// cannot be looked at (errno says why).
struct ExistingFolder
{
  std::filesystem::path path;
  struct stat info = {};
  bool is_self = false;
};
std::optional<ExistingFolder> nearest_existing(const std::filesystem::path& folder);

// One line when `folder` (config key `key`; `owner` follows it in the
// message, e.g. " (product fremantle)") is not a folder this account can
// write, or, unless must_exist, make; empty when it is.
std::string folder_fault(const std::filesystem::path& folder, std::string_view key,
                         std::string_view owner, bool must_exist);

} // namespace buildme::util
