// What `buildme --dry-run` checks before a real tick would fail on it: the
// folders a tick writes (writable by this account; they need not share a
// filesystem: a move between two is a copy, fsync and link), and
// every builder slot (the identity and known_hosts files, the connection
// and host key, the login, the work folder, the build tools). Each fault is
// one line that names the thing, what is wrong and what to change.
//
// The builder checks go through the Host interface (connect() is the real
// one unless a test gives its own), so they run the same commands a build
// would, over the same connection.
#pragma once

#include "builder/host.hpp"
#include "builder/slots.hpp"
#include "config/config.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace buildme::builder {

// The folders of [buildme] and of each product that a tick writes.
std::vector<std::string> check_tick_folders(const config::Config& config);

struct PreflightSetup
{
  // Reaches a slot's builder; empty: SSH (or this machine for host = local).
  std::function<Result<std::unique_ptr<Host>>(const Slot&)> connect;
};

// Every builder slot (one check for all slots of a local builder).
std::vector<std::string> check_builders(const config::Config& config,
                                        const PreflightSetup& setup = {});

} // namespace buildme::builder
