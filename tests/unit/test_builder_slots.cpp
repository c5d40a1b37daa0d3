#include "builder/slots.hpp"
#include "config/config.hpp"

#include <doctest/doctest.h>

namespace unit_test_builder_slots {

using buildme::builder::all_slots;
using buildme::builder::find_slot;
using buildme::builder::plan_builds;

namespace {

buildme::config::Config config_with(const std::string& builders)
{
  auto config = buildme::config::parse_config("[buildme]\nproducts = fremantle\n"
                                              "incoming_dir = /srv/in/%(product)s\n"
                                              "result_dir = /srv/out/%(product)s\n"
                                              "repo_queue = /srv/queue/%(product)s\n"
                                              "state_dir = /var/lib/buildme\n" +
                                                builders,
                                              "test.conf");
  REQUIRE_MESSAGE(config, config.message());
  return std::move(*config);
}

using Arches = std::vector<std::string>;

} // namespace

TEST_SUITE("build: slots and plans")
{
  TEST_CASE("each SSH user is a slot, a local builder has numbered slots")
  {
    const auto config = config_with("[builder b1]\nhost = b1.example.org\nusers = u1 u2\n"
                                    "arches = armel\nidentity = /k\nknown_hosts = /h\n"
                                    "[builder here]\nhost = local\nslots = 2\n");
    const auto slots = all_slots(config);
    REQUIRE(slots.size() == 4);
    CHECK(slots[0].id() == "b1.u1");
    CHECK(slots[0].describe() == "u1@b1.example.org:22");
    CHECK(slots[1].id() == "b1.u2");
    CHECK(slots[2].id() == "here.1");
    CHECK(slots[3].describe() == "local#2");
    CHECK(slots[3].lock_path("/var/lib/buildme") == "/var/lib/buildme/slots/here.2.lock");
    REQUIRE(find_slot(slots, "b1.u2"));
    CHECK(find_slot(slots, "b1.u2")->label == "u2");
    CHECK_FALSE(find_slot(slots, "b9.u1"));
  }

  TEST_CASE("an 'any' package gets one build per product arch, in the product's order")
  {
    CHECK(plan_builds({"any"}, {"armel", "i386"}).arches == Arches{"armel", "i386"});
    CHECK(plan_builds({"linux-any"}, {"i386", "armel"}).arches == Arches{"i386", "armel"});
    CHECK(plan_builds({"any", "all"}, {"armel"}).arches == Arches{"armel"});
  }

  TEST_CASE("an arch-independent package gets one 'all' build")
  {
    CHECK(plan_builds({"all"}, {"armel", "i386"}).arches == Arches{"all"});
  }

  TEST_CASE("a listed arch is built only where the product has it")
  {
    CHECK(plan_builds({"armel", "mips"}, {"armel", "i386"}).arches == Arches{"armel"});
    CHECK(plan_builds({"i386", "armel", "i386"}, {"armel", "i386"}).arches ==
          Arches{"i386", "armel"});
  }

  TEST_CASE("a package for none of the product's arches says so")
  {
    const auto plan = plan_builds({"mips"}, {"armel", "i386"});
    CHECK(plan.arches.empty());
    CHECK(plan.reason == "the package is for mips but the product builds only armel i386");
    CHECK(plan_builds({}, {"armel"}).reason ==
          "the package is for no architecture but the product builds only armel");
  }
}

} // namespace unit_test_builder_slots
