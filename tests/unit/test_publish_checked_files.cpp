// The record of pool files a check read: a file whose stat is the same is
// not read again, one changed too recently is never recorded, and a record
// that is damaged, cut short or of another tree counts for nothing where it
// is damaged.
#include "publish/checked_files.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <chrono>
#include <string>

namespace unit_test_publish_checked_files {

using namespace buildme;
using publish::CheckedFiles;

namespace {

const std::string sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string tree = "/srv/staging/extras-devel";
const repo::FileStamp stamp{1234, 1'600'000'000'000'000'000, 1'600'000'000'500'000'000, 42};
// Long after the stamp's ctime.
const auto later = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));

std::string record(const std::string& lines)
{
  return "buildme-checked-files 1 " + tree + "\n" + lines;
}

std::string line(const repo::FileStamp& s, const std::string& digest, const std::string& path)
{
  return fmt::format("{} {} {} {} {} {}\n", s.size, s.mtime_ns, s.ctime_ns, s.inode, digest, path);
}

} // namespace

TEST_SUITE("publish: the record of pool files checked")
{
  TEST_CASE("a file with the stamp it was read with is known; any other stamp is not")
  {
    CheckedFiles files;
    files.put("pool/main/h/hello/hello_1.0-1_amd64.deb", stamp, sha, later);
    auto again = CheckedFiles::parse(files.write(tree), tree);
    REQUIRE(again.sha256("pool/main/h/hello/hello_1.0-1_amd64.deb", stamp));
    CHECK(*again.sha256("pool/main/h/hello/hello_1.0-1_amd64.deb", stamp) == sha);
    for (auto changed :
         {repo::FileStamp{1235, stamp.mtime_ns, stamp.ctime_ns, stamp.inode},
          repo::FileStamp{stamp.size, stamp.mtime_ns + 1, stamp.ctime_ns, stamp.inode},
          repo::FileStamp{stamp.size, stamp.mtime_ns, stamp.ctime_ns + 1, stamp.inode},
          repo::FileStamp{stamp.size, stamp.mtime_ns, stamp.ctime_ns, 43}}) {
      CHECK_FALSE(again.sha256("pool/main/h/hello/hello_1.0-1_amd64.deb", changed));
    }
    CHECK_FALSE(again.sha256("pool/main/h/hello/other.deb", stamp));
  }

  TEST_CASE("a file changed less than two seconds before the check began is not recorded")
  {
    CheckedFiles files;
    const auto changed_at =
      std::chrono::system_clock::time_point(std::chrono::nanoseconds(stamp.ctime_ns));
    files.put("a.deb", stamp, sha, changed_at + std::chrono::seconds(1));
    files.put("b.deb", stamp, sha, changed_at - std::chrono::seconds(5)); // a clock behind
    files.put("c.deb", stamp, sha, changed_at + std::chrono::seconds(3));
    CHECK(files.size() == 1);
    CHECK(files.sha256("c.deb", stamp));
  }

  TEST_CASE("a record of another tree, or no record at all, knows nothing")
  {
    const std::string text = record(line(stamp, sha, "a.deb"));
    CHECK(CheckedFiles::parse(text, tree).size() == 1);
    CHECK(CheckedFiles::parse(text, "/srv/live/extras-devel").size() == 0);
    CHECK(CheckedFiles::parse(text, tree + "/").size() == 0);
    for (const std::string& other :
         {std::string(), std::string("\n"), std::string("buildme-checked-files 2 " + tree + "\n"),
          std::string("buildme-checked-files 1 " + tree), line(stamp, sha, "a.deb")}) {
      CHECK(CheckedFiles::parse(other, tree).size() == 0);
    }
  }

  TEST_CASE("damaged, hostile and cut-short lines are dropped; the good ones stay")
  {
    const std::string good = line(stamp, sha, "good.deb");
    const std::string lines[] = {
      "1234 1 2 3\n",                                      // too few fields
      "x 1 2 3 " + sha + " a.deb\n",                       // not numbers
      "-1 1 2 3 " + sha + " b.deb\n",                      // a negative size
      "99999999999999999999999 1 2 3 " + sha + " c.deb\n", // overflow
      "1 1 2 3 " + sha.substr(1) + " d.deb\n",             // a short digest
      "1 1 2 3 " + std::string(64, 'G') + " e.deb\n",      // not hex
      "1 1 2 3 " + std::string(64, 'A') + " f.deb\n",      // upper case
      "1 1 2 3 " + sha + "\n",                             // no path
      "1 1 2 3 " + sha + " \n",                            // an empty path
      "1  1 2 3 " + sha + " g.deb\n",                      // two spaces
      std::string("1 1 2 3 ") + '\0' + sha + " h.deb\n",   // a NUL
      "\n",
      line(stamp, sha, "twice.deb"),
      line({1, 1, 1, 1}, sha, "twice.deb"), // which is right cannot be told
      good,
      "1 1 2 3 " + sha + " cut.deb", // the last line, without its line end
    };
    std::string text;
    for (const auto& each : lines) {
      text += each;
    }
    auto files = CheckedFiles::parse(record(text), tree);
    CHECK(files.size() == 1);
    CHECK(files.sha256("good.deb", stamp));
    CHECK_FALSE(files.sha256("twice.deb", stamp));
    CHECK_FALSE(files.sha256("cut.deb", {1, 1, 2, 3}));
  }

  TEST_CASE("a path with spaces comes back whole; one with a line end is never recorded")
  {
    CheckedFiles files;
    files.put("pool/odd name.deb", stamp, sha, later);
    files.put("pool/evil\n1 1 1 1 " + sha + " x.deb", stamp, sha, later);
    auto again = CheckedFiles::parse(files.write(tree), tree);
    CHECK(again.size() == 1);
    CHECK(again.sha256("pool/odd name.deb", stamp));
    CHECK_FALSE(again.sha256("x.deb", {1, 1, 1, 1}));
  }
}

} // namespace unit_test_publish_checked_files
