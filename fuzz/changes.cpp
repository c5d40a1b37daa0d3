// .changes files (Changes::parse, lib/debian/upload.hpp): an upload's
// description, from anyone who can write to an incoming folder. What parses
// must be what its parts say: a valid source name and version, and files
// with valid names.
#include "debian/syntax.hpp"
#include "debian/upload.hpp"
#include "fuzz.hpp"

using namespace buildme;
using buildme::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  auto changes = debian::Changes::parse(fuzz::text_of(data, size), "hello_1.0-1_source.changes");
  if (!changes) {
    return 0;
  }
  require(debian::check_package_name(changes->source).ok(), "a .changes parses with a bad Source");
  auto again = debian::Version::parse(changes->version.to_string());
  require(again.ok(), "a .changes' version does not parse again");
  require(debian::compare(*again, changes->version) == 0,
          "a version written and read again differs");
  for (const auto& file : changes->files) {
    require(debian::check_file_name(file.name).ok(), "a .changes lists a bad file name");
  }
  return 0;
}
