// Debian versions (lib/debian/version.hpp), as uploads and .debs give them:
// the input is up to three versions, one a line. Whatever parses must read
// back equal from its text, and compare as an order does: a version equals
// itself, swapping two turns the sign, and a < b < c gives a < c.
#include "debian/version.hpp"
#include "fuzz.hpp"

#include <algorithm>
#include <optional>
#include <vector>

using namespace buildme;
using buildme::fuzz::require;

namespace {

int sign(int value)
{
  return (value > 0) - (value < 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  auto rest = fuzz::text_of(data, size);
  std::vector<debian::Version> versions;
  for (int i = 0; i < 3 && !rest.empty(); ++i) {
    const auto end = std::min(rest.find('\n'), rest.size());
    auto version = debian::Version::parse(rest.substr(0, end));
    rest.remove_prefix(std::min(end + 1, rest.size()));
    if (!version) {
      continue;
    }
    auto again = debian::Version::parse(version->to_string());
    require(again.ok(), "a version written out does not parse again");
    require(debian::compare(*again, *version) == 0, "a version read again is another version");
    require(debian::compare(*version, *version) == 0, "a version differs from itself");
    versions.push_back(std::move(*version));
  }
  for (const auto& a : versions) {
    for (const auto& b : versions) {
      require(sign(debian::compare(a, b)) == -sign(debian::compare(b, a)),
              "swapping two versions does not turn the sign of their comparison");
      for (const auto& c : versions) {
        if (debian::compare(a, b) < 0 && debian::compare(b, c) < 0) {
          require(debian::compare(a, c) < 0, "a < b and b < c but not a < c");
        }
      }
    }
  }
  return 0;
}
