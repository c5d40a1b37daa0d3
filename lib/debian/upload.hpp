// .dsc (a source package's description) and .changes (an upload's
// description) as buildme needs them: the identity of the source, the people
// to tell, and the files with their sizes and digests. Parsing checks the
// syntax of every name and version and that all file listings (Files,
// Checksums-Sha1, -Sha256, -Sha512) agree on the same names and sizes.
#pragma once

#include "debian/deb822.hpp"
#include "debian/version.hpp"
#include "util/digest.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace buildme::debian {

struct ListedFile
{
  std::string name; // checked with check_file_name
  std::uint64_t size = 0;
  util::Digests digests; // the listed ones; digests.size == size
  std::string section;   // .changes only ("-" when not given)
  std::string priority;  // .changes only
};

struct Dsc
{
  std::string source;
  Version version;
  std::string format; // "3.0 (quilt)", "1.0", ...
  std::string maintainer;
  std::vector<std::string> uploaders;
  std::vector<std::string> architectures; // "any", "all", "armel", ...
  std::vector<std::string> binaries;
  std::vector<ListedFile> files;
  ControlFile control;

  // Parses a .dsc from text; `filename` for messages. Required: Source,
  // Version, Format, Maintainer, Files (and Checksums-Sha256 for format 3.0).
  static Result<Dsc> parse(std::string_view text, std::string_view filename);
};

struct Changes
{
  std::string source; // "Source" may carry "(version)": only the name here
  Version version;
  std::string distribution;
  std::string maintainer;
  std::string changed_by; // empty when absent
  std::vector<std::string> architectures;
  std::vector<std::string> binaries;
  std::vector<ListedFile> files;
  ControlFile control;

  // Required: Format, Source, Version, Distribution, Maintainer,
  // Architecture, Files.
  static Result<Changes> parse(std::string_view text, std::string_view filename);
};

} // namespace buildme::debian
