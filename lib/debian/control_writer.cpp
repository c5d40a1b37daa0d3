#include "debian/control_writer.hpp"

#include "debian/deb822.hpp"

namespace buildme::debian {

std::string write_paragraph(const FieldList& fields)
{
  std::string out;
  for (const auto& [name, value] : fields) {
    if (value.empty()) {
      continue;
    }
    out += name;
    out += ':';
    std::size_t start = 0;
    bool first = true;
    while (start <= value.size()) {
      std::size_t end = value.find('\n', start);
      if (end == std::string::npos) {
        end = value.size();
      }
      std::string_view line(value.data() + start, end - start);
      if (first) {
        if (!is_blank_line(line)) {
          out += ' ';
          out += line;
        }
        first = false;
      } else if (is_blank_line(line)) {
        // A line of blanks would end the paragraph (and dpkg warns of it).
        out += " .";
      } else {
        out += ' ';
        out += line;
      }
      out += '\n';
      start = end + 1;
    }
  }
  return out;
}

std::string unescape_value(std::string_view value)
{
  std::string out;
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t end = value.find('\n', start);
    if (end == std::string::npos) {
      end = value.size();
    }
    std::string_view line = value.substr(start, end - start);
    if (start > 0) {
      out += '\n';
    }
    if (!(start > 0 && line == ".")) {
      out += line;
    }
    start = end + 1;
  }
  return out;
}

std::string list_value(const std::vector<std::string>& items)
{
  std::string out;
  for (const auto& item : items) {
    out += '\n';
    out += item;
  }
  return out;
}

} // namespace buildme::debian
