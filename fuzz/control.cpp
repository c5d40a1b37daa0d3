// deb822 control files (lib/debian/deb822.hpp), and the writers that turn
// their paragraphs into text again: a parse must never crash, and whatever
// parses must read back the same through the signed text, a Packages stanza
// (lib/repo/index.hpp) and a record (lib/debian/control_writer.hpp).
#include "debian/control_writer.hpp"
#include "debian/deb822.hpp"
#include "fuzz.hpp"
#include "repo/index.hpp"

#include <array>
#include <string_view>

using namespace buildme;
using buildme::fuzz::require;
using buildme::fuzz::same_fields;

namespace {

// The fields packages_stanza sets itself or leaves out.
bool rewritten(std::string_view name)
{
  constexpr std::array<std::string_view, 9> names = {
    "filename", "size", "md5sum", "sha1", "sha256", "sha512", "status", "priority", "section"};
  std::string lowered;
  for (char c : name) {
    lowered += c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  for (auto known : names) {
    if (lowered == known) {
      return true;
    }
  }
  return false;
}

void check_stanza(const std::string& stanza, const debian::Paragraph& paragraph)
{
  for (auto line : debian::control_lines(stanza)) {
    require(!debian::is_blank_line(line), "a Packages stanza holds a blank line");
  }
  auto again = debian::parse_control(stanza, "Packages");
  require(again.ok(), "a Packages stanza does not parse");
  require(again->paragraphs.size() == 1, "a Packages stanza reads as more than one paragraph");
  for (const auto& field : paragraph.fields) {
    if (!rewritten(field.name)) {
      require(again->paragraphs[0].get(field.name) == field.value,
              "a field reads back from its Packages stanza with another value");
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const auto text = fuzz::text_of(data, size);
  auto control = debian::parse_control(text, "fuzz.dsc");
  if (!control) {
    return 0;
  }
  if (control->is_signed) {
    auto again = debian::parse_control(control->signed_text, "signed text");
    require(again.ok(), "the signed text of a signed file does not parse");
    require(again->paragraphs.size() == control->paragraphs.size(),
            "the signed text reads as other paragraphs than the file");
    for (std::size_t i = 0; i < control->paragraphs.size(); ++i) {
      require(same_fields(control->paragraphs[i], again->paragraphs[i]),
              "the signed text reads as other fields than the file");
    }
  }

  util::Digests digests;
  digests.size = size;
  for (const auto& paragraph : control->paragraphs) {
    // From the text the paragraph came from, and from its values alone.
    check_stanza(repo::packages_stanza(text, paragraph, "pool/main/p/p.deb", digests), paragraph);
    check_stanza(repo::packages_stanza({}, paragraph, "pool/main/p/p.deb", digests), paragraph);
    (void)repo::sources_stanza(text, paragraph, "pool/main/p", {}); // must not crash

    debian::FieldList fields;
    for (const auto& field : paragraph.fields) {
      fields.emplace_back(field.name, field.value);
    }
    auto record = debian::parse_control(debian::write_paragraph(fields), "record");
    require(record.ok(), "a written record does not parse");
    std::size_t written = 0;
    for (const auto& field : paragraph.fields) {
      if (field.value.empty()) {
        continue; // write_paragraph leaves empty values out
      }
      ++written;
      require(record->paragraphs.size() == 1 &&
                record->paragraphs[0].get(field.name) == field.value,
              "a field reads back from its record with another value");
    }
    require(written == 0 || record->paragraphs[0].fields.size() == written,
            "a written record has other fields than the paragraph");
  }
  return 0;
}
