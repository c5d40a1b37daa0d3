#include "mail/message.hpp"

#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace buildme::mail {

namespace {

constexpr std::string_view replacement_character = "\xEF\xBF\xBD"; // U+FFFD
constexpr std::size_t fold_column = 78;
// 42 bytes are 56 base64 characters, and "=?UTF-8?B?" + 56 + "?=" is 68:
// under RFC 2047's 75, and "Subject: " plus one word stays within 78.
constexpr std::size_t encoded_word_bytes = 42;
// Longer ASCII words, names and addresses are sent as encoded-words, which
// fold, so that no line can grow past 998 bytes.
constexpr std::size_t longest_plain_word = 70;
constexpr std::size_t longest_plain_name = 60;
constexpr std::size_t longest_address_text = 1000;
constexpr std::size_t qp_line = 76;

// Length of the valid UTF-8 sequence at text[i], or 0 when it is not one
// (overlong forms, surrogates and code points past U+10FFFF are not).
std::size_t utf8_length(std::string_view text, std::size_t i, std::uint32_t& code_point)
{
  const auto byte = [&](std::size_t at) { return static_cast<unsigned char>(text[at]); };
  const unsigned char first = byte(i);
  std::size_t length = 0;
  if (first < 0x80) {
    code_point = first;
    return 1;
  } else if (first >= 0xC2 && first <= 0xDF) {
    length = 2;
    code_point = first & 0x1Fu;
  } else if (first >= 0xE0 && first <= 0xEF) {
    length = 3;
    code_point = first & 0x0Fu;
  } else if (first >= 0xF0 && first <= 0xF4) {
    length = 4;
    code_point = first & 0x07u;
  } else {
    return 0;
  }
  if (i + length > text.size()) {
    return 0;
  }
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0u) != 0x80u) {
      return 0;
    }
    code_point = (code_point << 6) | (byte(i + k) & 0x3Fu);
  }
  if ((length == 3 && code_point < 0x800) || (length == 4 && code_point < 0x10000) ||
      (code_point >= 0xD800 && code_point <= 0xDFFF) || code_point > 0x10FFFF) {
    return 0;
  }
  return length;
}

// Valid UTF-8 without control characters: C0 and C1 controls and DEL become
// spaces (in a multi-line text, line ends become \n and tabs stay), bytes
// that are not UTF-8 become U+FFFD. This is what keeps a CR, LF or NUL in
// a field from ever reaching the wire.
std::string clean(std::string_view text, bool multiline)
{
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    std::uint32_t code_point = 0;
    const std::size_t length = utf8_length(text, i, code_point);
    if (length == 0) {
      out += replacement_character;
      ++i;
      continue;
    }
    if (multiline && code_point == '\r') {
      out += '\n';
      i += (i + 1 < text.size() && text[i + 1] == '\n') ? 2 : 1;
      continue;
    }
    if (multiline && (code_point == '\n' || code_point == '\t')) {
      out += static_cast<char>(code_point);
    } else if (code_point < 0x20 || code_point == 0x7F ||
               (code_point >= 0x80 && code_point <= 0x9F)) {
      out += ' ';
    } else {
      out.append(text.substr(i, length));
    }
    i += length;
  }
  return out;
}

// One cleaned line, runs of spaces made one, no space at either end.
std::string one_line(std::string_view text)
{
  return util::join(util::split_words(clean(text, false), " "), " ");
}

bool is_atext(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

// Printable ASCII that no reader could take for an encoded-word.
bool is_plain_ascii(std::string_view text)
{
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7E; }) &&
         text.find("=?") == std::string_view::npos;
}

std::string base64(std::string_view data)
{
  static constexpr char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < data.size(); i += 3) {
    std::uint32_t group = static_cast<unsigned char>(data[i]) << 16;
    if (i + 1 < data.size()) {
      group |= static_cast<unsigned char>(data[i + 1]) << 8;
    }
    if (i + 2 < data.size()) {
      group |= static_cast<unsigned char>(data[i + 2]);
    }
    out += alphabet[(group >> 18) & 0x3F];
    out += alphabet[(group >> 12) & 0x3F];
    out += i + 1 < data.size() ? alphabet[(group >> 6) & 0x3F] : '=';
    out += i + 2 < data.size() ? alphabet[group & 0x3F] : '=';
  }
  return out;
}

// RFC 2047 B encoded-words for valid UTF-8 text, each holding whole
// characters (a character never straddles two words).
std::vector<std::string> encoded_words(std::string_view text)
{
  std::vector<std::string> words;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = std::min(start + encoded_word_bytes, text.size());
    while (end < text.size() && end > start &&
           (static_cast<unsigned char>(text[end]) & 0xC0u) == 0x80u) {
      --end;
    }
    words.push_back("=?UTF-8?B?" + base64(text.substr(start, end - start)) + "?=");
    start = end;
  }
  return words;
}

// The tokens of an unstructured field (Subject, extra headers), which
// folding may separate by a line break.
std::vector<std::string> text_tokens(std::string_view text)
{
  const std::string line = one_line(text);
  auto words = util::split_words(line, " ");
  const bool plain =
    is_plain_ascii(line) && std::all_of(words.begin(), words.end(), [](const std::string& word) {
      return word.size() <= longest_plain_word;
    });
  return plain ? words : encoded_words(line);
}

// A display name as RFC 5322 phrase tokens: atoms as they are, a quoted
// string when it has specials, encoded-words when it is not short ASCII.
std::vector<std::string> phrase_tokens(std::string_view name)
{
  const std::string line = one_line(name);
  if (line.empty()) {
    return {};
  }
  if (!is_plain_ascii(line) || line.size() > longest_plain_name) {
    return encoded_words(line);
  }
  if (std::all_of(line.begin(), line.end(), [](char c) { return c == ' ' || is_atext(c); })) {
    return util::split_words(line, " ");
  }
  std::string quoted = "\"";
  for (char c : line) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
    }
    quoted += c;
  }
  quoted += '"';
  return {quoted};
}

// The address as render() writes it: a valid one unchanged; in anything else
// every byte that cannot be in an addr-spec becomes '_', so even an Address
// that skipped parse_address cannot break the header.
std::string safe_email(std::string_view email)
{
  std::string out;
  for (char c : email) {
    out += (is_atext(c) || c == '.' || c == '@') ? c : '_';
  }
  return out.empty() ? "invalid@invalid" : out;
}

std::vector<std::string> address_list_tokens(const std::vector<Address>& addresses)
{
  std::vector<std::string> tokens;
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    auto phrase = phrase_tokens(addresses[i].name);
    tokens.insert(tokens.end(), phrase.begin(), phrase.end());
    const std::string email = safe_email(addresses[i].email);
    tokens.push_back(phrase.empty() ? email : "<" + email + ">");
    if (i + 1 < addresses.size()) {
      tokens.back() += ',';
    }
  }
  return tokens;
}

// "Field: token token\r\n token\r\n": a line break goes only between tokens,
// each continuation line starts with a space (RFC 5322 folding).
std::string fold(std::string_view field, const std::vector<std::string>& tokens)
{
  std::string out;
  std::string line = std::string(field) + ":";
  bool line_has_token = false;
  for (const auto& token : tokens) {
    if (line_has_token && line.size() + 1 + token.size() > fold_column) {
      out += line + "\r\n";
      line.clear();
    }
    line += " " + token;
    line_has_token = true;
  }
  return out + line + "\r\n";
}

// A header field name: printable ASCII without ':' or spaces (RFC 5322 ftext).
std::string field_name(std::string_view name)
{
  std::string out;
  for (char c : name) {
    if (c > 0x20 && c < 0x7F && c != ':') {
      out += c;
    }
  }
  return out;
}

std::vector<std::string> body_lines(std::string_view body)
{
  const std::string text = clean(body, true);
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// RFC 2045 quoted-printable of one line: soft breaks keep every encoded line
// at most 76 bytes; a space or tab at the end is encoded so that no
// transport's trimming can lose it.
std::string quoted_printable(std::string_view line)
{
  std::string out;
  std::size_t column = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const auto byte = static_cast<unsigned char>(line[i]);
    const bool last = i + 1 == line.size();
    std::string piece;
    if ((byte >= 33 && byte <= 126 && byte != '=') || ((byte == ' ' || byte == '\t') && !last)) {
      piece = static_cast<char>(byte);
    } else {
      piece = fmt::format("={:02X}", byte);
    }
    // Room for the '=' of a soft break, unless this piece ends the line.
    const std::size_t limit = last ? qp_line : qp_line - 1;
    if (column + piece.size() > limit) {
      out += "=\r\n";
      column = 0;
    }
    out += piece;
    column += piece.size();
  }
  return out;
}

} // namespace

bool valid_email(std::string_view email)
{
  const auto at = email.find('@');
  if (at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  const auto local = email.substr(0, at);
  const auto domain = email.substr(at + 1);
  if (local.empty() || local.size() > 64 || local.front() == '.' || local.back() == '.' ||
      local.find("..") != std::string_view::npos ||
      !std::all_of(local.begin(), local.end(), [](char c) { return c == '.' || is_atext(c); })) {
    return false;
  }
  if (domain.empty() || domain.size() > 253) {
    return false;
  }
  for (auto label : util::split(domain, ".")) {
    if (label.size() > 63 || label.front() == '-' || label.back() == '-' ||
        !std::all_of(label.begin(), label.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-';
        })) {
      return false;
    }
  }
  return domain.front() != '.' && domain.back() != '.' &&
         domain.find("..") == std::string_view::npos;
}

Result<Address> parse_address(std::string_view text)
{
  if (text.size() > longest_address_text) {
    return fail("a mail address of {} bytes is too long (at most {})", text.size(),
                longest_address_text);
  }
  const std::string cleaned = clean(text, false);
  const std::string_view line = util::trim(cleaned);
  const auto refuse = [&](std::string_view why) -> Error {
    return fail("'{}' is not a mail address: {}", util::printable(text), why);
  };
  if (line.empty()) {
    return refuse("it is empty");
  }

  Address address;
  std::string_view rest = line;
  if (line.front() == '"') {
    std::size_t i = 1;
    for (; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) {
        ++i;
      }
      address.name += line[i];
    }
    if (i == line.size()) {
      return refuse("the quoted name has no closing quote");
    }
    rest = util::trim(line.substr(i + 1));
    if (rest.empty() || rest.front() != '<') {
      return refuse("a quoted name must be followed by <local@domain>");
    }
  } else if (auto open = line.find('<'); open != std::string_view::npos) {
    address.name = std::string(util::trim(line.substr(0, open)));
    rest = line.substr(open);
    if (address.name.find('>') != std::string::npos) {
      return refuse("a '>' before the address");
    }
  } else if (line.find('>') != std::string_view::npos) {
    return refuse("a '>' without a '<'");
  } else {
    if (line.find(' ') != std::string_view::npos) {
      return refuse("an address without <> must be a plain local@domain");
    }
    if (!valid_email(line)) {
      return refuse("it is not a plain local@domain");
    }
    address.email = std::string(line);
    return address;
  }

  // rest is "<...>", and nothing may follow the '>'.
  const auto close = rest.find('>');
  if (close == std::string_view::npos) {
    return refuse("the '<' has no closing '>'");
  }
  if (close + 1 != rest.size()) {
    return refuse("text after the closing '>'");
  }
  const auto email = rest.substr(1, close - 1);
  if (email.find('<') != std::string_view::npos) {
    return refuse("a '<' inside <>");
  }
  if (!valid_email(email)) {
    return refuse("the part in <> is not a plain local@domain");
  }
  address.email = std::string(email);
  address.name = one_line(address.name);
  return address;
}

std::string render(const Message& message, util::Clock::time_point date,
                   const std::string& message_id)
{
  std::string out;
  out += "Date: " + util::format_rfc2822(date) + "\r\n";
  out += fold("From", address_list_tokens({message.from}));
  out += fold("To", address_list_tokens(message.to));
  out += fold("Subject", text_tokens(message.subject));
  out += fold("Message-ID", util::split_words(one_line(message_id), " "));
  out += "Auto-Submitted: auto-generated\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: text/plain; charset=UTF-8\r\n";

  const auto lines = body_lines(message.body);
  const bool seven_bit = std::all_of(lines.begin(), lines.end(), [](const std::string& line) {
    return line.size() <= qp_line &&
           std::all_of(line.begin(), line.end(), [](char c) { return (c & 0x80) == 0; });
  });
  out += seven_bit ? "Content-Transfer-Encoding: 7bit\r\n"
                   : "Content-Transfer-Encoding: quoted-printable\r\n";
  for (const auto& [name, value] : message.headers) {
    const std::string field = field_name(name);
    if (!field.empty()) {
      out += fold(field, text_tokens(value));
    }
  }
  out += "\r\n";
  for (const auto& line : lines) {
    out += seven_bit ? line : quoted_printable(line);
    out += "\r\n";
  }
  return out;
}

std::string new_message_id(std::string_view from_domain)
{
  unsigned char random[8];
  if (RAND_bytes(random, sizeof random) != 1) {
    std::random_device device;
    for (auto& byte : random) {
      byte = static_cast<unsigned char>(device());
    }
  }
  std::string hex;
  for (auto byte : random) {
    hex += fmt::format("{:02x}", byte);
  }
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  const std::string domain =
    valid_email("x@" + std::string(from_domain)) ? std::string(from_domain) : "buildme.invalid";
  return fmt::format("<{}.{}@{}>", seconds, hex, domain);
}

} // namespace buildme::mail
