#include "publish/preflight.hpp"
#include "repo/preflight.hpp"

#include "gpg_home.hpp"
#include "scratch.hpp"
#include "test_config.hpp"

#include <doctest/doctest.h>

#include <algorithm>

namespace unit_test_repo_preflight {

using namespace buildme;
using buildme::test::GpgHome;
using buildme::test::ScratchDir;

namespace {

bool has(const std::vector<std::string>& lines, std::string_view part)
{
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& line) { return line.find(part) != std::string::npos; });
}

std::string repository_section(const ScratchDir& scratch, const std::string& key,
                               const std::string& home, const std::string& live)
{
  return fmt::format("[repository extras-devel]\nstaging_dir = {}\nproducts = fremantle\n"
                     "sign_with = {}\ngnupg_home = {}\nlive = {}\n",
                     (scratch / "staging").string(), key, home, live);
}

} // namespace

TEST_SUITE("queue-manage and repo-publish preflight")
{
  TEST_CASE("a repository whose key signs and whose folders can be made has no fault")
  {
    ScratchDir scratch;
    GpgHome home;
    const std::string key = home.generate_key("Archive <archive@example.org>");
    auto config = test::test_config(
      scratch.path(), repository_section(scratch, key, home.path(), (scratch / "live").string()));
    auto faults = repo::check_queue_manage(config, config.repositories.front());
    CHECK_MESSAGE(faults.empty(), faults.front());
    faults = publish::check_live_targets(config.repositories.front());
    CHECK_MESSAGE(faults.empty(), faults.front());
  }

  TEST_CASE("a key that is not in the home, and a key with a passphrase and no "
            "passphrase_file, are faults that say so")
  {
    ScratchDir scratch;
    GpgHome home;
    const std::string other = "0123456789ABCDEF0123456789ABCDEF01234567";
    auto config = test::test_config(
      scratch.path(), repository_section(scratch, other, home.path(), (scratch / "live").string()));
    auto faults = repo::check_queue_manage(config, config.repositories.front());
    REQUIRE(faults.size() == 1);
    CHECK(has(faults, "sign_with (repository extras-devel): "));
    CHECK(has(faults, other));

    const std::string locked = home.generate_key("Locked <locked@example.org>", "s3cret");
    config = test::test_config(scratch.path(), repository_section(scratch, locked, home.path(),
                                                                  (scratch / "live").string()));
    faults = repo::check_queue_manage(config, config.repositories.front());
    REQUIRE(faults.size() == 1);
    CHECK(has(faults, "passphrase"));
    CHECK_FALSE(home.prompted());
  }

  TEST_CASE("a folder in the way of staging_dir or a live target is a fault naming it")
  {
    ScratchDir scratch;
    GpgHome home;
    const std::string key = home.generate_key("Archive <archive@example.org>");
    scratch.write("staging", "a file, not a folder");
    scratch.write("live", "a file, not a folder");
    auto config =
      test::test_config(scratch.path(), repository_section(scratch, key, home.path(),
                                                           (scratch / "live" / "x").string()));
    auto faults = repo::check_queue_manage(config, config.repositories.front());
    CHECK(has(faults, fmt::format("staging_dir {} (repository extras-devel)",
                                  (scratch / "staging").string())));
    faults = publish::check_live_targets(config.repositories.front());
    CHECK(has(faults,
              fmt::format("live {} (repository extras-devel)", (scratch / "live" / "x").string())));
    CHECK(has(faults, "is not a folder"));
  }
}

} // namespace unit_test_repo_preflight
