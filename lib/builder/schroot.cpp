#include "builder/schroot.hpp"

#include "builder/environment.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <string_view>
#include <utility>

namespace buildme::builder {

namespace fs = std::filesystem;

namespace {

const fs::path etc_schroot = "/etc/schroot";

// One script, installed under two names: schroot runs setup.d's scripts in
// order when a session starts and in reverse order when it ends, so that
// 04 comes before schroot's own 05file unpacks the base, and 06 after 10mount
// has unmounted the chroot's file systems and before 05file removes the copy.
constexpr std::string_view unpack_script = R"(#!/bin/sh
# Written by 'buildme env schroot --install'. For file chroots marked
# buildme.unpack=tmpfs (buildme's clean builds): as 04buildme-unpack it mounts
# a tmpfs where schroot's 05file then unpacks the session's copy of the base;
# as 06buildme-unpack, when the session ends, it unmounts it, and the copy is
# gone with it. A disk costs seconds to unpack and remove a base each build.
set -e
[ "${CHROOT_TYPE:-}" = file ] && [ "${BUILDME_UNPACK:-}" = tmpfs ] || exit 0
dir="$CHROOT_FILE_UNPACK_DIR/$SESSION_ID"
case "${0##*/}:$1" in
  04buildme-unpack:setup-start)
    mkdir -p "$dir"
    mountpoint -q "$dir" || mount -t tmpfs -o mode=0755 buildme-unpack "$dir"
    ;;
  06buildme-unpack:setup-stop | 06buildme-unpack:setup-recover)
    if mountpoint -q "$dir"; then umount "$dir" || umount -l "$dir"; fi
    ;;
esac
exit 0
)";

std::string parent_folder(const std::string& path)
{
  return path.substr(0, path.rfind('/'));
}

} // namespace

std::string schroot_name(const config::Builder& builder, const std::string& product,
                         const std::string& arch)
{
  std::string name = builder.schroot_name;
  for (auto [key, value] : {std::pair<std::string_view, std::string_view>{"{product}", product},
                            {"{arch}", arch},
                            {"{builder}", builder.name}}) {
    for (auto at = name.find(key); at != std::string::npos;
         at = name.find(key, at + value.size())) {
      name.replace(at, key.size(), value);
    }
  }
  return name;
}

Result<std::vector<SchrootFile>> schroot_files(const config::Config& config,
                                               const std::string& only_builder,
                                               const std::string& local_user)
{
  TRY_ASSIGN(auto targets, wanted_envs(config));
  std::vector<SchrootFile> files;
  for (const auto& target : targets) {
    const config::Builder& builder = *target.builder;
    if (builder.engine != config::Builder::Engine::schroot ||
        (!only_builder.empty() && builder.name != only_builder)) {
      continue;
    }
    const std::string base = base_path(config, builder, target.product->name, target.arch);
    if (!base.starts_with('/')) {
      return fail("builder {}: schroot needs the absolute path of each base, and env_dir {} is "
                  "relative to the home of {} on {}: set env_dir to an absolute folder",
                  builder.name, builder.env_dir,
                  builder.users.empty() ? std::string("its user") : builder.users.front(),
                  builder.host);
    }
    std::string users = local_user;
    if (!builder.is_local()) {
      users = util::join(builder.users, ",");
    } else if (local_user != "root") {
      // schroot unpacks a base as root: one a build account made could carry
      // device nodes and set-id files, so schroot takes only root's.
      return fail("builder {}: schroot takes only bases owned by root, and buildme runs as {} "
                  "here (the owner of {}), who would make them: run buildme as root, or keep "
                  "the unshare engine",
                  builder.name, local_user, config.state_dir.string());
    }
    const std::string name = schroot_name(builder, target.product->name, target.arch);
    const std::string origin = fmt::format("builder {}, product {}, arch {}", builder.name,
                                           target.product->name, target.arch);
    std::string fstab =
      fmt::format("# Written by 'buildme env schroot --install' from {}: {}.\n"
                  "# <file system> <mount point> <type> <options> <dump> <pass>\n"
                  "/proc /proc none rw,bind 0 0\n"
                  "/sys /sys none rw,bind 0 0\n"
                  "/dev/pts /dev/pts none rw,bind 0 0\n"
                  "tmpfs /dev/shm tmpfs defaults 0 0\n"
                  "# apt's downloads, kept for the next build (a folder for each slot)\n"
                  "{}/apt-cache /srv/buildme-apt-cache none rw,bind 0 0\n",
                  config.path, origin, parent_folder(base));
    if (builder.is_local()) {
      if (const config::Repository* repository = config.repository(target.product->repository)) {
        std::error_code error;
        if (!fs::is_directory(repository->staging_dir, error)) {
          return fail("builder {}: the repository folder {} of product {} is not there yet, "
                      "and the chroot {} binds it: run 'queue-manage' once (or make the "
                      "folder) and then this again",
                      builder.name, repository->staging_dir.string(), target.product->name, name);
        }
        fstab += fmt::format("# the product's own distribution, for its Build-Depends\n"
                             "{} /srv/buildme-repository none ro,bind 0 0\n",
                             repository->staging_dir.string());
      }
    }
    const std::string chroot =
      fmt::format("# Written by 'buildme env schroot --install' from {}: {}.\n"
                  "# Each session is a fresh copy of the base buildme makes and keeps at\n"
                  "# {} (made again after env_max_age).\n"
                  "[{}]\n"
                  "description=buildme clean builds: {}\n"
                  "type=file\n"
                  "file={}\n"
                  "profile=sbuild\n"
                  "setup.fstab=buildme/{}.fstab\n"
                  "users={}\n"
                  "root-users={}\n"
                  "source-clone=false\n"
                  "buildme.unpack={}\n",
                  config.path, origin, base, name, origin, base, name, users, users,
                  builder.build_tmpdir.empty() ? "tmpfs" : "disk");
    files.push_back({etc_schroot / "chroot.d" / name, chroot, false});
    files.push_back({etc_schroot / "buildme" / (name + ".fstab"), fstab, false});
  }
  if (files.empty()) {
    return files;
  }
  files.push_back({etc_schroot / "setup.d" / "04buildme-unpack", std::string(unpack_script), true});
  files.push_back({etc_schroot / "setup.d" / "06buildme-unpack", std::string(unpack_script), true});
  return files;
}

} // namespace buildme::builder
