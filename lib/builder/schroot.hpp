// The schroot engine (a builder's `engine = schroot`): sbuild's schroot
// backend instead of its unshare one. Each of the hundred-odd commands sbuild
// runs in a buildroot then costs a schroot call instead of a new set of
// namespaces and mounts, which halves a clean build's overhead (README,
// bench/build-bench). What it costs is root, once, on the builder: schroot
// reads its chroots from /etc/schroot, and takes only a base owned by root.
//
// buildme keeps making and refreshing the bases itself (environment.hpp);
// root writes, once, the files below, which `buildme env schroot --install`
// writes for a local builder (or below --root DIR, to copy to an SSH one):
//
//   /etc/schroot/chroot.d/NAME          one file chroot per product and arch,
//                                       whose file is the base tarball
//   /etc/schroot/buildme/NAME.fstab     its mounts: the kernel file systems,
//                                       the builder's apt cache folder at
//                                       /srv/buildme-apt-cache and (local
//                                       builders) the product's repository
//                                       at /srv/buildme-repository, read-only
//   /etc/schroot/setup.d/04buildme-unpack, 06buildme-unpack
//                                       unpack a chroot marked
//                                       buildme.unpack=tmpfs in a tmpfs of its
//                                       own session (a disk costs seconds to
//                                       unpack and remove 500 MB), and unmount
//                                       it at the end
#pragma once

#include "config/config.hpp"
#include "util/result.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace buildme::builder {

// The schroot chroot a build of `product` for base arch `arch` uses on
// `builder` (its schroot_name filled in).
std::string schroot_name(const config::Builder& builder, const std::string& product,
                         const std::string& arch);

struct SchrootFile
{
  std::filesystem::path path; // absolute, below /etc/schroot
  std::string text;
  bool executable = false;
};

// The files root writes for the schroot builders of `config` (only
// `only_builder` when it is not empty). `local_user` is the account
// buildme's local builds run as (the owner of state_dir), who must be root:
// schroot takes only bases owned by root (one a build account made could
// carry device nodes and set-id files into a chroot that root unpacks).
// Fails naming the builder and the fix when one cannot be set up: a local
// user other than root, a relative env_dir on an SSH builder, or a product
// repository folder that does not exist yet.
Result<std::vector<SchrootFile>> schroot_files(const config::Config& config,
                                               const std::string& only_builder,
                                               const std::string& local_user);

} // namespace buildme::builder
