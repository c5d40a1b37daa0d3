#include "repo/deb.hpp"

#include "util/fs.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <array>
#include <memory>
#include <optional>

namespace buildme::repo {

namespace {

using ArchivePtr = std::unique_ptr<archive, decltype(&archive_read_free)>;

constexpr std::int64_t ar_header_size = 60;

// The compressions dpkg knows for the control.tar and data.tar members.
constexpr std::array<std::string_view, 6> tar_suffixes = {"", ".gz", ".xz", ".zst", ".bz2",
                                                          ".lzma"};

bool is_member(std::string_view name, std::string_view stem)
{
  if (!name.starts_with(stem)) {
    return false;
  }
  auto suffix = name.substr(stem.size());
  for (auto known : tar_suffixes) {
    if (suffix == known) {
      return true;
    }
  }
  return false;
}

std::string quote(std::string_view text)
{
  constexpr std::size_t shown = 60;
  if (text.size() > shown) {
    return "'" + util::printable(text.substr(0, shown)) + "...'";
  }
  return "'" + util::printable(text) + "'";
}

std::string archive_message(archive* a)
{
  const char* text = archive_error_string(a);
  return text ? util::printable(text) : "unknown libarchive error";
}

class DebReader
{
public:
  DebReader(const std::filesystem::path& deb, const DebLimits& limits)
    : m_deb(util::printable(deb.string())), m_path(deb), m_limits(limits)
  {
  }

  Result<std::string> read()
  {
    auto file = util::open_regular_file(m_path);
    if (!file) {
      return file.error();
    }
    struct stat st;
    if (::fstat(file->fd(), &st) != 0) {
      return fail("{}: cannot stat it", m_deb);
    }
    if (st.st_size == 0) {
      return error("not a Debian package: the file is empty");
    }
    m_file_size = st.st_size;

    ArchivePtr ar(archive_read_new(), archive_read_free);
    if (!ar || archive_read_support_format_ar(ar.get()) != ARCHIVE_OK
        || archive_read_open_fd(ar.get(), file->fd(), 64 * 1024) != ARCHIVE_OK) {
      return error("not a Debian package: not an ar archive ({})", archive_message(ar.get()));
    }

    archive_entry* entry = nullptr;
    int status = archive_read_next_header(ar.get(), &entry);
    if (status == ARCHIVE_EOF) {
      return error("not a Debian package: no debian-binary member (the ar archive is empty)");
    }
    if (status != ARCHIVE_OK) {
      return error("not a Debian package: not an ar archive ({})", archive_message(ar.get()));
    }
    if (auto checked = check_debian_binary(ar.get(), entry); !checked) {
      return checked.error();
    }

    std::string control;
    bool have_control = false;
    while (true) {
      status = archive_read_next_header(ar.get(), &entry);
      if (status == ARCHIVE_EOF) {
        if (have_control) {
          return error("no data.tar member after {} (the file is truncated?)", m_control_member);
        }
        return error("not a Debian package: no control.tar member");
      }
      if (status != ARCHIVE_OK) {
        return error("the ar archive is corrupt or truncated after {} ({})",
                     have_control ? m_control_member : "debian-binary",
                     archive_message(ar.get()));
      }
      std::string name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
      if (name.starts_with('_')) {
        continue; // dpkg's own extension members; dpkg skips them too
      }
      if (!have_control && is_member(name, "control.tar")) {
        auto text = read_control_member(ar.get(), entry, name);
        if (!text) {
          return text.error();
        }
        control = std::move(*text);
        have_control = true;
        continue;
      }
      if (is_member(name, "data.tar")) {
        if (!have_control) {
          return error("{} comes before control.tar; dpkg requires control.tar first",
                       quote(name));
        }
        if (auto whole = check_complete(ar.get(), entry, name); !whole) {
          return whole.error();
        }
        return control;
      }
      if (is_member(name, "control.tar")) {
        return error("a second control member {} after {}", quote(name), m_control_member);
      }
      return error("unexpected member {}: a .deb holds debian-binary, control.tar and data.tar"
                   " (compressed with gzip, xz or zstd)",
                   quote(name));
    }
  }

private:
  template<typename... Args>
  Error error(fmt::format_string<Args...> format, Args&&... args) const
  {
    return fail("{}: {}", m_deb, fmt::format(format, std::forward<Args>(args)...));
  }

  // dpkg reads debian-binary's first line as the format version and accepts
  // only major version 2.
  Status check_debian_binary(archive* ar, archive_entry* entry) const
  {
    std::string name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    if (name != "debian-binary") {
      return error("not a Debian package: no debian-binary member (the first member is {})",
                   quote(name));
    }
    constexpr std::int64_t max_size = 64;
    if (archive_entry_size(entry) > max_size) {
      return error("debian-binary is {} bytes; a Debian package's is \"2.0\\n\"",
                   archive_entry_size(entry));
    }
    auto content = read_member(ar, entry, "debian-binary", max_size);
    if (!content) {
      return content.error();
    }
    std::string_view text = *content;
    auto line = text.substr(0, text.find('\n'));
    bool numeric = line.size() > 2 && line.starts_with("2.")
                   && line.substr(2).find_first_not_of("0123456789") == std::string_view::npos;
    if (!numeric || line.size() == text.size()) {
      return error("debian-binary says {}; dpkg reads only format 2.x (\"2.0\\n\")",
                   quote(text));
    }
    return {};
  }

  // The whole of the current member, which must be at most `max_size`
  // bytes; a member cut short by the end of the file is an Error.
  Result<std::string> read_member(archive* ar, archive_entry* entry, std::string_view name,
                                  std::int64_t max_size) const
  {
    std::int64_t size = archive_entry_size(entry);
    if (size > max_size) {
      return error("{} is {} bytes, more than the {} allowed", name, size, max_size);
    }
    std::string data(static_cast<std::size_t>(size), '\0');
    std::size_t done = 0;
    while (done < data.size()) {
      auto got = archive_read_data(ar, data.data() + done, data.size() - done);
      if (got < 0) {
        return error("{} is truncated or corrupt ({})", name, archive_message(ar));
      }
      if (got == 0) {
        break;
      }
      done += static_cast<std::size_t>(got);
    }
    if (done < data.size()) {
      return error("{} is truncated: the file ends {} bytes into its {}", name, done,
                   data.size());
    }
    return data;
  }

  // The member's data (and the padding byte an odd-sized ar member has)
  // must lie inside the file: a .deb cut short in data.tar is corrupt even
  // though its control data reads fine.
  Status check_complete(archive* ar, archive_entry* entry, std::string_view name) const
  {
    std::int64_t size = archive_entry_size(entry);
    std::int64_t end = archive_read_header_position(ar) + ar_header_size + size + (size & 1);
    if (size < 0 || end > m_file_size) {
      return error("{} is truncated: the member needs {} bytes up to offset {}, the file has {}",
                   quote(name), size, end, m_file_size);
    }
    return {};
  }

  Result<std::string> read_control_member(archive* ar, archive_entry* entry,
                                          const std::string& name)
  {
    m_control_member = name;
    auto compressed = read_member(ar, entry, name,
                                  static_cast<std::int64_t>(m_limits.max_control_tar));
    if (!compressed) {
      return compressed.error();
    }

    ArchivePtr tar(archive_read_new(), archive_read_free);
    if (!tar || archive_read_support_format_tar(tar.get()) != ARCHIVE_OK
        || archive_read_support_filter_all(tar.get()) != ARCHIVE_OK) {
      return error("cannot read {}: {}", name, archive_message(tar.get()));
    }
    if (archive_read_open_memory(tar.get(), compressed->data(), compressed->size())
        != ARCHIVE_OK) {
      return error("{} is not a tar archive ({})", name, archive_message(tar.get()));
    }

    std::optional<std::string> control;
    archive_entry* item = nullptr;
    while (true) {
      int status = archive_read_next_header(tar.get(), &item);
      if (status == ARCHIVE_EOF) {
        break;
      }
      if (status != ARCHIVE_OK && status != ARCHIVE_WARN) {
        return error("{} is corrupt or truncated ({})", name, archive_message(tar.get()));
      }
      // Reading on decompresses the entry; the uncompressed total is bounded
      // so that a small member cannot unpack to gigabytes.
      auto unpacked = archive_filter_bytes(tar.get(), 0);
      if (unpacked + archive_entry_size(item)
          > static_cast<std::int64_t>(m_limits.max_control_tar)) {
        return error("{} unpacks to more than the {} bytes allowed", name,
                     m_limits.max_control_tar);
      }
      std::string path = archive_entry_pathname(item) ? archive_entry_pathname(item) : "";
      if (path != "./control" && path != "control") {
        continue;
      }
      if (control) {
        return error("{} holds two control files", name);
      }
      if (archive_entry_hardlink(item) || archive_entry_filetype(item) != AE_IFREG) {
        return error("{} in {} is {}, not a file", quote(path), name,
                     archive_entry_filetype(item) == AE_IFDIR   ? "a directory"
                     : archive_entry_filetype(item) == AE_IFLNK ? "a symbolic link"
                     : archive_entry_hardlink(item)             ? "a hard link"
                                                                : "a special file");
      }
      auto text = read_member(tar.get(), item, fmt::format("the control file in {}", name),
                              static_cast<std::int64_t>(m_limits.max_control_file));
      if (!text) {
        return text.error();
      }
      control = std::move(*text);
    }
    if (!control) {
      return error("{} has no control file", name);
    }
    return std::move(*control);
  }

  std::string m_deb;
  std::filesystem::path m_path;
  DebLimits m_limits;
  std::int64_t m_file_size = 0;
  std::string m_control_member;
};

} // namespace

Result<std::string> read_deb_control(const std::filesystem::path& deb, const DebLimits& limits)
{
  return DebReader(deb, limits).read();
}

} // namespace buildme::repo
