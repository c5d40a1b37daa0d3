// The architectures a product builds and a builder serves: their
// `arches`, or this machine's when none are set.
#pragma once

#include "config/config.hpp"
#include "util/result.hpp"

#include <string>
#include <vector>

namespace buildme::config {

// This machine's Debian architecture (dpkg --print-architecture), looked up
// once.
Result<std::string> native_arch();

Result<std::vector<std::string>> builder_arches(const Builder& builder);
Result<std::vector<std::string>> product_arches(const Product& product);

} // namespace buildme::config
