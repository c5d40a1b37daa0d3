// .dsc files (Dsc::parse, lib/debian/upload.hpp): names, versions and file
// listings of an untrusted source package. What parses must be what its
// parts say: a valid source name and version, and files with valid names.
#include "debian/syntax.hpp"
#include "debian/upload.hpp"
#include "fuzz.hpp"

using namespace buildme;
using buildme::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  auto dsc = debian::Dsc::parse(fuzz::text_of(data, size), "hello_1.0-1.dsc");
  if (!dsc) {
    return 0;
  }
  require(debian::check_package_name(dsc->source).ok(), "a .dsc parses with a bad Source");
  auto again = debian::Version::parse(dsc->version.to_string());
  require(again.ok(), "a .dsc's version does not parse again");
  require(debian::compare(*again, dsc->version) == 0, "a version written and read again differs");
  for (const auto& file : dsc->files) {
    require(debian::check_file_name(file.name).ok(), "a .dsc lists a bad file name");
  }
  return 0;
}
