#include "report/json.hpp"

#include "report/html.hpp"

#include <fmt/format.h>

namespace buildme::report::json {

Value& Value::push(Value item)
{
  if (std::holds_alternative<std::nullptr_t>(m_data)) {
    m_data = std::make_shared<Array>();
  }
  std::get<std::shared_ptr<Array>>(m_data)->push_back(std::move(item));
  return *this;
}

Value& Value::set(std::string key, Value item)
{
  if (std::holds_alternative<std::nullptr_t>(m_data)) {
    m_data = std::make_shared<Object>();
  }
  std::get<std::shared_ptr<Object>>(m_data)->emplace_back(std::move(key), std::move(item));
  return *this;
}

std::string quote(std::string_view text)
{
  std::string out = "\"";
  for (char c : clean_text(text)) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\t':
      out += "\\t";
      break;
    case '<':
      // So that no JSON text can close a <script> element it is put in.
      out += "\\u003c";
      break;
    default:
      out += c;
    }
  }
  return out + "\"";
}

void Value::write(std::string& out, int indent) const
{
  const std::string pad(static_cast<std::size_t>(indent + 2), ' ');
  const std::string close(static_cast<std::size_t>(indent), ' ');
  if (std::holds_alternative<std::nullptr_t>(m_data)) {
    out += "null";
  } else if (const bool* flag = std::get_if<bool>(&m_data)) {
    out += *flag ? "true" : "false";
  } else if (const std::int64_t* number = std::get_if<std::int64_t>(&m_data)) {
    out += std::to_string(*number);
  } else if (const std::string* text = std::get_if<std::string>(&m_data)) {
    out += quote(*text);
  } else if (const auto* array = std::get_if<std::shared_ptr<Array>>(&m_data)) {
    if ((*array)->empty()) {
      out += "[]";
      return;
    }
    out += "[\n";
    for (std::size_t i = 0; i < (*array)->size(); ++i) {
      out += pad;
      (**array)[i].write(out, indent + 2);
      out += i + 1 < (*array)->size() ? ",\n" : "\n";
    }
    out += close + "]";
  } else {
    const auto& object = *std::get<std::shared_ptr<Object>>(m_data);
    if (object.empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    for (std::size_t i = 0; i < object.size(); ++i) {
      out += pad + quote(object[i].first) + ": ";
      object[i].second.write(out, indent + 2);
      out += i + 1 < object.size() ? ",\n" : "\n";
    }
    out += close + "}";
  }
}

std::string Value::dump() const
{
  std::string out;
  write(out, 0);
  return out + "\n";
}

} // namespace buildme::report::json
