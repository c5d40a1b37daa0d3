// What the libFuzzer harnesses in this folder share. Each harness is one
// parser of outside data fed arbitrary bytes (scripts/fuzz builds them with
// clang's address and undefined-behaviour sanitizers and runs them). Besides
// crashes, leaks and undefined behaviour, a harness checks properties that
// every input must keep, such as "what is written reads back the same"; a
// broken property aborts with its reason, which libFuzzer reports as a crash
// and saves the input for.
#pragma once

#include "debian/deb822.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include <unistd.h>

namespace buildme::fuzz {

inline std::string_view text_of(const std::uint8_t* data, std::size_t size)
{
  return {reinterpret_cast<const char*>(data), size};
}

// Aborts with `what` unless `holds`.
inline void require(bool holds, const char* what)
{
  if (!holds) {
    std::fprintf(stderr, "buildme fuzz: property broken: %s\n", what);
    std::abort();
  }
}

// A new folder in the temporary folder for a harness's files, removed when
// the process exits; aborts when none can be made.
inline std::filesystem::path scratch_folder()
{
  static std::filesystem::path made;
  std::string pattern = (std::filesystem::temp_directory_path() / "buildme-fuzz-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) {
    std::perror("mkdtemp");
    std::abort();
  }
  made = pattern;
  std::atexit([] {
    std::error_code ignored;
    std::filesystem::remove_all(made, ignored);
  });
  return made;
}

// Two parses gave the same fields with the same values.
inline bool same_fields(const debian::Paragraph& a, const debian::Paragraph& b)
{
  if (a.fields.size() != b.fields.size()) {
    return false;
  }
  for (const auto& field : a.fields) {
    if (b.get(field.name) != field.value) {
      return false;
    }
  }
  return true;
}

} // namespace buildme::fuzz
