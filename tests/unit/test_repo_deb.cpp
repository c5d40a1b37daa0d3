#include "repo/deb.hpp"
#include "util/digest.hpp"
#include "util/text.hpp"

#include "deb_fixture.hpp"
#include "scratch.hpp"

#include <doctest/doctest.h>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <algorithm>
#include <vector>
#include <string>

namespace unit_test_repo_deb {

using buildme::repo::DebLimits;
using buildme::repo::read_deb;
using buildme::repo::read_deb_control;
using namespace buildme::test;
namespace fs = std::filesystem;

namespace {

const std::string hello_control = "Package: hello\n"
                                  "Version: 1.0-1\n"
                                  "Architecture: amd64\n"
                                  "Maintainer: Jane Doe <jane@example.org>\n"
                                  "Installed-Size: 12\n"
                                  "Depends: libc6 (>= 2.36)\n"
                                  "Description: greets the world  \n"
                                  " Prints a greeting.\n"
                                  " .\n"
                                  "   a verbatim line\n";

const char* const compressions[] = {"gzip", "xz", "zstd", "none"};

// Removes before writing: ext4 flushes a file rewritten by truncation on
// close, which would make the byte-by-byte cases take minutes.
void write_bytes(const fs::path& path, const std::string& bytes)
{
  fs::remove(path);
  std::ofstream(path, std::ios::binary) << bytes;
}

// The members of a good .deb, unpacked with ar into `dir`:
// debian-binary, control.tar.xz, data.tar.xz.
void unpack_members(const ScratchDir& scratch, const fs::path& dir)
{
  fs::create_directories(dir);
  auto deb = build_deb(scratch.path(), "members", hello_control, "xz");
  run_tool(ar_tool, {"x", deb.string()}, dir);
}

// The message of a read that must fail; it names the file.
std::string failure(const fs::path& deb, const DebLimits& limits = {})
{
  auto control = read_deb_control(deb, limits);
  REQUIRE_FALSE(control.ok());
  CHECK(control.message().find(deb.filename().string()) != std::string::npos);
  return control.message();
}

// read_deb from memory and (with no room in memory) from the disk: two
// ways of feeding libarchive that must say exactly the same of every file,
// and give the file's digests when they read it.
void check_read_deb_agrees(const fs::path& deb)
{
  DebLimits on_disk;
  on_disk.max_in_memory = 0;
  auto from_memory = read_deb(deb, buildme::util::DigestSet::all());
  auto from_disk = read_deb(deb, buildme::util::DigestSet::all(), on_disk);
  REQUIRE(from_memory.ok() == from_disk.ok());
  if (!from_memory.ok()) {
    CHECK(from_memory.message() == from_disk.message());
    return;
  }
  CHECK(from_memory->control == from_disk->control);
  auto digests = buildme::util::digest_file(deb, buildme::util::DigestSet::all());
  REQUIRE(digests.ok());
  for (const auto* read : {&*from_memory, &*from_disk}) {
    CHECK(read->digests.size == digests->size);
    CHECK(read->digests.md5 == digests->md5);
    CHECK(read->digests.sha1 == digests->sha1);
    CHECK(read->digests.sha256 == digests->sha256);
    CHECK(read->digests.sha512 == digests->sha512);
  }
}

} // namespace

TEST_CASE("the control file of a .deb reads back exactly as dpkg-deb --field prints it")
{
  ScratchDir scratch;
  for (std::string compression : compressions) {
    CAPTURE(compression);
    auto deb =
      build_deb(scratch.path(), std::string("hello-") + compression, hello_control, compression);
    auto control = read_deb_control(deb);
    REQUIRE_MESSAGE(control.ok(), control.message());
    CHECK(*control == dpkg_deb_field(deb));
    CHECK(*control == hello_control);
    check_read_deb_agrees(deb);
  }
}

TEST_CASE("a .deb cut short anywhere is refused, naming the file")
{
  ScratchDir scratch;
  for (std::string compression : compressions) {
    CAPTURE(compression);
    auto deb =
      build_deb(scratch.path(), std::string("whole-") + compression, hello_control, compression);
    auto bytes = ScratchDir::read(deb);
    auto cut = scratch / "cut.deb";
    for (std::size_t size = 0; size < bytes.size(); ++size) {
      CAPTURE(size);
      write_bytes(cut, bytes.substr(0, size));
      check_read_deb_agrees(cut);
      auto control = read_deb_control(cut);
      REQUIRE_FALSE(control.ok());
      const auto& message = control.message();
      CAPTURE(message);
      CHECK(message.find("cut.deb") != std::string::npos);
      if (size == 0) {
        CHECK(message.find("the file is empty") != std::string::npos);
      } else if (size < 8) { // shorter than the ar magic
        CHECK(message.find("not an ar archive") != std::string::npos);
      } else if (size == 72 + 30) { // debian-binary ends at 72
        CHECK(message.find("the file is truncated: it ends 30 bytes into the ar header after "
                           "'debian-binary'") != std::string::npos);
      } else {
        // Cut inside a member, or between two: either way the message says so.
        CHECK((message.find("truncated") != std::string::npos ||
               message.find("the file ends after") != std::string::npos ||
               message.find("the ar archive is empty") != std::string::npos));
      }
    }
  }
}

TEST_CASE("a .deb with a damaged byte is refused or still gives its own control file")
{
  // Compressed control members carry a checksum, so damage there is always
  // noticed; damage in data.tar (which is not read) leaves the control file
  // as it was. Never a crash, never a changed control file.
  ScratchDir scratch;
  for (std::string compression : {"gzip", "xz", "zstd"}) {
    CAPTURE(compression);
    auto deb =
      build_deb(scratch.path(), std::string("whole-") + compression, hello_control, compression);
    auto bytes = ScratchDir::read(deb);
    auto damaged = scratch / "damaged.deb";
    int refused = 0;
    for (std::size_t at = 0; at < bytes.size(); ++at) {
      CAPTURE(at);
      auto copy = bytes;
      copy[at] = static_cast<char>(copy[at] ^ 0x5a);
      write_bytes(damaged, copy);
      check_read_deb_agrees(damaged);
      auto control = read_deb_control(damaged);
      if (control.ok()) {
        CHECK(*control == hello_control);
      } else {
        ++refused;
        CHECK(control.message().find("damaged.deb") != std::string::npos);
      }
    }
    CHECK(refused > 100);
  }
}

TEST_CASE("an uncompressed .deb with a damaged byte never crashes the reader")
{
  ScratchDir scratch;
  auto deb = build_deb(scratch.path(), "plain", hello_control, "none");
  auto bytes = ScratchDir::read(deb);
  auto damaged = scratch / "damaged.deb";
  for (std::size_t at = 0; at < bytes.size(); ++at) {
    CAPTURE(at);
    auto copy = bytes;
    copy[at] = static_cast<char>(copy[at] ^ 0x5a);
    write_bytes(damaged, copy);
    auto control = read_deb_control(damaged);
    if (!control.ok()) {
      CHECK(control.message().find("damaged.deb") != std::string::npos);
    }
  }
}

TEST_CASE("an empty file or a text file named .deb is not a Debian package")
{
  ScratchDir scratch;
  auto empty = scratch.write("empty.deb", "");
  CHECK(failure(empty).find("not a Debian package: the file is empty") != std::string::npos);

  auto text = scratch.write("notes.deb", "Package: hello\nVersion: 1.0\n");
  CHECK(failure(text).find("not a Debian package: not an ar archive") != std::string::npos);

  auto missing = failure(scratch / "missing.deb");
  CHECK(missing.find("missing.deb") != std::string::npos);
}

TEST_CASE("a symlink or a folder named .deb is refused")
{
  ScratchDir scratch;
  auto deb = build_deb(scratch.path(), "hello", hello_control);
  fs::create_symlink(deb, scratch / "link.deb");
  failure(scratch / "link.deb");
  fs::create_directories(scratch / "folder.deb");
  failure(scratch / "folder.deb");
}

TEST_CASE("members out of dpkg's order are refused")
{
  ScratchDir scratch;
  auto dir = scratch / "members";
  unpack_members(scratch, dir);

  auto data_first =
    ar_archive(dir, "data-first.deb", {"debian-binary", "data.tar.xz", "control.tar.xz"});
  CHECK(failure(data_first).find("data.tar.xz comes before control.tar") != std::string::npos);

  auto no_version = ar_archive(dir, "no-version.deb", {"control.tar.xz", "data.tar.xz"});
  CHECK(failure(no_version)
          .find("no debian-binary member (the first member is "
                "'control.tar.xz')") != std::string::npos);

  auto version_last =
    ar_archive(dir, "version-last.deb", {"control.tar.xz", "data.tar.xz", "debian-binary"});
  CHECK(failure(version_last).find("no debian-binary member") != std::string::npos);

  auto no_data = ar_archive(dir, "no-data.deb", {"debian-binary", "control.tar.xz"});
  CHECK(failure(no_data).find("the file ends after control.tar.xz, with no data.tar member") !=
        std::string::npos);

  auto no_control = ar_archive(dir, "no-control.deb", {"debian-binary", "data.tar.xz"});
  CHECK(failure(no_control).find("comes before control.tar") != std::string::npos);

  auto only_version = ar_archive(dir, "only-version.deb", {"debian-binary"});
  CHECK(
    failure(only_version).find("the file ends after debian-binary, with no control.tar member") !=
    std::string::npos);

  auto twice = ar_archive(dir, "twice.deb",
                          {"debian-binary", "control.tar.xz", "control.tar.xz", "data.tar.xz"});
  CHECK(failure(twice).find("a second control member") != std::string::npos);

  write_bytes(dir / "README", "stray\n");
  auto stray =
    ar_archive(dir, "stray.deb", {"debian-binary", "README", "control.tar.xz", "data.tar.xz"});
  CHECK(failure(stray).find("unexpected member 'README'") != std::string::npos);
}

TEST_CASE("dpkg's own underscore members are skipped like dpkg skips them")
{
  ScratchDir scratch;
  auto dir = scratch / "members";
  unpack_members(scratch, dir);
  write_bytes(dir / "_gpgorigin", "signature\n");
  auto deb =
    ar_archive(dir, "signed.deb", {"debian-binary", "_gpgorigin", "control.tar.xz", "data.tar.xz"});
  auto control = read_deb_control(deb);
  REQUIRE_MESSAGE(control.ok(), control.message());
  CHECK(*control == hello_control);
}

TEST_CASE("a debian-binary other than 2.x is refused")
{
  ScratchDir scratch;
  auto dir = scratch / "members";
  unpack_members(scratch, dir);
  for (const char* version : {"3.0\n", "2.0", "2.x\n", "\n", "", "1.0\n2.0\n"}) {
    CAPTURE(version);
    write_bytes(dir / "debian-binary", version);
    fs::remove(dir / "odd.deb");
    auto deb = ar_archive(dir, "odd.deb", {"debian-binary", "control.tar.xz", "data.tar.xz"});
    CHECK(failure(deb).find("dpkg reads only format 2.x") != std::string::npos);
  }
  write_bytes(dir / "debian-binary", "2.1\n");
  fs::remove(dir / "odd.deb");
  auto minor = ar_archive(dir, "odd.deb", {"debian-binary", "control.tar.xz", "data.tar.xz"});
  CHECK(read_deb_control(minor).ok());

  write_bytes(dir / "debian-binary", std::string(1000, '2'));
  fs::remove(dir / "odd.deb");
  auto huge = ar_archive(dir, "odd.deb", {"debian-binary", "control.tar.xz", "data.tar.xz"});
  CHECK(failure(huge).find("debian-binary is 1000 bytes") != std::string::npos);
}

TEST_CASE("a control file over the size limit is refused")
{
  ScratchDir scratch;
  std::string padded = hello_control + " " + std::string(5000, 'x') + "\n";
  auto deb = hand_made_deb(scratch.path(), "big", padded);
  DebLimits small;
  small.max_control_file = 1000;
  CHECK(failure(deb, small).find("more than the 1000 allowed") != std::string::npos);

  auto fine = read_deb_control(deb);
  REQUIRE_MESSAGE(fine.ok(), fine.message());
  CHECK(*fine == padded);

  // The default limit, 4 MiB.
  std::string huge = hello_control;
  while (huge.size() < 5 * 1024 * 1024) {
    huge += " " + std::string(1000, 'y') + "\n";
  }
  auto huge_deb = hand_made_deb(scratch.path(), "huge", huge);
  CHECK(failure(huge_deb).find("more than the 4194304 allowed") != std::string::npos);
}

TEST_CASE("a control.tar that unpacks beyond its limit is refused before it is unpacked")
{
  ScratchDir scratch;
  auto deb = hand_made_deb(scratch.path(), "bomb", [](const fs::path& folder) {
    std::ofstream(folder / "control") << hello_control;
    std::ofstream(folder / "postinst") << std::string(1024 * 1024, '\0');
  });
  DebLimits limits;
  limits.max_control_tar = 64 * 1024;
  CHECK(failure(deb, limits).find("control.tar.gz unpacks to more than the 65536 bytes allowed") !=
        std::string::npos);
  CHECK(read_deb_control(deb).ok());
}

TEST_CASE("a control that is a symlink, a folder or missing is refused")
{
  ScratchDir scratch;
  auto link = hand_made_deb(scratch.path(), "link", [](const fs::path& folder) {
    std::ofstream(folder / "real") << hello_control;
    fs::create_symlink("real", folder / "control");
  });
  CHECK(failure(link).find("'./control' in control.tar.gz is a symbolic link, not a file") !=
        std::string::npos);

  auto folder = hand_made_deb(scratch.path(), "folder", [](const fs::path& dir) {
    fs::create_directories(dir / "control");
    std::ofstream(dir / "control/inside") << hello_control;
  });
  CHECK(failure(folder).find("is a directory, not a file") != std::string::npos);

  auto none = hand_made_deb(scratch.path(), "none", [](const fs::path& dir) {
    std::ofstream(dir / "postinst") << "#!/bin/sh\n";
  });
  CHECK(failure(none).find("control.tar.gz has no control file") != std::string::npos);
}

TEST_CASE("a control.tar holding control twice is refused")
{
  ScratchDir scratch;
  auto work = scratch / "work";
  fs::create_directories(work / "c");
  std::ofstream(work / "c/control") << hello_control;
  write_bytes(work / "debian-binary", "2.0\n");
  run_tool(tar_tool, {"-C", "c", "-czf", "control.tar.gz", "./control", "control"}, work);
  run_tool(tar_tool, {"-C", "c", "-czf", "data.tar.gz", "."}, work);
  auto deb = ar_archive(work, "twice.deb", {"debian-binary", "control.tar.gz", "data.tar.gz"});
  CHECK(failure(deb).find("control.tar.gz holds two control files") != std::string::npos);
}

TEST_CASE("a control member that is not a compressed tar is refused")
{
  ScratchDir scratch;
  auto work = scratch / "work";
  fs::create_directories(work);
  write_bytes(work / "debian-binary", "2.0\n");
  write_bytes(work / "control.tar.gz", "this is not gzip data at all\n");
  write_bytes(work / "data.tar.gz", "");
  auto deb = ar_archive(work, "junk.deb", {"debian-binary", "control.tar.gz", "data.tar.gz"});
  auto message = failure(deb);
  CHECK(message.find("control.tar.gz") != std::string::npos);

  write_bytes(work / "control.tar.gz", "");
  fs::remove(deb);
  deb = ar_archive(work, "junk.deb", {"debian-binary", "control.tar.gz", "data.tar.gz"});
  CHECK(failure(deb).find("control.tar.gz") != std::string::npos);
}

namespace {

// An ar archive written the way dpkg-deb writes one: names padded to 16
// bytes, so that "control.tar.lzma" needs no GNU long-name table (which
// dpkg refuses on its own account).
fs::path dpkg_style_ar(const fs::path& dir, const std::string& name,
                       const std::vector<std::string>& members)
{
  std::string out = "!<arch>\n";
  for (const auto& member : members) {
    auto data = ScratchDir::read(dir / member);
    out +=
      fmt::format("{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n", member, 0, 0, 0, 100644, data.size());
    out += data;
    if (data.size() % 2) {
      out += '\n';
    }
  }
  write_bytes(dir / name, out);
  return dir / name;
}

// Whether dpkg-deb itself reads the control file of `deb`: the oracle for
// what a .deb may be.
bool dpkg_deb_reads(const fs::path& deb)
{
  auto result = buildme::util::run_process({"dpkg-deb", "--field", deb.string()});
  REQUIRE_MESSAGE(result.ok(), "dpkg-deb is missing (apt-get install dpkg)");
  return result->exit_code == 0;
}

} // namespace

TEST_CASE("a control member compressed otherwise than its name says is refused, as dpkg does")
{
  ScratchDir scratch;
  auto dir = scratch / "members";
  fs::create_directories(dir);
  auto gz = build_deb(scratch.path(), "gz", hello_control, "gzip");
  run_tool(ar_tool, {"x", gz.string()}, dir);
  fs::rename(dir / "control.tar.gz", dir / "control.tar.xz");
  auto lying = ar_archive(dir, "lying.deb", {"debian-binary", "control.tar.xz", "data.tar.gz"});
  CHECK_FALSE(dpkg_deb_reads(lying));
  CHECK(failure(lying).find("control.tar.xz is not xz-compressed") != std::string::npos);

  fs::rename(dir / "control.tar.xz", dir / "control.tar");
  auto plain = ar_archive(dir, "plain.deb", {"debian-binary", "control.tar", "data.tar.gz"});
  CHECK_FALSE(dpkg_deb_reads(plain));
  CHECK(failure(plain).find("control.tar") != std::string::npos);
}

TEST_CASE("a control.tar compressed with bzip2 or lzma is refused, as dpkg does")
{
  ScratchDir scratch;
  auto dir = scratch / "members";
  fs::create_directories(dir);
  auto deb = build_deb(scratch.path(), "none", hello_control, "none");
  run_tool(ar_tool, {"x", deb.string()}, dir);
  // The hand-written archive itself is one dpkg reads, and so do we.
  auto plain = dpkg_style_ar(dir, "plain.deb", {"debian-binary", "control.tar", "data.tar"});
  CHECK(dpkg_deb_reads(plain));
  auto control = read_deb_control(plain);
  REQUIRE_MESSAGE(control.ok(), control.message());
  CHECK(*control == hello_control);
  for (std::string tool : {"bzip2", "lzma"}) {
    CAPTURE(tool);
    auto suffix = tool == "bzip2" ? ".bz2" : ".lzma";
    auto member = std::string("control.tar") + suffix;
    run_tool({"sh", "dash"}, {"-c", tool + " -c control.tar > " + member}, dir);
    auto name = tool + ".deb";
    auto odd = dpkg_style_ar(dir, name, {"debian-binary", member, "data.tar"});
    CHECK_FALSE(dpkg_deb_reads(odd));
    CHECK(failure(odd).find("uses a compression dpkg does not read for control.tar") !=
          std::string::npos);
  }
}

TEST_CASE("a .deb never makes the reader run a decompressor found on PATH")
{
  ScratchDir scratch;
  auto bin = scratch / "bin";
  fs::create_directories(bin);
  auto marker = scratch / "ran";
  for (std::string program : {"lrzip", "lzop", "grzip", "lz4", "lzip", "zstd", "xz", "gzip"}) {
    auto script = bin / program;
    std::ofstream(script) << "#!/bin/sh\necho " << program << " >> '" << marker.string()
                          << "'\ncat >/dev/null\nexit 1\n";
    fs::permissions(script, fs::perms::owner_all);
  }
  auto dir = scratch / "members";
  unpack_members(scratch, dir);
  // The magic numbers of compressions libarchive would hand to a program.
  const std::pair<const char*, std::string> streams[] = {
    {"lrzip", std::string("LRZI\x00\x06", 6) + std::string(64, 'x')},
    {"lzop", std::string("\x89LZO\x00\r\n\x1a\n", 9) + std::string(64, 'x')},
    {"grzip", std::string("GRZipII\x00\x02\x04:)", 12) + std::string(64, 'x')},
  };
  const char* saved = getenv("PATH");
  std::string old_path = saved ? saved : "";
  setenv("PATH", (bin.string() + ":" + old_path).c_str(), 1);
  for (const auto& [kind, bytes] : streams) {
    CAPTURE(kind);
    for (std::string member : {"control.tar.xz", "control.tar.gz", "control.tar"}) {
      CAPTURE(member);
      fs::remove(dir / "control.tar.xz");
      write_bytes(dir / member, bytes);
      auto name = std::string(kind) + ".deb";
      fs::remove(dir / name);
      auto deb = ar_archive(dir, name, {"debian-binary", member, "data.tar.xz"});
      fs::remove(dir / member);
      auto control = read_deb_control(deb);
      CHECK_FALSE(control.ok());
      CHECK_FALSE(fs::exists(marker));
    }
  }
  setenv("PATH", old_path.c_str(), 1);
}

// A hand-made .deb whose data.tar.gz holds what `fill_data` put in its folder.
fs::path deb_with_data(const fs::path& dir, const std::string& name,
                       const std::function<void(const fs::path&)>& fill_data)
{
  auto work = dir / ("data-" + name);
  fs::create_directories(work / "control");
  fs::create_directories(work / "data");
  write_bytes(work / "control/control", hello_control);
  fill_data(work / "data");
  write_bytes(work / "debian-binary", "2.0\n");
  run_tool(tar_tool, {"-C", "control", "-czf", "control.tar.gz", "."}, work);
  run_tool(tar_tool, {"-C", "data", "-czf", "data.tar.gz", "."}, work);
  ar_archive(work, "out.deb", {"debian-binary", "control.tar.gz", "data.tar.gz"});
  fs::rename(work / "out.deb", dir / (name + ".deb"));
  fs::remove_all(work);
  return dir / (name + ".deb");
}

TEST_CASE("list_files lists data.tar's files and links, not its folders, as apt-ftparchive does")
{
  ScratchDir scratch;
  for (const char* compression : compressions) {
    CAPTURE(compression);
    auto deb =
      build_deb(scratch.path(), std::string("hello-") + compression, hello_control, compression);
    auto read = read_deb(deb, buildme::util::DigestSet{}, {}, true);
    REQUIRE_MESSAGE(read, read.message());
    CHECK(read->files == std::string("usr/share/doc/hello-") + compression + "/README\n");
    CHECK(read->control == dpkg_deb_field(deb));
    // Without list_files, nothing is listed.
    auto plain = read_deb(deb, buildme::util::DigestSet{});
    REQUIRE(plain);
    CHECK(plain->files.empty());
  }
  auto linked = deb_with_data(scratch.path(), "linked", [](const fs::path& data) {
    fs::create_directories(data / "usr/bin");
    fs::create_directories(data / "usr/share/empty");
    write_bytes(data / "usr/bin/hello", "#!/bin/sh\n");
    fs::create_symlink("hello", data / "usr/bin/hi");
    fs::create_hard_link(data / "usr/bin/hello", data / "usr/bin/hello2");
    write_bytes(data / "usr/bin/with space", "x");
  });
  auto read = read_deb(linked, buildme::util::DigestSet{}, {}, true);
  REQUIRE_MESSAGE(read, read.message());
  std::vector<std::string> names;
  for (auto name : buildme::util::split(read->files, "\n")) {
    if (!name.empty()) {
      names.emplace_back(name);
    }
  }
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"usr/bin/hello", "usr/bin/hello2", "usr/bin/hi",
                                          "usr/bin/with space"});
  // Large files are read from disk, not memory: the same list.
  DebLimits on_disk;
  on_disk.max_in_memory = 0;
  auto from_disk = read_deb(linked, buildme::util::DigestSet::all(), on_disk, true);
  REQUIRE(from_disk);
  CHECK(from_disk->files == read->files);
}

TEST_CASE("a data.tar name with a line break, or past the limits, is refused naming the .deb")
{
  ScratchDir scratch;
  auto forged = deb_with_data(scratch.path(), "forged", [](const fs::path& data) {
    write_bytes(data / "evil\nusr-bin-sudo    admin,root", "x");
  });
  auto read = read_deb(forged, buildme::util::DigestSet{}, {}, true);
  REQUIRE_FALSE(read);
  INFO(read.message());
  CHECK(read.message().find("forged.deb: data.tar.gz holds a file name with a line break in "
                            "it: 'evil\\x0ausr-bin-sudo    admin,root'") != std::string::npos);
  // Its control data alone still reads (Packages does not list data.tar).
  CHECK(read_deb(forged, buildme::util::DigestSet{}));

  auto many = deb_with_data(scratch.path(), "many", [](const fs::path& data) {
    for (int i = 0; i < 20; ++i) {
      write_bytes(data / fmt::format("file-{:02}", i), "x");
    }
  });
  DebLimits few;
  few.max_data_entries = 10;
  auto too_many = read_deb(many, buildme::util::DigestSet{}, few, true);
  REQUIRE_FALSE(too_many);
  CHECK(too_many.message().find("many.deb: data.tar.gz holds more than the 10 entries allowed") !=
        std::string::npos);
  DebLimits short_names;
  short_names.max_data_names = 50;
  auto too_long = read_deb(many, buildme::util::DigestSet{}, short_names, true);
  REQUIRE_FALSE(too_long);
  CHECK(too_long.message().find("more than the 50 bytes of file names allowed") !=
        std::string::npos);
}

TEST_CASE("a data.tar whose stream ends early is refused when it is listed")
{
  // The ar member is whole; the gzip stream inside it is cut in half.
  ScratchDir scratch;
  auto work = scratch / "cut";
  fs::create_directories(work / "control");
  fs::create_directories(work / "data");
  write_bytes(work / "control/control", hello_control);
  for (int i = 0; i < 100; ++i) {
    write_bytes(work / "data" / fmt::format("file-{:03}", i), fmt::format("content {}\n", i));
  }
  write_bytes(work / "debian-binary", "2.0\n");
  run_tool(tar_tool, {"-C", "control", "-czf", "control.tar.gz", "."}, work);
  run_tool(tar_tool, {"-C", "data", "-czf", "data.tar.gz", "."}, work);
  const std::string whole = ScratchDir::read(work / "data.tar.gz");
  write_bytes(work / "data.tar.gz", whole.substr(0, whole.size() / 2));
  auto deb = ar_archive(work, "cut.deb", {"debian-binary", "control.tar.gz", "data.tar.gz"});
  auto read = read_deb(deb, buildme::util::DigestSet{}, {}, true);
  REQUIRE_FALSE(read);
  CHECK(read.message().find("cut.deb: data.tar.gz is corrupt or truncated") != std::string::npos);
  // The control data alone reads, as apt-ftparchive reads it without Contents.
  CHECK(read_deb(deb, buildme::util::DigestSet{}));
}

} // namespace unit_test_repo_deb
