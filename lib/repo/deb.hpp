// Reading a binary package (.deb) as the repository needs it: the control
// paragraph from the control.tar.* member, read with libarchive (ar, then tar
// with gzip, xz or zstd), never a hand-written ar/tar reader. Untrusted input:
// sizes are bounded, and a corrupt, truncated or hostile .deb is an Error
// naming the file and what is wrong, never a crash.
#pragma once

#include "util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <string>

namespace buildme::repo {

struct DebLimits
{
  std::uint64_t max_control_tar = 64 * 1024 * 1024; // uncompressed control.tar
  std::uint64_t max_control_file = 4 * 1024 * 1024;  // ./control inside it
};

// The text of the package's control file (DEBIAN/control), as dpkg-deb
// --field prints it. Checks that the archive starts with debian-binary "2.x"
// and that control.tar comes before data.tar, as dpkg requires.
Result<std::string> read_deb_control(const std::filesystem::path& deb, const DebLimits& limits = {});

} // namespace buildme::repo
