// A strict JSON syntax check (RFC 8259) for tests: whether `text` is one
// JSON value and nothing else. Enough to pin down that what the status site
// writes parses; the integration suite checks it against the schema too.
#pragma once

#include <cctype>
#include <string_view>

namespace buildme::test {

class JsonCheck
{
public:
  explicit JsonCheck(std::string_view text) : m_text(text) {}

  bool valid()
  {
    skip();
    if (!value()) {
      return false;
    }
    skip();
    return m_at == m_text.size();
  }

private:
  bool value()
  {
    if (m_at >= m_text.size()) {
      return false;
    }
    switch (m_text[m_at]) {
    case '{':
      return sequence('}', true);
    case '[':
      return sequence(']', false);
    case '"':
      return string();
    case 't':
      return word("true");
    case 'f':
      return word("false");
    case 'n':
      return word("null");
    default:
      return number();
    }
  }

  bool sequence(char close, bool object)
  {
    ++m_at;
    skip();
    if (peek() == close) {
      ++m_at;
      return true;
    }
    while (true) {
      skip();
      if (object) {
        if (peek() != '"' || !string()) {
          return false;
        }
        skip();
        if (peek() != ':') {
          return false;
        }
        ++m_at;
        skip();
      }
      if (!value()) {
        return false;
      }
      skip();
      if (peek() == ',') {
        ++m_at;
        continue;
      }
      if (peek() == close) {
        ++m_at;
        return true;
      }
      return false;
    }
  }

  bool string()
  {
    ++m_at;
    while (m_at < m_text.size()) {
      const auto c = static_cast<unsigned char>(m_text[m_at++]);
      if (c == '"') {
        return true;
      }
      if (c < 0x20) {
        return false;
      }
      if (c == '\\') {
        if (m_at >= m_text.size()) {
          return false;
        }
        const char escaped = m_text[m_at++];
        if (escaped == 'u') {
          for (int i = 0; i < 4; ++i) {
            if (m_at >= m_text.size() ||
                !std::isxdigit(static_cast<unsigned char>(m_text[m_at++]))) {
              return false;
            }
          }
        } else if (std::string_view("\"\\/bfnrt").find(escaped) == std::string_view::npos) {
          return false;
        }
      }
    }
    return false;
  }

  bool number()
  {
    const std::size_t start = m_at;
    if (peek() == '-') {
      ++m_at;
    }
    if (!std::isdigit(static_cast<unsigned char>(peek()))) {
      return false;
    }
    if (peek() == '0') {
      ++m_at;
    } else {
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        ++m_at;
      }
    }
    return m_at > start;
  }

  bool word(std::string_view expected)
  {
    if (m_text.substr(m_at, expected.size()) != expected) {
      return false;
    }
    m_at += expected.size();
    return true;
  }

  char peek() const { return m_at < m_text.size() ? m_text[m_at] : '\0'; }
  void skip()
  {
    while (m_at < m_text.size() &&
           std::string_view(" \t\n\r").find(m_text[m_at]) != std::string_view::npos) {
      ++m_at;
    }
  }

  std::string_view m_text;
  std::size_t m_at = 0;
};

inline bool valid_json(std::string_view text)
{
  return JsonCheck(text).valid();
}

} // namespace buildme::test
