#include "repo/index.hpp"

#include "debian/deb822.hpp"
#include "deb_fixture.hpp"
#include "repo/deb.hpp"
#include "scratch.hpp"
#include "util/digest.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <doctest/doctest.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace unit_test_repo_index {

using namespace buildme;
using namespace buildme::test;
namespace fs = std::filesystem;

namespace {

const Tool apt_ftparchive{"apt-ftparchive", "apt-utils"};
const Tool dpkg_source{"dpkg-source", "dpkg-dev"};
const Tool gzip_tool{"gzip", "gzip"};
const Tool xz_tool{"xz", "xz-utils"};

// The stanzas of an index as apt-ftparchive writes it, each ending in one
// "\n", keyed by the value of `key`.
std::map<std::string, std::string> stanzas_by(const std::string& index, std::string_view key)
{
  std::map<std::string, std::string> stanzas;
  std::string prefix = std::string(key) + ": ";
  for (std::size_t start = 0; start < index.size();) {
    auto end = index.find("\n\n", start);
    if (end == std::string::npos) {
      end = index.size();
    }
    auto stanza = index.substr(start, end - start) + "\n";
    auto at = stanza.find("\n" + prefix);
    auto line_start = stanza.starts_with(prefix) ? 0 : at + 1;
    REQUIRE_MESSAGE((stanza.starts_with(prefix) || at != std::string::npos), stanza);
    auto value_start = line_start + prefix.size();
    stanzas[stanza.substr(value_start, stanza.find('\n', value_start) - value_start)] = stanza;
    start = end + 2;
  }
  return stanzas;
}

debian::Paragraph only_paragraph(const std::string& text, std::string_view name)
{
  auto parsed = debian::parse_control(text, name);
  REQUIRE_MESSAGE(parsed.ok(), parsed.message());
  REQUIRE(parsed->paragraphs.size() == 1);
  return parsed->paragraphs[0];
}

util::Digests digests_of(const fs::path& file)
{
  auto digests = util::digest_file(file, util::DigestSet::all());
  REQUIRE_MESSAGE(digests.ok(), digests.message());
  return *digests;
}

// Our Packages stanza for the .deb at `pool_path` below `root`, made the way
// queue-manage makes it: read_deb_control, parse_control, digest_file.
std::string our_packages_stanza(const fs::path& root, const std::string& pool_path)
{
  auto text = repo::read_deb_control(root / pool_path);
  REQUIRE_MESSAGE(text.ok(), text.message());
  return repo::packages_stanza(*text, only_paragraph(*text, pool_path), pool_path,
                               digests_of(root / pool_path));
}

// Our Sources stanza for the .dsc at `pool_path` below `root`: the .dsc
// itself, then the files its Files field lists, in that order.
std::string our_sources_stanza(const fs::path& root, const std::string& pool_path)
{
  auto dsc_path = root / pool_path;
  auto text = util::read_file(dsc_path);
  REQUIRE_MESSAGE(text.ok(), text.message());
  auto dsc = only_paragraph(*text, pool_path);
  std::vector<repo::SourceFile> files = {{dsc_path.filename().string(), digests_of(dsc_path)}};
  auto listed = dsc.get("Files");
  REQUIRE(listed);
  for (auto line : util::split(*listed, "\n")) {
    auto words = util::split_words(line);
    REQUIRE(words.size() == 3);
    files.push_back({words[2], digests_of(dsc_path.parent_path() / words[2])});
  }
  return repo::sources_stanza(*text, dsc, fs::path(pool_path).parent_path().string(), files);
}

fs::path place(const fs::path& file, const fs::path& folder)
{
  fs::create_directories(folder);
  auto target = folder / file.filename();
  fs::rename(file, target);
  return target;
}

// A small source package made by dpkg-source -b: native, or 3.0 (quilt)
// with an orig tarball. Returns the folder holding the .dsc and its files.
fs::path build_source(const fs::path& dir, const std::string& name, bool native)
{
  auto version = native ? std::string("1.0") : std::string("1.0-1");
  auto tree = dir / (name + "-1.0");
  fs::create_directories(tree / "debian/source");
  std::ofstream(tree / "hello.c") << "int main(void) { return 0; }\n";
  if (!native) {
    run_tool(tar_tool, {"-czf", name + "_1.0.orig.tar.gz", name + "-1.0"}, dir);
  }
  std::ofstream(tree / "debian/source/format") << (native ? "3.0 (native)\n" : "3.0 (quilt)\n");
  std::ofstream(tree / "debian/control") << "Source: " << name << "\n"
                                         << "Section: devel\n"
                                            "Priority: optional\n"
                                            "Maintainer: Jane Doe <jane@example.org>\n"
                                            "Uploaders: John Roe <john@example.org>\n"
                                            "Build-Depends: debhelper-compat (= 13)\n"
                                            "Standards-Version: 4.6.2\n"
                                            "Homepage: https://example.org/hello\n"
                                            "Vcs-Git: https://example.org/hello.git\n"
                                            "Testsuite: autopkgtest\n"
                                            "\n"
                                            "Package: "
                                         << name << "\n"
                                         << "Architecture: any\n"
                                            "Depends: ${misc:Depends}\n"
                                            "Description: says hello\n"
                                            " Says hello.\n";
  std::ofstream(tree / "debian/changelog")
    << name << " (" << version
    << ") unstable; urgency=medium\n\n  * Initial release.\n\n"
       " -- Jane Doe <jane@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n";
  std::ofstream(tree / "debian/rules") << "#!/usr/bin/make -f\n%:\n\tdh $@\n";
  fs::permissions(tree / "debian/rules", fs::perms::owner_exec, fs::perm_options::add);
  run_tool(dpkg_source, {"-b", name + "-1.0"}, dir);
  fs::remove_all(tree);
  return dir;
}

const std::string foo_control = "Package: foo-utils\n"
                                "Version: 1.0-1\n"
                                "Architecture: amd64\n"
                                "Maintainer: Jane Doe <jane@example.org>\n"
                                "X-Custom: something odd\n"
                                "Installed-Size: 12\n"
                                "Depends: libc6 (>= 2.36), bar | baz\n"
                                "pre-depends: dpkg (>= 1.19)\n"
                                "Multi-Arch: same\n"
                                "Section: utils\n"
                                "Priority: optional\n"
                                "Source: foo (1.0-1)\n"
                                "Homepage: https://example.org/foo\n"
                                "Description: a test package  \n"
                                " First paragraph line.\n"
                                " .\n"
                                " Second paragraph,  with  spaces.\n"
                                "   an indented verbatim line\n"
                                "\ta line indented by a tab\n"
                                " .\n"
                                " * a list item\n"
                                "X-Empty-First-Line:\n"
                                " line one \n"
                                " line two\n";

const std::string bar_control = "Package: bar\n"
                                "Version: 2:0.9~rc1-3\n"
                                "Architecture: all\n"
                                "Maintainer: John Roe <john@example.org>\n"
                                "Multi-Arch: foreign\n"
                                "Provides: baz (= 1)\n"
                                "Breaks: old-bar (<< 0.5)\n"
                                "Replaces: old-bar (<< 0.5)\n"
                                "Conflicts: other-bar\n"
                                "Recommends: foo-utils\n"
                                "Suggests: qux\n"
                                "Enhances: foo-utils\n"
                                "Built-Using: gcc-12 (= 12.2.0-14)\n"
                                "Description: one line only\n";

const std::string libbaz_control = "Package: libbaz1\n"
                                   "Source: libbaz\n"
                                   "Version: 1.2-1\n"
                                   "Architecture: amd64\n"
                                   "Maintainer: Jane Doe <jane@example.org>\n"
                                   "Installed-Size: 100\n"
                                   "Pre-Depends: multiarch-support\n"
                                   "Depends: libc6 (>= 2.34)\n"
                                   "Section: libs\n"
                                   "Priority: optional\n"
                                   "Multi-Arch: same\n"
                                   "Description: the baz library\n"
                                   " Runtime files:\n"
                                   "  * the shared object\n"
                                   "  * nothing else\n";

// Every field apt orders, shuffled, with Status (which apt drops), obsolete
// aliases apt does not know, and fields the .deb has no business setting.
const std::string every_field_control = "Task: t\n"
                                        "Tag: role::program\n"
                                        "Description-md5: 0123456789abcdef0123456789abcdef\n"
                                        "Description: all fields\n"
                                        " body\n"
                                        "Homepage: https://example.org/all\n"
                                        "SHA512: x\n"
                                        "SHA256: x\n"
                                        "sha1: x\n"
                                        "MD5sum: x\n"
                                        "Size: 1\n"
                                        "MSDOS-Filename: X.DEB\n"
                                        "Filename: somewhere/else.deb\n"
                                        "Enhances: e\n"
                                        "Replaces: r\n"
                                        "Breaks: b\n"
                                        "Conflicts: c\n"
                                        "Suggests: s\n"
                                        "Recommends: r\n"
                                        "Depends: d\n"
                                        "Pre-Depends: p\n"
                                        "Provides: pv\n"
                                        "Installed-Size: 3\n"
                                        "Triggers-Pending: tp\n"
                                        "Triggers-Awaited: ta\n"
                                        "Conffiles:\n"
                                        " /etc/x 0123\n"
                                        "Config-Version: 1\n"
                                        "Bugs: debbugs://bugs.example.org\n"
                                        "Original-Maintainer: OM <om@example.org>\n"
                                        "Maintainer: M <m@example.org>\n"
                                        "Phased-Update-Percentage: 10\n"
                                        "Origin: o\n"
                                        "Source: src (0.1)\n"
                                        "section:  admin  \n"
                                        "Installer-Menu-Item: 1\n"
                                        "Essential: no\n"
                                        "Important: yes\n"
                                        "Protected: yes\n"
                                        "Build-Essential: yes\n"
                                        "Priority:\n"
                                        "  optional\n"
                                        "Multi-Arch: foreign\n"
                                        "Auto-Built-Package: debug-symbols\n"
                                        "Built-For-Profiles: nocheck\n"
                                        "Static-Built-Using: sbu (= 1)\n"
                                        "Built-Using: bu (= 1)\n"
                                        "Kernel-Version: 6.1\n"
                                        "Version: 1.0\n"
                                        "Subarchitecture: sa\n"
                                        "Status: install ok installed\n"
                                        "Architecture: amd64\n"
                                        "Package-Type: deb\n"
                                        "Package: every-field\n"
                                        "X-Late: l\n"
                                        "Class: c\n"
                                        "Recommended: r\n"
                                        "X-Empty:\n"
                                        "Optional: o\n";

// A .dsc written by hand: fields shuffled, Priority and Section (apt keeps
// Section, drops Priority), unknown fields, and only a SHA256 list (apt
// computes the others from the files).
std::string hand_dsc(const util::Digests& tarball)
{
  return "Format: 3.0 (native)\n"
         "X-Unknown-First: a\n"
         "Checksums-Sha256:\n"
         " " +
         *tarball.sha256 + " " + std::to_string(tarball.size) +
         " handmade_1.0.tar.xz\n"
         "Source: handmade\n"
         "Vcs-Browser: https://example.org/browse\n"
         "Binary: handmade, handmade-doc\n"
         "Testsuite-Triggers: python3\n"
         "Architecture: any all\n"
         "Version: 1.0\n"
         "Priority: extra\n"
         "Section: libs\n"
         "Maintainer: Jane Doe <jane@example.org>\n"
         "Build-Depends-Indep: python3\n"
         "Testsuite: autopkgtest\n"
         "Dgit: 0123456789abcdef\n"
         "Files:\n"
         " " +
         *tarball.md5 + " " + std::to_string(tarball.size) +
         " handmade_1.0.tar.xz\n"
         "Package-List:\n"
         " handmade deb libs optional arch=any\n"
         " handmade-doc deb doc optional arch=all\n"
         "X-Zed: z\n";
}

} // namespace

TEST_CASE("Packages stanzas are byte for byte what apt-ftparchive writes for the same .debs")
{
  ScratchDir scratch;
  auto root = scratch / "repo";
  auto work = scratch / "work";
  fs::create_directories(work);
  std::vector<std::string> pool_paths;
  auto add = [&](const fs::path& deb, const std::string& folder) {
    auto placed = place(deb, root / folder);
    pool_paths.push_back(fs::relative(placed, root).string());
  };
  add(build_deb(work, "foo-utils_1.0-1_amd64", foo_control, "xz"), "pool/main/f/foo");
  add(build_deb(work, "bar_0.9~rc1-3_all", bar_control, "zstd"), "pool/main/b/bar");
  add(build_deb(work, "libbaz1_1.2-1_amd64", libbaz_control, "gzip"), "pool/main/libb/libbaz");
  add(hand_made_deb(work, "every-field_1.0_amd64", every_field_control), "pool/main/s/src");

  auto index = run_tool(apt_ftparchive, {"packages", "pool"}, root);
  auto theirs = stanzas_by(index, "Filename");
  REQUIRE(theirs.size() == pool_paths.size());
  for (const auto& pool_path : pool_paths) {
    CAPTURE(pool_path);
    REQUIRE(theirs.count(pool_path) == 1);
    CHECK(our_packages_stanza(root, pool_path) == theirs[pool_path]);
  }
}

TEST_CASE("Contents is what apt-ftparchive writes for the same .debs")
{
  ScratchDir scratch;
  auto root = scratch / "repo";
  auto work = scratch / "work";
  fs::create_directories(work);
  // Each builds usr/share/doc/NAME/README; two more hold a shared file, a
  // name longer than the column and one sorted between folders.
  std::vector<std::pair<fs::path, std::string>> debs = {
    {place(build_deb(work, "foo-utils", foo_control, "xz"), root / "pool/main/f/foo"), "foo-utils"},
    {place(build_deb(work, "bar", bar_control, "zstd"), root / "pool/main/b/bar"), "bar"}};
  auto shared = [&](const std::string& name, const std::string& control) {
    auto tree = work / ("tree-" + name);
    fs::create_directories(tree / "DEBIAN");
    fs::create_directories(tree / "usr/share/a-very-long-folder-name-that-passes-column-sixty");
    fs::create_directories(tree / "etc");
    std::ofstream(tree / "DEBIAN/control") << control;
    std::ofstream(tree / "etc/shared.conf") << name;
    std::ofstream(tree / "usr/share-x") << name;
    std::ofstream(tree / "usr/share/a-very-long-folder-name-that-passes-column-sixty" /
                  ("file-" + name))
      << name;
    fs::create_symlink("../../etc/shared.conf", tree / "usr/share/link");
    auto deb = work / (name + ".deb");
    run_tool(dpkg_deb, {"--root-owner-group", "--build", tree.string(), deb.string()}, work);
    return place(deb, root / "pool/main/s/shared");
  };
  debs.push_back({shared("one", "Package: one\nVersion: 1\nArchitecture: all\n"
                                "Maintainer: M <m@example.org>\nDescription: d\n"),
                  "one"});
  debs.push_back({shared("two", "Package: two\nVersion: 1\nArchitecture: all\n"
                                "Maintainer: M <m@example.org>\nDescription: d\n"),
                  "two"});

  std::vector<std::string> names(debs.size());
  std::vector<repo::ContentsSource> sources;
  for (std::size_t i = 0; i < debs.size(); ++i) {
    auto read = repo::read_deb(debs[i].first, util::DigestSet{}, {}, true);
    REQUIRE_MESSAGE(read, read.message());
    names[i] = read->files;
  }
  for (std::size_t i = 0; i < debs.size(); ++i) {
    sources.push_back({debs[i].second, names[i]});
  }
  const std::string ours = repo::contents_text(sources);
  // apt-ftparchive lists a shared file's packages in the order it met them:
  // compared as sets, the rest byte for byte.
  auto normal = [](const std::string& text) {
    std::string out;
    for (auto line : util::split(text, "\n")) {
      if (line.empty()) {
        continue;
      }
      const auto cut = line.find_last_of(" \t");
      std::vector<std::string> packages;
      for (auto package : util::split(line.substr(cut + 1), ",")) {
        packages.emplace_back(package);
      }
      std::sort(packages.begin(), packages.end());
      out += std::string(line.substr(0, cut + 1)) + util::join(packages, ",") + "\n";
    }
    return out;
  };
  const std::string theirs = run_tool(apt_ftparchive, {"contents", "pool"}, root);
  CHECK(normal(ours) == normal(theirs));
  CHECK(ours.find("etc/shared.conf\t\t\t\t\t\t    one,two\n") != std::string::npos);
  CHECK(ours.find("usr/share/a-very-long-folder-name-that-passes-column-sixty/file-one one\n") !=
        std::string::npos);
  CHECK(ours.find("usr/share-x") < ours.find("usr/share/a-very-long"));
  CHECK(repo::contents_text({}).empty());
}

TEST_CASE("Sources stanzas are byte for byte what apt-ftparchive writes for the same .dscs")
{
  ScratchDir scratch;
  auto root = scratch / "repo";
  std::vector<std::string> pool_paths;
  auto add_all = [&](const fs::path& from, const std::string& folder) {
    fs::create_directories(root / folder);
    for (const auto& entry : fs::directory_iterator(from)) {
      auto placed = place(entry.path(), root / folder);
      if (placed.extension() == ".dsc") {
        pool_paths.push_back(fs::relative(placed, root).string());
      }
    }
  };
  fs::create_directories(scratch / "native");
  add_all(build_source(scratch / "native", "hello", true), "pool/main/h/hello");
  fs::create_directories(scratch / "quilt");
  add_all(build_source(scratch / "quilt", "quilty", false), "pool/main/q/quilty");

  // By hand, with the native tarball renamed, unsigned and clear-signed
  // (apt-ftparchive checks no signature, and neither do these writers).
  auto hand = root / "pool/main/h/handmade";
  fs::create_directories(hand);
  fs::copy_file(root / "pool/main/h/hello/hello_1.0.tar.xz", hand / "handmade_1.0.tar.xz");
  auto dsc = hand_dsc(digests_of(hand / "handmade_1.0.tar.xz"));
  std::ofstream(hand / "handmade_1.0.dsc") << dsc;
  pool_paths.push_back("pool/main/h/handmade/handmade_1.0.dsc");

  auto signed_dir = root / "pool/main/s/signed";
  fs::create_directories(signed_dir);
  fs::copy_file(hand / "handmade_1.0.tar.xz", signed_dir / "handmade_1.0.tar.xz");
  std::string signed_dsc = dsc;
  signed_dsc.replace(signed_dsc.find("Source: handmade"), 16, "Source: signed");
  std::ofstream(signed_dir / "signed_1.0.dsc")
    << "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n"
    << signed_dsc
    << "-----BEGIN PGP SIGNATURE-----\n\niQEzBAEBCAAdFiEEabcdefgh\n=AbCd\n"
       "-----END PGP SIGNATURE-----\n";
  pool_paths.push_back("pool/main/s/signed/signed_1.0.dsc");

  auto index = run_tool(apt_ftparchive, {"sources", "pool"}, root);
  auto theirs = stanzas_by(index, "Directory");
  REQUIRE(theirs.size() == pool_paths.size());
  for (const auto& pool_path : pool_paths) {
    CAPTURE(pool_path);
    auto directory = fs::path(pool_path).parent_path().string();
    REQUIRE(theirs.count(directory) == 1);
    CHECK(our_sources_stanza(root, pool_path) == theirs[directory]);
  }
}

TEST_CASE("Release digest lists are laid out as apt-ftparchive lays them out")
{
  ScratchDir scratch;
  auto root = scratch / "repo";
  auto work = scratch / "work";
  fs::create_directories(work);
  auto deb = place(build_deb(work, "foo-utils_1.0-1_amd64", foo_control), root / "pool/main/f/foo");
  auto stanza = our_packages_stanza(root, fs::relative(deb, root).string());

  auto dist = root / "dists/fremantle";
  std::vector<repo::ReleaseFile> files;
  auto write_index = [&](const std::string& path, const std::string& content) {
    fs::create_directories((dist / path).parent_path());
    std::ofstream(dist / path, std::ios::binary) << content;
    files.push_back({path, digests_of(dist / path)});
  };
  using Component = std::pair<std::string, std::string>;
  for (const auto& [component, text] : {Component{"main", stanza}, Component{"non-free", ""}}) {
    auto packages = component + "/binary-amd64/Packages";
    write_index(packages, text);
    write_index(packages + ".gz", repo::gzip_compress(text).value());
    write_index(packages + ".xz", repo::xz_compress(text).value());
  }
  // A large index: sizes of more digits still line up.
  write_index("main/source/Sources", std::string(1234567, 'x'));

  auto release = run_tool(
    apt_ftparchive,
    {"-o", "APT::FTPArchive::Release::NumericTimezone=false", "release", "dists/fremantle"}, root);
  auto date_line = release.substr(0, release.find('\n'));
  REQUIRE(date_line.starts_with("Date: "));
  std::tm parsed{};
  REQUIRE(strptime(date_line.c_str() + 6, "%a, %d %b %Y %H:%M:%S", &parsed) != nullptr);
  auto date = std::chrono::system_clock::from_time_t(timegm(&parsed));

  repo::ReleaseInfo info;
  info.date = date;
  auto ours = repo::release_text(info, files);
  CHECK(ours.substr(0, ours.find('\n')) == date_line);
  auto lists = [](const std::string& text) { return text.substr(text.find("MD5Sum:\n")); };
  CHECK(lists(ours) == lists(release));
}

TEST_CASE("Release carries the distribution's fields, leaving out empty ones")
{
  repo::ReleaseInfo info;
  info.origin = "maemo.org";
  info.label = "Extras\ndevel"; // a line break from the config becomes a space
  info.suite = "fremantle";
  info.codename = "fremantle";
  info.date = std::chrono::system_clock::from_time_t(1700000000);
  info.valid_for = std::chrono::hours(24 * 7);
  info.architectures = {"armel", "i386"};
  info.components = {"free", "non-free"};
  info.by_hash = true;
  util::Digests digests;
  digests.size = 42;
  digests.md5 = std::string(32, 'a');
  digests.sha256 = std::string(64, 'b');
  auto text = repo::release_text(
    info, {{"non-free/binary-i386/Packages", digests}, {"free/binary-armel/Packages", digests}});
  CHECK(text == "Origin: maemo.org\n"
                "Label: Extras devel\n"
                "Suite: fremantle\n"
                "Codename: fremantle\n"
                "Date: Tue, 14 Nov 2023 22:13:20 UTC\n"
                "Valid-Until: Tue, 21 Nov 2023 22:13:20 UTC\n"
                "Architectures: armel i386\n"
                "Components: free non-free\n"
                "Acquire-By-Hash: yes\n"
                "MD5Sum:\n"
                " aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa               42 free/binary-armel/Packages\n"
                " aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa               42 non-free/binary-i386/Packages\n"
                "SHA1:\n"
                "SHA256:\n"
                " " +
                  std::string(64, 'b') +
                  "               42 free/binary-armel/Packages\n"
                  " " +
                  std::string(64, 'b') +
                  "               42 non-free/binary-i386/Packages\n"
                  "SHA512:\n");
}

TEST_CASE("Release dates are RFC 2822 in UTC whatever the time of day")
{
  using std::chrono::system_clock;
  CHECK(repo::release_date(system_clock::from_time_t(0)) == "Thu, 01 Jan 1970 00:00:00 UTC");
  auto leap_day_end = system_clock::from_time_t(1709251199);
  CHECK(repo::release_date(leap_day_end) == "Thu, 29 Feb 2024 23:59:59 UTC");
  // Part of a second does not round up into the next day.
  CHECK(repo::release_date(leap_day_end + std::chrono::milliseconds(999)) ==
        "Thu, 29 Feb 2024 23:59:59 UTC");
}

TEST_CASE("gzip and xz indices unpack with gzip and xz to exactly the index")
{
  ScratchDir scratch;
  std::string index;
  for (int i = 0; index.size() < 300000; ++i) {
    index += "Package: p" + std::to_string(i) + "\nVersion: " + std::to_string(i * 7 % 13) + "\n\n";
  }
  for (const std::string& data : {index, std::string()}) {
    CAPTURE(data.size());
    auto gz = repo::gzip_compress(data);
    REQUIRE_MESSAGE(gz.ok(), gz.message());
    CHECK(run_tool(gzip_tool, {"-dc"}, scratch.path(), *gz) == data);
    auto xz = repo::xz_compress(data);
    REQUIRE_MESSAGE(xz.ok(), xz.message());
    CHECK(run_tool(xz_tool, {"-dc"}, scratch.path(), *xz) == data);
    CHECK(gz->size() < data.size() + 32);
  }
}

TEST_CASE("equal indices compress to equal bytes, with no name or time in the gzip header")
{
  std::string index = "Package: hello\nVersion: 1.0\n";
  auto first = repo::gzip_compress(index).value();
  CHECK(repo::gzip_compress(index).value() == first);
  REQUIRE(first.size() > 10);
  CHECK(first.substr(0, 3) == "\x1f\x8b\x08");
  CHECK(first[3] == 0);                              // no FNAME, FCOMMENT, FEXTRA
  CHECK(first.substr(4, 4) == std::string(4, '\0')); // MTIME 0
  CHECK(repo::gzip_compress(index + "x").value() != first);

  auto xz = repo::xz_compress(index).value();
  CHECK(repo::xz_compress(index).value() == xz);
  REQUIRE(xz.size() > 8);
  CHECK(xz.substr(0, 6) == "\xfd"
                           "7zXZ" +
                             std::string(1, '\0'));
  CHECK(xz[6] == 0);
  CHECK(xz[7] == 0x04); // check type CRC64
}

TEST_CASE("a Packages stanza writes what it is given, even without Package or Version")
{
  std::string text = "Description: orphan\n";
  util::Digests digests;
  digests.size = 7;
  digests.md5 = "m";
  digests.sha1 = "s1";
  digests.sha256 = "s256";
  digests.sha512 = "s512";
  CHECK(repo::packages_stanza(text, only_paragraph(text, "t"), "pool/x.deb", digests) ==
        "Filename: pool/x.deb\n"
        "Size: 7\n"
        "MD5sum: m\n"
        "SHA1: s1\n"
        "SHA256: s256\n"
        "SHA512: s512\n"
        "Description: orphan\n");

  util::Digests partial;
  partial.size = 0;
  std::string claims = "Package: p\nMD5sum: forged\nSize: 99\n";
  CHECK(repo::packages_stanza(claims, only_paragraph(claims, "t"), "p.deb", partial) ==
        "Package: p\nFilename: p.deb\nSize: 0\n");
}

TEST_CASE("continuation lines are copied as written, blanks and tabs included")
{
  std::string text = "Package: p\n"
                     "Description: synopsis\n"
                     "  two spaces\n"
                     "\ttab\n"
                     " .\n"
                     " trailing blanks kept inside  \n"
                     " last line  \n";
  util::Digests digests;
  auto stanza = repo::packages_stanza(text, only_paragraph(text, "t"), "p.deb", digests);
  CHECK(stanza == "Package: p\n"
                  "Filename: p.deb\n"
                  "Size: 0\n"
                  "Description: synopsis\n"
                  "  two spaces\n"
                  "\ttab\n"
                  " .\n"
                  " trailing blanks kept inside  \n"
                  " last line\n");

  // CRLF line ends and comment lines between continuation lines.
  std::string crlf = "Package: p\r\nDescription: s\r\n# a comment\r\n  kept\r\n";
  CHECK(repo::packages_stanza(crlf, only_paragraph(crlf, "t"), "p.deb", digests) ==
        "Package: p\nFilename: p.deb\nSize: 0\nDescription: s\n  kept\n");
}

TEST_CASE("a paragraph that does not come from the text given is written from its values")
{
  std::string text = "Package: p\nDescription: synopsis\n  two spaces\n .\n";
  auto paragraph = only_paragraph(text, "t");
  util::Digests digests;
  std::string expected = "Package: p\nFilename: p.deb\nSize: 0\n"
                         "Description: synopsis\n two spaces\n .\n";
  CHECK(repo::packages_stanza("", paragraph, "p.deb", digests) == expected);
  CHECK(repo::packages_stanza("Other: text\nand more\n", paragraph, "p.deb", digests) == expected);
}

TEST_CASE("a Sources stanza without files lists no files")
{
  std::string text = "Source: s\nVersion: 1\nFiles:\n abc 1 s.tar.gz\n";
  CHECK(repo::sources_stanza(text, only_paragraph(text, "s.dsc"), "pool/main/s/s", {}) ==
        "Package: s\nVersion: 1\nDirectory: pool/main/s/s\n");
}

TEST_CASE("no line of a Packages stanza is blank, and it reads back as the control file read")
{
  // Fuzzing found a control line " \r\r\n" kept as a value line " \r",
  // which a reader of the Packages file takes for the end of the stanza.
  // Now CRs before a line end are part of it, as dpkg strips them, and a
  // line of blanks ends the paragraph: dpkg-deb refuses to build that one
  // ("blank line in value of field"), and so does reading it here.
  auto refused = debian::parse_control("Package: p\nDescription: x\n \r\r\n more\n", "control");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.message().starts_with("control:4: continuation line"));

  std::string text = "Package: p\r\r\nDescription: x\r\r\n  y \r\r\n\t.\r\r\n \f z\r \r\n";
  auto paragraph = only_paragraph(text, "control");
  util::Digests digests;
  auto stanza = repo::packages_stanza(text, paragraph, "p.deb", digests);
  CHECK(stanza == "Package: p\nFilename: p.deb\nSize: 0\nDescription: x\n  y \n\t.\n \f z\n");
  for (auto line : debian::control_lines(stanza)) {
    CHECK_FALSE(debian::is_blank_line(line));
  }
  auto again = only_paragraph(stanza, "Packages");
  CHECK(again.get("Description") == paragraph.get("Description"));
  CHECK(paragraph.get("Description") == "x\ny\n.\nz");
}

TEST_CASE("an empty or blank value line from a paragraph of other text is written ' .'")
{
  debian::Paragraph paragraph;
  paragraph.fields.push_back({"Package", "p", 1, {1}});
  paragraph.fields.push_back({"Description", "x\n\nmore\n \t\nlast", 2, {2, 3, 4, 5, 6}});
  util::Digests digests;
  auto stanza = repo::packages_stanza("", paragraph, "p.deb", digests);
  CHECK(stanza == "Package: p\nFilename: p.deb\nSize: 0\nDescription: x\n .\n more\n .\n last\n");
  auto again = only_paragraph(stanza, "Packages");
  CHECK(again.get("Description") == "x\n.\nmore\n.\nlast");
}

} // namespace unit_test_repo_index
