#include "debian/deb822.hpp"

#include "util/fs.hpp"
#include "util/text.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace buildme::debian {

namespace {

constexpr std::string_view begin_signed = "-----BEGIN PGP SIGNED MESSAGE-----";
constexpr std::string_view begin_signature = "-----BEGIN PGP SIGNATURE-----";
constexpr std::string_view end_signature = "-----END PGP SIGNATURE-----";

struct Line
{
  std::string_view text; // without the line end
  int number = 0;
};

std::string_view trim(std::string_view text)
{
  return util::trim(text, control_blanks);
}

char lower(char c)
{
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b)
{
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

// An armor line is its marker, optionally followed by whitespace (as dpkg
// and gpg accept).
bool is_armor(std::string_view text, std::string_view marker)
{
  return text.substr(0, marker.size()) == marker && is_blank_line(text.substr(marker.size()));
}

// Untrusted text quoted in a message: escaped, and cut short so that a
// megabyte line does not become a megabyte message.
std::string quote(std::string_view text)
{
  constexpr std::size_t shown = 80;
  if (text.size() <= shown) {
    return "'" + util::printable(text) + "'";
  }
  return "'" + util::printable(text.substr(0, shown)) + "...'";
}

class Parser
{
public:
  Parser(std::string_view filename, const ParseLimits& limits)
    : m_file(util::printable(filename)), m_limits(limits)
  {
  }

  Result<ControlFile> parse(std::string_view text)
  {
    ControlFile control;
    std::vector<Line> body;
    TRY(split_lines(text));
    TRY(strip_armor(control, body));
    TRY(parse_paragraphs(body, control));
    return control;
  }

private:
  template<typename... Args>
  Error error(int line, fmt::format_string<Args...> format, Args&&... args) const
  {
    return fail("{}:{}: {}", m_file, line, fmt::format(format, std::forward<Args>(args)...));
  }

  Status split_lines(std::string_view text)
  {
    if (text.size() > m_limits.max_bytes) {
      return error(1, "the file is {} bytes, more than the {} a control file may have", text.size(),
                   m_limits.max_bytes);
    }
    if (auto nul = text.find('\0'); nul != std::string_view::npos) {
      auto line = 1 + std::count(text.begin(), text.begin() + nul, '\n');
      return error(static_cast<int>(line), "NUL byte: this is binary data, not a control file");
    }
    int number = 1;
    for (auto line : control_lines(text)) {
      if (line.size() > m_limits.max_line) {
        return error(number, "the line is {} bytes long, more than the {} allowed", line.size(),
                     m_limits.max_line);
      }
      m_lines.push_back({line, number});
      ++number;
    }
    return {};
  }

  int last_line() const { return m_lines.empty() ? 1 : m_lines.back().number; }

  // Fills `body` with the lines to parse as paragraphs: all of them for an
  // unsigned file, the dash-unescaped signed text for a signed one.
  Status strip_armor(ControlFile& control, std::vector<Line>& body)
  {
    std::size_t i = 0;
    while (i < m_lines.size() && is_blank_line(m_lines[i].text)) {
      ++i;
    }
    if (i == m_lines.size() || !is_armor(m_lines[i].text, begin_signed)) {
      for (const auto& line : m_lines) {
        TRY(refuse_stray_armor(line));
      }
      body = m_lines;
      return {};
    }

    control.is_signed = true;
    const int message_line = m_lines[i].number;
    // Armor headers up to an empty line. gpg allows only "Hash:" headers in
    // a clear-signed message, so anything else means a broken armor.
    for (++i;; ++i) {
      if (i == m_lines.size()) {
        return error(last_line(),
                     "the signed message that starts on line {} ends before its text "
                     "(file truncated?)",
                     message_line);
      }
      auto text = m_lines[i].text;
      if (is_blank_line(text)) {
        ++i;
        break;
      }
      if (!text.starts_with("Hash: ")) {
        return error(m_lines[i].number,
                     "{} is not an OpenPGP armor header ('Hash: ...'); the empty line "
                     "after the armor headers is missing",
                     quote(text));
      }
    }

    // The signed text, up to the signature; a '-' that starts a line of it
    // must be escaped as "- ", so only an unescaped line can end it.
    for (;; ++i) {
      if (i == m_lines.size()) {
        return error(last_line(),
                     "the signed message that starts on line {} has no OpenPGP signature "
                     "(file truncated?)",
                     message_line);
      }
      auto text = m_lines[i].text;
      if (is_armor(text, begin_signature)) {
        break;
      }
      if (text.starts_with("- ")) {
        text.remove_prefix(2);
      } else if (text.starts_with('-')) {
        return error(m_lines[i].number,
                     "{} in the signed text starts with '-' but is not dash-escaped; the "
                     "OpenPGP armor is broken or nested",
                     quote(text));
      }
      body.push_back({text, m_lines[i].number});
      control.signed_text.append(text).push_back('\n');
    }

    const int signature_line = m_lines[i].number;
    control.signature.append(m_lines[i].text).push_back('\n');
    bool has_content = false;
    for (++i;; ++i) {
      if (i == m_lines.size()) {
        return error(signature_line,
                     "the OpenPGP signature that starts here has no '{}' line (file truncated?)",
                     end_signature);
      }
      auto text = m_lines[i].text;
      control.signature.append(text).push_back('\n');
      if (is_armor(text, end_signature)) {
        break;
      }
      if (text.starts_with("-----")) {
        return error(m_lines[i].number, "unexpected armor line {} inside the OpenPGP signature",
                     quote(text));
      }
      has_content = has_content || !is_blank_line(text);
    }
    if (!has_content) {
      return error(signature_line, "the OpenPGP signature is empty");
    }

    for (++i; i < m_lines.size(); ++i) {
      if (!is_blank_line(m_lines[i].text)) {
        return error(m_lines[i].number,
                     "text after the OpenPGP signature; it would not be covered by the "
                     "signature, so the file is refused");
      }
    }
    return {};
  }

  Status refuse_stray_armor(const Line& line) const
  {
    if (is_armor(line.text, begin_signed)) {
      return error(line.number,
                   "an OpenPGP signed message starts here, after text that it does not sign; "
                   "the armor must start the file");
    }
    if (is_armor(line.text, begin_signature)) {
      return error(line.number,
                   "an OpenPGP signature without a signed message (no '{}' at the start of "
                   "the file)",
                   begin_signed);
    }
    if (line.text.starts_with("-----BEGIN PGP") || line.text.starts_with("-----END PGP")) {
      return error(line.number, "unbalanced OpenPGP armor line {}", quote(line.text));
    }
    return {};
  }

  Status parse_paragraphs(const std::vector<Line>& body, ControlFile& control) const
  {
    bool in_paragraph = false;
    bool in_field = false;
    std::size_t field_count = 0;
    for (const auto& line : body) {
      auto text = line.text;
      if (is_blank_line(text)) {
        in_paragraph = false;
        in_field = false;
        continue;
      }
      if (text.front() == '#') {
        continue;
      }
      if (text.front() == ' ' || text.front() == '\t') {
        if (!in_field) {
          return error(line.number,
                       "continuation line (starting with a space or tab) before any field");
        }
        auto& field = control.paragraphs.back().fields.back();
        field.value.push_back('\n');
        field.value.append(trim(text));
        field.value_lines.push_back(line.number);
        continue;
      }

      auto colon = text.find(':');
      if (colon == std::string_view::npos) {
        return error(line.number, "{} is not a field ('Name: value'): there is no ':'",
                     quote(text));
      }
      auto name = text.substr(0, colon);
      TRY(check_field_name(name, line.number));
      if (!in_paragraph) {
        control.paragraphs.push_back({});
        control.paragraphs.back().line = line.number;
        in_paragraph = true;
      }
      auto& paragraph = control.paragraphs.back();
      for (const auto& other : paragraph.fields) {
        if (iequals(other.name, name)) {
          return error(line.number, "duplicate value for '{}' field (first given on line {})", name,
                       other.line);
        }
      }
      if (++field_count > m_limits.max_fields) {
        return error(line.number, "more than {} fields", m_limits.max_fields);
      }
      paragraph.fields.push_back(
        {std::string(name), std::string(trim(text.substr(colon + 1))), line.number, {line.number}});
      in_field = true;
    }
    return {};
  }

  Status check_field_name(std::string_view name, int line) const
  {
    if (name.empty()) {
      return error(line, "empty field name before ':'");
    }
    if (name.front() == '-') {
      return error(line, "field name {} starts with '-'", quote(name));
    }
    for (char c : name) {
      if (c < 0x21 || c > 0x7e) {
        return error(line,
                     "field name {} has a character that is not printable ASCII (no space may "
                     "come before the ':')",
                     quote(name));
      }
    }
    return {};
  }

  std::string m_file;
  const ParseLimits& m_limits;
  std::vector<Line> m_lines;
};

// Closes a descriptor on every way out of read_control_file.
struct FdCloser
{
  int fd;
  ~FdCloser() { ::close(fd); }
};

Result<ControlFile> check_one_paragraph(ControlFile control, std::string_view filename,
                                        std::string_view kind)
{
  if (control.paragraphs.empty()) {
    return fail("{}:1: no fields; {} is one paragraph of 'Name: value' fields",
                util::printable(filename), kind);
  }
  if (control.paragraphs.size() > 1) {
    return fail("{}:{}: a second paragraph starts here; {} has only one", util::printable(filename),
                control.paragraphs[1].line, kind);
  }
  return control;
}

} // namespace

bool is_blank_line(std::string_view text)
{
  return text.find_first_not_of(control_blanks) == std::string_view::npos;
}

std::vector<std::string_view> control_lines(std::string_view text)
{
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    auto line = text.substr(start, end - start);
    while (line.ends_with('\r')) {
      line.remove_suffix(1);
    }
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

const Field* Paragraph::find(std::string_view name) const
{
  for (const auto& field : fields) {
    if (iequals(field.name, name)) {
      return &field;
    }
  }
  return nullptr;
}

std::optional<std::string> Paragraph::get(std::string_view name) const
{
  if (const auto* field = find(name)) {
    return field->value;
  }
  return std::nullopt;
}

Result<ControlFile> parse_control(std::string_view text, std::string_view filename,
                                  const ParseLimits& limits)
{
  return Parser(filename, limits).parse(text);
}

Result<ControlFile> read_control_file(const std::string& path, const ParseLimits& limits)
{
  const std::string shown = util::printable(path);
  // O_NONBLOCK: opening a FIFO planted in an incoming folder must not hang.
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ELOOP) {
      return fail("{}: is a symbolic link; control files are read only from regular files", shown);
    }
    return fail("{}: cannot open: {}", shown, std::strerror(errno));
  }
  FdCloser closer{fd};
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    return fail("{}: cannot stat: {}", shown, std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    return fail("{}: not a regular file; control files are read only from regular files", shown);
  }
  if (static_cast<std::uint64_t>(info.st_size) > limits.max_bytes) {
    return fail("{}: the file is {} bytes, more than the {} a control file may have", shown,
                info.st_size, limits.max_bytes);
  }

  // Read one byte past the limit, so that a file that grew after fstat is
  // still caught.
  std::string data;
  char buffer[65536];
  while (data.size() <= limits.max_bytes) {
    auto got = ::read(fd, buffer, sizeof buffer);
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail("{}: cannot read: {}", shown, std::strerror(errno));
    }
    if (got == 0) {
      break;
    }
    data.append(buffer, static_cast<std::size_t>(got));
  }
  if (data.size() > limits.max_bytes) {
    return fail("{}: the file is more than the {} bytes a control file may have", shown,
                limits.max_bytes);
  }
  return parse_control(data, path, limits);
}

Result<ControlFile> parse_one_paragraph(std::string_view text, std::string_view filename,
                                        std::string_view kind)
{
  auto control = parse_control(text, filename);
  if (!control) {
    return control.error();
  }
  return check_one_paragraph(std::move(*control), filename, kind);
}

Result<long long> count_field(const Paragraph& record, std::string_view field,
                              std::string_view filename)
{
  const std::string text = record.get(field).value_or("");
  if (text.empty()) {
    return 0LL;
  }
  auto value = util::parse_count(text);
  if (!value) {
    return fail("{}: {} is '{}', not a number", filename, field, util::printable(text));
  }
  return *value;
}

} // namespace buildme::debian
