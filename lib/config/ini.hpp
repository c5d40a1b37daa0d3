// INI files read with inih, with the value interpolation of Python's
// ConfigParser (BasicInterpolation) that the original buildme.conf relied
// on: "%(name)s" is replaced by the key `name` of the same section, else of
// [DEFAULT], else of the extra variables given at lookup (such as
// `product`); "%%" is a literal '%'. References nest up to 10 deep, a value
// expands to at most 64 KiB, and all the values get() gives of one file add
// up to at most 16 MiB (an Error beyond: the file is read once, by
// parse_config, and a few kilobytes must not ask for gigabytes).
//
// Syntax is inih's (as Debian builds it): ';' or '#' starts a comment line,
// " ;" starts an inline comment, an indented line continues the value above
// it. On top of inih: keys are lower-cased; a section or key given twice, a
// key before any section, a NUL byte or a line over 4096 bytes is an error
// with file and line, as is any line inih rejects.
#pragma once

#include "util/result.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace buildme::config {

class IniFile
{
public:
  struct Entry
  {
    std::string key;   // lower-cased, as ConfigParser does
    std::string value; // raw, before interpolation; continuation lines joined by '\n'
    int line = 0;      // of the key
  };
  struct Section
  {
    std::string name; // as written, e.g. "builder b1"
    std::vector<Entry> entries;
  };

  // Parses INI text; `filename` for messages. Errors (with file and line):
  // a line that is not a section, key = value, comment or continuation;
  // a section or key given twice.
  static Result<IniFile> parse(std::string_view text, std::string filename);
  static Result<IniFile> load(const std::string& path);

  const std::string& filename() const { return m_filename; }
  // Sections in file order, [DEFAULT] excluded.
  const std::vector<Section>& sections() const { return m_sections; }
  // nullptr when absent; "DEFAULT" gives defaults().
  const Section* section(std::string_view name) const;
  const Section& defaults() const { return m_defaults; }

  // The raw value of `key` in `section` or [DEFAULT]; nullopt if neither.
  std::optional<std::string> raw(std::string_view section, std::string_view key) const;
  // The line that raw() takes the value from; 0 if none.
  int line_of(std::string_view section, std::string_view key) const;

  // The interpolated value, nullopt when the key is absent. `vars` are extra
  // names that take precedence over the section and [DEFAULT], as
  // ConfigParser's `vars` do. The Error names file, section and key:
  // "buildme.conf: [buildme] incoming_dir: unknown reference %(prodcut)s".
  using Vars = std::map<std::string, std::string, std::less<>>;
  Result<std::optional<std::string>> get(std::string_view section, std::string_view key,
                                         const Vars& vars = {}) const;

private:
  const Entry* entry(std::string_view section, std::string_view key) const;

  std::string m_filename;
  std::vector<Section> m_sections;
  Section m_defaults{"DEFAULT", {}};
  // What get() has given so far, for the bound on the whole file.
  mutable std::size_t m_expanded = 0;
};

// Text from a config file made safe to show in a message (util::printable),
// cut after 80 bytes with "...".
std::string printable(std::string_view text);

} // namespace buildme::config
