#include "builder/local_host.hpp"

#include "util/fs.hpp"
#include "util/process.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace buildme::builder {

namespace {

namespace fs = std::filesystem;
using util::printable;

std::string show(const fs::path& path)
{
  return printable(path.string());
}

ExecResult::End end_of(util::StreamResult::End end)
{
  switch (end) {
  case util::StreamResult::End::exited:
    return ExecResult::End::exited;
  case util::StreamResult::End::timed_out:
    return ExecResult::End::timed_out;
  case util::StreamResult::End::idle:
    return ExecResult::End::idle;
  case util::StreamResult::End::cancelled:
    return ExecResult::End::cancelled;
  case util::StreamResult::End::killed:
    return ExecResult::End::killed;
  }
  return ExecResult::End::killed;
}

class LocalHost final : public Host
{
public:
  std::string name() const override { return "local"; }

  Status make_dir(const std::string& dir) override
  {
    if (dir.empty()) {
      return fail("cannot make a folder on local: no folder name given");
    }
    return util::make_dirs(dir);
  }

  Status remove_tree(const std::string& dir) override
  {
    // Only ever a work folder that buildme made, named in full: a mistake in
    // the config must not become `rm -rf /` or a removal relative to
    // wherever buildme happens to run.
    fs::path path(dir);
    bool has_dotdot = false;
    for (const auto& part : path) {
      has_dotdot = has_dotdot || part == "..";
    }
    if (!path.is_absolute() || has_dotdot || path.lexically_normal().relative_path().empty()) {
      return fail("refusing to remove \"{}\" on local: a work folder is a full path below /, "
                  "without ..",
                  printable(dir));
    }
    // remove_all does not follow symlinks: a link in the tree is removed,
    // never what it points to.
    std::error_code error;
    fs::remove_all(path, error);
    if (error) {
      return fail("cannot remove {} on local: {}", show(path), error.message());
    }
    return {};
  }

  Status upload(const fs::path& local, const std::string& remote, mode_t mode) override
  {
    // A retry sends the same file again: it replaces what the first try
    // left, through a temporary name so the final name is always whole.
    const fs::path target(remote);
    const fs::path temp(remote + std::string(upload_suffix));
    if (::unlink(temp.c_str()) != 0 && errno != ENOENT) {
      return fail("cannot remove the leftover {}: {}", show(temp), std::strerror(errno));
    }
    TRY(util::copy_exclusive(local, temp));
    auto placed = [&]() -> Status {
      if (::chmod(temp.c_str(), mode) != 0) {
        return fail("cannot set the mode of {}: {}", show(temp), std::strerror(errno));
      }
      if (::rename(temp.c_str(), target.c_str()) != 0) {
        return fail("cannot put {} in place as {}: {}", show(temp), show(target),
                    std::strerror(errno));
      }
      return {};
    }();
    if (!placed) {
      ::unlink(temp.c_str());
      return placed;
    }
    auto parent = target.parent_path();
    return util::sync_dir(parent.empty() ? fs::path(".") : parent);
  }

  Status download(const std::string& remote, const fs::path& local, std::uint64_t max_size) override
  {
    auto info = util::stat_no_follow(remote);
    if (!info) {
      return info.error();
    }
    if (!*info) {
      return fail("cannot fetch {} from local: no such file", printable(remote));
    }
    if ((*info)->type != util::FileInfo::Type::regular) {
      return fail("{} on local is not a regular file; refusing to fetch it", printable(remote));
    }
    // The build that wrote the file has ended, so its size is settled; the
    // copy itself refuses to overwrite `local` or to follow a symlink.
    if ((*info)->size > max_size) {
      return fail("{} on local is larger than {} bytes; refusing to fetch it", printable(remote),
                  max_size);
    }
    return util::copy_exclusive(remote, local);
  }

  Result<std::vector<RemoteFile>> list_dir(const std::string& dir) override
  {
    auto names = util::list_dir(dir);
    if (!names) {
      return names.error();
    }
    std::vector<RemoteFile> files;
    for (auto& name : *names) {
      auto info = util::stat_no_follow(fs::path(dir) / name);
      if (!info) {
        return info.error();
      }
      if (!*info) {
        continue; // removed since it was listed
      }
      RemoteFile file;
      file.name = std::move(name);
      file.size = (*info)->size;
      file.regular = (*info)->type == util::FileInfo::Type::regular;
      files.push_back(std::move(file));
    }
    return files;
  }

  Result<ExecResult> run(const std::vector<std::string>& argv, const std::string& cwd,
                         const ExecOptions& options) override
  {
    util::StreamOptions stream;
    if (!cwd.empty()) {
      stream.cwd = cwd;
    }
    stream.timeout = options.timeout;
    stream.idle_timeout = options.idle_timeout;
    stream.on_output = options.on_output;
    stream.cancelled = options.cancelled;
    auto ran = util::run_streaming(argv, stream);
    if (!ran) {
      return ran.error();
    }
    ExecResult result;
    result.end = end_of(ran->end);
    result.exit_code = ran->exit_code;
    return result;
  }
};

} // namespace

std::unique_ptr<Host> make_local_host()
{
  return std::make_unique<LocalHost>();
}

} // namespace buildme::builder
