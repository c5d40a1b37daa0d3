// A GNUPGHOME of its own for a test, with real gpg: keys made on the spot,
// exported as keyrings, and a trap that shows any prompt. Shared by the
// signing and the upload-signature tests.
#pragma once

#include "scratch.hpp"
#include "util/process.hpp"

#include <doctest/doctest.h>

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace buildme::test {

inline util::ProcessResult run(const std::vector<std::string>& argv)
{
  using namespace std::chrono_literals;
  util::ProcessOptions options;
  options.timeout = 60s; // a hang fails the test instead of stopping it
  auto result = util::run_process(argv, options);
  REQUIRE_MESSAGE(result.ok(), "these tests need gpg and gpgv (apt install gnupg gpgv): "
                                 << (result.ok() ? std::string() : result.message()));
  return *result;
}

// A GNUPGHOME of its own for one test. Made directly under /tmp: gpg-agent's
// socket path must stay short. Its gpg-agent is stopped at the end, so no
// agent outlives the test. Any pinentry the agent starts records that it ran
// and then hangs, as a prompt nobody answers would: a signer that prompts
// shows up as a slow failure and in prompted().
class GpgHome
{
public:
  GpgHome()
  {
    std::string pattern = "/tmp/bmgpg-XXXXXX";
    if (!mkdtemp(pattern.data())) {
      throw std::runtime_error("mkdtemp failed");
    }
    m_path = pattern; // mode 0700, as gpg wants its home
    write("pinentry-trap", "#!/bin/sh\ntouch '" + (m_path / "prompted").string() + "'\nsleep 30\n");
    std::filesystem::permissions(m_path / "pinentry-trap", std::filesystem::perms::owner_all);
    write("gpg-agent.conf", "pinentry-program " + (m_path / "pinentry-trap").string() + "\n");
  }
  ~GpgHome()
  {
    stop_agent();
    std::error_code ignored;
    std::filesystem::remove_all(m_path, ignored);
  }
  GpgHome(const GpgHome&) = delete;
  GpgHome& operator=(const GpgHome&) = delete;

  std::string path() const { return m_path.string(); }
  bool prompted() const { return std::filesystem::exists(m_path / "prompted"); }

  void write(const std::string& name, const std::string& content) const
  {
    std::ofstream(m_path / name, std::ios::binary) << content;
  }

  util::ProcessResult gpg(std::vector<std::string> args) const
  {
    args.insert(args.begin(), {"gpg", "--batch", "--homedir", path()});
    return run(args);
  }

  // Generates a key for `uid` (ed25519, or RSA where gpg lacks it) and
  // returns its fingerprint. `before` is gpg's --faked-system-time for keys
  // made in the past.
  std::string generate_key(const std::string& uid, const std::string& passphrase = "",
                           const std::string& usage = "sign", const std::string& expire = "never",
                           const std::string& before = "")
  {
    for (const char* algo : {"ed25519", "rsa3072"}) {
      std::vector<std::string> args{"--pinentry-mode", "loopback", "--passphrase", passphrase};
      if (!before.empty()) {
        args.insert(args.end(), {"--faked-system-time", before});
      }
      args.insert(args.end(), {"--quick-gen-key", uid, algo, usage, expire});
      auto made = gpg(args);
      if (made.exit_code == 0) {
        // A fresh agent: no passphrase cached from the generation.
        stop_agent();
        return fingerprints(uid).at(0);
      }
      MESSAGE("gpg --quick-gen-key " << algo << " failed: " << made.err);
    }
    FAIL("gpg cannot generate a key (apt install gnupg)");
    return {};
  }

  // The fingerprints of uid's secret key: the primary key's, then its
  // subkeys'.
  std::vector<std::string> fingerprints(const std::string& uid) const
  {
    auto listed = gpg({"--with-colons", "--list-secret-keys", uid});
    REQUIRE_MESSAGE(listed.exit_code == 0, listed.err);
    std::vector<std::string> result;
    std::istringstream lines(listed.out);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("fpr:")) {
        auto end = line.rfind(':');
        auto start = line.rfind(':', end - 1) + 1;
        result.push_back(line.substr(start, end - start));
      }
    }
    REQUIRE(!result.empty());
    return result;
  }

  // The public key as a keyring file for gpgv.
  std::filesystem::path export_keyring(const ScratchDir& scratch,
                                       const std::string& fingerprint) const
  {
    auto exported = gpg({"--export", fingerprint});
    REQUIRE(exported.exit_code == 0);
    REQUIRE(!exported.out.empty());
    return scratch.write("keyring.gpg", exported.out);
  }

  // gpg 2.2 keeps a revocation certificate for every key it makes; its armor
  // line is escaped with ':' against importing it by accident. Here it is,
  // ready to import.
  std::string revocation_certificate(const std::string& fingerprint) const
  {
    auto certificate = ScratchDir::read(m_path / "openpgp-revocs.d" / (fingerprint + ".rev"));
    auto armor = certificate.find(":-----BEGIN");
    REQUIRE(armor != std::string::npos);
    return certificate.erase(armor, 1);
  }

  // Imports keys (or a revocation certificate), armored or binary.
  void import(const std::string& keys) const
  {
    write("import.tmp", keys);
    auto imported = gpg({"--import", (m_path / "import.tmp").string()});
    REQUIRE_MESSAGE(imported.exit_code == 0, imported.err);
  }

  void stop_agent() const
  {
    (void)util::run_process({"gpgconf", "--homedir", path(), "--kill", "gpg-agent"});
  }

private:
  std::filesystem::path m_path;
};

} // namespace buildme::test
