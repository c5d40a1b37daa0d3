// SshHost: a builder reached over SSH with libssh. Public-key authentication
// with the configured identity; the server's host key must be in the given
// known_hosts file. An unknown or changed key is refused with its SHA256
// fingerprint in the message: never trusted on first use. No ssh_config is
// read, so nothing outside buildme.conf changes how buildme connects.
#pragma once

#include "builder/host.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace buildme::builder {

struct SshTarget
{
  std::string host;
  int port = 22;
  std::string user;
  std::string identity;    // private key file
  std::string known_hosts; // the only known_hosts consulted
  std::chrono::seconds connect_timeout{30};
};

Result<std::unique_ptr<Host>> connect_ssh(const SshTarget& target);

} // namespace buildme::builder
