// The texts of source uploads for tests: a .dsc and a source-only .changes
// listing files with their real sizes and digests, as dpkg-source and
// dpkg-genchanges write them.
#pragma once

#include "util/digest.hpp"

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <vector>

namespace buildme::test {

struct PackageFile
{
  std::string name;
  std::string content;
};

inline std::string digest(util::DigestKind kind, std::string_view content)
{
  return *util::digest_bytes(content, util::DigestSet::all())[kind];
}

inline std::string listing(util::DigestKind kind, const std::vector<PackageFile>& files,
                           bool with_section)
{
  std::string text = fmt::format("{}:\n", util::digest_field(kind));
  for (const auto& file : files) {
    text += fmt::format(" {} {} {}{}\n", digest(kind, file.content), file.content.size(),
                        with_section ? "devel optional " : "", file.name);
  }
  return text;
}

// A .dsc as dpkg-source -b writes it, listing `files` with their real sizes
// and digests.
inline std::string dsc_text(std::string_view source, std::string_view version,
                            const std::vector<PackageFile>& files)
{
  return fmt::format("Format: 3.0 (quilt)\nSource: {0}\nBinary: {0}\nArchitecture: any all\n"
                     "Version: {1}\nMaintainer: Jane Doe <jane@example.org>\n",
                     source, version) +
         listing(util::DigestKind::sha1, files, false) +
         listing(util::DigestKind::sha256, files, false) +
         listing(util::DigestKind::md5, files, false);
}

// A source-only .changes as dpkg-genchanges -S writes it.
inline std::string changes_text(std::string_view source, std::string_view version,
                                const std::vector<PackageFile>& files,
                                std::string_view changed_by = "John Roe <john@example.org>")
{
  std::string text = fmt::format(
    "Format: 1.8\nDate: Mon, 01 Jan 2024 00:00:00 +0000\nSource: {}\nArchitecture: source\n"
    "Version: {}\nDistribution: unstable\nMaintainer: Jane Doe <jane@example.org>\n",
    source, version);
  if (!changed_by.empty()) {
    text += fmt::format("Changed-By: {}\n", changed_by);
  }
  text += "Changes:\n hello (1.0-1) unstable; urgency=medium\n .\n   * Initial release.\n";
  return text + listing(util::DigestKind::sha1, files, false) +
         listing(util::DigestKind::sha256, files, false) +
         listing(util::DigestKind::md5, files, true);
}

} // namespace buildme::test
