// Failpoints: named steps where a test can have the process killed, to prove
// that a hand-over survives a kill at each of its steps (not only by chance).
// BUILDME_FAILPOINT=NAME in the environment makes failpoint(NAME) send the
// process SIGKILL; without it (as in production) a failpoint does nothing.
#pragma once

#include <string_view>

namespace buildme::util {

void failpoint(std::string_view name);

} // namespace buildme::util
