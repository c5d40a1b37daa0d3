#include "config/arches.hpp"

#include "util/process.hpp"
#include "util/text.hpp"

#include <mutex>

namespace buildme::config {

Result<std::string> native_arch()
{
  static std::mutex mutex;
  static std::string cached;
  std::lock_guard<std::mutex> guard(mutex);
  if (!cached.empty()) {
    return cached;
  }
  auto result = util::run_process({"dpkg", "--print-architecture"});
  if (!result) {
    return fail("cannot tell this machine's architecture: {} (install dpkg)", result.message());
  }
  const std::string arch(util::trim(result->out));
  if (result->exit_code != 0 || arch.empty()) {
    return fail("dpkg --print-architecture failed: {}", util::trim(result->err));
  }
  cached = arch;
  return cached;
}

namespace {

Result<std::vector<std::string>> or_native(const std::vector<std::string>& arches)
{
  if (!arches.empty()) {
    return arches;
  }
  auto native = native_arch();
  if (!native) {
    return Error{native.error()};
  }
  return std::vector<std::string>{*native};
}

} // namespace

Result<std::vector<std::string>> builder_arches(const config::Builder& builder)
{
  return or_native(builder.arches);
}

Result<std::vector<std::string>> product_arches(const config::Product& product)
{
  return or_native(product.arches);
}

} // namespace buildme::config
