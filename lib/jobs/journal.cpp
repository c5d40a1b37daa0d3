#include "jobs/journal.hpp"

#include "util/fs.hpp"

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <unistd.h>

namespace buildme::jobs {

namespace fs = std::filesystem;

std::string journal_name(std::string_view action)
{
  static std::atomic<unsigned> counter{0};
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return fmt::format("{}-{}-{}-{}", action,
                     std::chrono::duration_cast<std::chrono::microseconds>(now).count(), ::getpid(),
                     counter++);
}

Status write_journal(const fs::path& path, const debian::FieldList& fields)
{
  return util::write_file_atomic(path, debian::write_paragraph(fields), 0644);
}

Result<debian::Paragraph> read_journal(const fs::path& path)
{
  TRY_ASSIGN(const std::string text, util::read_file(path, 16 * 1024 * 1024));
  TRY_ASSIGN(debian::ControlFile control,
             debian::parse_one_paragraph(text, path.string(), "a journal entry"));
  return std::move(control.paragraphs.front());
}

Status remove_journal(const fs::path& path)
{
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return fail("cannot remove {}: {}", path.string(), std::strerror(errno));
  }
  return {};
}

Result<std::vector<fs::path>> pending_journals(const fs::path& dir)
{
  TRY_ASSIGN(const auto info, util::stat_no_follow(dir));
  if (!info) {
    return std::vector<fs::path>{};
  }
  TRY_ASSIGN(const std::vector<std::string> names, util::list_dir(dir));
  std::vector<fs::path> journals;
  for (const auto& name : names) {
    if (name.starts_with('.')) {
      TRY(remove_journal(dir / name));
      continue;
    }
    journals.push_back(dir / name);
  }
  return journals;
}

} // namespace buildme::jobs
