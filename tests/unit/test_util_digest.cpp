#include "util/digest.hpp"

#include "scratch.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <fmt/format.h>
#include <map>
#include <string>

namespace unit_test_util_digest {

using buildme::test::ScratchDir;
using namespace buildme::util;

namespace {

// Published test vectors (RFC 1321, FIPS 180) for "", "abc" and a million 'a'.
struct Vector
{
  std::string input;
  const char* md5;
  const char* sha1;
  const char* sha256;
  const char* sha512;
};

const Vector empty_vector{"", "d41d8cd98f00b204e9800998ecf8427e",
                          "da39a3ee5e6b4b0d3255bfef95601890afd80709",
                          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                          "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
                          "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"};

const Vector abc_vector{"abc", "900150983cd24fb0d6963f7d28e17f72",
                        "a9993e364706816aba3e25717850c26c9cd0d89d",
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"};

const Vector million_a_vector{std::string(1000000, 'a'), "7707d6ae4e027c70eea2a935c2296f21",
                              "34aa973cd4c4daa4f61eeb2bdbad27316534016f",
                              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
                              "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
                              "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b"};

void check_vector(const Digests& digests, const Vector& vector)
{
  CHECK(digests.size == vector.input.size());
  CHECK(digests.md5 == vector.md5);
  CHECK(digests.sha1 == vector.sha1);
  CHECK(digests.sha256 == vector.sha256);
  CHECK(digests.sha512 == vector.sha512);
}

} // namespace

TEST_CASE("digests of a buffer match the published test vectors")
{
  check_vector(digest_bytes(empty_vector.input, DigestSet::all()), empty_vector);
  check_vector(digest_bytes(abc_vector.input, DigestSet::all()), abc_vector);
  check_vector(digest_bytes(million_a_vector.input, DigestSet::all()), million_a_vector);
}

TEST_CASE("digests of a file match the published test vectors")
{
  ScratchDir dir;
  for (const auto* vector : {&empty_vector, &abc_vector, &million_a_vector}) {
    auto file = dir.write("file", vector->input);
    auto digests = digest_file(file, DigestSet::all());
    REQUIRE(digests.ok());
    check_vector(*digests, *vector);
  }
}

TEST_CASE("a file spanning many read buffers digests like the same bytes in memory")
{
  ScratchDir dir;
  std::string content(3 * 256 * 1024 + 12345, '\0');
  std::uint32_t state = 12345;
  for (auto& byte : content) {
    state = state * 1103515245 + 12345;
    byte = static_cast<char>(state >> 24);
  }
  auto file = dir.write("big.tar.xz", content);

  auto from_file = digest_file(file, DigestSet::all());
  REQUIRE(from_file.ok());
  auto from_memory = digest_bytes(content, DigestSet::all());
  CHECK(from_file->size == content.size());
  for (auto kind : all_digest_kinds) {
    REQUIRE((*from_file)[kind].has_value());
    CHECK((*from_file)[kind]->size() == digest_hex_length(kind));
    CHECK((*from_file)[kind] == from_memory[kind]);
  }
  // Not a digest of something shorter: dropping the last byte changes it.
  content.pop_back();
  CHECK(digest_bytes(content, DigestSet::all()).sha256 != from_file->sha256);
}

TEST_CASE("only the digests asked for are computed")
{
  DigestSet wanted;
  wanted.sha256 = true;
  auto digests = digest_bytes("abc", wanted);
  CHECK(digests.size == 3);
  CHECK_FALSE(digests.md5.has_value());
  CHECK_FALSE(digests.sha1.has_value());
  CHECK(digests.sha256 == abc_vector.sha256);
  CHECK_FALSE(digests.sha512.has_value());

  auto none = digest_bytes("abc", DigestSet{});
  CHECK(none.size == 3);
  for (auto kind : all_digest_kinds) {
    CHECK_FALSE(none[kind].has_value());
  }
}

TEST_CASE("digest_fd reads from the current position")
{
  ScratchDir dir;
  auto file = dir.write("f", "xxabc");
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::lseek(fd, 2, SEEK_SET) == 2);
  auto digests = digest_fd(fd, DigestSet::all());
  ::close(fd);
  REQUIRE(digests.ok());
  check_vector(*digests, abc_vector);
}

TEST_CASE("a file much larger than it claims to be is not read to the end")
{
  ScratchDir dir;
  auto file = dir.write("huge.orig.tar.gz", std::string(4 * 1024 * 1024, 'z'));
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  auto digests = digest_fd(fd, DigestSet::all(), 1000);
  REQUIRE(digests.ok());
  CHECK(digests->size > 1000);
  CHECK(digests->size <= 1000 + 256 * 1024);
  ::close(fd);

  SUBCASE("while a file of exactly the stated size is read whole")
  {
    auto exact = dir.write("exact", "abc");
    int exact_fd = ::open(exact.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(exact_fd >= 0);
    auto whole = digest_fd(exact_fd, DigestSet::all(), 3);
    ::close(exact_fd);
    REQUIRE(whole.ok());
    check_vector(*whole, abc_vector);
  }
}

TEST_CASE("digest_file refuses symlinks and names the file")
{
  ScratchDir dir;
  auto file = dir.write("real.dsc", "abc");
  std::filesystem::create_symlink(file, dir / "link.dsc");
  auto digests = digest_file(dir / "link.dsc", DigestSet::all());
  REQUIRE_FALSE(digests.ok());
  CHECK(digests.message().find((dir / "link.dsc").string()) != std::string::npos);
  CHECK(digests.message().find("symbolic link") != std::string::npos);

  auto missing = digest_file(dir / "absent.dsc", DigestSet::all());
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.message().find("absent.dsc") != std::string::npos);
}

TEST_CASE("digest kinds carry their .dsc field names and lengths")
{
  CHECK(digest_field(DigestKind::md5) == "Files");
  CHECK(digest_field(DigestKind::sha1) == "Checksums-Sha1");
  CHECK(digest_field(DigestKind::sha256) == "Checksums-Sha256");
  CHECK(digest_field(DigestKind::sha512) == "Checksums-Sha512");
  CHECK(digest_name(DigestKind::sha512) == "SHA512");
  for (auto kind : all_digest_kinds) {
    CHECK(digest_bytes("", DigestSet::all())[kind]->size() == digest_hex_length(kind));
  }
}

TEST_CASE("a digest manifest reads back what was written")
{
  std::map<std::string, buildme::util::Digests> files;
  files["hello_1.0.orig.tar.gz"] =
    buildme::util::digest_bytes("upstream", buildme::util::DigestSet::all());
  files["hello_1.0-1.dsc"] = buildme::util::digest_bytes("dsc", buildme::util::DigestSet::all());
  const std::string text = buildme::util::write_digest_manifest(files);
  auto parsed = buildme::util::parse_digest_manifest(text, "source.digests");
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 2);
  CHECK(*parsed->at("hello_1.0.orig.tar.gz").sha512 == *files["hello_1.0.orig.tar.gz"].sha512);
  CHECK(parsed->at("hello_1.0-1.dsc").size == 3);
  CHECK(buildme::util::parse_digest_manifest("", "m")->empty());
}

TEST_CASE("a malformed, hostile or truncated digest manifest is refused whole, naming the line")
{
  const auto digests = buildme::util::digest_bytes("x", buildme::util::DigestSet::all());
  const std::string good = fmt::format("a.tar.gz 1 {} {} {} {}\n", *digests.md5, *digests.sha1,
                                       *digests.sha256, *digests.sha512);
  auto refused = [](const std::string& text) {
    auto parsed = buildme::util::parse_digest_manifest(text, "m");
    CAPTURE(text);
    REQUIRE_FALSE(parsed.ok());
    return parsed.message();
  };
  CHECK(refused(good.substr(0, good.size() - 1)).find("m:1: the last line is cut short") == 0);
  CHECK(refused(good + good).find("m:2: a.tar.gz is listed twice") == 0);
  CHECK(refused(good + "b 1 2 3\n").find("m:2: 4 words") == 0);
  std::string upper = good;
  std::transform(upper.begin() + 11, upper.end(), upper.begin() + 11, ::toupper);
  CHECK(refused(upper).find("m:1: not NAME SIZE") == 0);
  for (std::string_view name : {"../etc/passwd", ".", "..", "sub/dir"}) {
    std::string hostile = good;
    hostile.replace(0, 8, name);
    CHECK(refused(hostile).find("m:1: not NAME SIZE") == 0);
  }
  std::string huge = good;
  huge.replace(9, 1, "99999999999999999999999");
  CHECK(refused(huge).find("m:1: not NAME SIZE") == 0);
  std::string short_hash = good;
  short_hash.erase(11, 1);
  CHECK(refused(short_hash).find("m:1: not NAME SIZE") == 0);
}

} // namespace unit_test_util_digest
