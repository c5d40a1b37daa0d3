#include "util/fs.hpp"

#include "scratch.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace unit_test_util_fs {

using buildme::test::mode_of;
using buildme::test::ScratchDir;
using namespace buildme::util;

namespace {

dev_t device_of(const fs::path& path)
{
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_dev;
}

// A scratch folder on another filesystem than the usual one, when the
// machine has one (/dev/shm is tmpfs on most Linux systems).
class OtherFilesystemDir
{
public:
  explicit OtherFilesystemDir(const fs::path& away_from)
  {
    std::error_code error;
    if (!fs::is_directory("/dev/shm", error) || device_of("/dev/shm") == device_of(away_from)) {
      return;
    }
    std::string pattern = "/dev/shm/buildme-test-XXXXXX";
    if (::mkdtemp(pattern.data())) {
      m_path = pattern;
    }
  }
  ~OtherFilesystemDir()
  {
    if (!m_path.empty()) {
      std::error_code ignored;
      fs::remove_all(m_path, ignored);
    }
  }
  OtherFilesystemDir(const OtherFilesystemDir&) = delete;
  OtherFilesystemDir& operator=(const OtherFilesystemDir&) = delete;

  bool available() const { return !m_path.empty(); }
  const fs::path& path() const { return m_path; }

private:
  fs::path m_path;
};

} // namespace

TEST_CASE("a move to a free name lands exactly there")
{
  ScratchDir dir;
  auto from = dir.write("incoming/foo_1.0.dsc", "first");
  fs::create_directories(dir / "rejected");

  auto moved = move_no_clobber(from, dir / "rejected/foo_1.0.dsc");
  REQUIRE(moved.ok());
  CHECK(*moved == dir / "rejected/foo_1.0.dsc");
  CHECK(ScratchDir::read(dir / "rejected/foo_1.0.dsc") == "first");
  CHECK_FALSE(fs::exists(from));
}

TEST_CASE("a second move to a taken name keeps both")
{
  ScratchDir dir;
  auto target = dir / "rejected/foo_1.0.dsc";
  dir.write("rejected/foo_1.0.dsc", "first");
  auto from = dir.write("incoming/foo_1.0.dsc", "second");

  auto moved = move_no_clobber(from, target);
  REQUIRE(moved.ok());
  CHECK(*moved == dir / "rejected/foo_1.0.dsc.1");
  CHECK(ScratchDir::read(target) == "first");
  CHECK(ScratchDir::read(dir / "rejected/foo_1.0.dsc.1") == "second");
  CHECK_FALSE(fs::exists(from));

  SUBCASE("and a third goes to .2")
  {
    auto third = dir.write("incoming/foo_1.0.dsc", "third");
    auto again = move_no_clobber(third, target);
    REQUIRE(again.ok());
    CHECK(*again == dir / "rejected/foo_1.0.dsc.2");
    CHECK(ScratchDir::read(target) == "first");
    CHECK(ScratchDir::read(dir / "rejected/foo_1.0.dsc.1") == "second");
    CHECK(ScratchDir::read(dir / "rejected/foo_1.0.dsc.2") == "third");
  }
}

TEST_CASE("a name taken after free_name looked is still not overwritten")
{
  // Another process may take the name between a check and the move; the
  // move itself must refuse to overwrite, not rely on the check.
  ScratchDir dir;
  dir.write("rejected/x", "old");
  CHECK(free_name(dir / "rejected", "x") == "x.1");

  dir.write("rejected/x.1", "raced in");
  auto from = dir.write("incoming/x", "mine");
  auto moved = move_no_clobber(from, dir / "rejected/x");
  REQUIRE(moved.ok());
  CHECK(*moved == dir / "rejected/x.2");
  CHECK(ScratchDir::read(dir / "rejected/x") == "old");
  CHECK(ScratchDir::read(dir / "rejected/x.1") == "raced in");
  CHECK(ScratchDir::read(dir / "rejected/x.2") == "mine");
  CHECK(free_name(dir / "rejected", "x") == "x.3");
}

TEST_CASE("free_name gives the name itself when it is free")
{
  ScratchDir dir;
  CHECK(free_name(dir.path(), "foo.changes") == "foo.changes");
  // A dangling symlink still takes the name.
  fs::create_symlink("nowhere", dir / "foo.changes");
  CHECK(free_name(dir.path(), "foo.changes") == "foo.changes.1");
}

TEST_CASE("a move whose source is missing fails and names it")
{
  ScratchDir dir;
  auto moved = move_no_clobber(dir / "absent", dir / "target");
  REQUIRE_FALSE(moved.ok());
  CHECK(moved.message().find("absent") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "target"));
}

TEST_CASE("move_exclusive refuses a taken name and leaves both files alone")
{
  ScratchDir dir;
  auto from = dir.write("a", "new");
  auto to = dir.write("b", "old");

  auto moved = move_exclusive(from, to);
  REQUIRE_FALSE(moved.ok());
  CHECK(moved.message().find((dir / "a").string()) != std::string::npos);
  CHECK(moved.message().find((dir / "b").string()) != std::string::npos);
  CHECK(ScratchDir::read(from) == "new");
  CHECK(ScratchDir::read(to) == "old");
  CHECK_FALSE(fs::exists(dir / "b.1"));

  fs::remove(to);
  REQUIRE(move_exclusive(from, to).ok());
  CHECK(ScratchDir::read(to) == "new");
  CHECK_FALSE(fs::exists(from));
}

TEST_CASE("link_or_copy_exclusive links beside the original and refuses a taken name")
{
  ScratchDir dir;
  auto from = dir.write("pool/foo.deb", "package");
  auto to = dir / "foo.deb";

  REQUIRE(link_or_copy_exclusive(from, to).ok());
  CHECK(ScratchDir::read(to) == "package");
  CHECK(ScratchDir::read(from) == "package");
  CHECK(fs::equivalent(from, to));

  dir.write("other.deb", "other");
  auto again = link_or_copy_exclusive(from, dir / "other.deb");
  REQUIRE_FALSE(again.ok());
  CHECK(again.message().find("other.deb") != std::string::npos);
  CHECK(ScratchDir::read(dir / "other.deb") == "other");
}

TEST_CASE("moves and copies across filesystems keep contents and never overwrite")
{
  ScratchDir dir;
  OtherFilesystemDir other(dir.path());
  if (!other.available()) {
    MESSAGE("/dev/shm is missing or on the same filesystem as "
            << dir.path() << ": the cross-filesystem copy path is NOT tested here");
    return;
  }
  REQUIRE(device_of(other.path()) != device_of(dir.path()));

  std::string big(300 * 1024 + 7, 'x'); // more than one copy buffer
  for (std::size_t i = 0; i < big.size(); ++i) {
    big[i] = static_cast<char>('a' + i % 26);
  }
  auto from = other.path() / "foo_1.0.tar.gz";
  REQUIRE(write_file_atomic(from, big, 0640).ok());
  dir.write("queue/foo_1.0.tar.gz", "already here");

  auto moved = move_no_clobber(from, dir / "queue/foo_1.0.tar.gz");
  REQUIRE(moved.ok());
  CHECK(*moved == dir / "queue/foo_1.0.tar.gz.1");
  CHECK(ScratchDir::read(*moved) == big);
  CHECK(mode_of(*moved) == 0640);
  CHECK(ScratchDir::read(dir / "queue/foo_1.0.tar.gz") == "already here");
  CHECK_FALSE(fs::exists(from));
  auto names = list_dir(dir / "queue");
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{"foo_1.0.tar.gz", "foo_1.0.tar.gz.1"});

  SUBCASE("move_exclusive refuses a taken name and keeps the source")
  {
    auto source = other.path() / "bar";
    REQUIRE(write_file_atomic(source, "bar").ok());
    auto refused = move_exclusive(source, dir / "queue/foo_1.0.tar.gz");
    REQUIRE_FALSE(refused.ok());
    CHECK(ScratchDir::read(source) == "bar");
    CHECK(ScratchDir::read(dir / "queue/foo_1.0.tar.gz") == "already here");
    CHECK(list_dir(dir / "queue")->size() == 2);
  }

  SUBCASE("link_or_copy_exclusive copies and keeps the original")
  {
    auto source = other.path() / "baz";
    REQUIRE(write_file_atomic(source, "baz").ok());
    REQUIRE(link_or_copy_exclusive(source, dir / "baz").ok());
    CHECK(ScratchDir::read(dir / "baz") == "baz");
    CHECK(ScratchDir::read(source) == "baz");
    CHECK_FALSE(link_or_copy_exclusive(source, dir / "baz").ok());
  }

  SUBCASE("a symlink is not copied across")
  {
    auto link = other.path() / "link";
    fs::create_symlink(other.path() / "nowhere", link);
    auto refused = move_no_clobber(link, dir / "link");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.message().find("symbolic link") != std::string::npos);
    CHECK(fs::is_symlink(link));
    CHECK_FALSE(fs::exists(fs::symlink_status(dir / "link")));
  }
}

TEST_CASE("an atomic write replaces the whole content and leaves no temporary file")
{
  ScratchDir dir;
  auto path = dir / "state";
  REQUIRE(write_file_atomic(path, "a long first version of the file\n").ok());
  CHECK(ScratchDir::read(path) == "a long first version of the file\n");

  REQUIRE(write_file_atomic(path, "short\n", 0600).ok());
  CHECK(ScratchDir::read(path) == "short\n");
  CHECK(mode_of(path) == 0600);

  auto names = list_dir(dir.path());
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{"state"});
}

TEST_CASE("an atomic write into a missing folder fails, naming the file")
{
  ScratchDir dir;
  auto written = write_file_atomic(dir / "missing/state", "x");
  REQUIRE_FALSE(written.ok());
  CHECK(written.message().find("missing/state") != std::string::npos);
}

TEST_CASE("a failed atomic write leaves the old file and no temporary file")
{
  ScratchDir dir;
  dir.write("state/keep", "in the way");
  auto written = write_file_atomic(dir / "state", "new");
  REQUIRE_FALSE(written.ok());
  CHECK(written.message().find((dir / "state").string()) != std::string::npos);
  CHECK(fs::is_directory(dir / "state"));
  auto names = list_dir(dir.path());
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{"state"});
}

TEST_CASE("an atomic write sets the mode exactly, whatever the umask")
{
  ScratchDir dir;
  mode_t old_umask = ::umask(077);
  auto written = write_file_atomic(dir / "Release", "x", 0644);
  ::umask(old_umask);
  REQUIRE(written.ok());
  CHECK(mode_of(dir / "Release") == 0644);
}

TEST_CASE("write_file_exclusive refuses an existing file and leaves it unchanged")
{
  ScratchDir dir;
  auto path = dir / "foo.reason";
  REQUIRE(write_file_exclusive(path, "first reason", 0640).ok());
  CHECK(ScratchDir::read(path) == "first reason");
  CHECK(mode_of(path) == 0640);

  auto second = write_file_exclusive(path, "second reason");
  REQUIRE_FALSE(second.ok());
  CHECK(second.message().find(path.string()) != std::string::npos);
  CHECK(ScratchDir::read(path) == "first reason");

  // A dangling symlink counts as existing: nothing is written through it.
  fs::create_symlink(dir / "target", dir / "link");
  CHECK_FALSE(write_file_exclusive(dir / "link", "x").ok());
  CHECK_FALSE(fs::exists(dir / "target"));

  auto names = list_dir(dir.path());
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{"foo.reason", "link"});
}

TEST_CASE("open_regular_file refuses symlinks, FIFOs and folders")
{
  ScratchDir dir;
  auto file = dir.write("file", "content");

  SUBCASE("a regular file opens, blocking reads work")
  {
    auto handle = open_regular_file(file);
    REQUIRE(handle.ok());
    char buffer[16];
    CHECK(::read(handle->fd(), buffer, sizeof buffer) == 7);
  }
  SUBCASE("a symlink, even to a regular file")
  {
    fs::create_symlink(file, dir / "link");
    auto handle = open_regular_file(dir / "link");
    REQUIRE_FALSE(handle.ok());
    CHECK(handle.message() ==
          (dir / "link").string() + " is a symbolic link; refusing to follow it");
  }
  SUBCASE("a FIFO, without waiting for a writer")
  {
    REQUIRE(::mkfifo((dir / "fifo").c_str(), 0644) == 0);
    auto handle = open_regular_file(dir / "fifo");
    REQUIRE_FALSE(handle.ok());
    CHECK(handle.message() == (dir / "fifo").string() + " is not a regular file");
  }
  SUBCASE("a folder")
  {
    auto handle = open_regular_file(dir.path());
    REQUIRE_FALSE(handle.ok());
    CHECK(handle.message() == dir.path().string() + " is not a regular file");
  }
  SUBCASE("a missing file")
  {
    auto handle = open_regular_file(dir / "absent");
    REQUIRE_FALSE(handle.ok());
    CHECK(handle.message().find("cannot open " + (dir / "absent").string()) == 0);
    CHECK(handle.message().find("No such file") != std::string::npos);
  }
}

TEST_CASE("a hostile file name is escaped in error messages")
{
  ScratchDir dir;
  auto handle = open_regular_file(dir / "evil\n\x1b[2J");
  REQUIRE_FALSE(handle.ok());
  CHECK(handle.message().find('\n') == std::string::npos);
  CHECK(handle.message().find('\x1b') == std::string::npos);
  CHECK(handle.message().find("evil\\x0a\\x1b[2J") != std::string::npos);
}

TEST_CASE("read_file reads a whole file and refuses oversized or odd ones")
{
  ScratchDir dir;
  auto file = dir.write("foo.dsc", std::string(1000, 'd'));

  auto content = read_file(file, 1000);
  REQUIRE(content.ok());
  CHECK(*content == std::string(1000, 'd'));

  auto too_big = read_file(file, 999);
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.message().find(file.string()) != std::string::npos);
  CHECK(too_big.message().find("999") != std::string::npos);

  CHECK(read_file(dir.write("empty", ""))->empty());

  fs::create_symlink(file, dir / "link");
  CHECK_FALSE(read_file(dir / "link").ok());
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0644) == 0);
  CHECK_FALSE(read_file(dir / "fifo").ok());
}

TEST_CASE("list_dir lists names sorted, without following symlinks")
{
  ScratchDir dir;
  dir.write("b", "");
  dir.write("a", "");
  dir.write(".hidden", "");
  fs::create_directories(dir / "sub");
  dir.write("sub/inner", "");
  fs::create_symlink("/", dir / "c");

  auto names = list_dir(dir.path());
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{".hidden", "a", "b", "c", "sub"});

  auto missing = list_dir(dir / "absent");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.message().find((dir / "absent").string()) != std::string::npos);
}

TEST_CASE("stat_no_follow describes a name without following it")
{
  ScratchDir dir;
  auto file = dir.write("file", "12345");
  fs::create_symlink(file, dir / "link");

  auto info = stat_no_follow(file);
  REQUIRE(info.ok());
  REQUIRE(info->has_value());
  CHECK((*info)->type == FileInfo::Type::regular);
  CHECK((*info)->size == 5);
  auto age = std::chrono::system_clock::now() - (*info)->mtime;
  CHECK(age < std::chrono::minutes(5));
  CHECK(age > -std::chrono::minutes(5));

  auto link = stat_no_follow(dir / "link");
  REQUIRE(link.ok());
  REQUIRE(link->has_value());
  CHECK((*link)->type == FileInfo::Type::symlink);
  CHECK((*link)->inode != (*info)->inode);

  auto folder = stat_no_follow(dir.path());
  REQUIRE(folder.ok());
  CHECK((*folder)->type == FileInfo::Type::directory);

  auto absent = stat_no_follow(dir / "absent");
  REQUIRE(absent.ok());
  CHECK_FALSE(absent->has_value());
}

TEST_CASE("make_dirs creates every missing folder with the mode asked for")
{
  ScratchDir dir;
  mode_t old_umask = ::umask(022);
  auto made = make_dirs(dir / "a/b/c", 0775);
  ::umask(old_umask);
  REQUIRE(made.ok());
  CHECK(fs::is_directory(dir / "a/b/c"));
  CHECK(mode_of(dir / "a/b") == 0775);
  CHECK(mode_of(dir / "a/b/c") == 0775);
  CHECK(make_dirs(dir / "a/b/c").ok());

  dir.write("file", "");
  auto blocked = make_dirs(dir / "file/sub");
  REQUIRE_FALSE(blocked.ok());
  CHECK(blocked.message().find((dir / "file").string()) != std::string::npos);
}

TEST_CASE("sync_dir syncs a folder and names one it cannot open")
{
  ScratchDir dir;
  CHECK(sync_dir(dir.path()).ok());
  auto missing = sync_dir(dir / "absent");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.message().find((dir / "absent").string()) != std::string::npos);
}

TEST_CASE("printable escapes what could rewrite a terminal or split a log line")
{
  CHECK(printable("foo_1.0-1.dsc") == "foo_1.0-1.dsc");
  CHECK(printable("a\nb") == "a\\x0ab");
  CHECK(printable("\x1b[31mred") == "\\x1b[31mred");
  CHECK(printable("tab\there") == "tab\\x09here");
  CHECK(printable("del\x7f") == "del\\x7f");
  CHECK(printable("back\\slash") == "back\\x5cslash");
  CHECK(printable(std::string_view("nul\0end", 7)) == "nul\\x00end");
  // Valid UTF-8 stays readable.
  CHECK(printable("caf\xc3\xa9") == "caf\xc3\xa9");
  CHECK(printable("\xe2\x82\xac \xf0\x9f\x98\x80") == "\xe2\x82\xac \xf0\x9f\x98\x80");
  // Invalid: a lone continuation byte, a truncated sequence, an overlong
  // '/', a UTF-16 surrogate, a code point beyond U+10FFFF, and 0xff.
  CHECK(printable("a\x80z") == "a\\x80z");
  CHECK(printable("caf\xc3") == "caf\\xc3");
  CHECK(printable("\xe2\x82") == "\\xe2\\x82");
  CHECK(printable("\xc0\xaf") == "\\xc0\\xaf");
  CHECK(printable("\xed\xa0\x80") == "\\xed\\xa0\\x80");
  CHECK(printable("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");
  CHECK(printable("\xff") == "\\xff");
  // Valid but still acting on terminals and readers: C1 CSI, a line
  // separator, a right-to-left override.
  CHECK(printable("\xc2\x9b"
                  "2J") == "\\xc2\\x9b2J");
  CHECK(printable("a\xe2\x80\xa8z") == "a\\xe2\\x80\\xa8z");
  CHECK(printable("\xe2\x80\xaegpj.exe") == "\\xe2\\x80\\xaegpj.exe");
}

TEST_CASE("FileHandle closes its descriptor and moves ownership")
{
  ScratchDir dir;
  auto file = dir.write("f", "x");
  int fd = -1;
  {
    auto handle = open_regular_file(file);
    REQUIRE(handle.ok());
    FileHandle moved = std::move(*handle);
    CHECK_FALSE(*handle);
    REQUIRE(moved);
    fd = moved.fd();
    CHECK(::fcntl(fd, F_GETFD) >= 0);
  }
  CHECK(::fcntl(fd, F_GETFD) == -1);
}

} // namespace unit_test_util_fs
