#include "debian/control_writer.hpp"
#include "debian/deb822.hpp"

#include <doctest/doctest.h>

#include <string>

namespace unit_test_debian_control_writer {

using buildme::debian::FieldList;
using buildme::debian::parse_control;
using buildme::debian::unescape_value;
using buildme::debian::write_paragraph;

TEST_SUITE("debian: writing control paragraphs")
{
  TEST_CASE("a value's later lines are continuation lines, an empty one written ' .'")
  {
    CHECK(write_paragraph({{"Source", "hello"}, {"Reason", "one\n\ntwo"}, {"Empty", ""}}) ==
          "Source: hello\nReason: one\n .\n two\n");
    CHECK(write_paragraph({{"Files", "\na 1 x\nb 2 y"}}) == "Files:\n a 1 x\n b 2 y\n");
  }

  TEST_CASE("a value line of blanks never ends the paragraph")
  {
    // It was written as a line of spaces, which a reader takes for the end
    // of the paragraph: the fields after it were lost, or the record did not
    // read at all.
    for (std::string blanks : {" ", "  \t", "\r", " \r ", "\f\v"}) {
      CAPTURE(blanks);
      const std::string text =
        write_paragraph({{"Reason", "one\n" + blanks + "\ntwo"}, {"State", "failed"}});
      CHECK(text == "Reason: one\n .\n two\nState: failed\n");
      auto record = parse_control(text, "job.info");
      REQUIRE_MESSAGE(record.ok(), record.message());
      REQUIRE(record->paragraphs.size() == 1);
      CHECK(unescape_value(*record->paragraphs[0].get("Reason")) == "one\n\ntwo");
      CHECK(record->paragraphs[0].get("State") == "failed");
    }
  }

  TEST_CASE("a first line of blanks is written as an empty first line")
  {
    CHECK(write_paragraph({{"Files", " \t\na 1 x"}}) == "Files:\n a 1 x\n");
  }

  TEST_CASE("what is written reads back as the same values")
  {
    const FieldList fields = {
      {"Source", "hello"}, {"Reason", "failed:\n\n  indented\nlast"}, {"Files", "\na 1 x"}};
    auto record = parse_control(write_paragraph(fields), "job.info");
    REQUIRE_MESSAGE(record.ok(), record.message());
    REQUIRE(record->paragraphs.size() == 1);
    const auto& paragraph = record->paragraphs[0];
    CHECK(paragraph.get("Source") == "hello");
    CHECK(unescape_value(*paragraph.get("Reason")) == "failed:\n\nindented\nlast");
    CHECK(paragraph.get("Files") == "\na 1 x");
  }
}

} // namespace unit_test_debian_control_writer
