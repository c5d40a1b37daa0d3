#include "builder/environment.hpp"

#include "scratch.hpp"
#include "test_config.hpp"

#include <doctest/doctest.h>

#include <string>

namespace unit_test_builder_environment {

namespace builder = buildme::builder;
using buildme::test::has;
using buildme::test::ScratchDir;

namespace {

builder::BaseEnv env_made_at(std::int64_t made_at)
{
  builder::BaseEnv env;
  env.builder = "b1";
  env.product = "fremantle";
  env.arch = "amd64";
  env.state = made_at ? builder::EnvState::ready : builder::EnvState::missing;
  env.made_at = made_at;
  return env;
}

} // namespace

TEST_SUITE("builder: base environments")
{
  TEST_CASE("a missing base is made and nothing builds until it is there")
  {
    ScratchDir scratch;
    auto config = buildme::test::test_config(scratch.path(), "");
    auto need = builder::assess(env_made_at(0), config, 1000, false);
    CHECK_FALSE(need.usable);
    CHECK(need.make);
    auto busy = builder::assess(env_made_at(0), config, 1000, true);
    CHECK_FALSE(busy.usable);
    CHECK_FALSE(busy.make);
    CHECK(has(busy.why, "fremantle/amd64 on b1 is being made"));
  }

  TEST_CASE("a base older than env_max_age is made again while it is still used")
  {
    ScratchDir scratch;
    auto config = buildme::test::test_config(scratch.path(), "env_max_age = 1d\n");
    auto fresh = builder::assess(env_made_at(1000), config, 1000 + 3600, false);
    CHECK(fresh.usable);
    CHECK_FALSE(fresh.make);
    auto old = builder::assess(env_made_at(1000), config, 1000 + 86400, false);
    CHECK(old.usable);
    CHECK(old.make);
    CHECK(has(old.why, "env_max_age"));
  }

  TEST_CASE("a base that could not be made is tried again after a back-off that doubles")
  {
    ScratchDir scratch;
    auto config = buildme::test::test_config(scratch.path(), "");
    auto env = env_made_at(0);
    env.state = builder::EnvState::failed;
    env.failed_at = 10000;
    env.reason = "mmdebstrap failed";
    env.failures = 1;
    CHECK_FALSE(builder::assess(env, config, 10000 + 599, false).make);
    CHECK(builder::assess(env, config, 10000 + 600, false).make);
    env.failures = 3;
    CHECK_FALSE(builder::assess(env, config, 10000 + 2399, false).make);
    CHECK(builder::assess(env, config, 10000 + 2400, false).make);
    env.failures = 40; // never longer than 6 hours
    CHECK(builder::assess(env, config, 10000 + 6 * 3600, false).make);
    auto waiting = builder::assess(env, config, 10001, false);
    CHECK(has(waiting.why, "could not be made (mmdebstrap failed)"));
    CHECK(has(waiting.why, "buildme env update fremantle/amd64"));
  }

  TEST_CASE("a record keeps what it says, and a damaged one is refused naming the file")
  {
    ScratchDir scratch;
    builder::EnvStore store(scratch.path());
    auto env = env_made_at(1234);
    env.path = "/srv/envs/fremantle_amd64.tar";
    env.reason = "made from http://deb.debian.org/debian bookworm (main)";
    REQUIRE(store.save(env));
    auto loaded = store.load("b1", "fremantle", "amd64");
    REQUIRE(loaded);
    CHECK(loaded->state == builder::EnvState::ready);
    CHECK(loaded->made_at == 1234);
    CHECK(loaded->path == env.path);
    CHECK(store.list()->size() == 1);
    CHECK(store.load("b2", "fremantle", "amd64")->state == builder::EnvState::missing);

    for (const std::string& bad :
         {std::string(
            "Builder: b1\nProduct: fremantle\nArch: amd64\nState: ready\nMade-At: soon\n"),
          std::string("Builder: b1\nProduct: fremantle\nArch: amd64\nState: exploded\n"),
          std::string("Product: fremantle\nArch: amd64\nState: ready\n"),
          std::string("Builder: b1\nProduct: fremantle\nArch: amd64\nState: rea")}) {
      CAPTURE(bad);
      scratch.write("envs/b1/fremantle_amd64.info", bad);
      auto refused = store.load("b1", "fremantle", "amd64");
      REQUIRE_FALSE(refused);
      CHECK(has(refused.message(), "fremantle_amd64.info"));
    }
  }
}

} // namespace unit_test_builder_environment
