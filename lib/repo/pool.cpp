#include "repo/pool.hpp"

#include "util/fs.hpp"

#include <fmt/format.h>

#include <chrono>

namespace buildme::repo {

namespace fs = std::filesystem;

namespace {

std::int64_t nanoseconds(std::chrono::system_clock::time_point when)
{
  return std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count();
}

struct DiskSync : FolderSync
{
  Status sync_dir(const fs::path& dir) override { return util::sync_dir(dir); }
  Status sync_filesystem(const fs::path& path) override { return util::sync_filesystem(path); }
};

} // namespace

std::string pool_dir(const std::string& component, const std::string& source)
{
  const std::string prefix =
    source.starts_with("lib") && source.size() > 3 ? source.substr(0, 4) : source.substr(0, 1);
  return fmt::format("pool/{}/{}/{}", component, prefix, source);
}

Result<FileStamp> stamp_of(const fs::path& path)
{
  auto info = util::stat_no_follow(path);
  if (!info) {
    return Error{info.error()};
  }
  if (!*info || (*info)->type != util::FileInfo::Type::regular) {
    return fail("{} is missing or not a regular file", path.string());
  }
  return FileStamp{(*info)->size, nanoseconds((*info)->mtime), nanoseconds((*info)->ctime),
                   static_cast<std::uint64_t>((*info)->inode)};
}

FolderSync& disk_sync()
{
  static DiskSync sync;
  return sync;
}

Status Pool::ensure_dir(const fs::path& dir)
{
  if (m_made.count(dir.native())) {
    return {};
  }
  TRY(util::make_dirs(dir));
  m_made.insert(dir.native());
  return {};
}

Status Pool::sync_touched()
{
  Status result;
  if (m_touched.size() > 32) {
    // Many folders: one syncfs per filesystem costs less than an fsync each.
    std::set<dev_t> done;
    for (const auto& dir : m_touched) {
      auto info = util::stat_no_follow(dir);
      if (info && *info && done.insert((*info)->device).second) {
        if (auto synced = m_sync.sync_filesystem(dir); !synced && result) {
          result = synced;
        }
      }
    }
    m_touched.clear();
    return result;
  }
  // Each folder, and in the staging folder its parents too: a pool folder
  // made by this run is an entry in its parent.
  std::set<fs::path> folders;
  for (const auto& name : m_touched) {
    const fs::path dir(name);
    folders.insert(dir);
    for (fs::path up = dir.parent_path();
         up != m_root && up.has_relative_path() && up.native().starts_with(m_root.native());
         up = up.parent_path()) {
      folders.insert(up);
    }
  }
  for (const auto& dir : folders) {
    if (auto synced = m_sync.sync_dir(dir); !synced && result) {
      result = synced;
    }
  }
  m_touched.clear();
  return result;
}

} // namespace buildme::repo
