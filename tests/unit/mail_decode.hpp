// Reading mail back the way a mail reader does, written apart from
// lib/mail so that the tests check render() against an independent decoder:
// unfold header lines, decode RFC 2047 B and Q encoded-words, decode a
// quoted-printable body.
#pragma once

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace buildme::test {

inline std::string decode_base64(std::string_view text)
{
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    int value = -1;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      value = c - '0' + 52;
    } else if (c == '+') {
      value = 62;
    } else if (c == '/') {
      value = 63;
    } else {
      continue; // '=' padding
    }
    bits = (bits << 6) | static_cast<std::uint32_t>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xFF);
    }
  }
  return out;
}

inline int hex_value(char c)
{
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

// The text of a header value with its encoded-words decoded; white space
// between two adjacent encoded-words is dropped (RFC 2047, 6.2).
inline std::string decode_words(std::string_view value)
{
  std::string out;
  std::string pending_space;
  bool last_was_word = false;
  std::size_t i = 0;
  while (i < value.size()) {
    if (value[i] == ' ' || value[i] == '\t') {
      pending_space += value[i++];
      continue;
    }
    std::size_t end = value.find_first_of(" \t", i);
    if (end == std::string_view::npos) {
      end = value.size();
    }
    std::string_view token = value.substr(i, end - i);
    i = end;
    bool is_word = false;
    std::string decoded;
    if (token.starts_with("=?") && token.ends_with("?=") && token.size() > 4) {
      std::string_view inner = token.substr(2, token.size() - 4);
      auto q1 = inner.find('?');
      auto q2 = q1 == std::string_view::npos ? q1 : inner.find('?', q1 + 1);
      if (q2 != std::string_view::npos) {
        char encoding = static_cast<char>(std::toupper(static_cast<unsigned char>(inner[q1 + 1])));
        std::string_view data = inner.substr(q2 + 1);
        if (encoding == 'B') {
          decoded = decode_base64(data);
          is_word = true;
        } else if (encoding == 'Q') {
          for (std::size_t k = 0; k < data.size(); ++k) {
            if (data[k] == '_') {
              decoded += ' ';
            } else if (data[k] == '=' && k + 2 < data.size() && hex_value(data[k + 1]) >= 0 &&
                       hex_value(data[k + 2]) >= 0) {
              decoded += static_cast<char>(hex_value(data[k + 1]) * 16 + hex_value(data[k + 2]));
              k += 2;
            } else {
              decoded += data[k];
            }
          }
          is_word = true;
        }
      }
    }
    if (!(is_word && last_was_word)) {
      out += pending_space;
    }
    pending_space.clear();
    out += is_word ? decoded : std::string(token);
    last_was_word = is_word;
  }
  return out;
}

inline std::string decode_quoted_printable(std::string_view text)
{
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '=' && text.substr(i + 1, 2) == "\r\n") {
      i += 2; // soft line break
    } else if (text[i] == '=' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
               hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

struct ParsedMail
{
  // Unfolded header lines as (name, raw value), in order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string raw_body;
  std::string body; // transfer-decoded, lines ending in \n

  int count(std::string_view name) const
  {
    int n = 0;
    for (const auto& header : headers) {
      n += equal_names(header.first, name) ? 1 : 0;
    }
    return n;
  }
  std::string raw(std::string_view name) const
  {
    for (const auto& header : headers) {
      if (equal_names(header.first, name)) {
        return header.second;
      }
    }
    return {};
  }
  // The value as a mail reader shows it.
  std::string decoded(std::string_view name) const { return decode_words(raw(name)); }

  static bool equal_names(std::string_view a, std::string_view b)
  {
    if (a.size() != b.size()) {
      return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(a[i])) !=
          std::tolower(static_cast<unsigned char>(b[i]))) {
        return false;
      }
    }
    return true;
  }
};

// The lines of `text` split at CRLF; a bare CR or LF is kept inside a line
// (so that a test can find it).
inline std::vector<std::string> crlf_lines(std::string_view text)
{
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find("\r\n", start);
    if (end == std::string_view::npos) {
      lines.emplace_back(text.substr(start));
      break;
    }
    lines.emplace_back(text.substr(start, end - start));
    start = end + 2;
  }
  return lines;
}

inline ParsedMail parse_mail(std::string_view text)
{
  ParsedMail mail;
  auto split = text.find("\r\n\r\n");
  std::string_view head = text.substr(0, split == std::string_view::npos ? text.size() : split + 2);
  mail.raw_body = split == std::string_view::npos ? "" : std::string(text.substr(split + 4));
  for (const auto& line : crlf_lines(head)) {
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t') && !mail.headers.empty()) {
      mail.headers.back().second += line; // unfolding removes only the CRLF
      continue;
    }
    auto colon = line.find(':');
    std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
    auto first = value.find_first_not_of(" \t");
    value = first == std::string::npos ? "" : value.substr(first);
    mail.headers.emplace_back(line.substr(0, colon), value);
  }
  std::string body = mail.raw(std::string_view("Content-Transfer-Encoding")) == "quoted-printable"
                       ? decode_quoted_printable(mail.raw_body)
                       : mail.raw_body;
  for (std::size_t at = body.find("\r\n"); at != std::string::npos; at = body.find("\r\n", at)) {
    body.replace(at, 2, "\n");
    ++at;
  }
  mail.body = body;
  return mail;
}

} // namespace buildme::test
