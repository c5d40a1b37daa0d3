// Reading a binary package (.deb) as the repository needs it: the control
// paragraph from the control.tar.* member, read with libarchive (ar, then tar
// with gzip, xz or zstd), never a hand-written ar/tar reader. Untrusted input:
// sizes are bounded, and a corrupt, truncated or hostile .deb is an Error
// naming the file and what is wrong, never a crash.
#pragma once

#include "debian/deb822.hpp"
#include "util/digest.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <string>

namespace buildme::repo {

struct DebLimits
{
  std::uint64_t max_control_tar = 64 * 1024 * 1024; // control.tar, compressed or not
  std::uint64_t max_control_file = 4 * 1024 * 1024; // ./control inside it
  std::uint64_t max_in_memory = 16 * 1024 * 1024;   // read_deb: larger files are read twice
  // Listing data.tar for Contents (read_deb's `list_files`).
  std::uint64_t max_data_entries = 4 * 1024 * 1024; // files, links and folders in data.tar
  std::uint64_t max_data_names = 512 * 1024 * 1024; // the names listed, in bytes
};

// The text of the package's control file (DEBIAN/control), byte for byte as
// dpkg-deb --field prints it. Checks the layout dpkg requires: debian-binary
// "2.x" first, then control.tar.*, then data.tar.* (members whose names start
// with '_' may sit between, and are skipped as dpkg skips them), and that the
// file holds all of data.tar, so a .deb cut short anywhere is an Error. The
// control.tar is unpacked whole and its checksum checked (gzip's here, xz's
// and zstd's, when the stream has one, by libarchive), so damage there is
// an Error too; data.tar is not read, so damage inside it goes unnoticed,
// as with apt-ftparchive.
Result<std::string> read_deb_control(const std::filesystem::path& deb,
                                     const DebLimits& limits = {});

// The control text as read_deb_control reads it, and the digests of the
// whole file, from one open: a .deb up to max_in_memory bytes is read once
// for both, a larger one twice through the same descriptor. With
// `list_files`, the same pass also lists data.tar (decompressed as it
// streams by, its contents skipped) for the Contents indices: `files` holds
// each name that is not a folder, "./" and leading "/" taken off, one a
// line, in the archive's order, as apt-ftparchive lists them. A name with a
// line break in it (which would forge a Contents line), a data.tar that is
// corrupt before its end, or one past max_data_entries or max_data_names is
// an Error.
struct DebFile
{
  std::string control;
  util::Digests digests;
  std::string files; // with list_files
};
Result<DebFile> read_deb(const std::filesystem::path& deb, util::DigestSet wanted,
                         const DebLimits& limits = {}, bool list_files = false);

// A binary's control data, checked: what the index needs of it.
struct BinaryInfo
{
  util::Digests digests; // of the whole .deb
  std::string files;     // data.tar's names (read_deb's list_files)
  std::string control_text;
  debian::Paragraph control;
  std::string package, version, arch, source, source_version, section;
};

// read_deb with every digest, and the control file parsed: one paragraph
// with a valid Package, Version and binary Architecture; Source (and its
// version) default to the package's own.
Result<BinaryInfo> read_binary(const std::filesystem::path& path, bool list_files = false);

} // namespace buildme::repo
