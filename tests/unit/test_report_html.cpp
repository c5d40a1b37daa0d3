#include "report/html.hpp"
#include "report/json.hpp"

#include "json_check.hpp"

#include <doctest/doctest.h>

#include <string>

namespace unit_test_report_html {

using namespace buildme::report;
using buildme::test::valid_json;

TEST_SUITE("report: escaping what uploads and logs say")
{
  TEST_CASE("a <script> in a maintainer field or a log line shows as text")
  {
    CHECK(escape("<script>alert('x')</script>") ==
          "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
    CHECK(escape("Mallory \"<m@example.org>\" & co") ==
          "Mallory &quot;&lt;m@example.org&gt;&quot; &amp; co");
    // An attribute cannot be closed from inside either quote.
    const std::string attribute = escape("\" onload=\"x' onerror='y");
    CHECK(attribute.find('"') == std::string::npos);
    CHECK(attribute.find('\'') == std::string::npos);
  }

  TEST_CASE("an entity in the input is escaped, not passed through")
  {
    CHECK(escape("&lt;b&gt;") == "&amp;lt;b&amp;gt;");
  }

  TEST_CASE("bytes that are not UTF-8 and control characters become U+FFFD, text stays")
  {
    const std::string bad =
      std::string("a\xff") + "b\xc3" + "\x1b[31mred\x00z" + std::string(1, '\0');
    const std::string clean = clean_text(bad);
    CHECK(clean.find('\x1b') == std::string::npos);
    CHECK(clean.find('\0') == std::string::npos);
    CHECK(clean.find('\xff') == std::string::npos);
    CHECK(clean.find("red") != std::string::npos);
    CHECK(clean.find("\xEF\xBF\xBD") != std::string::npos);
    // Valid UTF-8, tabs and line feeds stay; CRLF becomes LF.
    CHECK(clean_text("Jos\xc3\xa9 M\xc3\xbcller\t\xe2\x82\xac\r\nnext") ==
          "Jos\xc3\xa9 M\xc3\xbcller\t\xe2\x82\xac\nnext");
    // Overlong forms and surrogates are not UTF-8.
    CHECK(clean_text("\xc0\xbc") == "\xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(clean_text("\xed\xa0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  }

  TEST_CASE("a name as a path segment never leaves its folder")
  {
    CHECK(segment("hello-buildme") == "hello-buildme");
    CHECK(segment("libfoo+bar.1_x") == "libfoo+bar.1_x");
    CHECK(segment("../etc/passwd") == "..~2Fetc~2Fpasswd");
    CHECK(segment("..") == "~2E~2E");
    CHECK(segment(".") == "~2E");
    CHECK(segment("") == "~00");
    CHECK(segment("a~b") == "a~7Eb");
    CHECK(segment("<x>") == "~3Cx~3E");
  }
}

TEST_SUITE("report: JSON")
{
  TEST_CASE("hostile strings come out as valid JSON that says the same text")
  {
    json::Value value = json::Object{{"changes", "</script><script>alert(1)</script>"},
                                     {"log", std::string("line\n\t\"quoted\" \\ \x01\xff")},
                                     {"count", 3},
                                     {"none", nullptr},
                                     {"list", json::Array{true, false, "x"}},
                                     {"empty", json::Array{}},
                                     {"nothing", json::Object{}}};
    const std::string text = value.dump();
    CHECK(valid_json(text));
    CHECK(text.find("</script>") == std::string::npos);
    CHECK(text.find("\\u003c/script>") != std::string::npos);
    CHECK(text.find("\\\"quoted\\\" \\\\") != std::string::npos);
    CHECK(text.find("\"count\": 3") != std::string::npos);
    CHECK(text.find("\"none\": null") != std::string::npos);
  }

  TEST_CASE("the checker used by these tests refuses what is not JSON")
  {
    CHECK_FALSE(valid_json("{\"a\": 1,}"));
    CHECK_FALSE(valid_json("{\"a\": \"x\ny\"}"));
    CHECK_FALSE(valid_json("[1] x"));
    CHECK(valid_json("{\"a\": [1, -2, {\"b\": null}]}"));
  }
}

} // namespace unit_test_report_html
