#include "config/ini.hpp"

#include "scratch.hpp"

#include <doctest/doctest.h>

#include <string>

namespace unit_test_config_ini {

using buildme::config::IniFile;

namespace {

IniFile parse_ok(std::string_view text)
{
  auto ini = IniFile::parse(text, "test.conf");
  INFO((ini.ok() ? std::string() : ini.message()));
  REQUIRE(ini.ok());
  return std::move(*ini);
}

std::string parse_error(std::string_view text)
{
  auto ini = IniFile::parse(text, "test.conf");
  REQUIRE_FALSE(ini.ok());
  return ini.message();
}

std::string get_ok(const IniFile& ini, std::string_view section, std::string_view key,
                   const IniFile::Vars& vars = {})
{
  auto value = ini.get(section, key, vars);
  INFO((value.ok() ? std::string() : value.message()));
  REQUIRE(value.ok());
  REQUIRE(value->has_value());
  return **value;
}

std::string get_error(const IniFile& ini, std::string_view section, std::string_view key,
                      const IniFile::Vars& vars = {})
{
  auto value = ini.get(section, key, vars);
  REQUIRE_FALSE(value.ok());
  return value.message();
}

bool has(const std::string& text, std::string_view part)
{
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_SUITE("config ini: syntax")
{
  TEST_CASE("sections keep their case and file order, keys are lower-cased")
  {
    auto ini = parse_ok("[DEFAULT]\nRoot = /srv\n\n[Builder B1]\nHost = b1\n[buildme]\nx = 1\n");
    REQUIRE(ini.sections().size() == 2);
    CHECK(ini.sections()[0].name == "Builder B1");
    CHECK(ini.sections()[1].name == "buildme");
    REQUIRE(ini.sections()[0].entries.size() == 1);
    CHECK(ini.sections()[0].entries[0].key == "host");
    CHECK(ini.sections()[0].entries[0].value == "b1");
    CHECK(ini.defaults().entries.at(0).key == "root");
    CHECK(ini.section("builder b1") == nullptr);
    CHECK(ini.section("Builder B1") != nullptr);
    CHECK(ini.raw("Builder B1", "HOST") == "b1");
  }

  TEST_CASE("comment lines and inline ' ;' comments are dropped, other ';' and '#' kept")
  {
    auto ini = parse_ok("# a comment\n; another\n[a]\n"
                        "x = /srv/x ; the x folder\n"
                        "y = a;b\n"
                        "z = a #b\n"
                        "w: colon separated\n");
    CHECK(ini.raw("a", "x") == "/srv/x");
    CHECK(ini.raw("a", "y") == "a;b");
    CHECK(ini.raw("a", "z") == "a #b");
    CHECK(ini.raw("a", "w") == "colon separated");
  }

  TEST_CASE("an indented line continues the value above it")
  {
    auto ini = parse_ok("[buildme]\nproducts = fremantle\n  diablo\n\tharmattan\nnext = 1\n");
    CHECK(ini.raw("buildme", "products") == "fremantle\ndiablo\nharmattan");
    CHECK(ini.raw("buildme", "next") == "1");
  }

  TEST_CASE("an indented key right after a section header is a key of its own")
  {
    auto ini = parse_ok("[a]\nk = 1\n[b]\n  k = 2\n");
    CHECK(ini.raw("a", "k") == "1");
    CHECK(ini.raw("b", "k") == "2");
  }

  TEST_CASE("an indented 'key = value' under a key is part of that value, not a duplicate")
  {
    auto ini = parse_ok("[a]\nk = 1\n  k = 2\n");
    CHECK(ini.raw("a", "k") == "1\nk = 2");
  }

  TEST_CASE("an empty section is still listed")
  {
    auto ini = parse_ok("[empty]\n[full]\nk = v\n");
    REQUIRE(ini.section("empty") != nullptr);
    CHECK(ini.section("empty")->entries.empty());
  }

  TEST_CASE("empty values, CRLF line endings, a BOM and a missing last newline are accepted")
  {
    auto ini = parse_ok("\xEF\xBB\xBF[a]\r\nempty =\r\nk = v\r\nlast = end");
    CHECK(ini.raw("a", "empty") == "");
    CHECK(ini.raw("a", "k") == "v");
    CHECK(ini.raw("a", "last") == "end");
  }

  TEST_CASE("a key missing in the section comes from [DEFAULT], then is absent")
  {
    auto ini = parse_ok("[DEFAULT]\nroot = /srv\nk = default\n[a]\nk = own\n");
    CHECK(ini.raw("a", "k") == "own");
    CHECK(ini.raw("a", "root") == "/srv");
    CHECK(ini.raw("a", "nothing") == std::nullopt);
    CHECK(ini.raw("no such section", "root") == "/srv");
    auto value = ini.get("a", "nothing");
    REQUIRE(value.ok());
    CHECK_FALSE(value->has_value());
  }
}

TEST_SUITE("config ini: errors")
{
  TEST_CASE("a section given twice is an error naming file, line and section")
  {
    auto message = parse_error("[a]\nk = 1\n\n[a]\nj = 2\n");
    CHECK(message == "test.conf:4: section [a] given twice; merge the two");
  }

  TEST_CASE("[DEFAULT] given twice is an error")
  {
    auto message = parse_error("[DEFAULT]\nx = 1\n[DEFAULT]\ny = 2\n");
    CHECK(has(message, "test.conf:3:"));
    CHECK(has(message, "[DEFAULT] given twice"));
  }

  TEST_CASE("a key given twice in a section is an error, whatever its case")
  {
    auto message = parse_error("[buildme]\nstate_dir = /a\n# comment\nSTATE_DIR = /b\n");
    CHECK(message == "test.conf:4: key 'state_dir' given twice in [buildme]");
  }

  TEST_CASE("the same key in two sections is fine")
  {
    auto ini = parse_ok("[a]\nk = 1\n[b]\nk = 2\n");
    CHECK(ini.raw("b", "k") == "2");
  }

  TEST_CASE("a line that is neither section, key, comment nor continuation is an error")
  {
    auto message = parse_error("[a]\nk = 1\n\njust some words\n");
    CHECK(has(message, "test.conf:4:"));
    CHECK(has(message, "'just some words'"));
  }

  TEST_CASE("a key before any section is an error")
  {
    auto message = parse_error("# header\nk = v\n[a]\n");
    CHECK(message == "test.conf:2: key 'k' comes before any [section]");
  }

  TEST_CASE("a key with no name is an error")
  {
    auto message = parse_error("[a]\n = value\n");
    CHECK(has(message, "test.conf:2:"));
    CHECK(has(message, "no key name"));
  }

  TEST_CASE("a section header without ']' is an error")
  {
    auto message = parse_error("[a]\nk = v\n[buildme\nx = 1\n");
    CHECK(has(message, "test.conf:3:"));
    CHECK(has(message, "'[buildme' has no closing ']'"));
  }

  TEST_CASE("an empty section name is an error")
  {
    CHECK(has(parse_error("[]\nk = v\n"), "test.conf:1: empty section name"));
  }

  TEST_CASE("a NUL byte is an error, not the silent end of the file")
  {
    std::string text = "[a]\nk = v\nj = before";
    text += '\0';
    text += "after\n";
    auto message = parse_error(text);
    CHECK(has(message, "test.conf:3:"));
    CHECK(has(message, "NUL"));
  }

  TEST_CASE("a very long line is an error, not cut into pieces")
  {
    std::string text = "[a]\nk = " + std::string(1024 * 1024, 'x') + "\n";
    auto message = parse_error(text);
    CHECK(has(message, "test.conf:2: line is longer than 4096 bytes"));
  }

  TEST_CASE("a value of 4000 bytes is read whole")
  {
    std::string value = "/" + std::string(3999, 'v');
    auto ini = parse_ok("[a]\nk = " + value + "\nj = 1\n");
    CHECK(ini.raw("a", "k") == value);
    CHECK(ini.raw("a", "j") == "1");
  }

  TEST_CASE("a long section name is kept whole")
  {
    std::string name = "builder " + std::string(100, 'b');
    auto ini = parse_ok("[" + name + "]\nk = v\n[" + name + "x]\nk = w\n");
    REQUIRE(ini.sections().size() == 2);
    CHECK(ini.raw(name, "k") == "v");
    CHECK(ini.raw(name + "x", "k") == "w");
  }

  TEST_CASE("binary junk is an error with its bytes escaped")
  {
    std::string junk = "\x7f"
                       "ELF\x02\x01\x01\x03\xff\xfe binary";
    auto message = parse_error(junk);
    CHECK(has(message, "test.conf:1:"));
    CHECK(has(message, "\\x7fELF\\x02"));
    CHECK_FALSE(has(message, "\x02"));
  }

  TEST_CASE("a file cut in the middle of a section header is an error")
  {
    CHECK(has(parse_error("[a]\nk = v\n[buil"), "test.conf:3:"));
  }

  TEST_CASE("a file cut in the middle of a key is an error")
  {
    CHECK(has(parse_error("[buildme]\nproducts = fremantle\nstate_d"), "test.conf:3:"));
  }

  TEST_CASE("a file cut in the middle of a value keeps what is there")
  {
    auto ini = parse_ok("[buildme]\nstate_dir = /var/li");
    CHECK(ini.raw("buildme", "state_dir") == "/var/li");
  }

  TEST_CASE("an empty file has no sections")
  {
    auto ini = parse_ok("");
    CHECK(ini.sections().empty());
  }
}

TEST_SUITE("config ini: interpolation")
{
  TEST_CASE("%(product)s comes from the variables given")
  {
    auto ini = parse_ok("[buildme]\nincoming_dir = /srv/incoming/%(product)s\n");
    CHECK(get_ok(ini, "buildme", "incoming_dir", {{"product", "fremantle"}}) ==
          "/srv/incoming/fremantle");
    CHECK(get_ok(ini, "buildme", "incoming_dir", {{"product", "diablo"}}) ==
          "/srv/incoming/diablo");
  }

  TEST_CASE("a reference finds a key of the same section, else of [DEFAULT]")
  {
    auto ini = parse_ok("[DEFAULT]\nroot = /srv\nbase = /default\n"
                        "[a]\nbase = /own\nk = %(root)s%(base)s\n");
    CHECK(get_ok(ini, "a", "k") == "/srv/own");
  }

  TEST_CASE("variables take precedence over the section and [DEFAULT]")
  {
    auto ini = parse_ok("[DEFAULT]\nproduct = d\n[a]\nproduct = s\nk = %(product)s\n");
    CHECK(get_ok(ini, "a", "k") == "s");
    CHECK(get_ok(ini, "a", "k", {{"product", "v"}}) == "v");
  }

  TEST_CASE("reference names are case-insensitive, like keys")
  {
    auto ini = parse_ok("[a]\nroot = /r\nk = %(ROOT)s/x\n");
    CHECK(get_ok(ini, "a", "k") == "/r/x");
  }

  TEST_CASE("references nest, and a [DEFAULT] value is expanded for the section asking")
  {
    auto ini = parse_ok("[DEFAULT]\npath = %(base)s/%(product)s\n"
                        "[a]\nbase = /a\n[b]\nbase = %(top)s/b\ntop = /t\n");
    CHECK(get_ok(ini, "a", "path", {{"product", "p"}}) == "/a/p");
    CHECK(get_ok(ini, "b", "path", {{"product", "q"}}) == "/t/b/q");
  }

  TEST_CASE("%% is a literal percent sign")
  {
    auto ini = parse_ok("[a]\nk = 100%% of %%(x)s\nx = 1\n");
    CHECK(get_ok(ini, "a", "k") == "100% of %(x)s");
  }

  TEST_CASE("ten nested references work, eleven are a reference loop")
  {
    auto chain = [](int length) {
      std::string text = "[a]\nk = %(v1)s\n";
      for (int i = 1; i < length; ++i) {
        text += fmt::format("v{} = %(v{})s\n", i, i + 1);
      }
      return text + fmt::format("v{} = end\n", length);
    };
    CHECK(get_ok(parse_ok(chain(10)), "a", "k") == "end");
    CHECK(has(get_error(parse_ok(chain(11)), "a", "k"), "loop"));
  }

  TEST_CASE("a value that expands past 64 KiB is an error, however few bytes it is written in")
  {
    // Each level names the one below it ten times: seven levels are 10 MB
    // from about 600 bytes of config, well inside the limit on nesting.
    auto bomb = [](int levels) {
      std::string text = "[a]\nv0 = 0123456789\n";
      for (int i = 1; i <= levels; ++i) {
        text += fmt::format("v{} = ", i);
        for (int n = 0; n < 10; ++n) {
          text += fmt::format("%(v{})s", i - 1);
        }
        text += '\n';
      }
      return text;
    };
    const std::string text = bomb(6);
    CHECK(text.size() < 600);
    auto ini = parse_ok(text);
    CHECK(get_ok(ini, "a", "v3").size() == 10000);
    for (auto key : {"v4", "v6"}) {
      CAPTURE(key);
      CHECK(has(get_error(ini, "a", key),
                fmt::format("test.conf: [a] {}: expands to more than 64 KiB, more than any value "
                            "needs; do its references repeat a long value? (value '%(v",
                            key)));
    }
    // Up to the limit a value expands as before: 15 copies of 4000 bytes.
    std::string fifteen = "[a]\nx = " + std::string(4000, 'x') + "\nk = ";
    for (int n = 0; n < 15; ++n) {
      fifteen += "%(x)s";
    }
    CHECK(get_ok(parse_ok(fifteen + "\n"), "a", "k") == std::string(60000, 'x'));
  }

  TEST_CASE("the values read from one file add up to at most 16 MiB")
  {
    // 64 KiB a value, asked for again and again (for every product).
    std::string text = "[a]\nx = " + std::string(4000, 'x') + "\nbig = ";
    for (int n = 0; n < 16; ++n) {
      text += "%(x)s";
    }
    auto ini = parse_ok(text + "\n");
    int given = 0;
    while (ini.get("a", "big").ok()) {
      REQUIRE(++given < 1000);
    }
    CHECK(given == 16 * 1024 * 1024 / 64000);
    CHECK(has(get_error(ini, "a", "big"),
              "test.conf: [a] big: the values read from this file add up to more than 16 MiB; "
              "do references repeat a long value for every product? (value '%(x)s%(x)s"));
  }

  TEST_CASE("a reference loop is an error naming file, section and key")
  {
    auto ini = parse_ok("[a]\nx = %(y)s\ny = /%(x)s\nself = %(self)s\n");
    auto message = get_error(ini, "a", "x");
    CHECK(has(message, "test.conf: [a] x: "));
    CHECK(has(message, "loop"));
    CHECK(has(get_error(ini, "a", "self"), "test.conf: [a] self: "));
  }

  TEST_CASE("a '%' not followed by '%' or '(' is an error")
  {
    auto ini = parse_ok("[a]\nk = 50% off\nend = 50%\n");
    CHECK(has(get_error(ini, "a", "k"),
              "test.conf: [a] k: '%' must be followed by '%' or '(', found: '% off'"));
    CHECK(has(get_error(ini, "a", "end"), "found: '%'"));
  }

  TEST_CASE("a reference without its closing ')s' is an error")
  {
    auto ini = parse_ok("[a]\nk = %(root)\nj = %(root\nempty = %()s\nroot = /\n");
    CHECK(has(get_error(ini, "a", "k"), "test.conf: [a] k: bad reference '%(root)'"));
    CHECK(has(get_error(ini, "a", "j"), "test.conf: [a] j: bad reference"));
    CHECK(has(get_error(ini, "a", "empty"), "test.conf: [a] empty: bad reference"));
  }

  TEST_CASE("an unknown reference is an error naming file, section, key and the reference")
  {
    auto ini = parse_ok("[buildme]\nincoming_dir = /srv/%(prodcut)s\n");
    auto message = get_error(ini, "buildme", "incoming_dir", {{"product", "fremantle"}});
    CHECK(has(message, "test.conf: [buildme] incoming_dir: unknown reference %(prodcut)s"));
    CHECK(has(message, "%(product)s")); // says what was available
  }

  TEST_CASE("an error deep in a nested reference names the key asked for")
  {
    auto ini = parse_ok("[DEFAULT]\nbase = %(missing)s\n[a]\nk = %(base)s/x\n");
    auto message = get_error(ini, "a", "k");
    CHECK(has(message, "test.conf: [a] k: unknown reference %(missing)s"));
  }
}

TEST_SUITE("config ini: files")
{
  TEST_CASE("loading a file parses it and names it in messages")
  {
    buildme::test::ScratchDir dir;
    auto good = dir.write("good.conf", "[a]\nk = v\n");
    auto ini = IniFile::load(good.string());
    REQUIRE(ini.ok());
    CHECK(ini->filename() == good.string());
    CHECK(ini->raw("a", "k") == "v");

    auto bad = dir.write("bad.conf", "[a]\nk = 1\nk = 2\n");
    auto error = IniFile::load(bad.string());
    REQUIRE_FALSE(error.ok());
    CHECK(has(error.message(), bad.string() + ":3: key 'k' given twice in [a]"));
  }

  TEST_CASE("a missing file is an error naming it and why")
  {
    buildme::test::ScratchDir dir;
    auto missing = (dir / "nothing.conf").string();
    auto ini = IniFile::load(missing);
    REQUIRE_FALSE(ini.ok());
    CHECK(ini.message() == "cannot read " + missing + ": No such file or directory");
  }

  TEST_CASE("a folder is not a config file")
  {
    buildme::test::ScratchDir dir;
    auto ini = IniFile::load(dir.path().string());
    REQUIRE_FALSE(ini.ok());
    CHECK(has(ini.message(), dir.path().string()));
  }

  TEST_CASE("a file over 1 MiB is refused")
  {
    buildme::test::ScratchDir dir;
    std::string text = "[a]\n";
    while (text.size() <= 1024 * 1024) {
      text += "; padding padding padding padding padding padding padding padding\n";
    }
    auto big = dir.write("big.conf", text);
    auto ini = IniFile::load(big.string());
    REQUIRE_FALSE(ini.ok());
    CHECK(has(ini.message(), big.string() + ": larger than"));
  }
}

} // namespace unit_test_config_ini
