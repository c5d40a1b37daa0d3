// Writing deb822 paragraphs: the inverse of parse_control for the records
// buildme keeps (jobs, journals) and, later, for indices. A value's later
// lines become continuation lines; an empty line inside a value, or one of
// blanks only (control_blanks), becomes " .", so that no value can end its
// paragraph early.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace buildme::debian {

using FieldList = std::vector<std::pair<std::string, std::string>>;

// "Name: value\n" for each field (a value starting with '\n' writes its first
// line empty, as Files does). Fields with an empty value are skipped.
std::string write_paragraph(const FieldList& fields);

// A list of names as a multi-line value: "\nA\nB" (one name a line, the
// first line empty, as Files is written).
std::string list_value(const std::vector<std::string>& items);

// The inverse of the " ." rule for values read back by parse_control.
std::string unescape_value(std::string_view value);

} // namespace buildme::debian
