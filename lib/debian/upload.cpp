#include "debian/upload.hpp"

#include "debian/syntax.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <map>

namespace buildme::debian {

namespace {

using util::DigestKind;
using util::split;

std::string_view trim_space(std::string_view text)
{
  return util::trim(text, " \t\n");
}

// Reports problems in one .dsc or .changes: "FILE:LINE: what".
class Checker
{
public:
  Checker(std::string_view filename, std::string_view kind, const Paragraph& paragraph)
    : m_file(util::printable(filename)), m_kind(kind), m_paragraph(paragraph)
  {
  }

  template<typename... Args>
  Error error(int line, fmt::format_string<Args...> format, Args&&... args) const
  {
    return fail("{}:{}: {}", m_file, line, fmt::format(format, std::forward<Args>(args)...));
  }

  // A required field, parsed by `parse` into `target`.
  template<typename T, typename Parse>
  Status take(std::string_view name, T& target, Parse parse) const
  {
    auto field = required(name);
    if (!field) {
      return field.error();
    }
    auto value = parse(**field);
    if (!value) {
      return value.error();
    }
    target = std::move(*value);
    return {};
  }

  Result<const Field*> required(std::string_view name) const
  {
    const Field* field = m_paragraph.find(name);
    if (!field) {
      return error(m_paragraph.line, "the required field '{}' is missing from this {}", name,
                   m_kind);
    }
    return field;
  }

  // A value that must be one non-empty line.
  Result<std::string> one_line(const Field& field) const
  {
    if (field.value.find('\n') != std::string::npos) {
      return error(field.line, "{} must be a single line", field.name);
    }
    if (field.value.empty()) {
      return error(field.line, "{} is empty", field.name);
    }
    return field.value;
  }

  // Maintainer, Changed-By, Uploaders end up in mail headers: no control
  // characters, no line breaks.
  Result<std::string> person(const Field& field) const
  {
    auto value = one_line(field);
    if (!value) {
      return value;
    }
    TRY(no_control(field, *value));
    return value;
  }

  Status no_control(const Field& field, std::string_view value) const
  {
    for (char c : value) {
      if (is_control(c)) {
        return error(field.line, "{} '{}' has a control character; it would end up in mail",
                     field.name, util::printable(value));
      }
    }
    return {};
  }

  Result<Version> version(const Field& field) const
  {
    auto text = one_line(field);
    if (!text) {
      return text.error();
    }
    auto parsed = Version::parse(*text);
    if (!parsed) {
      return error(field.line, "{}: {}", field.name, parsed.message());
    }
    return parsed;
  }

  Result<std::string> package(const Field& field, std::string_view name) const
  {
    if (auto status = check_package_name(name); !status) {
      return error(field.line, "{}: {}", field.name, status.message());
    }
    return std::string(name);
  }

  // "1.0", "3.0 (quilt)": digits.digits, and for a .dsc a variant.
  Result<std::string> format(const Field& field, bool allow_variant) const
  {
    auto value = one_line(field);
    if (!value) {
      return value;
    }
    std::string_view text = *value;
    std::string_view number = text.substr(0, text.find(' '));
    std::string_view variant = text.substr(number.size());
    auto dot = number.find('.');
    bool ok = dot != std::string_view::npos && all_digits(number.substr(0, dot)) &&
              all_digits(number.substr(dot + 1));
    if (!variant.empty()) {
      ok = ok && allow_variant && variant.size() > 3 && variant.starts_with(" (") &&
           variant.ends_with(')') && only_chars(variant.substr(2, variant.size() - 3), "");
    }
    if (!ok) {
      return error(field.line, "Format '{}' is not a {} format{}", util::printable(text), m_kind,
                   allow_variant ? " such as '1.0' or '3.0 (quilt)'" : " such as '1.8'");
    }
    return value;
  }

  Result<std::vector<std::string>> architectures(const Field& field) const
  {
    std::vector<std::string> result;
    for (auto word : split(field.value, " \t\n")) {
      if (!is_valid_architecture(word)) {
        return error(field.line, "Architecture '{}' is not a valid architecture name",
                     util::printable(word));
      }
      result.emplace_back(word);
    }
    if (result.empty()) {
      return error(field.line, "Architecture is empty");
    }
    return result;
  }

  const Paragraph& paragraph() const { return m_paragraph; }

private:
  std::string m_file;
  std::string_view m_kind;
  const Paragraph& m_paragraph;
};

struct Entry
{
  std::string name;
  std::uint64_t size = 0;
  std::string hex;
  std::string section, priority;
  int line = 0;
};

bool parse_size(std::string_view text, std::uint64_t& size)
{
  if (text.empty()) {
    return false;
  }
  size = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    auto digit = static_cast<std::uint64_t>(c - '0');
    if (size > (UINT64_MAX - digit) / 10) {
      return false;
    }
    size = size * 10 + digit;
  }
  return true;
}

// One listing (Files or Checksums-*): a line per file.
Result<std::vector<Entry>> parse_listing(const Checker& check, const Field& field, DigestKind kind,
                                         bool with_section)
{
  const std::string_view name = util::digest_field(kind);
  const std::string_view layout =
    with_section ? "MD5 SIZE SECTION PRIORITY NAME"
                 : (kind == DigestKind::md5 ? "MD5 SIZE NAME" : "HASH SIZE NAME");
  std::vector<Entry> entries;
  std::map<std::string, int, std::less<>> seen;
  std::string_view rest = field.value;
  for (std::size_t part = 0;; ++part) {
    auto end = rest.find('\n');
    std::string_view text = rest.substr(0, end);
    int line = part < field.value_lines.size() ? field.value_lines[part]
                                               : field.line + static_cast<int>(part);
    if (!trim_space(text).empty()) {
      auto words = split(text, " \t");
      if (words.size() != (with_section ? 5u : 3u)) {
        return check.error(line, "{} line '{}' is not '{}'", name, util::printable(text), layout);
      }
      Entry entry;
      entry.line = line;
      entry.hex = std::string(words[0]);
      for (auto& c : entry.hex) {
        c = (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
      }
      if (entry.hex.size() != util::digest_hex_length(kind) ||
          entry.hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
        return check.error(line, "{}: '{}' is not an {} digest ({} hex digits)", name,
                           util::printable(words[0]), util::digest_name(kind),
                           util::digest_hex_length(kind));
      }
      if (!parse_size(words[1], entry.size)) {
        return check.error(line, "{}: size '{}' is not a decimal number of bytes", name,
                           util::printable(words[1]));
      }
      if (with_section) {
        for (auto word : {words[2], words[3]}) {
          if (!only_chars(word, "/+._-")) {
            return check.error(line,
                               "{}: section or priority '{}' has a character other than "
                               "letters, digits and '/+._-'",
                               name, util::printable(word));
          }
        }
        entry.section = std::string(words[2]);
        entry.priority = std::string(words[3]);
      }
      auto file = words.back();
      if (auto status = check_file_name(file); !status) {
        return check.error(line, "{}: {}", name, status.message());
      }
      entry.name = std::string(file);
      if (auto [it, fresh] = seen.emplace(entry.name, line); !fresh) {
        return check.error(line, "{} lists {} twice (also on line {})", name, entry.name,
                           it->second);
      }
      entries.push_back(std::move(entry));
    }
    if (end == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(end + 1);
  }
  return entries;
}

// Files and every Checksums-* field present, checked to name the same files
// with the same sizes.
Result<std::vector<ListedFile>> listed_files(const Checker& check, bool with_section)
{
  auto files_field = check.required("Files");
  if (!files_field) {
    return files_field.error();
  }
  auto files = parse_listing(check, **files_field, DigestKind::md5, with_section);
  if (!files) {
    return files.error();
  }
  if (files->empty()) {
    return check.error((*files_field)->line, "Files lists no files");
  }

  std::vector<ListedFile> result;
  std::map<std::string, std::size_t, std::less<>> index;
  for (const auto& entry : *files) {
    ListedFile file;
    file.name = entry.name;
    file.size = entry.size;
    file.digests.size = entry.size;
    file.digests.md5 = entry.hex;
    file.section = entry.section;
    file.priority = entry.priority;
    index.emplace(entry.name, result.size());
    result.push_back(std::move(file));
  }

  for (auto kind : util::all_digest_kinds) {
    if (kind == DigestKind::md5) {
      continue;
    }
    const std::string_view name = util::digest_field(kind);
    const Field* field = check.paragraph().find(name);
    if (!field) {
      continue;
    }
    auto entries = parse_listing(check, *field, kind, false);
    if (!entries) {
      return entries.error();
    }
    std::vector<bool> covered(result.size(), false);
    for (const auto& entry : *entries) {
      auto it = index.find(entry.name);
      if (it == index.end()) {
        return check.error(entry.line, "{} lists {}, which Files does not list", name, entry.name);
      }
      auto& file = result[it->second];
      if (entry.size != file.size) {
        return check.error(entry.line, "{} lists {} with size {} but Files says {}", name,
                           entry.name, entry.size, file.size);
      }
      file.digests[kind] = entry.hex;
      covered[it->second] = true;
    }
    for (std::size_t i = 0; i < result.size(); ++i) {
      if (!covered[i]) {
        return check.error(field->line, "{} does not list {}, which Files lists on line {}", name,
                           result[i].name, (*files)[i].line);
      }
    }
  }
  return result;
}

} // namespace

Result<Dsc> Dsc::parse(std::string_view text, std::string_view filename)
{
  auto control = parse_one_paragraph(text, filename, "a .dsc");
  if (!control) {
    return control.error();
  }
  const Checker check(filename, ".dsc", control->paragraphs.front());
  Dsc dsc;

  auto source_field = check.required("Source");
  if (!source_field) {
    return source_field.error();
  }
  auto source_text = check.one_line(**source_field);
  if (!source_text) {
    return source_text.error();
  }
  auto source = check.package(**source_field, *source_text);
  if (!source) {
    return source.error();
  }
  dsc.source = std::move(*source);

  if (auto taken = check.take("Version", dsc.version,
                              [&](const Field& field) { return check.version(field); });
      !taken) {
    return taken.error();
  }

  if (auto taken = check.take("Format", dsc.format,
                              [&](const Field& field) { return check.format(field, true); });
      !taken) {
    return taken.error();
  }

  if (auto taken = check.take("Maintainer", dsc.maintainer,
                              [&](const Field& field) { return check.person(field); });
      !taken) {
    return taken.error();
  }

  // Uploaders may be folded over lines; names may hold commas inside
  // quotes ("Doe, John" <john@example.org>).
  if (const Field* field = check.paragraph().find("Uploaders")) {
    std::string unfolded = field->value;
    std::replace(unfolded.begin(), unfolded.end(), '\n', ' ');
    TRY(check.no_control(*field, unfolded));
    bool quoted = false;
    std::string current;
    for (char c : unfolded + ",") {
      if (c == '"') {
        quoted = !quoted;
      }
      if (c == ',' && !quoted) {
        if (!trim_space(current).empty()) {
          dsc.uploaders.emplace_back(trim_space(current));
        }
        current.clear();
      } else {
        current.push_back(c);
      }
    }
    if (quoted) {
      return check.error(field->line, "Uploaders has an unbalanced '\"'");
    }
  }

  if (const Field* field = check.paragraph().find("Architecture")) {
    auto architectures = check.architectures(*field);
    if (!architectures) {
      return architectures.error();
    }
    dsc.architectures = std::move(*architectures);
  }

  if (const Field* field = check.paragraph().find("Binary")) {
    std::string_view rest = field->value;
    for (bool more = true; more;) {
      auto comma = rest.find(',');
      more = comma != std::string_view::npos;
      auto binary = check.package(*field, trim_space(rest.substr(0, comma)));
      rest.remove_prefix(more ? comma + 1 : rest.size());
      if (!binary) {
        return binary.error();
      }
      dsc.binaries.push_back(std::move(*binary));
    }
  }

  auto files = listed_files(check, false);
  if (!files) {
    return files.error();
  }
  dsc.files = std::move(*files);

  if (dsc.format.starts_with("3.") && !check.paragraph().find("Checksums-Sha256")) {
    return check.error(check.paragraph().line,
                       "the required field 'Checksums-Sha256' is missing (Format {} needs it)",
                       dsc.format);
  }

  dsc.control = std::move(*control);
  return dsc;
}

Result<Changes> Changes::parse(std::string_view text, std::string_view filename)
{
  auto control = parse_one_paragraph(text, filename, "a .changes");
  if (!control) {
    return control.error();
  }
  const Checker check(filename, ".changes", control->paragraphs.front());
  Changes changes;

  auto format_field = check.required("Format");
  if (!format_field) {
    return format_field.error();
  }
  TRY(check.format(**format_field, false));

  // "Source: foo" or, when the source version differs from the binaries',
  // "Source: foo (1.2-1)".
  auto source_field = check.required("Source");
  if (!source_field) {
    return source_field.error();
  }
  auto source_text = check.one_line(**source_field);
  if (!source_text) {
    return source_text.error();
  }
  auto words = split(*source_text, " \t");
  if (words.size() > 2 ||
      (words.size() == 2 &&
       (!words[1].starts_with('(') || !words[1].ends_with(')') || words[1].size() < 3 ||
        !Version::parse(words[1].substr(1, words[1].size() - 2))))) {
    return check.error((*source_field)->line, "Source '{}' is not 'NAME' or 'NAME (VERSION)'",
                       util::printable(*source_text));
  }
  auto source = check.package(**source_field, words.front());
  if (!source) {
    return source.error();
  }
  changes.source = std::move(*source);

  if (auto taken = check.take("Version", changes.version,
                              [&](const Field& field) { return check.version(field); });
      !taken) {
    return taken.error();
  }

  // Distribution names become folder names (dists/NAME): nothing but
  // letters, digits and ".+_-".
  auto distribution_field = check.required("Distribution");
  if (!distribution_field) {
    return distribution_field.error();
  }
  auto distribution = check.one_line(**distribution_field);
  if (!distribution) {
    return distribution.error();
  }
  for (auto word : split(*distribution, " \t")) {
    if (!only_chars(word, ".+_-") || !only_chars(word.substr(0, 1), "")) {
      return check.error((*distribution_field)->line,
                         "Distribution '{}' is not a distribution name (letters, digits and "
                         "'.+_-', starting with a letter or digit)",
                         util::printable(word));
    }
    if (!changes.distribution.empty()) {
      changes.distribution.push_back(' ');
    }
    changes.distribution.append(word);
  }

  if (auto taken = check.take("Maintainer", changes.maintainer,
                              [&](const Field& field) { return check.person(field); });
      !taken) {
    return taken.error();
  }

  if (const Field* field = check.paragraph().find("Changed-By")) {
    auto changed_by = check.person(*field);
    if (!changed_by) {
      return changed_by.error();
    }
    changes.changed_by = std::move(*changed_by);
  }

  if (auto taken = check.take("Architecture", changes.architectures,
                              [&](const Field& field) { return check.architectures(field); });
      !taken) {
    return taken.error();
  }

  // Space-separated here, unlike the .dsc's comma-separated Binary.
  if (const Field* field = check.paragraph().find("Binary")) {
    for (auto word : split(field->value, " \t\n")) {
      auto binary = check.package(*field, word);
      if (!binary) {
        return binary.error();
      }
      changes.binaries.push_back(std::move(*binary));
    }
  }

  auto files = listed_files(check, true);
  if (!files) {
    return files.error();
  }
  changes.files = std::move(*files);

  changes.control = std::move(*control);
  return changes;
}

} // namespace buildme::debian
