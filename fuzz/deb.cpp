// Binary packages (read_binary, lib/repo/deb.hpp): an ar archive holding
// tar archives, compressed, as a build or an upload left it. The input is
// written to a scratch file and read as the repository reads a .deb; what
// reads must give a Packages stanza that reads back as one paragraph.
#include "debian/deb822.hpp"
#include "fuzz.hpp"
#include "repo/deb.hpp"
#include "repo/index.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

using namespace buildme;
using buildme::fuzz::require;
namespace fs = std::filesystem;

namespace {

fs::path scratch;

} // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/)
{
  scratch = fuzz::scratch_folder();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const fs::path deb = scratch / "hello_1.0-1_amd64.deb";
  std::ofstream(deb, std::ios::binary | std::ios::trunc)
    .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));

  auto binary = repo::read_binary(deb);
  if (binary) {
    auto stanza = repo::packages_stanza(binary->control_text, binary->control,
                                        "pool/main/h/hello/hello_1.0-1_amd64.deb", binary->digests);
    auto again = debian::parse_control(stanza, "Packages");
    require(again.ok() && again->paragraphs.size() == 1,
            "a .deb's Packages stanza does not read back as one paragraph");
  }
  // Small limits reach the size checks with small inputs.
  repo::DebLimits small;
  small.max_control_tar = 2048;
  small.max_control_file = 512;
  small.max_in_memory = 1024; // larger inputs take the path that reads the file twice
  (void)repo::read_deb(deb, util::DigestSet::all(), small); // must not crash
  return 0;
}
