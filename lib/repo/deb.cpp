#include "repo/deb.hpp"

#include "debian/syntax.hpp"
#include "debian/version.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <array>
#include <memory>
#include <optional>

namespace buildme::repo {

namespace {

using ArchivePtr = std::unique_ptr<archive, decltype(&archive_read_free)>;

constexpr std::int64_t ar_magic_size = 8; // "!<arch>\n"
constexpr std::int64_t ar_header_size = 60;

// A member's compression, as dpkg decides it: by the member's name alone.
enum class Compression
{
  none,
  gzip,
  xz,
  zstd,
  bzip2,
  lzma
};

struct Suffix
{
  std::string_view text;
  Compression compression;
  int libarchive_filter;
};

// What dpkg-deb (bookworm, 1.21) reads: control.tar with no compression,
// gzip, xz or zstd; data.tar also with bzip2 or lzma.
constexpr std::array<Suffix, 6> tar_suffixes = {{
  {"", Compression::none, ARCHIVE_FILTER_NONE},
  {".gz", Compression::gzip, ARCHIVE_FILTER_GZIP},
  {".xz", Compression::xz, ARCHIVE_FILTER_XZ},
  {".zst", Compression::zstd, ARCHIVE_FILTER_ZSTD},
  {".bz2", Compression::bzip2, ARCHIVE_FILTER_BZIP2},
  {".lzma", Compression::lzma, ARCHIVE_FILTER_LZMA},
}};

enum class MemberKind
{
  control,
  data
};

// The suffix of `name` if it is the control.tar or data.tar member with a
// compression dpkg accepts for that member.
const Suffix* member_suffix(std::string_view name, MemberKind kind)
{
  std::string_view stem = kind == MemberKind::control ? "control.tar" : "data.tar";
  if (!name.starts_with(stem)) {
    return nullptr;
  }
  auto rest = name.substr(stem.size());
  for (const auto& suffix : tar_suffixes) {
    if (rest != suffix.text) {
      continue;
    }
    bool allowed = kind == MemberKind::data || (suffix.compression != Compression::bzip2 &&
                                                suffix.compression != Compression::lzma);
    return allowed ? &suffix : nullptr;
  }
  return nullptr;
}

// Enables exactly the decompressor `suffix` names, built into libarchive.
// ARCHIVE_WARN means libarchive would run an external program found on PATH
// (lrzip, lzop, grzip, ...) on bytes a build produced: never wanted.
bool enable_only(archive* a, const Suffix& suffix)
{
  switch (suffix.compression) {
  case Compression::none:
    return true;
  case Compression::gzip:
    return archive_read_support_filter_gzip(a) == ARCHIVE_OK;
  case Compression::xz:
    return archive_read_support_filter_xz(a) == ARCHIVE_OK;
  case Compression::zstd:
    return archive_read_support_filter_zstd(a) == ARCHIVE_OK;
  case Compression::bzip2:
    return archive_read_support_filter_bzip2(a) == ARCHIVE_OK;
  case Compression::lzma:
    return archive_read_support_filter_lzma(a) == ARCHIVE_OK;
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
  DebReader(const std::filesystem::path& deb, const DebLimits& limits, bool list_files)
    : m_deb(util::printable(deb.string())), m_limits(limits), m_list_files(list_files)
  {
  }

  // data.tar's names, when asked for (read_deb's list_files).
  std::string take_files() { return std::move(m_files); }

  // The control text of the .deb open as `fd`, `size` bytes long.
  Result<std::string> read_fd(int fd, std::int64_t size) { return read(fd, {}, size); }
  // The control text of the .deb whose whole content is `data`.
  Result<std::string> read_memory(std::string_view data)
  {
    return read(-1, data, static_cast<std::int64_t>(data.size()));
  }

private:
  Result<std::string> read(int fd, std::string_view data, std::int64_t size)
  {
    if (size == 0) {
      return error("not a Debian package: the file is empty");
    }
    m_file_size = size;

    ArchivePtr ar(archive_read_new(), archive_read_free);
    int opened = ar ? archive_read_support_format_ar(ar.get()) : ARCHIVE_FATAL;
    if (opened == ARCHIVE_OK) {
      opened = fd >= 0 ? archive_read_open_fd(ar.get(), fd, 64 * 1024)
                       : archive_read_open_memory(ar.get(), data.data(), data.size());
    }
    if (opened != ARCHIVE_OK) {
      return error("not a Debian package: not an ar archive ({})",
                   ar ? archive_message(ar.get()) : "out of memory");
    }

    archive_entry* entry = nullptr;
    int status = archive_read_next_header(ar.get(), &entry);
    if (status == ARCHIVE_EOF) {
      TRY(check_no_partial_header());
      return error("not a Debian package: the ar archive is empty, with no debian-binary member");
    }
    if (status != ARCHIVE_OK) {
      return error("not a Debian package: not an ar archive ({})", archive_message(ar.get()));
    }
    note_member(ar.get(), entry);
    TRY(check_debian_binary(ar.get(), entry));

    std::string control;
    bool have_control = false;
    while (true) {
      status = archive_read_next_header(ar.get(), &entry);
      if (status == ARCHIVE_EOF) {
        TRY(check_no_partial_header());
        if (have_control) {
          return error("the file ends after {}, with no data.tar member (truncated?)",
                       m_control_member);
        }
        return error("not a Debian package: the file ends after debian-binary, with no "
                     "control.tar member");
      }
      if (status != ARCHIVE_OK) {
        return error("the ar archive is corrupt or truncated after {} ({})",
                     have_control ? m_control_member : "debian-binary", archive_message(ar.get()));
      }
      note_member(ar.get(), entry);
      std::string name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
      if (name.starts_with('_')) {
        continue; // dpkg's own extension members; dpkg skips them too
      }
      if (name.starts_with("control.tar")) {
        if (have_control) {
          return error("a second control member {} after {}", quote(name), m_control_member);
        }
        const Suffix* suffix = member_suffix(name, MemberKind::control);
        if (!suffix) {
          return error("{} uses a compression dpkg does not read for control.tar (it reads "
                       "none, .gz, .xz or .zst)",
                       quote(name));
        }
        auto text = read_control_member(ar.get(), entry, name, *suffix);
        if (!text) {
          return text.error();
        }
        control = std::move(*text);
        have_control = true;
        continue;
      }
      if (name.starts_with("data.tar")) {
        if (!member_suffix(name, MemberKind::data)) {
          return error("{} uses a compression dpkg does not read for data.tar (it reads none, "
                       ".gz, .xz, .zst, .bz2 or .lzma)",
                       quote(name));
        }
        if (!have_control) {
          return error("{} comes before control.tar; dpkg requires control.tar first", name);
        }
        TRY(check_complete(name));
        if (m_list_files) {
          TRY_ASSIGN(m_files,
                     list_data_member(ar.get(), name, *member_suffix(name, MemberKind::data)));
        }
        return control;
      }
      return error("unexpected member {}: a .deb holds debian-binary, control.tar and data.tar"
                   " (compressed with gzip, xz or zstd)",
                   quote(name));
    }
  }

  template<typename... Args>
  Error error(fmt::format_string<Args...> format, Args&&... args) const
  {
    return fail("{}: {}", m_deb, fmt::format(format, std::forward<Args>(args)...));
  }

  // Where the current member's header starts. libarchive counts the first
  // header from the start of the file, before the ar magic.
  static std::int64_t member_start(archive* ar)
  {
    return std::max(archive_read_header_position(ar), ar_magic_size);
  }

  void note_member(archive* ar, archive_entry* entry)
  {
    std::int64_t size = archive_entry_size(entry);
    m_members_end = member_start(ar) + ar_header_size + size + (size & 1);
    m_last_member = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
  }

  // libarchive reports a member header cut short by the end of the file as
  // the end of the archive; bytes left after the last whole member mean
  // exactly that.
  Status check_no_partial_header() const
  {
    if (m_file_size > m_members_end) {
      return error("the file is truncated: it ends {} bytes into the ar header after {}",
                   m_file_size - m_members_end,
                   m_last_member.empty() ? "the ar magic" : quote(m_last_member));
    }
    return {};
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
    bool numeric = line.size() > 2 && line.starts_with("2.") &&
                   line.substr(2).find_first_not_of("0123456789") == std::string_view::npos;
    if (!numeric || line.size() == text.size()) {
      return error("debian-binary says {}; dpkg reads only format 2.x (\"2.0\\n\")", quote(text));
    }
    return {};
  }

  // The whole of the current member, which must be at most `max_size`
  // bytes; a member cut short by the end of the file is an Error.
  Result<std::string> read_member(archive* ar, archive_entry* entry, std::string_view name,
                                  std::int64_t max_size) const
  {
    std::int64_t size = archive_entry_size(entry);
    if (size < 0) {
      return error("{} has no valid size in its header", name);
    }
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
      return error("{} is truncated: the file ends {} bytes into its {}", name, done, data.size());
    }
    return data;
  }

  // The member's data (and the padding byte an odd-sized ar member has)
  // must lie inside the file: a .deb cut short in data.tar is corrupt even
  // though its control data reads fine.
  Status check_complete(std::string_view name) const
  {
    if (m_members_end > m_file_size) {
      return error("{} is truncated: the file ends at byte {}, the member at byte {}", name,
                   m_file_size, m_members_end);
    }
    return {};
  }

  Result<std::string> read_control_member(archive* ar, archive_entry* entry,
                                          const std::string& name, const Suffix& suffix)
  {
    m_control_member = name;
    auto compressed =
      read_member(ar, entry, name, static_cast<std::int64_t>(m_limits.max_control_tar));
    if (!compressed) {
      return compressed.error();
    }
    auto tar_data = decompress(*compressed, name, suffix);
    if (!tar_data) {
      return tar_data.error();
    }

    ArchivePtr tar(archive_read_new(), archive_read_free);
    if (!tar || archive_read_support_format_tar(tar.get()) != ARCHIVE_OK ||
        archive_read_open_memory(tar.get(), tar_data->data(), tar_data->size()) != ARCHIVE_OK) {
      return error("{} does not hold a tar archive ({})", name, archive_message(tar.get()));
    }
    std::optional<std::string> control;
    archive_entry* item = nullptr;
    while (true) {
      TRY_ASSIGN(bool more, next_entry(tar.get(), item, name));
      if (!more) {
        break;
      }
      std::string_view path = archive_entry_pathname(item) ? archive_entry_pathname(item) : "";
      if (path.ends_with('/')) {
        path.remove_suffix(1);
      }
      if (path != "./control" && path != "control") {
        continue;
      }
      if (control) {
        return error("{} holds two control files", name);
      }
      auto type = archive_entry_filetype(item);
      if (archive_entry_hardlink(item) || type != AE_IFREG) {
        return error("{} in {} is {}, not a file", quote(path), name,
                     archive_entry_hardlink(item) ? "a hard link"
                     : type == AE_IFDIR           ? "a directory"
                     : type == AE_IFLNK           ? "a symbolic link"
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

  // A reader of member `name` in `format` with exactly the decompressor its
  // suffix names (enable_only), not yet opened.
  Result<ArchivePtr> reader_for(std::string_view name, const Suffix& suffix,
                                int (*format)(archive*)) const
  {
    ArchivePtr reader(archive_read_new(), archive_read_free);
    if (!reader || !enable_only(reader.get(), suffix) || format(reader.get()) != ARCHIVE_OK) {
      return error("cannot read {}: this build of libarchive has no built-in decompressor for "
                   "it",
                   name);
    }
    return reader;
  }

  // The next entry of the tar archive `tar` read from member `name`: false
  // at its end; an archive corrupt or cut short before its end is an Error.
  Result<bool> next_entry(archive* tar, archive_entry*& item, std::string_view name) const
  {
    const int status = archive_read_next_header(tar, &item);
    if (status == ARCHIVE_EOF) {
      return false;
    }
    if (status != ARCHIVE_OK && status != ARCHIVE_WARN) {
      return error("{} is corrupt or truncated ({})", name, archive_message(tar));
    }
    return true;
  }

  // A member whose stream is not what its name's suffix says (dpkg decides
  // by the name alone).
  Error not_compressed_as_named(std::string_view name, const Suffix& suffix) const
  {
    return error("{} is not {}-compressed, as its name says", name,
                 suffix.text.empty() ? "un" : suffix.text.substr(1));
  }

  // The names in the data.tar member the outer archive `ar` stands at,
  // streamed: decompressed by the one decompressor its name says (as dpkg),
  // each entry's header read and its content skipped. Folders are left out,
  // as apt-ftparchive leaves them out of Contents.
  Result<std::string> list_data_member(archive* ar, const std::string& name,
                                       const Suffix& suffix) const
  {
    struct Source
    {
      archive* outer;
      std::array<char, 64 * 1024> buffer;
    };
    auto source = std::make_unique<Source>();
    source->outer = ar;
    auto read_outer = [](archive*, void* data, const void** out) -> la_ssize_t {
      auto* from = static_cast<Source*>(data);
      *out = from->buffer.data();
      return archive_read_data(from->outer, from->buffer.data(), from->buffer.size());
    };
    TRY_ASSIGN(ArchivePtr tar, reader_for(name, suffix, archive_read_support_format_tar));
    if (archive_read_open(tar.get(), source.get(), nullptr, read_outer, nullptr) != ARCHIVE_OK) {
      return error("{} is corrupt or truncated ({})", name, archive_message(tar.get()));
    }
    std::string files;
    std::uint64_t entries = 0;
    archive_entry* item = nullptr;
    while (true) {
      TRY_ASSIGN(bool more, next_entry(tar.get(), item, name));
      if (!more) {
        break;
      }
      if (entries == 0 && archive_filter_code(tar.get(), 0) != suffix.libarchive_filter) {
        return not_compressed_as_named(name, suffix);
      }
      if (++entries > m_limits.max_data_entries) {
        return error("{} holds more than the {} entries allowed", name, m_limits.max_data_entries);
      }
      const char* raw = archive_entry_pathname(item);
      std::string_view path = raw ? raw : "";
      if (path.starts_with("./")) {
        path.remove_prefix(2);
      }
      while (path.starts_with('/')) {
        path.remove_prefix(1);
      }
      if (path.empty() || path.ends_with('/') || archive_entry_filetype(item) == AE_IFDIR) {
        continue;
      }
      if (path.find_first_of("\n\r") != std::string_view::npos) {
        return error("{} holds a file name with a line break in it: {}", name, quote(path));
      }
      if (files.size() + path.size() + 1 > m_limits.max_data_names) {
        return error("{} holds more than the {} bytes of file names allowed", name,
                     m_limits.max_data_names);
      }
      files.append(path);
      files.push_back('\n');
    }
    return files;
  }

  // The whole uncompressed control.tar, at most max_control_tar bytes, so
  // that a small member cannot unpack to gigabytes. The decompressor is the
  // one the member's name says and no other, as in dpkg: a gzip stream named
  // .xz is refused, not read without its checks. libarchive does not check
  // gzip's CRC (xz and zstd check their own), so that is done here: a damaged
  // control.tar.gz must not pass for a different control file.
  Result<std::string> decompress(const std::string& compressed, const std::string& name,
                                 const Suffix& suffix) const
  {
    TRY_ASSIGN(ArchivePtr raw, reader_for(name, suffix, archive_read_support_format_raw));
    archive_entry* entry = nullptr;
    if (archive_read_open_memory(raw.get(), compressed.data(), compressed.size()) != ARCHIVE_OK ||
        archive_read_next_header(raw.get(), &entry) != ARCHIVE_OK) {
      return error("{} is corrupt or truncated ({})", name, archive_message(raw.get()));
    }
    // With one filter enabled, a stream of another kind is not decompressed
    // at all: libarchive hands its bytes on as they are.
    if (archive_filter_code(raw.get(), 0) != suffix.libarchive_filter) {
      return not_compressed_as_named(name, suffix);
    }
    std::string data;
    std::array<char, 64 * 1024> buffer;
    while (true) {
      auto got = archive_read_data(raw.get(), buffer.data(), buffer.size());
      if (got < 0) {
        return error("{} is corrupt or truncated ({})", name, archive_message(raw.get()));
      }
      if (got == 0) {
        break;
      }
      if (data.size() + static_cast<std::size_t>(got) > m_limits.max_control_tar) {
        return error("{} unpacks to more than the {} bytes allowed", name,
                     m_limits.max_control_tar);
      }
      data.append(buffer.data(), static_cast<std::size_t>(got));
    }
    if (name.ends_with(".gz") && !gzip_trailer_matches(compressed, data)) {
      return error("{} is corrupt: its gzip checksum does not match its content", name);
    }
    return data;
  }

  // The gzip trailer (RFC 1952): CRC-32 and length of the uncompressed data,
  // little-endian, in the last 8 bytes.
  static bool gzip_trailer_matches(std::string_view compressed, std::string_view data)
  {
    if (compressed.size() < 18) {
      return false;
    }
    auto le32 = [&](std::size_t at) {
      std::uint32_t value = 0;
      for (std::size_t i = 0; i < 4; ++i) {
        value |= static_cast<std::uint32_t>(static_cast<unsigned char>(compressed[at + i]))
                 << (8 * i);
      }
      return value;
    };
    uLong crc = crc32(0L, Z_NULL, 0);
    for (std::size_t done = 0; done < data.size();) {
      auto piece = static_cast<uInt>(std::min<std::size_t>(data.size() - done, 1u << 30));
      crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data() + done), piece);
      done += piece;
    }
    auto end = compressed.size();
    return le32(end - 8) == static_cast<std::uint32_t>(crc) &&
           le32(end - 4) == static_cast<std::uint32_t>(data.size());
  }

  std::string m_deb;
  DebLimits m_limits;
  bool m_list_files = false;
  std::string m_files;
  std::int64_t m_file_size = 0;
  std::string m_control_member;
  std::int64_t m_members_end = ar_magic_size;
  std::string m_last_member;
};

} // namespace

namespace {

Result<std::int64_t> size_of(int fd, const std::filesystem::path& deb)
{
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return fail("{}: cannot stat it: {}", util::printable(deb.string()), std::strerror(errno));
  }
  return static_cast<std::int64_t>(st.st_size);
}

// "foo (1.2-3)" -> {"foo", "1.2-3"}; "foo" -> {"foo", ""}.
std::pair<std::string, std::string> split_source_field(std::string_view field)
{
  field = util::trim(field);
  const auto open = field.find('(');
  if (open == std::string_view::npos) {
    return {std::string(field), ""};
  }
  const auto close = field.find(')', open);
  return {
    std::string(util::trim(field.substr(0, open))),
    std::string(util::trim(field.substr(
      open + 1, close == std::string_view::npos ? std::string_view::npos : close - open - 1)))};
}

} // namespace

Result<std::string> read_deb_control(const std::filesystem::path& deb, const DebLimits& limits)
{
  auto read = read_deb(deb, util::DigestSet{}, limits, false);
  if (!read) {
    return read.error();
  }
  return std::move(read->control);
}

Result<DebFile> read_deb(const std::filesystem::path& deb, util::DigestSet wanted,
                         const DebLimits& limits, bool list_files)
{
  auto file = util::open_regular_file(deb);
  if (!file) {
    return file.error();
  }
  auto size = size_of(file->fd(), deb);
  if (!size) {
    return size.error();
  }
  DebFile read;
  if (static_cast<std::uint64_t>(*size) <= limits.max_in_memory) {
    // One read of the whole file serves both: no second pass over the disk.
    std::string data(static_cast<std::size_t>(*size) + 1, '\0');
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t got = ::read(file->fd(), data.data() + done, data.size() - done);
      if (got < 0 && errno == EINTR) {
        continue;
      }
      if (got < 0) {
        return fail("{}: read error: {}", util::printable(deb.string()), std::strerror(errno));
      }
      if (got == 0) {
        break;
      }
      done += static_cast<std::size_t>(got);
    }
    if (done != static_cast<std::size_t>(*size)) {
      return fail("{}: the file changed while it was read ({} bytes when opened); try again "
                  "once it is complete",
                  util::printable(deb.string()), *size);
    }
    data.resize(done);
    DebReader reader(deb, limits, list_files);
    auto control = reader.read_memory(data);
    if (!control) {
      return control.error();
    }
    read.control = std::move(*control);
    read.files = reader.take_files();
    read.digests = util::digest_bytes(data, wanted);
    return read;
  }
  DebReader reader(deb, limits, list_files);
  auto control = reader.read_fd(file->fd(), *size);
  if (!control) {
    return control.error();
  }
  read.control = std::move(*control);
  read.files = reader.take_files();
  if (!wanted.md5 && !wanted.sha1 && !wanted.sha256 && !wanted.sha512) {
    return read;
  }
  if (::lseek(file->fd(), 0, SEEK_SET) != 0) {
    return fail("{}: cannot read it again: {}", util::printable(deb.string()),
                std::strerror(errno));
  }
  auto digests = util::digest_fd(file->fd(), wanted);
  if (!digests) {
    return fail("cannot compute checksums of {}: {}", util::printable(deb.string()),
                digests.message());
  }
  read.digests = std::move(*digests);
  return read;
}

Result<BinaryInfo> read_binary(const std::filesystem::path& path, bool list_files)
{
  auto deb = read_deb(path, util::DigestSet::all(), {}, list_files);
  if (!deb) {
    return Error{deb.error()};
  }
  auto parsed = debian::parse_control(deb->control, path.filename().string() + " (control)");
  if (!parsed) {
    return Error{parsed.error()};
  }
  if (parsed->paragraphs.size() != 1) {
    return fail("{}: the control file has {} paragraphs, not one", path.filename().string(),
                parsed->paragraphs.size());
  }
  BinaryInfo info;
  info.digests = std::move(deb->digests);
  info.files = std::move(deb->files);
  info.control_text = std::move(deb->control);
  info.control = parsed->paragraphs.front();
  for (auto [field, target] :
       {std::pair{"Package", &info.package}, std::pair{"Version", &info.version},
        std::pair{"Architecture", &info.arch}}) {
    auto value = info.control.get(field);
    if (!value || value->empty()) {
      return fail("{}: the control file has no {} field", path.filename().string(), field);
    }
    *target = *value;
  }
  if (auto valid = debian::check_package_name(info.package); !valid) {
    return fail("{}: {}", path.filename().string(), valid.message());
  }
  if (auto version = debian::Version::parse(info.version); !version) {
    return fail("{}: {}", path.filename().string(), version.message());
  }
  if (!debian::is_valid_architecture(info.arch) || info.arch == "any" || info.arch == "source") {
    return fail("{}: '{}' is not a binary package's architecture", path.filename().string(),
                util::printable(info.arch));
  }
  auto [source, source_version] = split_source_field(info.control.get("Source").value_or(""));
  info.source = source.empty() ? info.package : source;
  info.source_version = source_version.empty() ? info.version : source_version;
  if (auto valid = debian::check_package_name(info.source); !valid) {
    return fail("{}: Source: {}", path.filename().string(), valid.message());
  }
  info.section = info.control.get("Section").value_or("");
  return info;
}

} // namespace buildme::repo
