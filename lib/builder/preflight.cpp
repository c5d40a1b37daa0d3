#include "builder/preflight.hpp"

#include "builder/local_host.hpp"
#include "builder/ssh_host.hpp"
#include "util/folder_check.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <pwd.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace buildme::builder {

namespace fs = std::filesystem;

namespace {

void add(std::vector<std::string>& faults, std::string fault)
{
  if (!fault.empty() && std::find(faults.begin(), faults.end(), fault) == faults.end()) {
    faults.push_back(std::move(fault));
  }
}

// The build tools the builds of this builder need, by what they build in.
std::vector<std::string> needed_tools(const config::Config& config, const config::Builder& builder)
{
  if (!builder.build_command.empty()) {
    // A site's own command: only its program, when it is one on PATH or an
    // absolute path (a path relative to the work folder arrives with the
    // build).
    const std::string& program = builder.build_command.front();
    if (program.find('/') == std::string::npos || program.starts_with('/')) {
      return {program};
    }
    return {};
  }
  std::set<std::string> tools{"bash", "dpkg-source"};
  for (const auto& product : config.products) {
    if (product.build_in == config::Product::BuildIn::chroot) {
      tools.insert({"sbuild", "mmdebstrap", "newuidmap", "newgidmap"});
      if (builder.engine == config::Builder::Engine::schroot) {
        tools.insert("schroot");
      }
    } else {
      tools.insert({"dpkg-buildpackage", "dpkg-checkbuilddeps", "fakeroot"});
    }
  }
  return {tools.begin(), tools.end()};
}

bool builds_in_chroot(const config::Config& config)
{
  for (const auto& product : config.products) {
    if (product.build_in == config::Product::BuildIn::chroot) {
      return true;
    }
  }
  return false;
}

// Runs a fixed check script on the host (its arguments are words, never
// parsed by a shell) and returns what it printed.
Result<std::string> run_check(Host& host, const std::vector<std::string>& argv)
{
  std::string said;
  ExecOptions options;
  options.timeout = std::chrono::seconds(60);
  options.on_output = [&](std::string_view chunk) {
    if (said.size() < 64 * 1024) {
      said.append(chunk);
    }
  };
  TRY_ASSIGN(const auto ran, host.run(argv, "", options));
  if (ran.end != ExecResult::End::exited) {
    return fail("the check command {}", describe(ran.end));
  }
  return said;
}

// What is wrong with one slot, each fault one line.
std::vector<std::string> check_slot(const config::Config& config, const Slot& slot,
                                    const PreflightSetup& setup)
{
  const config::Builder& builder = *slot.builder;
  const std::string subject = fmt::format("builder {} ({})", builder.name, slot.describe());
  std::vector<std::string> faults;
  std::unique_ptr<Host> host;
  if (setup.connect) {
    auto connected = setup.connect(slot);
    if (!connected) {
      return {fmt::format("{}: {}", subject, connected.message())};
    }
    host = std::move(*connected);
  } else if (builder.is_local()) {
    host = make_local_host();
  } else {
    for (const auto& [key, file] :
         {std::pair<std::string_view, const std::string&>{"identity", builder.identity},
          {"known_hosts", builder.known_hosts}}) {
      if (::access(file.c_str(), R_OK) != 0) {
        faults.push_back(fmt::format(
          "{}: {} {} cannot be read by {} ({}); {}", subject, key, file, util::this_account(),
          std::strerror(errno),
          key == "identity"
            ? fmt::format("make the key (ssh-keygen -t ed25519 -N '' -f {}) or fix identity in "
                          "[builder {}]",
                          file, builder.name)
            : fmt::format("record the builder's host key (ssh-keyscan -p {} {} >>{}, then "
                          "compare its fingerprint with the builder's) or fix known_hosts in "
                          "[builder {}]",
                          builder.port, builder.host, file, builder.name)));
      }
    }
    if (!faults.empty()) {
      return faults;
    }
    SshTarget target;
    target.host = builder.host;
    target.port = builder.port;
    target.user = slot.label;
    target.identity = builder.identity;
    target.known_hosts = builder.known_hosts;
    target.connect_timeout = std::chrono::seconds(15);
    auto connected = connect_ssh(target);
    if (!connected) {
      return {fmt::format("{}: {}; check host, port and users in [builder {}] and that sshd "
                          "runs there and takes the identity's public key",
                          subject, connected.message(), builder.name)};
    }
    host = std::move(*connected);
  }

  // The work folder, as the worker makes it.
  std::string work = fmt::format("{}/{}", builder.work_dir, slot.id());
  if (builder.is_local() && !builder.work_dir.starts_with('/')) {
    work = (config.state_dir / builder.work_dir / slot.id()).string();
  }
  if (auto made = host->make_dir(work); !made) {
    faults.push_back(fmt::format("{}: cannot make the work folder {}: {}; fix work_dir in "
                                 "[builder {}] or give {} a folder it can write",
                                 subject, work, made.message(), builder.name, slot.describe()));
  } else if (auto probed = run_check(*host, {"test", "-w", work}); !probed) {
    faults.push_back(fmt::format("{}: {}", subject, probed.message()));
  }

  // The tools, and the subordinate ids an unshare build needs.
  const auto tools = needed_tools(config, builder);
  const std::string script = fmt::format(
    "for tool; do command -v \"$tool\" >/dev/null 2>&1 || printf 'missing %s\\n' \"$tool\"; "
    "done; {} echo buildme-check-done",
    builds_in_chroot(config) ? "user=$(id -un); grep -q \"^$user:\" /etc/subuid 2>/dev/null || "
                               "printf 'subids %s\\n' \"$user\";"
                             : "");
  std::vector<std::string> argv{"sh", "-c", script, "sh"};
  argv.insert(argv.end(), tools.begin(), tools.end());
  auto said = run_check(*host, argv);
  if (!said) {
    faults.push_back(fmt::format("{}: cannot run a command: {}", subject, said.message()));
    return faults;
  }
  if (said->find("buildme-check-done") == std::string::npos) {
    faults.push_back(fmt::format("{}: cannot run commands there (a login shell that refuses "
                                 "them?): {}",
                                 subject, util::printable(util::trim(said->substr(0, 200)))));
    return faults;
  }
  std::vector<std::string> missing;
  for (const auto line : util::split(*said, "\n")) {
    if (line.starts_with("missing ")) {
      missing.push_back(util::printable(line.substr(8)));
    } else if (line.starts_with("subids ")) {
      faults.push_back(fmt::format(
        "{}: {} has no subordinate ids, which sbuild's unshare mode needs; as root there: "
        "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {}",
        subject, util::printable(line.substr(7)), util::printable(line.substr(7))));
    }
  }
  if (!missing.empty()) {
    faults.push_back(
      fmt::format("{}: missing {}; install them there ({})", subject, util::join(missing, ", "),
                  !builds_in_chroot(config) ? "apt-get install dpkg-dev build-essential fakeroot"
                  : builder.engine == config::Builder::Engine::schroot
                    ? "apt-get install sbuild mmdebstrap uidmap schroot"
                    : "apt-get install sbuild mmdebstrap uidmap"));
  }
  return faults;
}

} // namespace

std::vector<std::string> check_tick_folders(const config::Config& config)
{
  std::vector<std::string> faults;
  add(faults, util::folder_fault(config.state_dir, "state_dir", "", false));
  for (const auto& product : config.products) {
    const std::string owner = fmt::format(" (product {})", product.name);
    add(faults, util::folder_fault(product.incoming_dir, "incoming_dir", owner, true));
    add(faults, util::folder_fault(product.result_dir, "result_dir", owner, false));
    add(faults, util::folder_fault(product.repo_queue, "repo_queue", owner, false));
  }
  if (!config.log_file.empty()) {
    const fs::path log = config.log_file;
    if (::access(log.c_str(), F_OK) == 0) {
      if (::access(log.c_str(), W_OK) != 0) {
        add(faults, fmt::format("log_file {}: {} cannot write it; chown {} {}", log.string(),
                                util::this_account(), util::this_account(), log.string()));
      }
    } else {
      add(faults, util::folder_fault(log.parent_path(), "log_file's folder", "", true));
    }
  }
  return faults;
}

std::vector<std::string> check_builders(const config::Config& config, const PreflightSetup& setup)
{
  std::vector<std::string> faults;
  std::set<const config::Builder*> local_done;
  for (const auto& slot : all_slots(config)) {
    if (slot.builder->is_local() && !local_done.insert(slot.builder).second) {
      continue; // one machine, one account: checked once
    }
    for (auto& fault : check_slot(config, slot, setup)) {
      add(faults, std::move(fault));
    }
  }
  return faults;
}

} // namespace buildme::builder
