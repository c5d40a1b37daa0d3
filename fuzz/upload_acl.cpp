// upload_acl files (lib/config/upload_acl.hpp): the archive's policy of who
// may upload what. A key the file does not name may upload nothing.
#include "config/upload_acl.hpp"
#include "fuzz.hpp"

using namespace buildme;
using buildme::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  auto acl = config::parse_upload_acl(fuzz::text_of(data, size), "uploaders.acl");
  if (!acl) {
    return 0;
  }
  const std::string stranger = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF";
  const std::string jane = "0123456789ABCDEF0123456789ABCDEF01234567";
  for (auto source : {"hello", "libhello1", "a", "", "hello-doc", "../x"}) {
    (void)acl->allows(jane, source); // must not crash
    if (acl->sources_of(stranger).empty()) {
      require(!acl->allows(stranger, source), "a key with no line may upload");
    }
  }
  return 0;
}
