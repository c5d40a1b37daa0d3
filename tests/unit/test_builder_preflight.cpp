#include "builder/preflight.hpp"

#include "fake_host.hpp"
#include "scratch.hpp"
#include "test_config.hpp"

#include <doctest/doctest.h>

#include <algorithm>

namespace unit_test_builder_preflight {

using namespace buildme;
using buildme::test::FakeHost;
using buildme::test::HostRef;
using buildme::test::ScratchDir;

namespace {

bool has(const std::vector<std::string>& lines, std::string_view part)
{
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& line) { return line.find(part) != std::string::npos; });
}

// A builder whose check command prints `said`.
builder::PreflightSetup answering(FakeHost& host, std::string said, int exit_code = 0)
{
  host.script = [said, exit_code](FakeHost&, const std::vector<std::string>& argv,
                                  const std::string&, const builder::ExecOptions& options) {
    if (argv.front() == "sh" && options.on_output) {
      options.on_output(said);
    }
    return Result<builder::ExecResult>(
      builder::ExecResult{builder::ExecResult::End::exited, exit_code});
  };
  builder::PreflightSetup setup;
  setup.connect = [&host](const builder::Slot&) -> Result<std::unique_ptr<builder::Host>> {
    return std::unique_ptr<builder::Host>(std::make_unique<HostRef>(host));
  };
  return setup;
}

const std::string ssh_builder = "[builder b1]\nhost = b1.example.org\nusers = build1 build2\n"
                                "arches = armel\nidentity = /k\nknown_hosts = /kh\n";

} // namespace

TEST_SUITE("builder preflight")
{
  TEST_CASE("a builder with everything answers no fault, and each slot is checked")
  {
    ScratchDir scratch;
    auto config = test::test_config(scratch.path(), ssh_builder);
    FakeHost host;
    auto faults = builder::check_builders(config, answering(host, "buildme-check-done\n"));
    CHECK_MESSAGE(faults.empty(), faults.front());
    CHECK(host.dirs.count("buildme-work/b1.build1") == 1);
    CHECK(host.dirs.count("buildme-work/b1.build2") == 1);
    // The tools a host build needs are asked for, as words.
    const auto asked = std::find_if(host.commands.begin(), host.commands.end(),
                                    [](const auto& argv) { return argv.front() == "sh"; });
    REQUIRE(asked != host.commands.end());
    CHECK(std::find(asked->begin(), asked->end(), "dpkg-buildpackage") != asked->end());
  }

  TEST_CASE("missing tools are one fault naming them and the packages to install")
  {
    ScratchDir scratch;
    auto config = test::test_config(scratch.path(), "base_mirror = http://deb.debian.org/debian\n"
                                                    "base_suite = bookworm\n" +
                                                      ssh_builder);
    FakeHost host;
    auto faults = builder::check_builders(
      config,
      answering(host, "missing sbuild\nmissing mmdebstrap\nsubids build1\nbuildme-check-done\n"));
    CHECK(has(faults, "builder b1 (build1@b1.example.org:22): missing sbuild, mmdebstrap; "
                      "install them there (apt-get install sbuild mmdebstrap uidmap)"));
    CHECK(has(faults, "build1 has no subordinate ids"));
  }

  TEST_CASE("a schroot builder is asked for schroot too, and told to install it")
  {
    ScratchDir scratch;
    auto config = test::test_config(
      scratch.path(), "base_mirror = http://deb.debian.org/debian\nbase_suite = bookworm\n"
                      "[builder b1]\nhost = b1.example.org\nusers = root\narches = armel\n"
                      "identity = /k\nknown_hosts = /kh\nengine = schroot\nenv_dir = /srv/envs\n");
    FakeHost host;
    auto faults =
      builder::check_builders(config, answering(host, "missing schroot\nbuildme-check-done\n"));
    CHECK(has(faults, "builder b1 (root@b1.example.org:22): missing schroot; install them there "
                      "(apt-get install sbuild mmdebstrap uidmap schroot)"));
    const auto asked = std::find_if(host.commands.begin(), host.commands.end(),
                                    [](const auto& argv) { return argv.front() == "sh"; });
    REQUIRE(asked != host.commands.end());
    CHECK(std::find(asked->begin(), asked->end(), "schroot") != asked->end());
  }

  TEST_CASE("a connection that fails, a work folder that cannot be made and a shell that runs "
            "nothing are faults")
  {
    ScratchDir scratch;
    auto config = test::test_config(scratch.path(), ssh_builder);
    builder::PreflightSetup down;
    down.connect = [](const builder::Slot& slot) -> Result<std::unique_ptr<builder::Host>> {
      return fail("cannot connect to {}: Connection refused", slot.describe());
    };
    auto faults = builder::check_builders(config, down);
    CHECK(faults.size() == 2); // one a slot
    CHECK(has(faults, "builder b1 (build2@b1.example.org:22): cannot connect"));

    FakeHost host;
    host.faults["make_dir"] = "Permission denied";
    faults = builder::check_builders(config, answering(host, "buildme-check-done\n"));
    CHECK(has(faults, "cannot make the work folder buildme-work/b1.build1: Permission denied"));

    FakeHost refusing;
    faults = builder::check_builders(
      config, answering(refusing, "This account is currently not available.\n", 1));
    CHECK(has(faults, "cannot run commands there"));
    CHECK(has(faults, "This account is currently not available."));
  }

  TEST_CASE("a missing incoming folder, and a path through a file, are faults with their fix")
  {
    ScratchDir scratch;
    auto config = test::test_config(scratch.path(), "");
    auto faults = builder::check_tick_folders(config);
    CHECK(has(faults, fmt::format("incoming_dir {}/incoming/fremantle (product fremantle): does "
                                  "not exist; create it (mkdir -p {}/incoming/fremantle)",
                                  scratch.path().string(), scratch.path().string())));
    // The others are made when needed.
    CHECK(faults.size() == 1);

    scratch.write("incoming/fremantle/.keep", "");
    scratch.write("results", "a file where a folder should be");
    faults = builder::check_tick_folders(config);
    CHECK(faults.size() == 1);
    CHECK(has(faults, "result_dir"));
    CHECK(has(faults, "is not a folder"));
  }
}

} // namespace unit_test_builder_preflight
