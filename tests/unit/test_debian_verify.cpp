#include "debian/verify.hpp"

#include "scratch.hpp"
#include "upload_texts.hpp"
#include "util/digest.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace unit_test_debian_verify {

using buildme::debian::listed_files;
using buildme::debian::Upload;
using buildme::debian::Verdict;
using buildme::debian::verdict_label;
using buildme::debian::Verification;
using buildme::debian::verify_upload;
using buildme::debian::VerifyOptions;
using buildme::test::changes_text;
using buildme::test::digest;
using buildme::test::dsc_text;
using buildme::test::has;
using buildme::test::PackageFile;
using buildme::test::ScratchDir;
using buildme::util::DigestKind;
using buildme::util::DigestSet;

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using TimePoint = buildme::util::Clock::time_point;

namespace {

// The moment every test looks at its incoming folder (2024-01-01 12:00 UTC).
const TimePoint now = std::chrono::system_clock::from_time_t(1'704'110'400);
constexpr std::chrono::seconds grace = 600s;
constexpr std::chrono::seconds young = 10s; // well inside the grace period
constexpr std::chrono::seconds old = 3600s; // well past it

// `text` with the one occurrence of `from` replaced.
std::string replaced(std::string text, std::string_view from, std::string_view to)
{
  auto at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from);
  REQUIRE_MESSAGE(text.find(from, at + 1) == std::string::npos, from);
  return text.replace(at, from.size(), to);
}

const PackageFile orig{"hello_1.0.orig.tar.gz", "the upstream source of hello, version 1.0\n"};
const PackageFile debian_tar{"hello_1.0-1.debian.tar.xz", "the packaging of hello 1.0-1\n"};
const std::string dsc_name = "hello_1.0-1.dsc";
const std::string changes_name = "hello_1.0-1_source.changes";

std::string hello_dsc()
{
  return dsc_text("hello", "1.0-1", {orig, debian_tar});
}

std::string hello_changes(std::string_view changed_by = "John Roe <john@example.org>")
{
  return changes_text("hello", "1.0-1", {{dsc_name, hello_dsc()}, orig, debian_tar}, changed_by);
}

void set_mtime(const fs::path& path, TimePoint when)
{
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch());
  timespec times[2];
  times[0].tv_sec = static_cast<time_t>(ns.count() / 1'000'000'000);
  times[0].tv_nsec = static_cast<long>(ns.count() % 1'000'000'000);
  times[1] = times[0];
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
}

// An incoming folder inside a scratch folder, so that "../x" from it is
// still a scratch file.
class Incoming
{
public:
  Incoming() { fs::create_directories(dir()); }

  fs::path dir() const { return m_scratch / "incoming"; }
  const ScratchDir& scratch() const { return m_scratch; }

  // Writes `name` into the folder, last modified `age` before `now`.
  fs::path put(std::string_view name, std::string_view content, std::chrono::seconds age = old)
  {
    auto path = m_scratch.write("incoming/" + std::string(name), content);
    set_mtime(path, now - age);
    return path;
  }

  void put_hello_dsc(std::chrono::seconds age = old)
  {
    put(orig.name, orig.content, age);
    put(debian_tar.name, debian_tar.content, age);
    put(dsc_name, hello_dsc(), age);
  }

  void put_hello_changes(std::chrono::seconds age = old)
  {
    put_hello_dsc(age);
    put(changes_name, hello_changes(), age);
  }

  Verification verify(const std::string& control, std::chrono::seconds grace_period = grace) const
  {
    return verify_upload(Upload{dir(), control}, VerifyOptions{now, grace_period});
  }

  // Every name in the folder with its content and mtime: to show that a
  // verification touched nothing.
  std::map<std::string, std::pair<std::string, fs::file_time_type>> snapshot() const
  {
    std::map<std::string, std::pair<std::string, fs::file_time_type>> files;
    for (const auto& entry : fs::directory_iterator(dir())) {
      files[entry.path().filename().string()] = {ScratchDir::read(entry.path()),
                                                 fs::last_write_time(entry.path())};
    }
    return files;
  }

private:
  ScratchDir m_scratch;
};

bool lists(const std::vector<std::string>& names, std::string_view name)
{
  return std::find(names.begin(), names.end(), name) != names.end();
}

} // namespace

TEST_CASE("verdicts have the labels the log shows")
{
  CHECK(verdict_label(Verdict::accepted) == "ACCEPTED");
  CHECK(verdict_label(Verdict::waiting) == "WAITING");
  CHECK(verdict_label(Verdict::rejected) == "REJECTED");
}

TEST_CASE("a complete .dsc with its files is accepted")
{
  // A complete upload need not wait out the grace period.
  for (const auto age : {old, young}) {
    CAPTURE(age.count());
    Incoming incoming;
    incoming.put_hello_dsc(age);

    auto result = incoming.verify(dsc_name);
    INFO(result.reason);
    CHECK(result.verdict == Verdict::accepted);
    CHECK(result.source() == "hello");
    CHECK(result.version() == "1.0-1");
    CHECK(result.dsc_name == dsc_name);
    CHECK(result.architectures() == std::vector<std::string>{"any", "all"});
    CHECK(result.uploader() == "Jane Doe <jane@example.org>");
    CHECK_FALSE(result.changes);
    REQUIRE(result.control_info);
    CHECK(result.control_info->size == hello_dsc().size());
    REQUIRE(result.files.size() == 2);
    CHECK(result.files.at(orig.name).size == orig.content.size());
    CHECK(result.files.at(debian_tar.name).size == debian_tar.content.size());
    CHECK(result.files.at(orig.name).mtime == now - age);
  }
}

TEST_CASE("an accepted version keeps its epoch")
{
  Incoming incoming;
  incoming.put(orig.name, orig.content);
  incoming.put(debian_tar.name, debian_tar.content);
  incoming.put(dsc_name, dsc_text("hello", "2:1.0-1", {orig, debian_tar}));

  auto result = incoming.verify(dsc_name);
  INFO(result.reason);
  CHECK(result.verdict == Verdict::accepted);
  CHECK(result.version() == "2:1.0-1");
}

TEST_CASE("a complete .changes with its .dsc and files is accepted")
{
  Incoming incoming;
  incoming.put_hello_changes();

  auto result = incoming.verify(changes_name);
  INFO(result.reason);
  CHECK(result.verdict == Verdict::accepted);
  CHECK(result.changes);
  CHECK(result.dsc);
  CHECK(result.dsc_name == dsc_name);
  CHECK(result.source() == "hello");
  CHECK(result.version() == "1.0-1");
  CHECK(result.files.size() == 3);
  CHECK(result.files.count(dsc_name) == 1);
  CHECK(result.files.count(orig.name) == 1);
  CHECK(result.files.count(debian_tar.name) == 1);
  CHECK(result.files.count(changes_name) == 0);
}

TEST_CASE("a .changes upload also needs the files its .dsc lists that the .changes does not")
{
  // dpkg-genchanges -sd leaves the orig tarball out of the .changes.
  Incoming incoming;
  const auto changes = changes_text("hello", "1.0-1", {{dsc_name, hello_dsc()}, debian_tar});
  incoming.put(debian_tar.name, debian_tar.content);
  incoming.put(dsc_name, hello_dsc());

  SUBCASE("missing while young: waiting for it")
  {
    incoming.put(changes_name, changes, young);
    auto result = incoming.verify(changes_name);
    INFO(result.reason);
    CHECK(result.verdict == Verdict::waiting);
    CHECK(has(result.reason, orig.name));
  }
  SUBCASE("missing once old: rejected, naming it and the .dsc that lists it")
  {
    incoming.put(changes_name, changes);
    auto result = incoming.verify(changes_name);
    INFO(result.reason);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(has(result.reason, orig.name));
    CHECK(has(result.reason, dsc_name));
  }
  SUBCASE("present: accepted with it")
  {
    incoming.put(changes_name, changes);
    incoming.put(orig.name, orig.content);
    auto result = incoming.verify(changes_name);
    INFO(result.reason);
    CHECK(result.verdict == Verdict::accepted);
    CHECK(result.files.count(orig.name) == 1);
  }
  SUBCASE("present but with other content: rejected")
  {
    incoming.put(changes_name, changes);
    std::string other = orig.content;
    other[0] = 'T';
    incoming.put(orig.name, other);
    auto result = incoming.verify(changes_name);
    INFO(result.reason);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(has(result.reason, orig.name));
  }
}

TEST_CASE("a young upload with a missing file waits and nothing is touched")
{
  Incoming incoming;
  incoming.put(debian_tar.name, debian_tar.content, young);
  incoming.put(dsc_name, hello_dsc(), old);
  const auto before = incoming.snapshot();

  // The newest file decides the age: the .dsc is old, the tarball is not.
  auto result = incoming.verify(dsc_name);
  INFO(result.reason);
  CHECK(result.verdict == Verdict::waiting);
  CHECK(has(result.reason, orig.name));
  CHECK(incoming.snapshot() == before);
}

TEST_CASE("an old upload with a missing file is rejected, naming the file")
{
  Incoming incoming;
  incoming.put(debian_tar.name, debian_tar.content);
  incoming.put(dsc_name, hello_dsc());

  auto result = incoming.verify(dsc_name);
  INFO(result.reason);
  CHECK(result.verdict == Verdict::rejected);
  CHECK(has(result.reason, orig.name));
  CHECK(has(result.reason, "missing"));
  CHECK_FALSE(has(result.reason, debian_tar.name));
}

TEST_CASE("a control file that is gone waits")
{
  Incoming incoming;
  auto result = incoming.verify(changes_name);
  INFO(result.reason);
  CHECK(result.verdict == Verdict::waiting);
  CHECK(has(result.reason, changes_name));
}

TEST_CASE("a short file waits while the upload is young and is rejected once it is old")
{
  Incoming incoming;
  const std::string half = orig.content.substr(0, orig.content.size() / 2);

  SUBCASE("young")
  {
    incoming.put_hello_dsc(young);
    incoming.put(orig.name, half, young);
    const auto before = incoming.snapshot();
    auto result = incoming.verify(dsc_name);
    INFO(result.reason);
    CHECK(result.verdict == Verdict::waiting);
    CHECK(has(result.reason, orig.name));
    CHECK(incoming.snapshot() == before);
  }
  SUBCASE("old")
  {
    incoming.put_hello_dsc();
    incoming.put(orig.name, half);
    auto result = incoming.verify(dsc_name);
    INFO(result.reason);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(has(result.reason, orig.name));
    CHECK(has(result.reason, std::to_string(half.size())));
    CHECK(has(result.reason, std::to_string(orig.content.size())));
  }
}

TEST_CASE("a file longer than listed is rejected at once, even while the upload is young")
{
  Incoming incoming;
  incoming.put_hello_dsc(young);
  incoming.put(orig.name, orig.content + "more", young);

  auto result = incoming.verify(dsc_name);
  INFO(result.reason);
  CHECK(result.verdict == Verdict::rejected);
  CHECK(has(result.reason, orig.name));
  CHECK(has(result.reason, std::to_string(orig.content.size() + 4)));
  CHECK(has(result.reason, std::to_string(orig.content.size())));
}

TEST_CASE("a file whose digest does not match the .dsc is rejected, naming the digest and file")
{
  const std::pair<DigestKind, std::string_view> kinds[] = {
    {DigestKind::md5, "MD5"}, {DigestKind::sha1, "SHA1"}, {DigestKind::sha256, "SHA256"}};
  for (const auto& [kind, label] : kinds) {
    CAPTURE(label);
    Incoming incoming;
    incoming.put_hello_dsc(young);
    incoming.put(dsc_name,
                 replaced(hello_dsc(), digest(kind, orig.content), digest(kind, "not the file")),
                 young);

    auto result = incoming.verify(dsc_name);
    INFO(result.reason);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(has(result.reason, label));
    CHECK(has(result.reason, orig.name));
    CHECK(has(result.reason, dsc_name));
  }
}

TEST_CASE("a file whose digest does not match the .changes is rejected, naming the digest and file")
{
  const std::pair<DigestKind, std::string_view> kinds[] = {{DigestKind::md5, "MD5"},
                                                           {DigestKind::sha256, "SHA256"}};
  for (const auto& [kind, label] : kinds) {
    CAPTURE(label);
    Incoming incoming;
    incoming.put_hello_changes();
    incoming.put(changes_name, replaced(hello_changes(), digest(kind, debian_tar.content),
                                        digest(kind, "not the file")));

    auto result = incoming.verify(changes_name);
    INFO(result.reason);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(has(result.reason, label));
    CHECK(has(result.reason, debian_tar.name));
    CHECK(has(result.reason, changes_name));
  }
}

TEST_CASE("a .changes and its .dsc that list different digests for one file are rejected")
{
  Incoming incoming;
  incoming.put_hello_dsc();
  const std::string bad = digest(DigestKind::sha256, "not the file");
  const std::string good = digest(DigestKind::sha256, debian_tar.content);

  SUBCASE("the .dsc is wrong")
  {
    const std::string dsc = replaced(hello_dsc(), good, bad);
    incoming.put(dsc_name, dsc);
    incoming.put(changes_name, changes_text("hello", "1.0-1", {{dsc_name, dsc}, orig, debian_tar}));
    auto result = incoming.verify(changes_name);
    INFO(result.reason);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(has(result.reason, "SHA256"));
    CHECK(has(result.reason, debian_tar.name));
    CHECK(has(result.reason, dsc_name));
  }
  SUBCASE("the .changes is wrong")
  {
    incoming.put(changes_name, replaced(hello_changes(), good, bad));
    auto result = incoming.verify(changes_name);
    INFO(result.reason);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(has(result.reason, "SHA256"));
    CHECK(has(result.reason, debian_tar.name));
    CHECK(has(result.reason, changes_name));
  }
  SUBCASE("they list different sizes")
  {
    const PackageFile longer{debian_tar.name, debian_tar.content + "x"};
    const std::string dsc = dsc_text("hello", "1.0-1", {orig, longer});
    incoming.put(dsc_name, dsc);
    incoming.put(changes_name, changes_text("hello", "1.0-1", {{dsc_name, dsc}, orig, debian_tar}));
    auto result = incoming.verify(changes_name);
    INFO(result.reason);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(has(result.reason, debian_tar.name));
    CHECK(has(result.reason, std::to_string(longer.content.size())));
  }
}

TEST_CASE("a listed file that is a symbolic link is rejected, even when it points at the file")
{
  Incoming incoming;
  incoming.put_hello_dsc();
  incoming.scratch().write("real.tar.gz", orig.content);
  fs::remove(incoming.dir() / orig.name);
  fs::create_symlink("../real.tar.gz", incoming.dir() / orig.name);

  auto result = incoming.verify(dsc_name);
  INFO(result.reason);
  CHECK(result.verdict == Verdict::rejected);
  CHECK(has(result.reason, orig.name));
  CHECK(has(result.reason, "symbolic link"));
}

TEST_CASE("a control file that is a symbolic link is rejected")
{
  Incoming incoming;
  incoming.put(orig.name, orig.content);
  incoming.put(debian_tar.name, debian_tar.content);
  incoming.scratch().write("elsewhere.dsc", hello_dsc());
  fs::create_symlink("../elsewhere.dsc", incoming.dir() / dsc_name);

  auto result = incoming.verify(dsc_name);
  INFO(result.reason);
  CHECK(result.verdict == Verdict::rejected);
  CHECK(has(result.reason, "symbolic link"));
  CHECK(result.files.empty());
}

TEST_CASE("a listed file that is a FIFO or a folder is rejected without waiting for a writer")
{
  for (const bool in_changes : {false, true}) {
    for (const bool fifo : {true, false}) {
      CAPTURE(in_changes);
      CAPTURE(fifo);
      Incoming incoming;
      if (in_changes) {
        incoming.put_hello_changes(young);
      } else {
        incoming.put_hello_dsc(young);
      }
      fs::remove(incoming.dir() / orig.name);
      if (fifo) {
        REQUIRE(::mkfifo((incoming.dir() / orig.name).c_str(), 0644) == 0);
      } else {
        fs::create_directory(incoming.dir() / orig.name);
      }

      auto result = incoming.verify(in_changes ? changes_name : dsc_name);
      INFO(result.reason);
      CHECK(result.verdict == Verdict::rejected);
      CHECK(has(result.reason, orig.name));
      CHECK(has(result.reason, "not a regular file"));
    }
  }
}

TEST_CASE("a control file that is a FIFO is rejected without waiting for a writer")
{
  Incoming incoming;
  REQUIRE(::mkfifo((incoming.dir() / changes_name).c_str(), 0644) == 0);

  auto result = incoming.verify(changes_name);
  INFO(result.reason);
  CHECK(result.verdict == Verdict::rejected);
  CHECK(has(result.reason, "not a regular file"));
}

TEST_CASE("a control file that does not parse waits while young and is rejected once old")
{
  for (const bool is_changes : {false, true}) {
    const std::string control = is_changes ? changes_name : dsc_name;
    const std::string text = is_changes ? hello_changes() : hello_dsc();
    // Cut in the middle of a field name: a line without ':'.
    const std::string cut = text.substr(0, text.find("Version") + 4);
    CAPTURE(control);
    Incoming incoming;
    incoming.put_hello_dsc();

    incoming.put(control, cut, young);
    const auto before = incoming.snapshot();
    auto waiting = incoming.verify(control);
    INFO(waiting.reason);
    CHECK(waiting.verdict == Verdict::waiting);
    CHECK(has(waiting.reason, control));
    CHECK(incoming.snapshot() == before);

    set_mtime(incoming.dir() / control, now - old);
    auto late = incoming.verify(control);
    INFO(late.reason);
    CHECK(late.verdict == Verdict::rejected);
    CHECK(has(late.reason, control));
  }
}

TEST_CASE("a .changes that includes binary packages is rejected with advice to upload source only")
{
  Incoming incoming;
  incoming.put_hello_dsc();
  const PackageFile deb{"hello_1.0-1_amd64.deb", "!<arch>\nnot really a package\n"};
  incoming.put(deb.name, deb.content);
  incoming.put(changes_name,
               changes_text("hello", "1.0-1", {{dsc_name, hello_dsc()}, orig, debian_tar, deb}));

  for (const auto grace_period : {grace, 0s}) {
    auto result = incoming.verify(changes_name, grace_period);
    INFO(result.reason);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(has(result.reason, deb.name));
    CHECK(has(result.reason, "source-only"));
    CHECK(has(result.reason, "dpkg-buildpackage -S"));
  }
}

TEST_CASE("a .changes must list exactly one .dsc")
{
  Incoming incoming;
  incoming.put_hello_dsc();

  SUBCASE("none")
  {
    incoming.put(changes_name, changes_text("hello", "1.0-1", {orig, debian_tar}));
    auto result = incoming.verify(changes_name);
    INFO(result.reason);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(has(result.reason, "lists 0 .dsc"));
  }
  SUBCASE("two")
  {
    const PackageFile second{"hello_1.0-2.dsc", dsc_text("hello", "1.0-2", {orig, debian_tar})};
    incoming.put(second.name, second.content);
    incoming.put(changes_name, changes_text("hello", "1.0-1",
                                            {{dsc_name, hello_dsc()}, second, orig, debian_tar}));
    auto result = incoming.verify(changes_name);
    INFO(result.reason);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(has(result.reason, "lists 2 .dsc"));
  }
}

TEST_CASE("a .changes whose .dsc is for another version or source is rejected")
{
  struct Case
  {
    std::string_view source, version, what, named;
  };
  for (const auto& [source, version, what, named] :
       {Case{"hello", "1.0-2", "version", "1.0-2"},
        Case{"goodbye", "1.0-1", "source", "goodbye"}}) {
    CAPTURE(what);
    Incoming incoming;
    incoming.put_hello_dsc();
    const std::string dsc = dsc_text(source, version, {orig, debian_tar});
    incoming.put(dsc_name, dsc);
    incoming.put(changes_name, changes_text("hello", "1.0-1", {{dsc_name, dsc}, orig, debian_tar}));

    auto result = incoming.verify(changes_name);
    INFO(result.reason);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(has(result.reason, what));
    CHECK(has(result.reason, dsc_name));
    CHECK(has(result.reason, named));
  }
}

TEST_CASE("with a grace period of zero nothing waits")
{
  Incoming incoming;
  incoming.put_hello_dsc(0s);

  SUBCASE("a missing file")
  {
    fs::remove(incoming.dir() / orig.name);
    auto result = incoming.verify(dsc_name, 0s);
    INFO(result.reason);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(has(result.reason, orig.name));
  }
  SUBCASE("a short file")
  {
    incoming.put(orig.name, "the", 0s);
    auto result = incoming.verify(dsc_name, 0s);
    INFO(result.reason);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(has(result.reason, orig.name));
  }
  SUBCASE("a control file that does not parse")
  {
    incoming.put(dsc_name, "Format: 3.0 (quilt)\nSou", 0s);
    auto result = incoming.verify(dsc_name, 0s);
    INFO(result.reason);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(has(result.reason, dsc_name));
  }
}

TEST_CASE("with a grace period of zero an upload dated in the future does not wait")
{
  Incoming incoming;
  incoming.put(debian_tar.name, debian_tar.content, -3600s);
  incoming.put(dsc_name, hello_dsc(), -3600s);

  auto result = incoming.verify(dsc_name, 0s);
  INFO(result.reason);
  CHECK(result.verdict == Verdict::rejected);
  CHECK(has(result.reason, orig.name));
}

TEST_CASE("the uploader is the Changed-By of a .changes, else its Maintainer")
{
  Incoming incoming;
  incoming.put_hello_dsc();

  SUBCASE("with Changed-By")
  {
    incoming.put(changes_name, hello_changes("John Roe <john@example.org>"));
    auto result = incoming.verify(changes_name);
    INFO(result.reason);
    REQUIRE(result.verdict == Verdict::accepted);
    CHECK(result.uploader() == "John Roe <john@example.org>");
  }
  SUBCASE("without Changed-By")
  {
    incoming.put(changes_name, hello_changes(""));
    auto result = incoming.verify(changes_name);
    INFO(result.reason);
    REQUIRE(result.verdict == Verdict::accepted);
    CHECK(result.uploader() == "Jane Doe <jane@example.org>");
  }
}

TEST_CASE("the files a .changes lists include the files of its .dsc")
{
  Incoming incoming;
  incoming.put_hello_dsc();
  incoming.put(changes_name, changes_text("hello", "1.0-1", {{dsc_name, hello_dsc()}, debian_tar}));

  auto names = listed_files(Upload{incoming.dir(), changes_name});
  CHECK(lists(names, dsc_name));
  CHECK(lists(names, debian_tar.name));
  CHECK(lists(names, orig.name));
  CHECK_FALSE(lists(names, changes_name));

  auto of_dsc = listed_files(Upload{incoming.dir(), dsc_name});
  CHECK(of_dsc == std::vector<std::string>{orig.name, debian_tar.name});
}

TEST_CASE("the files of a .changes whose .dsc is not there are only its own")
{
  Incoming incoming;
  incoming.put(changes_name, hello_changes());

  auto names = listed_files(Upload{incoming.dir(), changes_name});
  CHECK(names == std::vector<std::string>{dsc_name, orig.name, debian_tar.name});
}

TEST_CASE("a control file that does not parse lists no files")
{
  Incoming incoming;
  incoming.put(changes_name, "Format: 1.8\nthis is not a field\n");
  incoming.put(dsc_name, std::string("\0\0\0", 3));

  CHECK(listed_files(Upload{incoming.dir(), changes_name}).empty());
  CHECK(listed_files(Upload{incoming.dir(), dsc_name}).empty());
  CHECK(listed_files(Upload{incoming.dir(), "absent.dsc"}).empty());
}

TEST_CASE("the files of a .changes never come from a .dsc outside the folder")
{
  Incoming incoming;
  incoming.scratch().write("elsewhere.dsc",
                           dsc_text("hello", "1.0-1", {{"secret.tar.gz", "secret"}}));
  fs::create_symlink("../elsewhere.dsc", incoming.dir() / dsc_name);
  incoming.put(changes_name, hello_changes());

  auto names = listed_files(Upload{incoming.dir(), changes_name});
  CHECK(lists(names, dsc_name));
  CHECK_FALSE(lists(names, "secret.tar.gz"));
  CHECK(listed_files(Upload{incoming.dir(), dsc_name}).empty());
}

namespace {

// The hello files, plus a file with the same content under every name that
// `hostile` could lead to.
void put_hostile_targets(Incoming& incoming, const PackageFile& hostile)
{
  incoming.scratch().write("x", hostile.content);
  incoming.put("sub/x", hostile.content);
  incoming.put(".x", hostile.content);
  incoming.put("x y", hostile.content);
  incoming.put_hello_dsc();
}

} // namespace

TEST_CASE("a listed name that leads out of the incoming folder is never opened")
{
  // The file it names has exactly the listed content: only the name stops it.
  for (const std::string name : {"../x", "sub/../../x", "sub/x", ".x", "x y"}) {
    CAPTURE(name);
    const PackageFile hostile{name, "the content of a file outside the upload\n"};
    {
      INFO("listed by a .dsc");
      Incoming incoming;
      put_hostile_targets(incoming, hostile);
      incoming.put(dsc_name, dsc_text("hello", "1.0-1", {orig, hostile}));
      auto result = incoming.verify(dsc_name);
      INFO(result.reason);
      CHECK(result.verdict == Verdict::rejected);
      CHECK(result.files.empty());
      CHECK(incoming.verify(dsc_name, 0s).verdict == Verdict::rejected);
      // No byte still to come can mend a whole line: no grace period.
      CHECK(incoming.verify(dsc_name, 100000s).verdict == Verdict::rejected);
      CHECK(listed_files(Upload{incoming.dir(), dsc_name}).empty());
    }
    {
      INFO("listed by a .changes");
      Incoming incoming;
      put_hostile_targets(incoming, hostile);
      incoming.put(changes_name,
                   changes_text("hello", "1.0-1", {{dsc_name, hello_dsc()}, orig, hostile}));
      auto result = incoming.verify(changes_name);
      INFO(result.reason);
      CHECK(result.verdict == Verdict::rejected);
      CHECK(result.files.empty());
      CHECK(incoming.verify(changes_name, 100000s).verdict == Verdict::rejected);
      // It still says which of its files are plain names here, so that its
      // .dsc goes with it; never the hostile one.
      auto listed = listed_files(Upload{incoming.dir(), changes_name});
      CHECK_FALSE(lists(listed, name));
      CHECK(lists(listed, dsc_name));
    }
    {
      INFO("listed by the .dsc of a .changes");
      Incoming incoming;
      put_hostile_targets(incoming, hostile);
      const std::string dsc = dsc_text("hello", "1.0-1", {orig, hostile});
      incoming.put(dsc_name, dsc);
      incoming.put(changes_name, changes_text("hello", "1.0-1", {{dsc_name, dsc}, orig}));
      auto result = incoming.verify(changes_name);
      INFO(result.reason);
      CHECK(result.verdict == Verdict::rejected);
      CHECK(has(result.reason, dsc_name));
      CHECK(result.files.count(name) == 0);
      CHECK_FALSE(lists(listed_files(Upload{incoming.dir(), changes_name}), name));
    }
  }
}

TEST_CASE("a control file named outside the incoming folder is rejected")
{
  Incoming incoming;
  incoming.put_hello_dsc();
  incoming.scratch().write("outside.dsc", hello_dsc());
  incoming.scratch().write(orig.name, orig.content);
  incoming.scratch().write(debian_tar.name, debian_tar.content);

  auto result = incoming.verify("../outside.dsc");
  INFO(result.reason);
  CHECK(result.verdict == Verdict::rejected);
  CHECK_FALSE(result.control_info);
  CHECK_FALSE(result.dsc);
}

TEST_CASE("a .dsc cut at any byte gives a verdict without crashing")
{
  Incoming incoming;
  incoming.put(orig.name, orig.content);
  incoming.put(debian_tar.name, debian_tar.content);
  const std::string text = hello_dsc();

  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    CAPTURE(cut);
    incoming.put(dsc_name, text.substr(0, cut), young);
    auto waiting = incoming.verify(dsc_name);
    set_mtime(incoming.dir() / dsc_name, now - old);
    auto late = incoming.verify(dsc_name);
    // Only the final newline may go: any shorter cut breaks a field or
    // leaves the listings disagreeing.
    if (cut + 1 >= text.size()) {
      CHECK(waiting.verdict == Verdict::accepted);
      CHECK(late.verdict == Verdict::accepted);
    } else {
      CHECK(waiting.verdict == Verdict::waiting);
      CHECK(late.verdict == Verdict::rejected);
      CHECK(has(late.reason, dsc_name));
    }
  }
}

TEST_CASE("a .changes, or the .dsc it lists, cut at any byte gives a verdict without crashing")
{
  Incoming incoming;
  incoming.put_hello_dsc();
  const std::string changes = hello_changes();
  const std::string dsc = hello_dsc();

  for (std::size_t cut = 0; cut < changes.size(); ++cut) {
    CAPTURE(cut);
    incoming.put(changes_name, changes.substr(0, cut));
    auto result = incoming.verify(changes_name);
    CHECK(result.verdict == (cut + 1 >= changes.size() ? Verdict::accepted : Verdict::rejected));
    CHECK_FALSE(result.reason.empty());
  }

  incoming.put(changes_name, changes);
  for (std::size_t cut = 0; cut < dsc.size(); ++cut) {
    CAPTURE(cut);
    incoming.put(dsc_name, dsc.substr(0, cut), young);
    auto waiting = incoming.verify(changes_name);
    CHECK(waiting.verdict == Verdict::waiting);
    CHECK(has(waiting.reason, dsc_name));
    set_mtime(incoming.dir() / dsc_name, now - old);
    auto late = incoming.verify(changes_name);
    CHECK(late.verdict == Verdict::rejected);
    CHECK(has(late.reason, dsc_name));
  }
}

TEST_CASE("a control file of binary junk is rejected once old")
{
  Incoming incoming;
  std::string junk;
  for (int i = 0; i < 4096; ++i) {
    junk.push_back(static_cast<char>((i * 131 + 7) % 256));
  }
  incoming.put(dsc_name, junk);
  incoming.put(changes_name, junk);

  CHECK(incoming.verify(dsc_name).verdict == Verdict::rejected);
  CHECK(incoming.verify(changes_name).verdict == Verdict::rejected);
}

TEST_CASE("a .changes whose whole .dsc does not parse is rejected for the .dsc, even while other "
          "files are still arriving")
{
  Incoming incoming;
  const std::string broken = replaced(hello_dsc(), "Source: hello", "Source: Hello");
  incoming.put(debian_tar.name, debian_tar.content, young);
  incoming.put(dsc_name, broken, young);
  incoming.put(changes_name, changes_text("hello", "1.0-1", {{dsc_name, broken}, orig, debian_tar}),
               young);

  SUBCASE("with a file missing")
  {
    auto result = incoming.verify(changes_name);
    INFO(result.reason);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(has(result.reason, dsc_name));
    CHECK_FALSE(has(result.reason, orig.name));
  }
  SUBCASE("with a file short")
  {
    incoming.put(orig.name, orig.content.substr(0, 5), young);
    auto result = incoming.verify(changes_name);
    INFO(result.reason);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(has(result.reason, dsc_name));
    CHECK_FALSE(has(result.reason, orig.name));
  }
}

TEST_CASE("a .changes whose whole .dsc does not parse is rejected for the .dsc")
{
  Incoming incoming;
  const std::string broken = replaced(hello_dsc(), "Source: hello", "Source: Hello");
  incoming.put_hello_dsc(young);
  incoming.put(dsc_name, broken, young);
  incoming.put(changes_name, changes_text("hello", "1.0-1", {{dsc_name, broken}, orig, debian_tar}),
               young);

  auto result = incoming.verify(changes_name);
  INFO(result.reason);
  CHECK(result.verdict == Verdict::rejected);
  CHECK(has(result.reason, dsc_name));
  CHECK(has(result.reason, "upper-case"));
}

TEST_CASE("digests known from intake are used instead of reading the file again, and still checked")
{
  Incoming incoming;
  incoming.put_hello_dsc();
  const auto first = incoming.verify(dsc_name);
  REQUIRE(first.verdict == Verdict::accepted);
  std::map<std::string, buildme::util::Digests> known = first.digests;

  // Same size, other bytes: only a verification that reads the file sees it.
  std::string other(orig.content.size(), 'x');
  incoming.put(orig.name, other);
  VerifyOptions options{now, grace};
  options.known_digests = &known;
  const auto trusted = verify_upload(Upload{incoming.dir(), dsc_name}, options);
  INFO(trusted.reason);
  CHECK(trusted.verdict == Verdict::accepted);
  CHECK(*trusted.digests.at(orig.name).sha512 == *first.digests.at(orig.name).sha512);

  SUBCASE("a known digest that disagrees with the .dsc is a mismatch, as a read one")
  {
    known[orig.name].sha256 = std::string(64, '0');
    const auto result = verify_upload(Upload{incoming.dir(), dsc_name}, options);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(has(result.reason, "SHA256 checksum of hello_1.0.orig.tar.gz"));
  }
  SUBCASE("a known size that is not the file's makes the file be read")
  {
    known[orig.name].size += 1;
    const auto result = verify_upload(Upload{incoming.dir(), dsc_name}, options);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(has(result.reason, "checksum of hello_1.0.orig.tar.gz"));
  }
  SUBCASE("a known entry without every digest makes the file be read")
  {
    known[orig.name].sha1.reset();
    const auto result = verify_upload(Upload{incoming.dir(), dsc_name}, options);
    CHECK(result.verdict == Verdict::rejected);
  }
}

namespace {

// A clear-signed file (in shape) whose signed text names the key that
// FakeSignatures takes as its signer.
std::string signed_by(const std::string& key)
{
  return "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nKey: " + key +
         "\n-----BEGIN PGP SIGNATURE-----\n\nnot checked\n-----END PGP SIGNATURE-----\n";
}

// Signatures as a keyring would judge them, without gpg: a file made by
// signed_by(KEY) is signed by KEY over `covers` (whatever else the file
// says); anything else is unsigned. `allowed` is the one source each key may
// upload, "*" for any.
struct FakeSignatures : buildme::debian::UploadSignatures
{
  std::map<std::string, std::string> covers; // file name -> signed text
  std::map<std::string, std::string> allowed;
  std::map<std::string, long> used;

  buildme::debian::SignatureCheck check(std::string_view file, std::string_view name) const override
  {
    buildme::debian::SignatureCheck result;
    const auto at = file.find("\nKey: ");
    if (at == std::string_view::npos) {
      result.refused = std::string(name) + " is not signed";
      return result;
    }
    const auto key = std::string(file.substr(at + 6, file.find('\n', at + 6) - at - 6));
    result.signer = buildme::debian::Signer{key, key + " <" + key + "@example.org>"};
    result.signed_text = covers.at(std::string(name));
    result.signature_id = key + "-" + std::string(name);
    return result;
  }
  std::string refuse_source(const buildme::debian::Signer& signer,
                            std::string_view source) const override
  {
    auto found = allowed.find(signer.fingerprint);
    return found != allowed.end() && (found->second == "*" || found->second == source)
             ? std::string()
             : signer.fingerprint + " may not upload " + std::string(source);
  }
  std::optional<long> job_with_signature(std::string_view id) const override
  {
    auto found = used.find(std::string(id));
    return found == used.end() ? std::nullopt : std::optional<long>(found->second);
  }
};

} // namespace

TEST_CASE("with a keyring, only the text its signature covers is parsed, and the signer is the "
          "uploader")
{
  Incoming incoming;
  incoming.put_hello_dsc();
  // The file on disk is no .changes at all: the signed text is.
  incoming.put(changes_name, signed_by("ALICE"));
  FakeSignatures signatures;
  signatures.covers[changes_name] = hello_changes("Mallory <mallory@example.org>");
  signatures.allowed["ALICE"] = "hello";
  VerifyOptions options{now, grace};
  options.signatures = &signatures;
  auto result = verify_upload(Upload{incoming.dir(), changes_name}, options);
  INFO(result.reason);
  CHECK(result.verdict == Verdict::accepted);
  CHECK(result.files.count(orig.name) == 1);
  CHECK(result.uploader() == "ALICE <ALICE@example.org>");
  REQUIRE(result.signature);
  CHECK(result.signature->signature_id == "ALICE-" + changes_name);

  SUBCASE("a key that may not upload the source is refused")
  {
    signatures.allowed["ALICE"] = "bash";
    result = verify_upload(Upload{incoming.dir(), changes_name}, options);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(result.reason == "ALICE may not upload hello");
    CHECK(result.uploader() == "ALICE <ALICE@example.org>");
  }
  SUBCASE("a signature used by an accepted upload is a replay, except for that job's own files")
  {
    signatures.used["ALICE-" + changes_name] = 7;
    result = verify_upload(Upload{incoming.dir(), changes_name}, options);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(has(result.reason, "used before, by the upload accepted as job 7"));
    options.job = 7;
    CHECK(verify_upload(Upload{incoming.dir(), changes_name}, options).verdict ==
          Verdict::accepted);
  }
  SUBCASE("a signed .dsc must be signed by a key that may upload its source")
  {
    incoming.put(dsc_name, signed_by("BOB"));
    signatures.covers[dsc_name] = hello_dsc();
    signatures.covers[changes_name] =
      changes_text("hello", "1.0-1", {{dsc_name, signed_by("BOB")}, orig, debian_tar});
    result = verify_upload(Upload{incoming.dir(), changes_name}, options);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(result.reason == "BOB may not upload hello");
    REQUIRE(result.dsc_signature);
    CHECK(result.dsc_signature->signer->fingerprint == "BOB");
    signatures.allowed["BOB"] = "*";
    CHECK(verify_upload(Upload{incoming.dir(), changes_name}, options).verdict ==
          Verdict::accepted);
  }
  SUBCASE("an unsigned file is refused, and nobody is its uploader")
  {
    incoming.put(changes_name, hello_changes());
    result = verify_upload(Upload{incoming.dir(), changes_name}, options);
    CHECK(result.verdict == Verdict::rejected);
    CHECK(result.reason == changes_name + " is not signed");
    CHECK(result.uploader() == "");
  }
}

TEST_CASE("upload-drop's check applies the same signature rules to files not yet in incoming")
{
  ScratchDir scratch;
  FakeSignatures signatures;
  signatures.covers[changes_name] = hello_changes();
  signatures.covers[dsc_name] = hello_dsc();
  signatures.allowed = {{"ALICE", "hello"}, {"BOB", "bash"}};
  const auto changes = scratch.write(changes_name, signed_by("ALICE"));
  const auto dsc = scratch.write("elsewhere/" + dsc_name, hello_dsc());
  CHECK(buildme::debian::refuse_signatures(changes, {dsc, changes}, signatures) == "");
  scratch.write("elsewhere/" + dsc_name, signed_by("BOB"));
  CHECK(buildme::debian::refuse_signatures(changes, {dsc, changes}, signatures) ==
        "BOB may not upload hello");
  CHECK(buildme::debian::refuse_signatures(scratch.write("u/" + changes_name, hello_changes()),
                                           {dsc}, signatures) == changes_name + " is not signed");
  signatures.used["ALICE-" + changes_name] = 3;
  CHECK(has(buildme::debian::refuse_signatures(changes, {dsc, changes}, signatures),
            "accepted as job 3"));
}

} // namespace unit_test_debian_verify
