#include "config/config.hpp"

#include "scratch.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>
#include <string>

namespace unit_test_config_config {

using buildme::config::Config;
using buildme::config::load_config;
using buildme::config::parse_config;

namespace {

const std::string minimal = "[buildme]\n"
                            "products = fremantle diablo\n"
                            "incoming_dir = /srv/incoming/%(product)s\n"
                            "result_dir = /srv/builder/%(product)s\n"
                            "repo_queue = /srv/repo/incoming/extras-devel/%(product)s\n"
                            "state_dir = /var/lib/buildme\n";

Config parse_ok(const std::string& text)
{
  auto config = parse_config(text, "test.conf");
  INFO((config.ok() ? std::string() : config.message()));
  REQUIRE(config.ok());
  return std::move(*config);
}

std::string parse_error(const std::string& text)
{
  auto config = parse_config(text, "test.conf");
  REQUIRE_FALSE(config.ok());
  return config.message();
}

bool has(const std::string& text, std::string_view part)
{
  return text.find(part) != std::string::npos;
}

// `minimal` with the line starting with `key =` replaced by `line` (or
// dropped when `line` is empty).
std::string with_line(std::string_view key, std::string_view line)
{
  std::string text = minimal;
  auto start = text.find(std::string(key) + " =");
  REQUIRE(start != std::string::npos);
  auto end = text.find('\n', start);
  text.replace(start, end + 1 - start, line.empty() ? "" : std::string(line) + "\n");
  return text;
}

} // namespace

TEST_SUITE("config: reading buildme.conf")
{
  TEST_CASE("each product gets its folders with %(product)s filled in, in the order listed")
  {
    auto config = parse_ok(minimal);
    CHECK(config.path == "test.conf");
    REQUIRE(config.products.size() == 2);
    CHECK(config.products[0].name == "fremantle");
    CHECK(config.products[1].name == "diablo");
    CHECK(config.products[0].incoming_dir == "/srv/incoming/fremantle");
    CHECK(config.products[1].incoming_dir == "/srv/incoming/diablo");
    CHECK(config.products[1].result_dir == "/srv/builder/diablo");
    CHECK(config.products[0].repo_queue == "/srv/repo/incoming/extras-devel/fremantle");
    CHECK(config.state_dir == "/var/lib/buildme");
    CHECK(config.grace_period == std::chrono::seconds(600));
    CHECK(config.orphan_after == std::chrono::hours(24));
    CHECK(config.log_file.empty());
    REQUIRE(config.product("diablo") != nullptr);
    CHECK(config.product("diablo")->result_dir == "/srv/builder/diablo");
    CHECK(config.product("harmattan") == nullptr);
  }

  TEST_CASE("the sample etc/buildme.conf from the sources is a valid config")
  {
    auto sample = std::filesystem::path(__FILE__).parent_path() / "../../etc/buildme.conf";
    auto config = load_config(sample.string());
    INFO((config.ok() ? std::string() : config.message()));
    REQUIRE(config.ok());
    REQUIRE(config->products.size() == 1);
    CHECK(config->products[0].name == "fremantle");
    CHECK(config->products[0].incoming_dir == "/srv/incoming/fremantle");
    CHECK(config->products[0].repo_queue == "/srv/repo/incoming/extras-devel/fremantle");
    CHECK(config->state_dir == "/var/lib/buildme");
    CHECK(config->grace_period == std::chrono::minutes(10));
  }

  TEST_CASE("[DEFAULT] may hold any key, used through references")
  {
    auto config = parse_ok("[DEFAULT]\nroot = /data\nanything_at_all = 1\n" + minimal +
                           "log_file = %(root)s/buildme.log\n");
    CHECK(config.log_file == "/data/buildme.log");
  }

  TEST_CASE("a [product NAME] section overrides the [buildme] folders of that product only")
  {
    auto config = parse_ok("[DEFAULT]\nsub = x\n" + minimal +
                           "[product diablo]\n"
                           "incoming_dir = /home/uploads/%(product)s/%(sub)s\n"
                           "arches = armel i386\n");
    CHECK(config.product("diablo")->incoming_dir == "/home/uploads/diablo/x");
    CHECK(config.product("diablo")->result_dir == "/srv/builder/diablo");
    CHECK(config.product("fremantle")->incoming_dir == "/srv/incoming/fremantle");
  }

  TEST_CASE("a [product NAME] section of a product not listed is an error")
  {
    auto message = parse_error(minimal + "[product harmattan]\nincoming_dir = /x\n");
    CHECK(has(message, "test.conf: [product harmattan]: 'harmattan' is not in [buildme] products"));
  }

  TEST_CASE("a product and a builder with many architectures keep every one of them")
  {
    // Long lists once read freed memory: more than 15 bytes left the short
    // string buffer and the words pointed into a destroyed temporary.
    const std::vector<std::string> many = {"amd64",    "arm64",   "armel", "armhf",   "i386",
                                           "mips64el", "ppc64el", "s390x", "riscv64", "loong64"};
    std::string listed;
    for (const auto& arch : many) {
      listed += arch + " ";
    }
    auto config = parse_ok(minimal + "[product diablo]\narches = " + listed + "\n");
    CHECK(config.product("diablo")->arches == many);
    auto message = parse_error(minimal + "[product diablo]\narches = " + listed + "all\n");
    CHECK(has(message, "[product diablo] arches: 'all' is not an architecture name"));
  }

  TEST_CASE("a product with a base suite builds in a clean environment; [product] overrides")
  {
    Config config = parse_ok(minimal + "base_mirror = http://deb.debian.org/debian\n"
                                       "base_suite = bookworm\n"
                                       "[product diablo]\n"
                                       "base_suite = trixie\n"
                                       "base_components = main contrib\n"
                                       "base_keyring = /etc/buildme/diablo.gpg\n");
    const auto* fremantle = config.product("fremantle");
    const auto* diablo = config.product("diablo");
    CHECK(fremantle->build_in == buildme::config::Product::BuildIn::chroot);
    CHECK(fremantle->base_suite == "bookworm");
    CHECK(fremantle->base_components == std::vector<std::string>{"main"});
    CHECK(fremantle->base_keyring == "/usr/share/keyrings/debian-archive-keyring.gpg");
    CHECK(diablo->base_suite == "trixie");
    CHECK(diablo->base_mirror == "http://deb.debian.org/debian");
    CHECK(diablo->base_components == std::vector<std::string>{"main", "contrib"});
    CHECK(diablo->base_keyring == "/etc/buildme/diablo.gpg");
    CHECK(config.env_max_age == std::chrono::hours(7 * 24));
    CHECK(fremantle->build_profiles.empty());
  }

  TEST_CASE("build profiles are per product, or for all in [buildme]")
  {
    Config config = parse_ok(minimal + "build_profiles = nocheck\n[product diablo]\n"
                                       "build_profiles = nocheck nodoc pkg.foo.bar\n");
    CHECK(config.product("fremantle")->build_profiles == std::vector<std::string>{"nocheck"});
    CHECK(config.product("diablo")->build_profiles ==
          std::vector<std::string>{"nocheck", "nodoc", "pkg.foo.bar"});
  }

  TEST_CASE("build options are per product, or for all in [buildme], and only DEB_BUILD_OPTIONS "
            "words")
  {
    Config config = parse_ok(minimal + "build_options = nocheck\n[product diablo]\n"
                                       "build_options = noopt nodoc dpkg.opt=A-b,c\n");
    CHECK(config.product("fremantle")->build_options == std::vector<std::string>{"nocheck"});
    CHECK(config.product("diablo")->build_options ==
          std::vector<std::string>{"noopt", "nodoc", "dpkg.opt=A-b,c"});
    CHECK(parse_ok(minimal).product("fremantle")->build_options.empty());
    CHECK(has(parse_error(minimal + "build_options = parallel=4\n"),
              "parallel=N comes from each builder's jobs"));
    for (const char* bad : {"NoOpt", "a=$(reboot)", "x;y", "=1", "a=", "a=b c=d'"}) {
      CAPTURE(bad);
      CHECK(has(parse_error(minimal + "build_options = " + bad + "\n"),
                "is not a DEB_BUILD_OPTIONS word"));
    }
  }

  TEST_CASE("without a base suite a product builds on the host; build_in = host keeps that")
  {
    Config config = parse_ok(minimal + "[product diablo]\nbase_mirror = http://m/debian\n"
                                       "base_suite = bookworm\nbuild_in = host\n");
    CHECK(config.product("fremantle")->build_in == buildme::config::Product::BuildIn::host);
    CHECK(config.product("diablo")->build_in == buildme::config::Product::BuildIn::host);
  }

  TEST_CASE("bad build targets are errors naming the key and the fix")
  {
    CHECK(has(parse_error(minimal + "build_in = chroot\n"), "base_suite: missing"));
    CHECK(has(parse_error(minimal + "base_suite = bookworm\n"), "base_mirror: missing"));
    CHECK(has(parse_error(minimal + "build_in = docker\nbase_suite = b\nbase_mirror = http://m\n"),
              "'docker' is chroot or host"));
    CHECK(has(parse_error(minimal + "base_mirror = ftp://m/debian\n"), "not an http://"));
    CHECK(has(parse_error(minimal + "base_mirror = http://m/$(reboot)\n"), "not an http://"));
    CHECK(has(parse_error(minimal + "base_suite = ../etc\n"), "not a suite name"));
    CHECK(has(parse_error(minimal + "base_components = main ../x\n"), "not a component name"));
    CHECK(has(parse_error(minimal + "base_keyring = keys.gpg\n"), "base_keyring"));
    CHECK(has(parse_error(minimal + "env_max_age = soon\n"), "env_max_age"));
    CHECK(has(parse_error(minimal + "[builder b]\nhost = local\nenv_dir = ../up\n"), "env_dir"));
    CHECK(has(parse_error(minimal + "build_profiles = nocheck No_Doc\n"),
              "build_profiles: 'No_Doc' is not a build profile name"));
    CHECK(has(parse_error(minimal + "[builder b]\nhost = local\nbuild_tmpdir = shm\n"),
              "build_tmpdir: 'shm' must be an absolute folder"));
    CHECK(has(parse_error(minimal + "[builder b]\nhost = local\nbuild_tmpdir = /tmp/$x\n"),
              "build_tmpdir"));
    CHECK(has(parse_error(minimal + "[repository r]\nstaging_dir = /srv/r\nproducts = fremantle\n"
                                    "url = rsync://repo/r\n"),
              "[repository r] url: 'rsync://repo/r' is not an http://"));
    CHECK(has(parse_error(minimal + "[repository r]\nstaging_dir = /srv/r\nproducts = fremantle\n"
                                    "url = http://repo/r x\n"),
              "is not an http://"));
  }

  TEST_CASE("an empty arches list is an error")
  {
    auto message = parse_error(minimal + "[product diablo]\narches =\n");
    CHECK(has(message, "test.conf:8: [product diablo] arches: lists no architecture"));
  }

  TEST_CASE("grace_period takes seconds with an optional s, m or h")
  {
    CHECK(parse_ok(minimal + "grace_period = 45\n").grace_period == std::chrono::seconds(45));
    CHECK(parse_ok(minimal + "grace_period = 0\n").grace_period == std::chrono::seconds(0));
    CHECK(parse_ok(minimal + "grace_period = 90s\n").grace_period == std::chrono::seconds(90));
    CHECK(parse_ok(minimal + "grace_period = 10m\n").grace_period == std::chrono::minutes(10));
    CHECK(parse_ok(minimal + "grace_period = 2h\n").grace_period == std::chrono::hours(2));
  }

  TEST_CASE("orphan_after takes a duration; 0 turns it off; anything else is an error")
  {
    CHECK(parse_ok(minimal + "orphan_after = 3d\n").orphan_after == std::chrono::hours(72));
    CHECK(parse_ok(minimal + "orphan_after = 0\n").orphan_after == std::chrono::seconds(0));
    CHECK(parse_error(minimal + "orphan_after = soon\n") ==
          "test.conf:7: [buildme] orphan_after: 'soon' is not a number of seconds (like 600, 10m "
          "or 7d)");
  }

  TEST_CASE("a duration longer than makes sense for its key is an error naming file, line and "
            "limit")
  {
    // Seconds up to INT64_MAX used to pass, and overflowed where they were
    // used: valid_for = 300000000000 wrote a Valid-Until in 2180.
    const std::string repository = "[repository r]\nstaging_dir = /s\nproducts = fremantle\n";
    CHECK(parse_error(minimal + repository + "valid_for = 300000000000\n") ==
          "test.conf:10: [repository r] valid_for: '300000000000' is longer than 3650d (10 "
          "years), the most valid_for may be; give a shorter time");
    CHECK(parse_ok(minimal + repository + "valid_for = 3650d\n").repositories.at(0).valid_for ==
          std::chrono::hours(24 * 3650));
    CHECK(has(parse_error(minimal + repository + "valid_for = 3651d\n"),
              "longer than 3650d (10 years)"));

    CHECK(parse_error(minimal + "build_timeout = 9223372036854775807\n") ==
          "test.conf:7: [buildme] build_timeout: '9223372036854775807' is longer than 30d, the "
          "most build_timeout may be; give a shorter time");
    CHECK(parse_ok(minimal + "build_timeout = 30d\n").build_timeout == std::chrono::hours(720));
    CHECK(has(parse_error(minimal + "grace_period = 31d\n"),
              "test.conf:7: [buildme] grace_period: '31d' is longer than 30d"));
    CHECK(has(parse_error(minimal + "settle_time = 25h\n"), "longer than 1d, the most"));
    CHECK(has(parse_error(minimal + "[mail]\nsmtp_url = smtp://x\nfrom = b <b@example.org>\n"
                                    "timeout = 2h\n"),
              "test.conf:10: [mail] timeout: '2h' is longer than 1h"));

    // Every duration key has a limit, none past ten years.
    for (auto key : {"grace_period", "settle_time", "orphan_after", "build_timeout", "idle_timeout",
                     "env_max_age", "depwait_expire", "signature_max_age"}) {
      CAPTURE(key);
      CHECK(has(parse_error(minimal + key + " = 3651d\n"),
                fmt::format("test.conf:7: [buildme] {}: '3651d' is longer than", key)));
    }
    // A limit is reported where the value is written, also from [DEFAULT].
    CHECK(has(parse_error("[DEFAULT]\n\ngrace_period = 100d\n" + minimal),
              "test.conf:3: [buildme] grace_period: '100d' is longer than 30d"));
  }

  TEST_CASE("a few kilobytes of config cannot ask for gigabytes through references")
  {
    // 76 KB gave 9500 products a base_mirror of 64 KiB each: 19 s and 610 MB
    // to read, before the bound on the whole file.
    std::string text = "[DEFAULT]\nx = " + std::string(4000, 'x') + "\nbig = ";
    for (int n = 0; n < 16; ++n) {
      text += "%(x)s";
    }
    text += "\n[buildme]\nproducts =";
    for (int n = 0; n < 1000; ++n) {
      text += fmt::format("{}p{}", n % 100 == 0 ? "\n " : " ", n);
    }
    text += "\nincoming_dir = /i/%(product)s\nresult_dir = /r/%(product)s\n"
            "repo_queue = /q/%(product)s\nstate_dir = /s\nbase_mirror = http://m/%(big)s\n";
    CHECK(has(parse_error(text), "test.conf: [buildme] base_mirror: the values read from this "
                                 "file add up to more than 16 MiB"));
  }

  TEST_CASE("grace_period that is not a whole number of seconds is an error")
  {
    CHECK(parse_error(minimal + "grace_period = ten\n") ==
          "test.conf:7: [buildme] grace_period: 'ten' is not a number of seconds (like 600, "
          "10m or 7d)");
    for (auto bad : {"-5", "1.5h", "10 m", "10w", "m", "", "600ss", "0x10", "99999999999999999999",
                     "9999999999999999h"}) {
      CAPTURE(bad);
      CHECK(has(parse_error(minimal + "grace_period = " + bad + "\n"),
                "test.conf:7: [buildme] grace_period: "));
    }
  }

  TEST_CASE("log_file is optional and must be absolute when given")
  {
    CHECK(parse_ok(minimal + "log_file =\n").log_file.empty());
    CHECK(parse_ok(minimal + "log_file = /var/log/buildme.log\n").log_file ==
          "/var/log/buildme.log");
    CHECK(has(parse_error(minimal + "log_file = buildme.log\n"),
              "test.conf:7: [buildme] log_file: 'buildme.log' is not an absolute path"));
  }
}

TEST_SUITE("config: mistakes an administrator makes")
{
  TEST_CASE("an unknown section is an error listing the known ones")
  {
    CHECK(parse_error(minimal + "[mirror m1]\nhost = b1\n") ==
          "test.conf: unknown section [mirror m1]; known: [buildme], [product NAME], "
          "[builder NAME], [mail], [repository NAME], [report]");
    CHECK(
      has(parse_error(minimal + "[product]\nincoming_dir = /x\n"), "unknown section [product]"));
    CHECK(has(parse_error(minimal + "[Buildme]\n"), "unknown section [Buildme]"));
  }

  TEST_CASE("an unknown key is an error naming file, section and key")
  {
    auto message = parse_error(minimal + "grace_periode = 600\n");
    CHECK(has(message, "test.conf:7: [buildme] grace_periode: unknown key"));
    CHECK(has(message, "grace_period")); // lists the right spelling

    auto in_product = parse_error(minimal + "[product fremantle]\nstate_dir = /x\n");
    CHECK(has(in_product, "test.conf:8: [product fremantle] state_dir: unknown key"));
  }

  TEST_CASE("a config without [buildme] is an error")
  {
    CHECK(has(parse_error("[DEFAULT]\nroot = /srv\n"), "test.conf: no [buildme] section"));
    CHECK(has(parse_error(""), "test.conf: no [buildme] section"));
  }

  TEST_CASE("products must be given, non-empty, valid and listed once")
  {
    CHECK(has(parse_error(with_line("products", "")), "test.conf: [buildme] products: missing"));
    CHECK(has(parse_error(with_line("products", "products =")),
              "test.conf:2: [buildme] products: lists no product"));
    for (auto bad : {"Fremantle", "-x", "a/b", "../etc", "_x", "b\xc3\xa4r"}) {
      CAPTURE(bad);
      CHECK(has(parse_error(with_line("products", std::string("products = ok ") + bad)),
                "test.conf:2: [buildme] products: '"));
    }
    CHECK(has(parse_error(with_line("products", "products = a b a")),
              "test.conf:2: [buildme] products: 'a' is listed twice"));
  }

  TEST_CASE("products may continue on indented lines")
  {
    auto config = parse_ok(with_line("products", "products = fremantle\n  diablo.1 x_2-3"));
    REQUIRE(config.products.size() == 3);
    CHECK(config.products[2].name == "x_2-3");
  }

  TEST_CASE("a missing per-product folder is an error naming the product")
  {
    auto message = parse_error(with_line("result_dir", ""));
    CHECK(has(message, "test.conf: [buildme] result_dir: missing"));
    CHECK(has(message, "fremantle"));
  }

  TEST_CASE("a folder missing from [buildme] may come from every [product NAME]")
  {
    auto config =
      parse_ok(with_line("repo_queue", "") + "[product fremantle]\nrepo_queue = /q/f\n" +
               "[product diablo]\nrepo_queue = /q/%(product)s\n");
    CHECK(config.product("diablo")->repo_queue == "/q/diablo");
    CHECK(has(parse_error(with_line("repo_queue", "") + "[product fremantle]\nrepo_queue = /q\n"),
              "diablo"));
  }

  TEST_CASE("a relative folder is an error, also when a reference makes it relative")
  {
    auto message = parse_error(with_line("incoming_dir", "incoming_dir = srv/%(product)s"));
    CHECK(has(message, "test.conf:3: [buildme] incoming_dir: 'srv/fremantle' (for product "
                       "fremantle) is not an absolute path"));
    auto via_default =
      parse_error("[DEFAULT]\nroot = srv\n" + with_line("result_dir", "result_dir = %(root)s/b"));
    CHECK(has(via_default, "test.conf:6: [buildme] result_dir: 'srv/b'"));
    auto in_product = parse_error(minimal + "[product diablo]\nresult_dir = ~/builds\n");
    CHECK(has(in_product, "test.conf:8: [product diablo] result_dir: '~/builds'"));
  }

  TEST_CASE("a folder spread over several lines is an error")
  {
    auto message = parse_error(with_line("result_dir", "result_dir = /srv/a\n  /srv/b"));
    CHECK(has(message, "test.conf:4: [buildme] result_dir: "));
    CHECK(has(message, "several lines"));
  }

  TEST_CASE("state_dir is required, absolute and shared by all products")
  {
    CHECK(has(parse_error(with_line("state_dir", "")), "test.conf: [buildme] state_dir: missing"));
    CHECK(has(parse_error(with_line("state_dir", "state_dir = var/lib/buildme")),
              "test.conf:6: [buildme] state_dir: 'var/lib/buildme' is not an absolute path"));
    CHECK(has(parse_error(with_line("state_dir", "state_dir = /var/lib/%(product)s")),
              "test.conf:6: [buildme] state_dir: cannot use %(product)s"));
  }

  TEST_CASE("a bad reference in a value is an error naming file, section and key")
  {
    auto message = parse_error(with_line("incoming_dir", "incoming_dir = /srv/%(prodcut)s"));
    CHECK(has(message, "test.conf: [buildme] incoming_dir: unknown reference %(prodcut)s"));
    auto loop = parse_error("[DEFAULT]\na = %(b)s\nb = %(a)s\n" +
                            with_line("state_dir", "state_dir = /%(a)s"));
    CHECK(has(loop, "test.conf: [buildme] state_dir: "));
    CHECK(has(loop, "loop"));
    auto percent = parse_error(minimal + "[product diablo]\nincoming_dir = /srv/100%\n");
    CHECK(has(percent, "test.conf: [product diablo] incoming_dir: '%' must be followed"));
  }

  TEST_CASE("syntax errors of the INI file come with file and line")
  {
    CHECK(has(parse_error(minimal + "state_dir = /again\n"),
              "test.conf:7: key 'state_dir' given twice in [buildme]"));
    CHECK(has(parse_error(minimal + "[product diablo\n"), "test.conf:7:"));
  }
}

TEST_SUITE("config: hostile and truncated files")
{
  TEST_CASE("every truncation of a valid config is either valid or an error naming the file")
  {
    std::string full = minimal + "grace_period = 10m\n[product diablo]\narches = armel\n";
    for (std::size_t length = 0; length <= full.size(); ++length) {
      auto config = parse_config(std::string_view(full).substr(0, length), "test.conf");
      CAPTURE(length);
      if (!config.ok()) {
        CHECK(config.message().starts_with("test.conf"));
      }
    }
    CHECK(parse_config(full, "test.conf").ok());
  }

  TEST_CASE("binary junk and NUL bytes are errors, not a config")
  {
    std::string junk = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xed\xbd";
    CHECK(has(parse_error(junk), "test.conf:1:"));
    std::string with_nul = minimal;
    with_nul[with_nul.find("fremantle")] = '\0';
    CHECK(has(parse_error(with_nul), "test.conf:2:"));
  }

  TEST_CASE("control characters in names are escaped in messages")
  {
    auto message = parse_error(minimal + "[evil\x1b[2J]\n");
    CHECK(has(message, "\\x1b"));
    CHECK_FALSE(has(message, "\x1b"));
  }
}

TEST_SUITE("config: loading the file")
{
  TEST_CASE("a missing config file says how to get one")
  {
    buildme::test::ScratchDir dir;
    auto missing = (dir / "buildme.conf").string();
    auto config = load_config(missing);
    REQUIRE_FALSE(config.ok());
    CHECK(config.message() ==
          "cannot read " + missing +
            ": No such file or directory (use --config FILE, or copy etc/buildme.conf from "
            "buildme's sources)");
  }

  TEST_CASE("a loaded config names its file, in the result and in errors")
  {
    buildme::test::ScratchDir dir;
    auto good = dir.write("good.conf", minimal);
    auto config = load_config(good.string());
    REQUIRE(config.ok());
    CHECK(config->path == good.string());

    auto bad = dir.write("bad.conf", minimal + "grace_period = ten\n");
    auto error = load_config(bad.string());
    REQUIRE_FALSE(error.ok());
    CHECK(has(error.message(), bad.string() + ":7: [buildme] grace_period: 'ten'"));
  }
}

TEST_SUITE("config: builders")
{
  TEST_CASE("without any [builder] section there is one local builder with one slot")
  {
    const Config config = parse_ok(minimal);
    REQUIRE(config.builders.size() == 1);
    CHECK(config.builders[0].name == "local");
    CHECK(config.builders[0].is_local());
    CHECK(config.builders[0].slots == 1);
    CHECK(config.builders[0].arches.empty());
    CHECK(config.max_attempts == 3);
    CHECK(config.build_timeout == std::chrono::hours(24));
  }

  TEST_CASE("an SSH builder has a slot per user, its arches, key and known_hosts")
  {
    const Config config = parse_ok(minimal + "[builder b1]\nhost = b1.example.org\nport = 2222\n"
                                             "users = builder1 builder2\narches = armel i386\n"
                                             "identity = /etc/buildme/id\n"
                                             "known_hosts = /etc/buildme/known_hosts\n"
                                             "build_command = sbuild -A {dsc}\n");
    REQUIRE(config.builders.size() == 1);
    const buildme::config::Builder& b1 = config.builders[0];
    CHECK(b1.name == "b1");
    CHECK(b1.port == 2222);
    CHECK(b1.users == std::vector<std::string>{"builder1", "builder2"});
    CHECK(b1.arches == std::vector<std::string>{"armel", "i386"});
    CHECK(b1.build_command == std::vector<std::string>{"sbuild", "-A", "{dsc}"});
    CHECK(b1.work_dir == "buildme-work");
  }

  TEST_CASE("an SSH builder without users, arches, identity or known_hosts is an error")
  {
    const std::string base = minimal + "[builder b1]\nhost = b1\n";
    CHECK(has(parse_error(base + "arches = i386\nidentity = /k\nknown_hosts = /h\n"),
              "[builder b1] users: missing"));
    CHECK(has(parse_error(base + "users = u\nidentity = /k\nknown_hosts = /h\n"),
              "[builder b1] arches: missing"));
    CHECK(has(parse_error(base + "users = u\narches = i386\nknown_hosts = /h\n"),
              "[builder b1] identity: missing"));
    CHECK(has(parse_error(base + "users = u\narches = i386\nidentity = /k\n"),
              "[builder b1] known_hosts: missing; the known_hosts file"));
    CHECK(has(parse_error(base + "users = u\narches = i386\nidentity = k\nknown_hosts = /h\n"),
              "[builder b1] identity: 'k' is not an absolute path"));
  }

  TEST_CASE("bad builder values name the key")
  {
    const std::string ssh = minimal + "[builder b1]\nhost = b1\narches = i386\nidentity = /k\n"
                                      "known_hosts = /h\n";
    CHECK(has(parse_error(ssh + "users = root;rm\n"), "[builder b1] users: 'root;rm' is not a"));
    CHECK(has(parse_error(ssh + "users = a a\n"), "[builder b1] users: 'a' is listed twice"));
    CHECK(has(parse_error(ssh + "users = a\nport = 70000\n"),
              "[builder b1] port: '70000' is not a whole number from 1 to 65535"));
    CHECK(has(parse_error(ssh + "users = a\nslots = 2\n"), "[builder b1] slots: only for local"));
    CHECK(has(parse_error(minimal + "[builder x]\nhost = local\nusers = a\n"),
              "[builder x] users: only for SSH builders"));
    CHECK(has(parse_error(minimal + "[builder x]\nhost = local\nslots = 0\n"),
              "[builder x] slots: '0' is not a whole number from 1 to 64"));
    CHECK(has(parse_error(minimal + "[builder x]\nhost = $(reboot)\n"),
              "[builder x] host: '$(reboot)' is not a host name"));
    CHECK(has(parse_error(minimal + "[builder x]\nhost = local\narches = any\n"),
              "[builder x] arches: 'any' is not an architecture name"));
    CHECK(has(parse_error(minimal + "[builder x]\nhost = local\nwork_dir = ../up\n"),
              "[builder x] work_dir: '../up' must not be / or contain '..'"));
    CHECK(has(parse_error(minimal + "[builder X]\nhost = local\n"), "is not a builder name"));
    CHECK(has(parse_error(minimal + "[builder x]\nhost = local\njobs = 0\n"),
              "[builder x] jobs: '0' is not a whole number from 1 to 1024"));
    CHECK(has(parse_error(minimal + "[builder x]\nhost = local\njobs = all\n"),
              "[builder x] jobs: 'all' is not a whole number"));
  }

  TEST_CASE("a builder's engine: unshare unless it says schroot, with a chroot name per product "
            "and arch")
  {
    const auto unshare = parse_ok(minimal + "[builder x]\nhost = local\n").builders[0];
    CHECK(unshare.engine == buildme::config::Builder::Engine::unshare);
    CHECK(unshare.schroot_name == "buildme-{product}-{arch}");
    const auto schroot = parse_ok(minimal + "[builder x]\nhost = local\nengine = schroot\n"
                                            "schroot_name = site-{builder}-{product}-{arch}\n")
                           .builders[0];
    CHECK(schroot.engine == buildme::config::Builder::Engine::schroot);
    CHECK(schroot.schroot_name == "site-{builder}-{product}-{arch}");
    CHECK(has(parse_error(minimal + "[builder x]\nhost = local\nengine = docker\n"),
              "test.conf:9: [builder x] engine: 'docker' is not an engine: unshare"));
    for (const char* bad : {"fixed-name", "{product}", "x/{product}-{arch}", "-{product}{arch}",
                            "{product} {arch}", "$(id)-{product}-{arch}"}) {
      CAPTURE(bad);
      CHECK(has(parse_error(minimal + "[builder x]\nhost = local\nschroot_name = " + bad + "\n"),
                "[builder x] schroot_name: '"));
    }
    CHECK(has(parse_error(minimal + "[builder x]\nhost = b.example.org\nusers = root\n"
                                    "engine = schroot\n"),
              "[builder x] engine: schroot names each base by its absolute path, and env_dir "
              "'buildme-envs' is relative"));
    CHECK(has(parse_error(minimal + "[builder x]\nhost = b.example.org\nusers = b1 root\n"
                                    "arches = armel\nidentity = /k/id\nknown_hosts = /k/hosts\n"
                                    "engine = schroot\nenv_dir = /srv/envs\n"),
              "[builder x] engine: schroot takes only bases owned by root, and buildme makes "
              "them as the first of users (b1): list root first"));
    CHECK(parse_ok(minimal + "[builder x]\nhost = b.example.org\nusers = root b1\n"
                             "arches = armel\nidentity = /k/id\nknown_hosts = /k/hosts\n"
                             "engine = schroot\nenv_dir = /srv/envs\n")
            .builders[0]
            .engine == buildme::config::Builder::Engine::schroot);
  }

  TEST_CASE("a builder's jobs: 1 unless it says more")
  {
    CHECK(parse_ok(minimal + "[builder x]\nhost = local\n").builders[0].jobs == 1);
    CHECK(parse_ok(minimal + "[builder x]\nhost = local\njobs = 8\n").builders[0].jobs == 8);
  }

  TEST_CASE("timeouts and attempts are read from [buildme]")
  {
    const Config config =
      parse_ok(minimal + "build_timeout = 2h\nidle_timeout = 10m\nmax_attempts = 5\n");
    CHECK(config.build_timeout == std::chrono::hours(2));
    CHECK(config.idle_timeout == std::chrono::minutes(10));
    CHECK(config.max_attempts == 5);
    CHECK(has(parse_error(minimal + "max_attempts = 0\n"), "[buildme] max_attempts: '0'"));
    CHECK(has(parse_error(minimal + "idle_timeout = soon\n"), "[buildme] idle_timeout: 'soon'"));
  }

  TEST_CASE("product arches are read and checked")
  {
    const Config config = parse_ok(minimal + "[product fremantle]\narches = armel i386\n");
    CHECK(config.products[0].arches == std::vector<std::string>{"armel", "i386"});
    CHECK(has(parse_error(minimal + "[product fremantle]\narches = ARM\n"),
              "[product fremantle] arches: 'ARM' is not an architecture name"));
  }
}

TEST_SUITE("config: repositories")
{
  const std::string two = minimal +
                          "[repository extras-devel]\n"
                          "staging_dir = /srv/repo/staging/%(repository)s\n"
                          "products = fremantle diablo\n"
                          "components = free non-free\n"
                          "sign_with = 0123 4567 89AB CDEF 0123 4567 89ab cdef 0123 4567\n"
                          "valid_for = 7d\nby_hash = no\ncompress = xz\n"
                          "promote_to = extras-testing\n"
                          "[repository extras-testing]\n"
                          "staging_dir = /srv/repo/staging/extras-testing\n"
                          "products = fremantle\n";

  TEST_CASE("a repository is read with its distributions, components and signing key")
  {
    const Config config = parse_ok(two);
    REQUIRE(config.repositories.size() == 2);
    const auto& devel = config.repositories[0];
    CHECK(devel.staging_dir == "/srv/repo/staging/extras-devel");
    CHECK(devel.products == std::vector<std::string>{"fremantle", "diablo"});
    CHECK(devel.components == std::vector<std::string>{"free", "non-free"});
    CHECK(devel.sign_with == "0123456789ABCDEF0123456789ABCDEF01234567");
    CHECK(devel.valid_for == std::chrono::hours(7 * 24));
    CHECK_FALSE(devel.by_hash);
    CHECK_FALSE(devel.gzip);
    CHECK(devel.xz);
    CHECK(devel.keep_versions == 3);
    CHECK(devel.origin == "extras-devel");
    CHECK(config.repositories[1].components == std::vector<std::string>{"main"});
    CHECK(config.repositories[1].by_hash);
    CHECK(config.repositories[1].valid_for == std::chrono::hours(7 * 24));
  }

  TEST_CASE("new builds of a product enter the first repository that lists it")
  {
    const Config config = parse_ok(two);
    CHECK(config.products[0].repository == "extras-devel");
    CHECK(config.products[1].repository == "extras-devel");
    const Config queues =
      parse_ok("[buildme]\nproducts = fremantle\nincoming_dir = /i/%(product)s\nresult_dir = /r\n"
               "repo_queue = /q/%(repository)s/%(product)s\nstate_dir = /s\n"
               "[repository extras-devel]\nstaging_dir = /st\nproducts = fremantle\n");
    CHECK(queues.products[0].repo_queue == "/q/extras-devel/fremantle");
  }

  TEST_CASE("repository mistakes name the key")
  {
    const std::string base = minimal + "[repository r]\nstaging_dir = /s\nproducts = fremantle\n";
    CHECK(has(parse_error(minimal + "[repository r]\nproducts = fremantle\n"),
              "[repository r] staging_dir: missing"));
    CHECK(has(parse_error(minimal + "[repository r]\nstaging_dir = /s\nproducts = maemo\n"),
              "[repository r] products: 'maemo' is not in [buildme] products"));
    CHECK(has(parse_error(base + "sign_with = ABCD1234\n"),
              "[repository r] sign_with: 'ABCD1234' is not a full key fingerprint"));
    CHECK(has(parse_error(base + "promote_to = nowhere\n"),
              "[repository r] promote_to: 'nowhere' is not a [repository]"));
    CHECK(has(parse_error(base + "compress = bz2\n"), "[repository r] compress: 'bz2' is not"));
    CHECK(has(parse_error(base + "by_hash = maybe\n"), "[repository r] by_hash: 'maybe'"));
    CHECK(has(parse_error(base + "keep_versions = 0\n"), "[repository r] keep_versions: '0'"));
    CHECK(has(parse_error(base + "valid_for = soon\n"), "[repository r] valid_for: 'soon'"));
    CHECK(has(parse_error(base + "gnupg_home = keys\n"),
              "[repository r] gnupg_home: 'keys' is not an absolute path"));
  }
}

TEST_SUITE("config: mail")
{
  TEST_CASE("a [mail] section is read; without it no mail is sent")
  {
    CHECK_FALSE(parse_ok(minimal).mail);
    const Config config = parse_ok(minimal + "[mail]\nsmtp_url = smtp://mail.example.org:587\n"
                                             "from = buildme <buildme@example.org>\n"
                                             "list = maemo-builds@example.org\n"
                                             "username = bot\npassword_file = /etc/buildme/smtp\n"
                                             "log_url = https://b.example.org/%(product)s/%(job)s\n"
                                             "list_throttle = 1h\n");
    REQUIRE(config.mail);
    CHECK(config.mail->smtp_url == "smtp://mail.example.org:587");
    CHECK(config.mail->starttls == "required");
    CHECK(config.mail->password_file == "/etc/buildme/smtp");
    CHECK(config.mail->log_url == "https://b.example.org/%(product)s/%(job)s");
    CHECK(config.mail->list_throttle == std::chrono::hours(1));
  }

  TEST_CASE("mail mistakes name the key")
  {
    const std::string ok = "from = b <b@example.org>\n";
    CHECK(has(parse_error(minimal + "[mail]\nsmtp_url = http://x\n" + ok),
              "[mail] smtp_url: 'http://x' is not an smtp:// or smtps:// URL"));
    CHECK(has(parse_error(minimal + "[mail]\nsmtp_url = smtp://x\nstarttls = maybe\n" + ok),
              "[mail] starttls: 'maybe' is not required, optional or no"));
    CHECK(has(parse_error(minimal + "[mail]\nsmtp_url = smtp://x\n"), "[mail] from: missing"));
    CHECK(has(parse_error(minimal +
                          "[mail]\nsmtp_url = smtp://x\npassword = a\n"
                          "password_file = /p\n" +
                          ok),
              "[mail] password: give password or password_file, not both"));
  }

  TEST_CASE("[report] gives the site's folder, address and title; stuck_after defaults to 2 days")
  {
    CHECK_FALSE(parse_ok(minimal).report);
    const Config config = parse_ok(minimal + "[report]\ndir = /srv/www/builder\n"
                                             "url = https://builder.example.org\n"
                                             "title = Example extras autobuilder\n");
    REQUIRE(config.report);
    CHECK(config.report->dir == "/srv/www/builder");
    CHECK(config.report->url == "https://builder.example.org/");
    CHECK(config.report->title == "Example extras autobuilder");
    CHECK(config.report->stuck_after == std::chrono::hours(48));
    CHECK(config.report->repo_url.empty());
    CHECK(parse_ok(minimal + "[report]\ndir = /w\nstuck_after = 36h\n").report->stuck_after ==
          std::chrono::hours(36));
    CHECK(parse_ok(minimal + "[report]\ndir = /w\n").report->url.empty());
  }

  TEST_CASE("log_url in mails defaults to the site's build logs, and an explicit one wins")
  {
    const std::string mail = "[mail]\nsmtp_url = smtp://x\nfrom = b <b@example.org>\n";
    const std::string report = "[report]\ndir = /w\nurl = https://builder.example.org/\n";
    CHECK(parse_ok(minimal + mail + report).mail->log_url ==
          "https://builder.example.org/logs/%(product)s/%(job)s/%(arch)s/build.log");
    CHECK(parse_ok(minimal + mail + "log_url = https://other.example.org/%(job)s\n" + report)
            .mail->log_url == "https://other.example.org/%(job)s");
    CHECK(parse_ok(minimal + mail + "[report]\ndir = /w\n").mail->log_url.empty());
  }

  TEST_CASE("report mistakes name the key")
  {
    CHECK(has(parse_error(minimal + "[report]\nurl = https://b.example.org/\n"),
              "[report] dir: missing"));
    CHECK(has(parse_error(minimal + "[report]\ndir = www/builder\n"),
              "[report] dir: 'www/builder' is not an absolute path"));
    CHECK(has(parse_error(minimal + "[report]\ndir = /w\nurl = ftp://b.example.org/\n"),
              "[report] url: 'ftp://b.example.org/' is not an http:// or https:// URL"));
    CHECK(has(parse_error(minimal + "[report]\ndir = /w\nurl = https://b.example.org/\"x\n"),
              "[report] url:"));
    CHECK(has(parse_error(minimal + "[report]\ndir = /w\nrepo_url = https://r x/\n"),
              "[report] repo_url:"));
    CHECK(has(parse_error(minimal + "[report]\ndir = /w\nstuck_after = soon\n"),
              "[report] stuck_after: 'soon' is not a number of seconds"));
    CHECK(has(parse_error(minimal + "[report]\ndir = /w\nstuck_after = 0\n"),
              "[report] stuck_after: must be more than 0"));
    CHECK(has(parse_error(minimal + "[report]\ndir = /w\ncolour = blue\n"), "colour"));
  }
}

TEST_SUITE("config: who may upload")
{
  TEST_CASE("without upload_keyring uploads are taken unsigned, with a year as the maximum age")
  {
    Config config = parse_ok(minimal);
    for (const auto& product : config.products) {
      CHECK(product.upload_keyrings.empty());
      CHECK(product.upload_acl.empty());
      CHECK(product.signature_max_age == std::chrono::hours(365 * 24));
    }
  }

  TEST_CASE("upload_keyring lists keyrings; [product] overrides; %(product)s is filled in")
  {
    Config config =
      parse_ok(minimal + "upload_keyring = /etc/buildme/team.gpg /etc/buildme/%(product)s.asc\n"
                         "upload_acl = /etc/buildme/uploaders.acl\n"
                         "signature_max_age = 30d\n"
                         "[product diablo]\n"
                         "upload_keyring = /etc/buildme/diablo.gpg\n"
                         "signature_max_age = 12h\n");
    const auto* fremantle = config.product("fremantle");
    const auto* diablo = config.product("diablo");
    CHECK(fremantle->upload_keyrings == std::vector<std::filesystem::path>{
                                          "/etc/buildme/team.gpg", "/etc/buildme/fremantle.asc"});
    CHECK(fremantle->upload_acl == "/etc/buildme/uploaders.acl");
    CHECK(fremantle->signature_max_age == std::chrono::hours(30 * 24));
    CHECK(diablo->upload_keyrings == std::vector<std::filesystem::path>{"/etc/buildme/diablo.gpg"});
    CHECK(diablo->upload_acl == "/etc/buildme/uploaders.acl");
    CHECK(diablo->signature_max_age == std::chrono::hours(12));
  }

  TEST_CASE("malformed upload settings are errors naming the section, the key and the fix")
  {
    CHECK(parse_error(minimal + "upload_keyring = keys/team.gpg\n") ==
          "test.conf:7: [buildme] upload_keyring: 'keys/team.gpg' (for product fremantle) is not "
          "an absolute path; write it from the root, like /srv/buildme/...");
    CHECK(has(parse_error(minimal + "upload_keyring = /k.gpg\nupload_acl = acl\n"),
              "[buildme] upload_acl: 'acl' (for product fremantle) is not an absolute path"));
    CHECK(has(parse_error(minimal + "upload_acl = /etc/buildme/uploaders.acl\n"),
              "[buildme] upload_acl: is set for product fremantle but upload_keyring is not"));
    CHECK(has(parse_error(minimal + "upload_keyring = /k.gpg\n[product diablo]\n"
                                    "upload_keyring =\nupload_acl = /a.acl\n"),
              "[product diablo] upload_acl: is set for product diablo but upload_keyring"));
    CHECK(parse_error(minimal + "signature_max_age = a year\n") ==
          "test.conf:7: [buildme] signature_max_age: 'a year' is not a number of seconds (like "
          "600, 10m or 7d)");
    CHECK(has(parse_error(minimal + "signature_max_age = -5d\n"), "signature_max_age"));
    CHECK(has(parse_error(minimal + "[product diablo]\nsignature_max_age = 0\n"),
              "[product diablo] signature_max_age: is 0, which would refuse every signature"));
    CHECK(has(parse_error(minimal + "upload_keyring = /k.gpg\nupload_keyrings = /k.gpg\n"),
              "[buildme] upload_keyrings: unknown key"));
  }
}

} // namespace unit_test_config_config
