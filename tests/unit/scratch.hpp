// A fresh, empty folder for one test case, removed afterwards: tests assert
// outcomes on disk, and no case sees another's files.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace buildme::test {

// The permission bits of `path` itself (lstat); 0 when it cannot be read,
// which no test expects.
inline unsigned mode_of(const std::filesystem::path& path)
{
  std::error_code error;
  const auto status = std::filesystem::symlink_status(path, error);
  return error ? 0u : static_cast<unsigned>(status.permissions()) & 07777u;
}

class ScratchDir
{
public:
  ScratchDir()
  {
    std::string pattern = (std::filesystem::temp_directory_path() / "buildme-test-XXXXXX").string();
    if (!mkdtemp(pattern.data())) {
      throw std::runtime_error("mkdtemp failed");
    }
    m_path = pattern;
  }
  ~ScratchDir()
  {
    std::error_code ignored;
    std::filesystem::remove_all(m_path, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return m_path; }
  std::filesystem::path operator/(std::string_view name) const { return m_path / name; }

  // Writes a file below the folder (creating parent folders).
  std::filesystem::path write(std::string_view name, std::string_view content) const
  {
    auto file = m_path / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary);
    out << content;
    return file;
  }

  static std::string read(const std::filesystem::path& file)
  {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

private:
  std::filesystem::path m_path;
};

// Whether `text` holds `part`: what most messages are checked for.
inline bool has(std::string_view text, std::string_view part)
{
  return text.find(part) != std::string_view::npos;
}

// The names in a folder, sorted; empty when it does not exist.
inline std::vector<std::string> names_in(const std::filesystem::path& dir)
{
  std::vector<std::string> names;
  if (!std::filesystem::exists(dir)) {
    return names;
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

} // namespace buildme::test
