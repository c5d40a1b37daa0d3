#include "repo/index.hpp"

#include "util/text.hpp"

#include <lzma.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <ctime>

namespace buildme::repo {

namespace {

// apt-pkg/tagfile-order.c (apt 2.6): the order, and the spelling, in which
// apt-ftparchive writes the fields it knows. Checked field by field against
// apt-ftparchive's output by the unit tests.
constexpr std::string_view package_order[] = {"Package",
                                              "Package-Type",
                                              "Architecture",
                                              "Subarchitecture",
                                              "Version",
                                              "Kernel-Version",
                                              "Built-Using",
                                              "Static-Built-Using",
                                              "Built-For-Profiles",
                                              "Auto-Built-Package",
                                              "Multi-Arch",
                                              "Status",
                                              "Priority",
                                              "Build-Essential",
                                              "Protected",
                                              "Important",
                                              "Essential",
                                              "Installer-Menu-Item",
                                              "Section",
                                              "Source",
                                              "Origin",
                                              "Phased-Update-Percentage",
                                              "Maintainer",
                                              "Original-Maintainer",
                                              "Bugs",
                                              "Config-Version",
                                              "Conffiles",
                                              "Triggers-Awaited",
                                              "Triggers-Pending",
                                              "Installed-Size",
                                              "Provides",
                                              "Pre-Depends",
                                              "Depends",
                                              "Recommends",
                                              "Suggests",
                                              "Conflicts",
                                              "Breaks",
                                              "Replaces",
                                              "Enhances",
                                              "Filename",
                                              "MSDOS-Filename",
                                              "Size",
                                              "MD5sum",
                                              "SHA1",
                                              "SHA256",
                                              "SHA512",
                                              "Homepage",
                                              "Description",
                                              "Description-md5",
                                              "Tag",
                                              "Task"};

constexpr std::string_view source_order[] = {"Package",
                                             "Source",
                                             "Format",
                                             "Binary",
                                             "Architecture",
                                             "Version",
                                             "Priority",
                                             "Section",
                                             "Origin",
                                             "Maintainer",
                                             "Original-Maintainer",
                                             "Uploaders",
                                             "Dm-Upload-Allowed",
                                             "Standards-Version",
                                             "Build-Depends",
                                             "Build-Depends-Arch",
                                             "Build-Depends-Indep",
                                             "Build-Conflicts",
                                             "Build-Conflicts-Arch",
                                             "Build-Conflicts-Indep",
                                             "Testsuite",
                                             "Testsuite-Triggers",
                                             "Homepage",
                                             "Description",
                                             "Vcs-Browser",
                                             "Vcs-Browse",
                                             "Vcs-Arch",
                                             "Vcs-Bzr",
                                             "Vcs-Cvs",
                                             "Vcs-Darcs",
                                             "Vcs-Git",
                                             "Vcs-Hg",
                                             "Vcs-Mtn",
                                             "Vcs-Svn",
                                             "Directory",
                                             "Package-List",
                                             "Files",
                                             "Checksums-Md5",
                                             "Checksums-Sha1",
                                             "Checksums-Sha256",
                                             "Checksums-Sha512"};

// Field names are ASCII; compared without allocating, as this runs for
// every field of every package.
bool iequals(std::string_view a, std::string_view b)
{
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return lower(x) == lower(y); });
}

template<std::size_t N>
bool is_ordered(const std::string_view (&order)[N], std::string_view name)
{
  return std::any_of(std::begin(order), std::end(order),
                     [&](std::string_view known) { return iequals(known, name); });
}

// The value as written, as apt's FindRaw gives it: the first line after the
// colon and its leading blanks, then each continuation line whole, without
// the trailing white space of the last. From the parsed value instead (when
// the text is not the one the field came from), an empty line is written
// " ." (Policy 5.6.13): a line of blanks would end the stanza, so no value
// line is ever written blank.
std::string raw_value(const debian::Field& field, const std::vector<std::string_view>& lines)
{
  auto line_at = [&](int number) -> std::optional<std::string_view> {
    if (number < 1 || static_cast<std::size_t>(number) > lines.size()) {
      return std::nullopt;
    }
    return lines[static_cast<std::size_t>(number) - 1];
  };

  std::string value;
  auto first = line_at(field.line);
  bool as_written = first && first->starts_with(field.name) &&
                    first->substr(field.name.size()).starts_with(':') &&
                    std::count(field.value.begin(), field.value.end(), '\n') + 1 ==
                      static_cast<std::ptrdiff_t>(field.value_lines.size());
  if (as_written) {
    auto text = first->substr(field.name.size() + 1);
    value = text.substr(std::min(text.size(), text.find_first_not_of(" \t")));
    for (std::size_t i = 1; i < field.value_lines.size() && as_written; ++i) {
      auto line = line_at(field.value_lines[i]);
      as_written = line && (line->starts_with(' ') || line->starts_with('\t')) &&
                   !debian::is_blank_line(*line);
      if (as_written) {
        value += '\n';
        value += *line;
      }
    }
  }
  if (!as_written) {
    value.clear();
    std::size_t start = 0;
    while (start <= field.value.size()) {
      const auto end = std::min(field.value.find('\n', start), field.value.size());
      const std::string_view line(field.value.data() + start, end - start);
      if (start > 0) {
        value += "\n ";
        value += debian::is_blank_line(line) ? std::string_view(".") : line;
      } else {
        value += line;
      }
      start = end + 1;
    }
  }
  value.erase(value.find_last_not_of(util::whitespace) + 1);
  return value;
}

// apt's WriteTag: no space after the colon when the value starts with a
// line break (Files, a Description without a synopsis).
void write_field(std::string& out, std::string_view name, std::string_view value)
{
  out += name;
  out +=
    value.empty() || util::whitespace.find(value.front()) != std::string_view::npos ? ":" : ": ";
  out += value;
  out += '\n';
}

// A field apt-ftparchive sets itself; an empty value leaves the field out.
struct Rewrite
{
  std::string_view name;
  std::string value;
};

// pkgTagSection::Write: the known fields in `order`, each replaced by its
// Rewrite when there is one, then the others as they are, in the
// paragraph's order (every field apt-ftparchive sets is a known one).
template<std::size_t N>
std::string write_stanza(const std::vector<std::string_view>& lines,
                         const debian::Paragraph& paragraph, const std::string_view (&order)[N],
                         const std::vector<Rewrite>& rewrites)
{
  auto rewrite_of = [&](std::string_view name) -> const Rewrite* {
    for (const auto& rewrite : rewrites) {
      if (iequals(rewrite.name, name)) {
        return &rewrite;
      }
    }
    return nullptr;
  };

  std::string out;
  for (auto name : order) {
    if (const auto* rewrite = rewrite_of(name)) {
      if (!rewrite->value.empty()) {
        write_field(out, name, rewrite->value);
      }
    } else if (const auto* field = paragraph.find(name)) {
      write_field(out, name, raw_value(*field, lines));
    }
  }
  for (const auto& field : paragraph.fields) {
    if (!is_ordered(order, field.name)) {
      write_field(out, field.name, raw_value(field, lines));
    }
  }
  return out;
}

// apt's FindS: the value as written, trimmed at both ends.
std::string trimmed_value(const std::vector<std::string_view>& lines,
                          const debian::Paragraph& paragraph, std::string_view name)
{
  const auto* field = paragraph.find(name);
  if (!field) {
    return {};
  }
  return std::string(util::trim(raw_value(*field, lines)));
}

// One line of a value that apt reads as a single line.
std::string one_line(std::string_view value)
{
  std::string line(util::trim(value));
  std::replace(line.begin(), line.end(), '\n', ' ');
  std::replace(line.begin(), line.end(), '\r', ' ');
  return line;
}

} // namespace

std::string packages_stanza(std::string_view control_text, const debian::Paragraph& control,
                            std::string_view filename, const util::Digests& digests)
{
  auto lines = debian::control_lines(control_text);
  std::vector<Rewrite> rewrites = {
    {"Filename", std::string(filename)},
    {"Size", std::to_string(digests.size)},
    {"MD5sum", digests.md5.value_or("")},
    {"SHA1", digests.sha1.value_or("")},
    {"SHA256", digests.sha256.value_or("")},
    {"SHA512", digests.sha512.value_or("")},
    {"Priority", trimmed_value(lines, control, "Priority")},
    {"Section", trimmed_value(lines, control, "Section")},
    {"Status", ""},
  };
  return write_stanza(lines, control, package_order, rewrites);
}

std::string sources_stanza(std::string_view dsc_text, const debian::Paragraph& dsc,
                           std::string_view directory, const std::vector<SourceFile>& files)
{
  auto lines = debian::control_lines(dsc_text);
  std::vector<Rewrite> rewrites = {
    {"Package", trimmed_value(lines, dsc, "Source")},
    {"Source", ""},
    {"Directory", std::string(directory)},
    {"Priority", ""},
    {"Status", ""},
  };
  for (auto kind : util::all_digest_kinds) {
    std::string list;
    for (const auto& file : files) {
      if (const auto& hex = file.digests[kind]) {
        list += fmt::format("\n {} {} {}", *hex, file.digests.size, file.name);
      }
    }
    rewrites.push_back({util::digest_field(kind), std::move(list)});
  }
  return write_stanza(lines, dsc, source_order, rewrites);
}

std::string contents_text(const std::vector<ContentsSource>& packages)
{
  std::string text;
  (void)each_contents_line(packages, [&](std::string_view line) {
    text.append(line);
    return Status();
  });
  return text;
}

Status each_contents_line(const std::vector<ContentsSource>& packages,
                          const std::function<Status(std::string_view line)>& each)
{
  // Every (name, package) pair, as views into the callers' texts: the names
  // are not copied.
  std::vector<std::pair<std::string_view, std::uint32_t>> entries;
  for (std::uint32_t i = 0; i < packages.size(); ++i) {
    std::string_view names = packages[i].names;
    while (!names.empty()) {
      const auto end = names.find('\n');
      std::string_view name = names.substr(0, end);
      names = end == std::string_view::npos ? std::string_view() : names.substr(end + 1);
      if (!name.empty()) {
        entries.emplace_back(name, i);
      }
    }
  }
  std::sort(entries.begin(), entries.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) {
      return a.first < b.first;
    }
    return packages[a.second].location < packages[b.second].location;
  });
  std::string text; // one line at a time
  for (std::size_t at = 0; at < entries.size();) {
    const std::string_view name = entries[at].first;
    text.assign(name);
    // apt-ftparchive's WriteSpace: tabs while the next tab stop is before
    // column 60, then spaces up to it; at least one space.
    std::size_t column = name.size();
    const std::size_t target = std::max<std::size_t>(60, column + 1);
    for (; (column / 8 + 1) * 8 < target; column = (column / 8 + 1) * 8) {
      text.push_back('\t');
    }
    text.append(target - column, ' ');
    std::string_view last;
    for (; at < entries.size() && entries[at].first == name; ++at) {
      const std::string& location = packages[entries[at].second].location;
      if (location == last) {
        continue; // two versions of one package
      }
      if (!last.empty()) {
        text.push_back(',');
      }
      text.append(location);
      last = location;
    }
    text.push_back('\n');
    TRY(each(text));
  }
  return {};
}

std::string release_date(std::chrono::system_clock::time_point when)
{
  // Names from fixed tables, not strftime, so that the locale cannot change them.
  static constexpr std::array<std::string_view, 7> days = {"Sun", "Mon", "Tue", "Wed",
                                                           "Thu", "Fri", "Sat"};
  static constexpr std::array<std::string_view, 12> months = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t seconds =
    std::chrono::system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(when));
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{}, {:02} {} {} {:02}:{:02}:{:02} UTC",
                     days[static_cast<std::size_t>(utc.tm_wday)], utc.tm_mday,
                     months[static_cast<std::size_t>(utc.tm_mon)], utc.tm_year + 1900, utc.tm_hour,
                     utc.tm_min, utc.tm_sec);
}

std::string release_text(const ReleaseInfo& info, const std::vector<ReleaseFile>& files)
{
  std::string out;
  auto field = [&](std::string_view name, std::string_view value) {
    auto line = one_line(value);
    if (!line.empty()) {
      out += fmt::format("{}: {}\n", name, line);
    }
  };
  field("Origin", info.origin);
  field("Label", info.label);
  field("Suite", info.suite);
  field("Codename", info.codename);
  field("Date", release_date(info.date));
  if (info.valid_for.count() > 0) {
    field("Valid-Until", release_date(info.date + info.valid_for));
  }
  field("Architectures", util::join(info.architectures, " "));
  field("Components", util::join(info.components, " "));
  field("Description", info.description);
  if (info.by_hash) {
    field("Acquire-By-Hash", "yes");
  }

  std::vector<const ReleaseFile*> sorted;
  for (const auto& file : files) {
    sorted.push_back(&file);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const ReleaseFile* a, const ReleaseFile* b) { return a->path < b->path; });

  for (const auto& [kind, name] : release_digest_lists) {
    out += fmt::format("{}:\n", name);
    for (const auto* file : sorted) {
      if (const auto& hex = file->digests[kind]) {
        out += fmt::format(" {} {:>16} {}\n", *hex, file->digests.size, file->path);
      }
    }
  }
  return out;
}

Result<std::string> gzip_compress(std::string_view data)
{
  z_stream stream{};
  // windowBits 15 + 16: a gzip wrapper, whose header zlib writes with no
  // name and time 0.
  if (deflateInit2(&stream, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return fail("cannot start gzip compression (zlib: {})",
                stream.msg ? stream.msg : "out of memory");
  }
  std::string out;
  std::array<unsigned char, 64 * 1024> buffer;
  std::size_t fed = 0;
  int flush = Z_NO_FLUSH;
  do {
    // zlib counts input in uInt: feed a larger index in pieces.
    auto piece = std::min<std::size_t>(data.size() - fed, 1u << 30);
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + fed));
    stream.avail_in = static_cast<uInt>(piece);
    fed += piece;
    flush = fed == data.size() ? Z_FINISH : Z_NO_FLUSH;
    do {
      stream.next_out = buffer.data();
      stream.avail_out = static_cast<uInt>(buffer.size());
      if (deflate(&stream, flush) == Z_STREAM_ERROR) {
        deflateEnd(&stream);
        return fail("gzip compression failed (zlib stream error)");
      }
      out.append(reinterpret_cast<const char*>(buffer.data()), buffer.size() - stream.avail_out);
    } while (stream.avail_out == 0);
  } while (flush != Z_FINISH);
  deflateEnd(&stream);
  return out;
}

Result<std::string> xz_compress(std::string_view data)
{
  lzma_stream stream = LZMA_STREAM_INIT;
  if (auto rc = lzma_easy_encoder(&stream, 6, LZMA_CHECK_CRC64); rc != LZMA_OK) {
    return fail("cannot start xz compression (liblzma error {}{})", static_cast<int>(rc),
                rc == LZMA_MEM_ERROR ? ": out of memory" : "");
  }
  std::string out;
  std::array<std::uint8_t, 64 * 1024> buffer;
  stream.next_in = reinterpret_cast<const std::uint8_t*>(data.data());
  stream.avail_in = data.size();
  while (true) {
    stream.next_out = buffer.data();
    stream.avail_out = buffer.size();
    auto rc = lzma_code(&stream, LZMA_FINISH);
    out.append(reinterpret_cast<const char*>(buffer.data()), buffer.size() - stream.avail_out);
    if (rc == LZMA_STREAM_END) {
      break;
    }
    if (rc != LZMA_OK) {
      lzma_end(&stream);
      return fail("xz compression failed (liblzma error {}{})", static_cast<int>(rc),
                  rc == LZMA_MEM_ERROR ? ": out of memory" : "");
    }
  }
  lzma_end(&stream);
  return out;
}

} // namespace buildme::repo
