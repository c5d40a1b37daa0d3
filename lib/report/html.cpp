#include "report/html.hpp"

#include <fmt/format.h>

#include <cstdint>

namespace buildme::report {

namespace {

constexpr std::string_view replacement = "\xEF\xBF\xBD"; // U+FFFD

// The length of the valid UTF-8 sequence at `text[at]` and its code point;
// 0 when the bytes there are not one.
std::size_t sequence(std::string_view text, std::size_t at, std::uint32_t& code)
{
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  std::size_t length = 0;
  std::uint32_t min = 0;
  if (lead < 0x80) {
    code = lead;
    return 1;
  }
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code = lead & 0x1F;
    min = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code = lead & 0x0F;
    min = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code = lead & 0x07;
    min = 0x10000;
  } else {
    return 0;
  }
  if (at + length > text.size()) {
    return 0;
  }
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(at + i) & 0xC0) != 0x80) {
      return 0;
    }
    code = (code << 6) | (byte(at + i) & 0x3F);
  }
  if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
    return 0;
  }
  return length;
}

bool allowed(std::uint32_t code)
{
  if (code == '\t' || code == '\n') {
    return true;
  }
  if (code < 0x20 || (code >= 0x7F && code <= 0x9F)) {
    return false;
  }
  // Noncharacters, which HTML parsers report as errors.
  return !((code >= 0xFDD0 && code <= 0xFDEF) || (code & 0xFFFE) == 0xFFFE);
}

} // namespace

std::string clean_text(std::string_view text)
{
  std::string out;
  out.reserve(text.size());
  for (std::size_t at = 0; at < text.size();) {
    std::uint32_t code = 0;
    const std::size_t length = sequence(text, at, code);
    if (length == 0) {
      out += replacement;
      ++at;
      continue;
    }
    if (code == '\r' && at + 1 < text.size() && text[at + 1] == '\n') {
      ++at; // CRLF: the line feed follows
      continue;
    }
    if (allowed(code)) {
      out.append(text.substr(at, length));
    } else {
      out += replacement;
    }
    at += length;
  }
  return out;
}

std::string escape(std::string_view text)
{
  const std::string clean = clean_text(text);
  std::string out;
  out.reserve(clean.size() + clean.size() / 8);
  for (char c : clean) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

std::string segment(std::string_view name)
{
  std::string out;
  for (char c : name) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
        c == '-' || c == '_' || (c == '.' && name != "." && name != "..")) {
      out += c;
    } else {
      out += fmt::format("~{:02X}", static_cast<unsigned char>(c));
    }
  }
  return out.empty() ? "~00" : out;
}

} // namespace buildme::report
