// An index written piece by piece (repo/index_files.hpp): the files are the
// text, gzip and xz read them back whole, each piece lies where its span
// says, copied pieces come out byte for byte, and a file that is not the one
// recorded is never copied from. gzip and xz themselves are the oracles.
#include "repo/index_files.hpp"
#include "util/digest.hpp"
#include "util/process.hpp"

#include "decompress.hpp"
#include "scratch.hpp"

#include <doctest/doctest.h>

#include <fmt/format.h>

#include <map>

namespace unit_test_repo_index_files {

namespace fs = std::filesystem;
using buildme::repo::ChunkCache;
using buildme::repo::IndexFiles;
using buildme::repo::PieceCopier;
using buildme::repo::PieceSpan;
using buildme::test::ScratchDir;

using buildme::test::decompress;

namespace {

struct MapCache : ChunkCache
{
  std::map<std::string, std::string> pieces;
  std::optional<std::string> get(const std::string& key) override
  {
    auto found = pieces.find(key);
    return found == pieces.end() ? std::nullopt : std::optional<std::string>(found->second);
  }
  void put(const std::string& key, const std::string& value) override { pieces[key] = value; }
};

// Pieces of stanza text, `count` of them, piece i of `size` bytes or so.
std::vector<std::string> pieces_of(int count, std::size_t size, int seed = 0)
{
  std::vector<std::string> pieces;
  for (int i = 0; i < count; ++i) {
    std::string piece;
    for (int n = 0; piece.size() < size; ++n) {
      piece += fmt::format("Package: p{}-{}-{}\nVersion: {}\n\n", seed, i, n, n * 31 + i);
    }
    pieces.push_back(piece);
  }
  return pieces;
}

struct Index
{
  IndexFiles::Paths paths;
  explicit Index(const fs::path& dir, const std::string& name = "Packages")
  {
    paths = {dir / name, dir / (name + ".gz"), dir / (name + ".xz")};
  }
  std::string read(const fs::path& path) const { return ScratchDir::read(path); }
};

IndexFiles::Written write(const Index& index, ChunkCache& cache,
                          const std::vector<std::string>& pieces)
{
  IndexFiles files(cache, 6, 2);
  REQUIRE(files.open(index.paths));
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    REQUIRE(files.add(pieces[i], fmt::format("label{}", i)));
  }
  auto written = files.finish();
  REQUIRE_MESSAGE(written, written.message());
  return *written;
}

} // namespace

TEST_SUITE("repo: an index written piece by piece")
{
  TEST_CASE("the files are the text, each piece lies where its span says, and the digests are "
            "the files'")
  {
    ScratchDir scratch;
    MapCache cache;
    // More than one batch (4 MiB), in pieces of 100 KB.
    const auto pieces = pieces_of(50, 100 * 1024);
    std::string text;
    for (const auto& piece : pieces) {
      text += piece;
    }
    REQUIRE(text.size() > IndexFiles::batch_bytes);
    Index index(scratch.path());
    const auto written = write(index, cache, pieces);
    const std::string plain = index.read(index.paths.plain);
    const std::string gz = index.read(index.paths.gz);
    const std::string xz = index.read(index.paths.xz);
    CHECK(plain == text);
    CHECK(decompress("gzip", gz) == text);
    CHECK(decompress("xz", xz) == text);
    CHECK(written.plain.size == text.size());
    const auto all = buildme::util::DigestSet::all();
    for (const auto& [digests, content] :
         {std::pair{&written.plain, &plain}, {&written.gz, &gz}, {&written.xz, &xz}}) {
      const auto expected = buildme::util::digest_bytes(*content, all);
      CHECK(digests->size == expected.size);
      CHECK(digests->md5 == expected.md5);
      CHECK(digests->sha1 == expected.sha1);
      CHECK(digests->sha256 == expected.sha256);
      CHECK(digests->sha512 == expected.sha512);
    }
    REQUIRE(written.pieces.size() == pieces.size());
    CHECK(written.compressed == pieces.size());
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      const PieceSpan& span = written.pieces[i];
      CAPTURE(i);
      CHECK(span.label == fmt::format("label{}", i));
      CHECK(plain.substr(span.plain_offset, span.plain_size) == pieces[i]);
      CHECK(decompress("gzip", gz.substr(span.gz_offset, span.gz_size)) == pieces[i]);
      CHECK(span.sha256 ==
            buildme::util::digest_bytes(pieces[i], {false, false, true, false}).sha256);
    }
    // The same pieces again come from the cache, into the same bytes.
    Index again(scratch.path(), "Again");
    const auto second = write(again, cache, pieces);
    CHECK(second.cached == pieces.size());
    CHECK(second.compressed == 0);
    CHECK(again.read(again.paths.xz) == xz);
    CHECK(again.read(again.paths.gz) == gz);
  }

  TEST_CASE("an index copied piece by piece from its files, one piece made anew, is what making "
            "it whole gives")
  {
    ScratchDir scratch;
    MapCache cache;
    auto pieces = pieces_of(12, 30 * 1024);
    Index first(scratch / "first");
    fs::create_directories(scratch / "first");
    const auto written = write(first, cache, pieces);

    pieces[5] = "Package: changed\nVersion: 2\n\n";
    Index copied(scratch / "copied");
    fs::create_directories(scratch / "copied");
    const buildme::util::Digests* recorded[3] = {&written.plain, &written.gz, &written.xz};
    auto copier = PieceCopier::open(first.paths, recorded, written.pieces);
    REQUIRE_MESSAGE(copier, copier.message());
    IndexFiles files(cache, 6, 2);
    REQUIRE(files.open(copied.paths));
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      const std::string label = fmt::format("label{}", i);
      if (i == 5) {
        REQUIRE(files.add(pieces[i], "new"));
        continue;
      }
      const PieceSpan* span = (*copier)->find(label);
      REQUIRE(span);
      REQUIRE((*copier)->copy(*span, files));
    }
    auto result = files.finish();
    REQUIRE_MESSAGE(result, result.message());
    CHECK(result->copied == pieces.size() - 1);
    CHECK(result->compressed == 1);
    CHECK((*copier)->find("nothing") == nullptr);

    MapCache fresh;
    Index whole(scratch / "whole");
    fs::create_directories(scratch / "whole");
    write(whole, fresh, pieces);
    for (auto member :
         {&IndexFiles::Paths::plain, &IndexFiles::Paths::gz, &IndexFiles::Paths::xz}) {
      CHECK(copied.read(copied.paths.*member) == whole.read(whole.paths.*member));
    }
    CHECK(decompress("xz", copied.read(copied.paths.xz)) == copied.read(copied.paths.plain));
  }

  TEST_CASE("a file that is not the one recorded is not copied from")
  {
    ScratchDir scratch;
    MapCache cache;
    const auto pieces = pieces_of(4, 10 * 1024);
    Index index(scratch.path());
    const auto written = write(index, cache, pieces);
    const buildme::util::Digests* recorded[3] = {&written.plain, &written.gz, &written.xz};
    REQUIRE(PieceCopier::open(index.paths, recorded, written.pieces));

    SUBCASE("changed by hand, same size")
    {
      std::string plain = index.read(index.paths.plain);
      plain[100] = plain[100] == 'x' ? 'y' : 'x';
      fs::remove(index.paths.plain);
      scratch.write("Packages", plain);
      auto refused = PieceCopier::open(index.paths, recorded, written.pieces);
      REQUIRE_FALSE(refused);
      CHECK(refused.message().find("is not the file written last") != std::string::npos);
    }
    SUBCASE("gone")
    {
      fs::remove(index.paths.xz);
      auto refused = PieceCopier::open(index.paths, recorded, written.pieces);
      REQUIRE_FALSE(refused);
      CHECK(refused.message().find("cannot open") != std::string::npos);
    }
    SUBCASE("a symbolic link")
    {
      fs::rename(index.paths.gz, scratch / "elsewhere.gz");
      fs::create_symlink(scratch / "elsewhere.gz", index.paths.gz);
      REQUIRE_FALSE(PieceCopier::open(index.paths, recorded, written.pieces));
    }
    SUBCASE("not recorded")
    {
      const buildme::util::Digests* partial[3] = {&written.plain, &written.gz, nullptr};
      REQUIRE_FALSE(PieceCopier::open(index.paths, partial, written.pieces));
    }
    SUBCASE("a record whose spans do not tile the files")
    {
      auto damaged = [&](auto&& damage) {
        auto spans = written.pieces;
        damage(spans);
        auto refused = PieceCopier::open(index.paths, recorded, spans);
        REQUIRE_FALSE(refused);
        CHECK(refused.message().find("does not match its files") != std::string::npos);
      };
      damaged([&](auto& spans) { spans[0].plain_offset = written.plain.size + 10; });
      damaged([](auto& spans) { spans[1].plain_offset += 1; });
      damaged([](auto& spans) { spans[2].gz_size = 0; });
      damaged([](auto& spans) { spans[0].xz_offset = 0; });
      damaged([](auto& spans) { spans[3].xz_unpadded += 4; });
      damaged([](auto& spans) { spans[3].plain_size += 1; });
      damaged([&](auto& spans) { spans.push_back(spans.back()); });
    }
    SUBCASE("a file that changes after it was opened")
    {
      auto copier = PieceCopier::open(index.paths, recorded, written.pieces);
      REQUIRE(copier);
      fs::resize_file(index.paths.plain, 10);
      IndexFiles files(cache, 6, 2);
      REQUIRE(files.open({scratch / "out", {}, {}}));
      auto copied = (*copier)->copy(*(*copier)->find("label3"), files);
      REQUIRE_FALSE(copied);
      CHECK(copied.message().find("cannot read") != std::string::npos);
    }
  }

  TEST_CASE("the files are byte for byte what the in-memory compressors make of the same text")
  {
    ScratchDir scratch;
    MapCache cache;
    std::string text;
    for (const auto& piece : pieces_of(30, 8 * 1024)) {
      text += piece;
    }
    std::vector<std::string> cut;
    for (auto piece : buildme::repo::cut_text(text, buildme::repo::IndexUnits::stanzas)) {
      cut.emplace_back(piece);
    }
    REQUIRE(cut.size() > 2);
    Index index(scratch.path());
    write(index, cache, cut);
    MapCache other;
    CHECK(index.read(index.paths.xz) == *buildme::repo::xz_compress_chunked(text, other, 6, 2));
    CHECK(index.read(index.paths.gz) == *buildme::repo::gzip_compress_chunked(text, other, 2));
  }

  TEST_CASE("an empty index is an empty file, one empty gzip member and an xz stream of no "
            "blocks; a dropped writer leaves no file")
  {
    ScratchDir scratch;
    MapCache cache;
    Index index(scratch.path());
    const auto written = write(index, cache, {});
    CHECK(index.read(index.paths.plain).empty());
    CHECK(decompress("gzip", index.read(index.paths.gz)).empty());
    CHECK(decompress("xz", index.read(index.paths.xz)).empty());
    CHECK(written.pieces.empty());
    {
      IndexFiles dropped(cache, 6, 2);
      REQUIRE(dropped.open({scratch / "Dropped", scratch / "Dropped.gz", {}}));
      REQUIRE(dropped.add("Package: x\n\n"));
    }
    auto names = buildme::util::list_dir(scratch.path());
    REQUIRE(names);
    for (const auto& name : *names) {
      CHECK(name.find("Dropped") == std::string::npos);
    }
  }

  TEST_CASE("piece records read back as written; a malformed, hostile or truncated one is an "
            "error")
  {
    std::vector<PieceSpan> spans(2);
    spans[0] = {"abc", std::string(64, 'a'), 0, 10, 0, 20, 12, 30, 28};
    spans[1] = {"", std::string(64, 'f'), 10, 5, 20, 7, 42, 9, 8};
    const std::string text = buildme::repo::write_piece_spans(spans);
    auto back = buildme::repo::parse_piece_spans(text);
    REQUIRE_MESSAGE(back, back.message());
    REQUIRE(back->size() == 2);
    CHECK((*back)[0].label == "abc");
    CHECK((*back)[1].label.empty());
    CHECK((*back)[1].xz_offset == 42);
    CHECK((*back)[1].xz_unpadded == 8);
    CHECK(buildme::repo::parse_piece_spans("")->empty());
    const std::string hex(64, 'a');
    for (const std::string& bad :
         {text.substr(0, text.size() - 3), "x " + hex + " 1 2 3 4 5 6\n",
          "x " + hex + " 1 2 3 4 5 6 7 8\n", "x " + std::string(64, 'G') + " 1 2 3 4 5 6 7\n",
          "x " + hex.substr(1) + " 1 2 3 4 5 6 7\n", "x " + hex + " 1 2 3 -4 5 6 7\n",
          "x " + hex + " 1 2 3 4 5 6 99999999999999999999\n",
          "x " + hex + " 1 2 3 4 5 6 7" + std::string(1, '\0') + "\n",
          "x " + hex + " 1 2 3 4 5 6 0x7\n"}) {
      CAPTURE(bad);
      auto parsed = buildme::repo::parse_piece_spans(bad);
      REQUIRE_FALSE(parsed);
      CHECK(parsed.message().find("piece record line") != std::string::npos);
    }
  }
}

} // namespace unit_test_repo_index_files
