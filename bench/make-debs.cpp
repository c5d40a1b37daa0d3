// make-debs: synthetic binary packages for bench/repo-bench, fast.
//
//   make-debs OUTDIR COUNT [FIRST [ARCHES]]
//
// Writes COUNT packages, numbered FIRST (default 0) onwards, as valid .debs
// into OUTDIR: a quarter of them Architecture: all (one .deb each), the
// others one .deb for each architecture of the comma-separated ARCHES
// (default amd64), so that each architecture's Packages lists COUNT. Appends
// one line per .deb to OUTDIR/manifest:
//
//   FILE <TAB> PACKAGE <TAB> VERSION <TAB> ARCH <TAB> SOURCE
//
// dpkg-deb --build costs about 60 ms a package (three processes and a
// compressor each), 20 minutes for 20000; this writes the same format in a
// fraction of a millisecond: an ar archive as dpkg-deb writes it (debian-binary
// "2.0\n", control.tar.gz, data.tar.gz), the tar members written with
// libarchive. Package number I always gives the same package, so two runs
// with the same arguments give the same files, byte for byte.
//
// The packages vary the way an archive does: plain names, lib* names built
// from a source of another name (the pool's "libf" prefix rule), -data
// packages that are Architecture: all, epochs, '~' and '+' in versions,
// binary versions that differ from their source's, Depends, and
// descriptions with a verbatim (two-space) line. Every (Package,
// Architecture) is unique: reprepro keeps one version per package and
// would otherwise index less than the others.
#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::time_t fixed_mtime = 1700000000;

[[noreturn]] void die(const std::string& message)
{
  std::cerr << "make-debs: " << message << "\n";
  std::exit(1);
}

// xorshift64*: deterministic, and file content that gzip cannot shrink, so
// the .debs really are a few KB.
struct Random
{
  std::uint64_t state;
  explicit Random(std::uint64_t seed) : state(seed * 0x9E3779B97F4A7C15ULL + 1) {}
  std::uint64_t next()
  {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1DULL;
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
};

class Tar
{
public:
  Tar() : m_archive(archive_write_new())
  {
    if (archive_write_set_format_ustar(m_archive) != ARCHIVE_OK ||
        archive_write_add_filter_gzip(m_archive) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(m_archive, 1) != ARCHIVE_OK ||
        archive_write_open(m_archive, &m_out, nullptr, &Tar::append, nullptr) != ARCHIVE_OK) {
      die(std::string("libarchive: ") + archive_error_string(m_archive));
    }
  }
  ~Tar() { archive_write_free(m_archive); }
  Tar(const Tar&) = delete;
  Tar& operator=(const Tar&) = delete;

  void dir(const std::string& path) { add(path, AE_IFDIR, 0755, {}); }
  void file(const std::string& path, std::string_view content)
  {
    add(path, AE_IFREG, 0644, content);
  }
  std::string finish()
  {
    if (archive_write_close(m_archive) != ARCHIVE_OK) {
      die(std::string("libarchive: ") + archive_error_string(m_archive));
    }
    return std::move(m_out);
  }

private:
  static la_ssize_t append(struct archive*, void* out, const void* data, size_t size)
  {
    static_cast<std::string*>(out)->append(static_cast<const char*>(data), size);
    return static_cast<la_ssize_t>(size);
  }
  void add(const std::string& path, unsigned type, int mode, std::string_view content)
  {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, path.c_str());
    archive_entry_set_filetype(entry, type);
    archive_entry_set_perm(entry, static_cast<__LA_MODE_T>(mode));
    archive_entry_set_uname(entry, "root");
    archive_entry_set_gname(entry, "root");
    archive_entry_set_mtime(entry, fixed_mtime, 0);
    archive_entry_set_size(entry, static_cast<la_int64_t>(content.size()));
    if (archive_write_header(m_archive, entry) != ARCHIVE_OK ||
        (!content.empty() && archive_write_data(m_archive, content.data(), content.size()) !=
                               static_cast<la_ssize_t>(content.size()))) {
      die(std::string("libarchive: ") + archive_error_string(m_archive));
    }
    archive_entry_free(entry);
  }

  archive* m_archive;
  std::string m_out;
};

// One ar member, with the header dpkg-deb writes.
void ar_member(std::string& out, std::string_view name, std::string_view data)
{
  char header[61];
  std::snprintf(header, sizeof header, "%-16.16s%-12lld%-6d%-6d%-8s%-10zu`\n",
                std::string(name).c_str(), static_cast<long long>(fixed_mtime), 0, 0, "100644",
                data.size());
  out.append(header, 60);
  out.append(data);
  if (data.size() % 2 != 0) {
    out += '\n';
  }
}

const char* const words[] = {"alpha",  "bravo",  "castle",  "delta",  "echo",   "fjord", "gamma",
                             "harbor", "indigo", "juniper", "kilo",   "lumen",  "mango", "nimbus",
                             "orbit",  "pixel",  "quartz",  "raven",  "sierra", "tango", "umbra",
                             "vortex", "willow", "xenon",   "yonder", "zephyr"};

struct Package
{
  std::string name, version, arch, source, source_field, section, depends;
};

Package describe(std::uint64_t i)
{
  Random random(i);
  const std::string word = words[i % (sizeof words / sizeof *words)];
  const std::string n = std::to_string(i);
  std::string upstream = std::to_string(random.below(20)) + "." + std::to_string(random.below(100));
  switch (random.below(6)) {
  case 0:
    upstream += "~rc" + std::to_string(1 + random.below(3));
    break;
  case 1:
    upstream += "+dfsg";
    break;
  case 2:
    upstream += "." + std::to_string(random.below(10));
    break;
  default:
    break;
  }
  std::string source_version = upstream + "-" + std::to_string(1 + random.below(4));
  if (random.below(10) == 0) {
    source_version = std::to_string(1 + random.below(3)) + ":" + source_version;
  }
  Package p;
  p.version = source_version;
  p.arch = "amd64";
  switch (i % 8) {
  case 0:
  case 1:
  case 2: // a plain program
    p.name = word + n;
    p.source = p.name;
    p.section = "utils";
    p.depends = "libc6 (>= 2.36)";
    break;
  case 3:
  case 4: // a library from a source of another name: pool/main/<w>/<word>N
    p.name = "lib" + word + n + "-" + std::to_string(1 + i % 5);
    p.source = word + "-lib" + n;
    p.source_field = p.source;
    p.section = "libs";
    p.depends = "libc6 (>= 2.34)";
    break;
  case 5: // a library whose source is lib*: pool/main/lib<x>/...
    p.name = "lib" + word + n + "-dev";
    p.source = "lib" + word + n;
    p.source_field = p.source;
    p.section = "libdevel";
    p.depends = "lib" + word + n + "-1 (= " + p.version + ")";
    break;
  case 6: // architecture-independent data, binNMU-style version
    p.name = word + n + "-data";
    p.source = word + n + "-src";
    p.arch = "all";
    p.section = "misc";
    if (random.below(2) == 0) {
      p.version = source_version + "+b1";
      p.source_field = p.source + " (" + source_version + ")";
    } else {
      p.source_field = p.source;
    }
    break;
  default: // documentation, Architecture: all
    p.name = word + "-doc" + n;
    p.source = p.name;
    p.arch = "all";
    p.section = "doc";
    break;
  }
  return p;
}

std::string control_file(const Package& p, std::uint64_t installed_kb)
{
  std::string text = "Package: " + p.name + "\n";
  if (!p.source_field.empty()) {
    text += "Source: " + p.source_field + "\n";
  }
  text += "Version: " + p.version + "\n";
  text += "Architecture: " + p.arch + "\n";
  text += "Maintainer: Bench Maintainer <bench@example.org>\n";
  text += "Installed-Size: " + std::to_string(installed_kb) + "\n";
  if (!p.depends.empty()) {
    text += "Depends: " + p.depends + "\n";
  }
  text += "Section: " + p.section + "\n";
  text += "Priority: optional\n";
  text += "Homepage: https://example.org/" + p.source + "\n";
  text += "Description: synthetic package " + p.name + " for the repository benchmark\n";
  text += " This package was made by buildme's bench/make-debs. It installs one\n";
  text += " README file of pseudo-random bytes.\n";
  text += " .\n";
  text += "  A verbatim line, indented by two spaces.\n";
  return text;
}

std::string file_name(const Package& p)
{
  const auto colon = p.version.find(':');
  return p.name + "_" + (colon == std::string::npos ? p.version : p.version.substr(colon + 1)) +
         "_" + p.arch + ".deb";
}

std::string make_deb(std::uint64_t i, const Package& p, std::uint64_t arch_index)
{
  Random random((i ^ 0xDEB) + (arch_index << 40));
  std::string readme(1500 + random.below(4500), '\0');
  for (std::size_t k = 0; k + 8 <= readme.size(); k += 8) {
    const std::uint64_t word = random.next();
    std::memcpy(&readme[k], &word, 8);
  }
  const std::string doc = "./usr/share/doc/" + p.name + "/";

  Tar data;
  for (const char* dir : {"./", "./usr/", "./usr/share/", "./usr/share/doc/"}) {
    data.dir(dir);
  }
  data.dir(doc);
  data.file(doc + "README", readme);
  const std::string data_tar = data.finish();

  Tar control;
  control.dir("./");
  control.file("./control", control_file(p, (readme.size() + 1023) / 1024 + 4));
  const std::string control_tar = control.finish();

  std::string deb = "!<arch>\n";
  ar_member(deb, "debian-binary", "2.0\n");
  ar_member(deb, "control.tar.gz", control_tar);
  ar_member(deb, "data.tar.gz", data_tar);
  return deb;
}

std::uint64_t number(const char* text, const char* what)
{
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text, &end, 10);
  if (!*text || *end) {
    die(std::string(what) + " must be a number, not '" + text + "'");
  }
  return value;
}

std::vector<std::string> arch_list(const std::string& text)
{
  std::vector<std::string> arches;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string arch = text.substr(start, comma - start);
    if (arch.empty() || arch == "all" ||
        arch.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
      die("ARCHES must be architecture names separated by commas, like amd64,arm64, not '" + text +
          "'");
    }
    arches.push_back(arch);
    start = comma + 1;
  }
  return arches;
}

} // namespace

int main(int argc, char** argv)
{
  if (argc < 3 || argc > 5) {
    std::cerr << "usage: make-debs OUTDIR COUNT [FIRST [ARCHES]]\n";
    return 2;
  }
  const std::string out = argv[1];
  const std::uint64_t count = number(argv[2], "COUNT");
  const std::uint64_t first = argc >= 4 ? number(argv[3], "FIRST") : 0;
  const std::vector<std::string> arches = arch_list(argc == 5 ? argv[4] : "amd64");
  std::ofstream manifest(out + "/manifest", std::ios::app);
  if (!manifest) {
    die("cannot write " + out + "/manifest (does the folder exist?)");
  }
  for (std::uint64_t i = first; i < first + count; ++i) {
    const Package described = describe(i);
    const std::size_t builds = described.arch == "all" ? 1 : arches.size();
    for (std::size_t a = 0; a < builds; ++a) {
      Package p = described;
      if (p.arch != "all") {
        p.arch = arches[a];
      }
      const std::string deb = make_deb(i, p, a);
      const std::string path = out + "/" + file_name(p);
      std::FILE* file = std::fopen(path.c_str(), "wbx");
      if (!file) {
        die("cannot create " + path + ": " + std::strerror(errno));
      }
      if (std::fwrite(deb.data(), 1, deb.size(), file) != deb.size() || std::fclose(file) != 0) {
        die("cannot write " + path);
      }
      manifest << file_name(p) << '\t' << p.name << '\t' << p.version << '\t' << p.arch << '\t'
               << p.source << '\n';
    }
  }
  if (!manifest.flush()) {
    die("cannot write " + out + "/manifest");
  }
  return 0;
}
