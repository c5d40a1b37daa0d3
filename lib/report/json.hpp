// The JSON beside every page of the status site (its schema is
// docs/report-schema.json): a small value tree, written with keys in the
// order they were added. Strings go through clean_text, so the output is
// always valid UTF-8.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace buildme::report::json {

class Value;
using Array = std::vector<Value>;
using Object = std::vector<std::pair<std::string, Value>>;

class Value
{
public:
  Value() : m_data(nullptr) {}
  Value(std::nullptr_t) : m_data(nullptr) {}
  Value(bool value) : m_data(value) {}
  Value(int value) : m_data(static_cast<std::int64_t>(value)) {}
  Value(long value) : m_data(static_cast<std::int64_t>(value)) {}
  Value(long long value) : m_data(static_cast<std::int64_t>(value)) {}
  Value(std::string value) : m_data(std::move(value)) {}
  Value(std::string_view value) : m_data(std::string(value)) {}
  Value(const char* value) : m_data(std::string(value)) {}
  Value(Array value) : m_data(std::make_shared<Array>(std::move(value))) {}
  Value(Object value) : m_data(std::make_shared<Object>(std::move(value))) {}

  // Appends to an array or an object (a null becomes one).
  Value& push(Value item);
  Value& set(std::string key, Value item);

  // Pretty-printed with two-space indentation, ending in a newline.
  std::string dump() const;

private:
  void write(std::string& out, int indent) const;
  std::variant<std::nullptr_t, bool, std::int64_t, std::string, std::shared_ptr<Array>,
               std::shared_ptr<Object>>
    m_data;
};

// `text` as a JSON string literal, quotes included.
std::string quote(std::string_view text);

} // namespace buildme::report::json
