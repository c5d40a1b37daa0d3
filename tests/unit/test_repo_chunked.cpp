#include "repo/index.hpp"
#include "util/process.hpp"

#include "decompress.hpp"
#include "scratch.hpp"

#include <doctest/doctest.h>

#include <fmt/format.h>

#include <map>

namespace unit_test_repo_chunked {

using buildme::repo::ChunkCache;

using buildme::test::decompress;

namespace {

struct MapCache : ChunkCache
{
  std::map<std::string, std::string> pieces;
  int hits = 0;
  int misses = 0;
  std::optional<std::string> get(const std::string& key) override
  {
    auto found = pieces.find(key);
    if (found == pieces.end()) {
      ++misses;
      return std::nullopt;
    }
    ++hits;
    return found->second;
  }
  void put(const std::string& key, const std::string& value) override { pieces[key] = value; }
};

std::string packages(int count, int skip = -1)
{
  std::string text;
  for (int i = 0; i < count; ++i) {
    if (i != skip) {
      text += fmt::format("Package: pkg{}\nVersion: 1.{}-1\nDescription: package number {}\n"
                          " with a longer description line {}\n\n",
                          i, i, i, i * 7);
    }
  }
  return text;
}

} // namespace

TEST_SUITE("repo: chunked compression")
{
  TEST_CASE("an index compressed in pieces decompresses to exactly the index with xz and gzip")
  {
    MapCache cache;
    const std::string text = packages(3000);
    auto xz = buildme::repo::xz_compress_chunked(text, cache, 6, 2);
    REQUIRE_MESSAGE(xz, xz.message());
    CHECK(decompress("xz", *xz) == text);
    auto gz = buildme::repo::gzip_compress_chunked(text, cache, 2);
    REQUIRE_MESSAGE(gz, gz.message());
    CHECK(decompress("gzip", *gz) == text);
    CHECK(cache.pieces.size() > 20); // really in pieces
  }

  TEST_CASE("adding one stanza recompresses one piece, not the whole index")
  {
    MapCache cache;
    const std::string before = packages(3000, 1500);
    REQUIRE(buildme::repo::xz_compress_chunked(before, cache, 6, 1));
    const std::size_t pieces = cache.pieces.size();
    cache.hits = cache.misses = 0;
    const std::string after = packages(3000);
    auto xz = buildme::repo::xz_compress_chunked(after, cache, 6, 1);
    REQUIRE(xz);
    CHECK(decompress("xz", *xz) == after);
    CHECK(cache.misses <= 2);
    CHECK(cache.hits >= static_cast<int>(pieces) - 2);
  }

  TEST_CASE("a Contents index is cut by lines: one more line recompresses one piece")
  {
    std::string before, after;
    for (int i = 0; i < 40000; ++i) {
      const std::string line = fmt::format("usr/share/doc/p{0}/file{0}\t\t\tutils/p{0}\n", i);
      after += line;
      if (i != 20000) {
        before += line;
      }
    }
    MapCache cache;
    auto pieces = buildme::repo::cut_index(before, 2, buildme::repo::IndexUnits::lines);
    CHECK(pieces.pieces.size() > 10);
    REQUIRE(buildme::repo::gzip_compress_pieces(pieces, cache, 2));
    cache.hits = cache.misses = 0;
    auto again = buildme::repo::cut_index(after, 2, buildme::repo::IndexUnits::lines);
    auto gz = buildme::repo::gzip_compress_pieces(again, cache, 2);
    REQUIRE(gz);
    CHECK(decompress("gzip", *gz) == after);
    CHECK(cache.misses <= 2);
    CHECK(cache.hits >= static_cast<int>(pieces.pieces.size()) - 2);
    // Without the lines cut, it is one piece (it has no blank line).
    CHECK(buildme::repo::cut_index(after, 2).pieces.size() == 1);
  }

  TEST_CASE("the same index gives the same bytes, and an empty index is a valid file")
  {
    MapCache one, two;
    const std::string text = packages(500);
    CHECK(*buildme::repo::xz_compress_chunked(text, one, 6, 2) ==
          *buildme::repo::xz_compress_chunked(text, two, 6, 1));
    MapCache empty;
    auto xz = buildme::repo::xz_compress_chunked("", empty, 6, 2);
    REQUIRE(xz);
    CHECK(decompress("xz", *xz).empty());
    auto gz = buildme::repo::gzip_compress_chunked("", empty, 2);
    REQUIRE(gz);
    CHECK(decompress("gzip", *gz).empty());
  }

  TEST_CASE("a stanza longer than a piece still round-trips")
  {
    MapCache cache;
    const std::string text =
      "Package: big\nDescription: x\n " + std::string(3 * 1024 * 1024, 'y') + "\n\n" + packages(10);
    auto xz = buildme::repo::xz_compress_chunked(text, cache, 1, 2);
    REQUIRE(xz);
    CHECK(decompress("xz", *xz) == text);
  }

  TEST_CASE("an index of lines cut a line at a time is cut as its whole text is")
  {
    for (const std::size_t line_size : {20u, 300u, 5000u}) {
      CAPTURE(line_size);
      std::string text;
      for (int i = 0; text.size() < 3 * 1024 * 1024; ++i) {
        std::string line = fmt::format("usr/share/doc/p{}/", i);
        line.resize(line_size, 'x');
        text += line + "\tsection/p" + std::to_string(i) + "\n";
      }
      const auto whole = buildme::repo::cut_text(text, buildme::repo::IndexUnits::lines);
      std::vector<std::string> streamed;
      std::string piece;
      for (std::size_t at = 0; at < text.size();) {
        const std::size_t end = text.find('\n', at) + 1;
        const std::string_view line = std::string_view(text).substr(at, end - at);
        piece.append(line);
        if (buildme::repo::cuts_after_line(line.substr(0, line.size() - 1), piece.size())) {
          streamed.push_back(std::move(piece));
          piece.clear();
        }
        at = end;
      }
      if (!piece.empty()) {
        streamed.push_back(piece);
      }
      REQUIRE(streamed.size() == whole.size());
      CHECK(whole.size() > 2);
      for (std::size_t i = 0; i < whole.size(); ++i) {
        CHECK(streamed[i] == whole[i]);
      }
    }
  }
}

} // namespace unit_test_repo_chunked
