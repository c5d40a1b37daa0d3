// LocalHost: "host = local", builds on this machine as the user buildme runs
// as, with no SSH. Files are copied, commands run through util's process
// runner in their own process group.
#pragma once

#include "builder/host.hpp"

#include <memory>

namespace buildme::builder {

std::unique_ptr<Host> make_local_host();

} // namespace buildme::builder
