// Build logs (lib/builder/build_status.hpp): the build wrote them, so the
// status line at their end is untrusted. Whatever the log, the result is
// one of the codes and its detail one printable line, never too long for a
// mail.
#include "builder/build_status.hpp"
#include "fuzz.hpp"

using namespace buildme;
using buildme::fuzz::require;

namespace {

void check(const builder::BuildStatus& status)
{
  require(builder::result_from_code(static_cast<int>(status.result)).has_value(),
          "a build result that is none of the codes");
  require(status.detail.size() <= 4 * 1000 + 3, "a status detail longer than the cut");
  for (char c : status.detail) {
    const auto byte = static_cast<unsigned char>(c);
    require(byte >= 0x20 && byte != 0x7f, "a status detail with a control character");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const auto log = fuzz::text_of(data, size);
  if (auto status = builder::parse_build_status(log)) {
    check(*status);
  }
  for (int exit_code : {0, 10, 30, 40, 50, 51, 1, -1, 255}) {
    check(builder::classify_build(log, exit_code));
  }
  return 0;
}
