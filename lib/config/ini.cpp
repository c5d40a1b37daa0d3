#include "config/ini.hpp"

#include "util/fs.hpp"
#include "util/text.hpp"

#include <ini.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace buildme::config {

namespace {

constexpr std::size_t max_line_length = 4096;
constexpr std::size_t max_file_size = 1024 * 1024;
constexpr int max_interpolation_depth = 10; // ConfigParser's MAX_INTERPOLATION_DEPTH
// Depth alone does not bound the size: ten levels of a key that names the one
// below it ten times make 10^10 copies from a few hundred bytes. No value of
// buildme.conf (a path, a list of names, a command) needs more than this.
constexpr std::size_t max_expanded_size = 64 * 1024;
// Nor does a bound on each value bound the file: a few kilobytes that give
// each of thousands of products a value of 64 KiB ask for gigabytes. A
// config of a hundred products asks for well under a megabyte.
constexpr std::size_t max_expanded_total = 16 * 1024 * 1024;

// inih's options are process-wide variables in Debian's build; these are the
// values the line tracking below mirrors.
char comment_prefixes[] = ";#";
char inline_comment_prefixes[] = ";";

void pin_inih_options()
{
  ini_allow_multiline = true;
  ini_allow_bom = true;
  ini_start_comment_prefixes = comment_prefixes;
  ini_allow_inline_comments = true;
  ini_inline_comment_prefixes = inline_comment_prefixes;
  ini_use_stack = true;
  ini_max_line = static_cast<int>(max_line_length) + 3; // room for "\r\n\0"
  ini_allow_no_value = false;
  ini_stop_on_first_error = true;
}

using util::trim;

bool is_space(char c)
{
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

const IniFile::Entry* find_entry(const IniFile::Section& section, std::string_view key)
{
  for (const auto& entry : section.entries) {
    if (entry.key == key) {
      return &entry;
    }
  }
  return nullptr;
}

// What inih sees while it parses: the reader hands it one line at a time, so
// when the handler runs, `line` and `current` are the number and text of the
// line the value came from. inih reports
// neither line numbers nor section headers to the handler (and cuts section
// names at 49 bytes), so the reader follows its rules for comments, section
// headers and continuation lines; keys and values come from inih.
struct ParseState
{
  IniFile::Section* open_section(std::string_view name);
  void fail_at(std::string message);
  void classify(std::string_view raw_line);

  std::string_view rest;
  const std::string* filename = nullptr;
  std::vector<IniFile::Section>* sections = nullptr;
  IniFile::Section* defaults = nullptr;

  int line = 0;
  std::string_view current;  // the line inih is parsing
  bool continuation = false; // inih will append it to the key above
  bool key_seen = false;     // inih's prev_name: a key since the last header
  bool defaults_seen = false;
  IniFile::Section* section = nullptr;
  std::optional<Error> error;
};

void ParseState::fail_at(std::string message)
{
  if (!error) {
    error = fail("{}:{}: {}", *filename, line, message);
  }
}

IniFile::Section* ParseState::open_section(std::string_view name)
{
  bool seen = name == "DEFAULT" ? defaults_seen
                                : std::any_of(sections->begin(), sections->end(),
                                              [&](const auto& s) { return s.name == name; });
  if (seen) {
    fail_at(fmt::format("section [{}] given twice; merge the two", printable(name)));
    return nullptr;
  }
  if (name == "DEFAULT") {
    defaults_seen = true;
    return defaults;
  }
  sections->push_back({std::string(name), {}});
  return &sections->back();
}

void ParseState::classify(std::string_view raw_line)
{
  current = raw_line;
  continuation = false;
  std::string_view start = raw_line;
  if (line == 1 && start.substr(0, 3) == "\xEF\xBB\xBF") {
    start.remove_prefix(3);
  }
  std::string_view content = trim(start);
  if (content.empty() || content.front() == ';' || content.front() == '#') {
    return;
  }
  if (key_seen && content.data() > raw_line.data()) {
    continuation = true;
    return;
  }
  if (content.front() != '[') {
    return; // a key line, or a line inih rejects
  }
  // As inih: the name ends at the first ']' or at an inline comment.
  std::size_t end = 1;
  bool was_space = false;
  while (end < content.size() && content[end] != ']' && !(was_space && content[end] == ';')) {
    was_space = is_space(content[end]);
    ++end;
  }
  if (end == content.size() || content[end] != ']') {
    fail_at(fmt::format("section header '{}' has no closing ']'", printable(content)));
    return;
  }
  std::string_view name = content.substr(1, end - 1);
  if (name.empty()) {
    fail_at("empty section name '[]'");
    return;
  }
  section = open_section(name);
  key_seen = false;
}

char* read_line(char* buffer, int size, void* stream)
{
  auto& state = *static_cast<ParseState*>(stream);
  if (state.error || state.rest.empty()) {
    return nullptr;
  }
  std::size_t newline = state.rest.find('\n');
  std::size_t length = newline == std::string_view::npos ? state.rest.size() : newline + 1;
  std::string_view raw_line = state.rest.substr(0, length);
  state.rest.remove_prefix(length);
  ++state.line;

  if (raw_line.find('\0') != std::string_view::npos) {
    state.fail_at("contains a NUL byte; is this a text file?");
    return nullptr;
  }
  if (size < 1 || raw_line.size() > static_cast<std::size_t>(size) - 1) {
    state.fail_at(fmt::format("line is longer than {} bytes", max_line_length));
    return nullptr;
  }
  std::memcpy(buffer, raw_line.data(), raw_line.size());
  buffer[raw_line.size()] = '\0';
  state.classify(raw_line);
  return state.error ? nullptr : buffer;
}

int on_value(void* user, const char* /*section*/, const char* name, const char* value)
{
  auto& state = *static_cast<ParseState*>(user);
  if (state.continuation) {
    state.section->entries.back().value += '\n';
    state.section->entries.back().value += value;
    return 1;
  }
  std::string key = util::to_lower(name);
  if (key.empty()) {
    state.fail_at(fmt::format("no key name before '=' in '{}'", printable(trim(state.current))));
    return 0;
  }
  if (!state.section) {
    state.fail_at(fmt::format("key '{}' comes before any [section]", printable(key)));
    return 0;
  }
  if (find_entry(*state.section, key)) {
    state.fail_at(
      fmt::format("key '{}' given twice in [{}]", printable(key), printable(state.section->name)));
    return 0;
  }
  state.section->entries.push_back({std::move(key), value, state.line});
  state.key_seen = true;
  return 1;
}

} // namespace

std::string printable(std::string_view text)
{
  constexpr std::size_t max_shown = 80;
  if (text.size() <= max_shown) {
    return util::printable(text);
  }
  return util::printable(text.substr(0, max_shown)) + "...";
}

Result<IniFile> IniFile::parse(std::string_view text, std::string filename)
{
  IniFile ini;
  ini.m_filename = std::move(filename);

  ParseState state;
  state.rest = text;
  state.filename = &ini.m_filename;
  state.sections = &ini.m_sections;
  state.defaults = &ini.m_defaults;

  pin_inih_options();
  int bad_line = ini_parse_stream(read_line, &state, on_value, &state);
  if (state.error) {
    return *state.error;
  }
  if (bad_line > 0) {
    return fail("{}:{}: '{}' is not a [section], a 'key = value', a comment or an indented "
                "continuation of a value",
                ini.m_filename, bad_line, printable(trim(state.current)));
  }
  if (bad_line < 0) {
    return fail("{}: inih failed to parse it (error {})", ini.m_filename, bad_line);
  }
  return ini;
}

Result<IniFile> IniFile::load(const std::string& path)
{
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!file) {
    return fail("cannot read {}: {}", path, std::strerror(errno));
  }
  std::string text(max_file_size + 1, '\0');
  std::size_t length = std::fread(text.data(), 1, text.size(), file.get());
  if (std::ferror(file.get())) {
    return fail("cannot read {}: {}", path, std::strerror(errno));
  }
  if (length > max_file_size) {
    return fail("{}: larger than {} bytes; is this really a config file?", path, max_file_size);
  }
  text.resize(length);
  return parse(text, path);
}

const IniFile::Section* IniFile::section(std::string_view name) const
{
  if (name == "DEFAULT") {
    return &m_defaults;
  }
  for (const auto& s : m_sections) {
    if (s.name == name) {
      return &s;
    }
  }
  return nullptr;
}

const IniFile::Entry* IniFile::entry(std::string_view section_name, std::string_view key) const
{
  std::string lowered = util::to_lower(key);
  if (const Section* s = section(section_name)) {
    if (const Entry* found = find_entry(*s, lowered)) {
      return found;
    }
  }
  return find_entry(m_defaults, lowered);
}

std::optional<std::string> IniFile::raw(std::string_view section_name, std::string_view key) const
{
  const Entry* found = entry(section_name, key);
  return found ? std::optional<std::string>(found->value) : std::nullopt;
}

int IniFile::line_of(std::string_view section_name, std::string_view key) const
{
  const Entry* found = entry(section_name, key);
  return found ? found->line : 0;
}

namespace {

// ConfigParser's BasicInterpolation._interpolate_some: every reference is
// looked up raw in vars, the section asking, then [DEFAULT], and expanded in
// the context of the section asking.
struct Interpolation
{
  Status expand(std::string_view rest, int depth, std::string& out) const;
  Status append(std::string_view text, std::string& out) const;
  Error error(std::string what) const
  {
    return fail("{}: [{}] {}: {}", ini.filename(), printable(section), key, what);
  }

  const IniFile& ini;
  std::string_view section;
  std::string_view key;
  const IniFile::Vars& vars;
};

Status Interpolation::append(std::string_view text, std::string& out) const
{
  if (text.size() > max_expanded_size - out.size()) {
    return error(fmt::format("expands to more than {} KiB, more than any value needs; do its "
                             "references repeat a long value? (value '{}')",
                             max_expanded_size / 1024, printable(*ini.raw(section, key))));
  }
  out += text;
  return {};
}

Status Interpolation::expand(std::string_view rest, int depth, std::string& out) const
{
  if (depth > max_interpolation_depth) {
    return error(fmt::format("references nest more than {} deep; is there a reference loop? "
                             "(value '{}')",
                             max_interpolation_depth, printable(*ini.raw(section, key))));
  }
  while (!rest.empty()) {
    std::size_t percent = rest.find('%');
    TRY(append(rest.substr(0, percent), out));
    if (percent == std::string_view::npos) {
      return {};
    }
    rest.remove_prefix(percent);
    if (rest.substr(0, 2) == "%%") {
      TRY(append("%", out));
      rest.remove_prefix(2);
      continue;
    }
    if (rest.substr(0, 2) != "%(") {
      return error(fmt::format("'%' must be followed by '%' or '(', found: '{}' "
                               "(write %% for a literal '%')",
                               printable(rest)));
    }
    std::size_t close = rest.find(')');
    if (close == std::string_view::npos || close == 2 || rest.substr(close, 2) != ")s") {
      return error(fmt::format("bad reference '{}'; write %(name)s", printable(rest)));
    }
    std::string name = util::to_lower(rest.substr(2, close - 2));
    rest.remove_prefix(close + 2);

    std::optional<std::string> value;
    if (auto var = vars.find(name); var != vars.end()) {
      value = var->second;
    } else {
      value = ini.raw(section, name);
    }
    if (!value) {
      std::string also;
      for (const auto& [var_name, var_value] : vars) {
        also += (also.empty() ? "; usable here besides keys: %(" : ", %(") + var_name + ")s";
      }
      return error(fmt::format("unknown reference %({})s: no key '{}' in [{}] or [DEFAULT]{}",
                               printable(name), printable(name), printable(section), also));
    }
    if (value->find('%') == std::string::npos) {
      TRY(append(*value, out));
    } else if (auto nested = expand(*value, depth + 1, out); !nested) {
      return nested;
    }
  }
  return {};
}

} // namespace

Result<std::optional<std::string>> IniFile::get(std::string_view section_name, std::string_view key,
                                                const Vars& vars) const
{
  std::optional<std::string> raw_value = raw(section_name, key);
  if (!raw_value) {
    return std::optional<std::string>();
  }
  std::string lowered = util::to_lower(key);
  Interpolation interpolation{*this, section_name, lowered, vars};
  std::string out;
  TRY(interpolation.expand(*raw_value, 1, out));
  m_expanded += out.size();
  if (m_expanded > max_expanded_total) {
    return interpolation.error(
      fmt::format("the values read from this file add up to more than {} MiB; do references "
                  "repeat a long value for every product? (value '{}')",
                  max_expanded_total / (1024 * 1024), printable(*raw_value)));
  }
  return std::optional<std::string>(std::move(out));
}

} // namespace buildme::config
