#include "repo/index.hpp"

#include "util/digest.hpp"
#include "util/parallel.hpp"

#include <fmt/format.h>
#include <lzma.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <cstring>

namespace buildme::repo {

namespace {

// Average piece: 1/64 of the stanzas end one (about 64 stanzas, 60 KB), or
// 1/1024 of the lines of a Contents index (about 80 KB); a piece never grows
// past 1 MiB.
constexpr std::uint32_t cut_one_in_stanzas = 64;
constexpr std::uint32_t cut_one_in_lines = 1024;
constexpr std::size_t max_piece = 1024 * 1024;

std::uint32_t fnv1a(std::string_view text)
{
  std::uint32_t hash = 2166136261u;
  for (unsigned char c : text) {
    hash = (hash ^ c) * 16777619u;
  }
  return hash;
}

std::vector<std::string_view> cut_pieces(std::string_view text, IndexUnits units)
{
  const bool lines = units == IndexUnits::lines;
  const std::string_view separator = lines ? "\n" : "\n\n";
  const std::uint32_t cut_one_in = lines ? cut_one_in_lines : cut_one_in_stanzas;
  std::vector<std::string_view> pieces;
  std::size_t start = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find(separator, at);
    end = end == std::string_view::npos ? text.size() : end + separator.size();
    const std::string_view unit = text.substr(at, end - at);
    const std::string_view first_line = unit.substr(0, unit.find('\n'));
    at = end;
    if (fnv1a(first_line) % cut_one_in == 0 || at - start >= max_piece || at == text.size()) {
      pieces.push_back(text.substr(start, at - start));
      start = at;
    }
  }
  return pieces;
}

std::string put_u64(std::uint64_t value)
{
  std::string out(8, '\0');
  std::memcpy(out.data(), &value, 8);
  return out;
}

std::uint64_t get_u64(std::string_view text)
{
  std::uint64_t value = 0;
  std::memcpy(&value, text.data(), 8);
  return value;
}

} // namespace

Result<std::string> xz_block(std::string_view piece, int preset)
{
  lzma_options_lzma options;
  if (lzma_lzma_preset(&options, static_cast<std::uint32_t>(preset))) {
    return fail("xz preset {} is not supported", preset);
  }
  // A dictionary larger than the piece cannot help, but its match-finder
  // tables are set up for every piece: size it to the piece.
  std::uint32_t dictionary = 64 * 1024;
  while (dictionary < piece.size() && dictionary < options.dict_size) {
    dictionary *= 2;
  }
  options.dict_size = std::min(dictionary, options.dict_size);
  lzma_filter filters[] = {{LZMA_FILTER_LZMA2, &options}, {LZMA_VLI_UNKNOWN, nullptr}};
  lzma_block block{};
  block.version = 0;
  block.check = LZMA_CHECK_CRC64;
  block.filters = filters;
  std::string out(lzma_block_buffer_bound(piece.size()), '\0');
  std::size_t position = 0;
  const auto rc = lzma_block_buffer_encode(
    &block, nullptr, reinterpret_cast<const std::uint8_t*>(piece.data()), piece.size(),
    reinterpret_cast<std::uint8_t*>(out.data()), &position, out.size());
  if (rc != LZMA_OK) {
    return fail("xz compression failed (liblzma error {})", static_cast<int>(rc));
  }
  out.resize(position);
  return put_u64(lzma_block_unpadded_size(&block)) + put_u64(block.uncompressed_size) + out;
}

std::uint64_t xz_block_unpadded(std::string_view cached)
{
  return cached.size() < 16 ? 0 : get_u64(cached);
}

namespace {

// Pieces and their compressed forms, from the cache or made now.
Result<std::vector<std::string>> compress_pieces(
  const IndexPieces& index, ChunkCache& cache, const std::string& kind, unsigned threads,
  const std::function<Result<std::string>(std::string_view)>& compress)
{
  const auto& pieces = index.pieces;
  std::vector<std::string> keys(pieces.size());
  std::vector<std::string> out(pieces.size());
  std::vector<std::size_t> missing;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    keys[i] = kind + ":" + index.digests[i];
    if (auto hit = cache.get(keys[i])) {
      out[i] = std::move(*hit);
    } else {
      missing.push_back(i);
    }
  }
  std::atomic<bool> failed{false};
  std::string failure;
  util::parallel_for(missing.size(), threads, [&](std::size_t n) {
    if (failed) {
      return;
    }
    auto made = compress(pieces[missing[n]]);
    if (!made) {
      if (!failed.exchange(true)) {
        failure = made.message();
      }
      return;
    }
    out[missing[n]] = std::move(*made);
  });
  if (failed) {
    return Error{failure};
  }
  for (std::size_t i : missing) {
    cache.put(keys[i], out[i]);
  }
  return out;
}

} // namespace

std::vector<std::string_view> cut_text(std::string_view text, IndexUnits units)
{
  return cut_pieces(text, units);
}

bool cuts_after(std::string_view key)
{
  return fnv1a(key) % cut_one_in_stanzas == 0;
}

bool cuts_after_line(std::string_view line, std::size_t piece_size)
{
  return fnv1a(line) % cut_one_in_lines == 0 || piece_size >= max_piece;
}

IndexPieces cut_index(std::string_view text, unsigned threads, IndexUnits units)
{
  IndexPieces index;
  index.pieces = cut_pieces(text, units);
  index.digests.resize(index.pieces.size());
  util::parallel_for(index.pieces.size(), threads, [&](std::size_t i) {
    index.digests[i] = *util::digest_bytes(index.pieces[i], {false, false, true, false}).sha256;
  });
  return index;
}

Result<std::string> xz_compress_chunked(std::string_view text, ChunkCache& cache, int preset,
                                        unsigned threads)
{
  return xz_compress_pieces(cut_index(text, threads), cache, preset, threads);
}

Result<std::string> xz_compress_pieces(const IndexPieces& pieces, ChunkCache& cache, int preset,
                                       unsigned threads)
{
  auto blocks =
    compress_pieces(pieces, cache, fmt::format("xz{}", preset), threads,
                    [preset](std::string_view piece) { return xz_block(piece, preset); });
  if (!blocks) {
    return Error{blocks.error()};
  }
  lzma_stream_flags flags{};
  flags.version = 0;
  flags.check = LZMA_CHECK_CRC64;
  std::string out(LZMA_STREAM_HEADER_SIZE, '\0');
  if (lzma_stream_header_encode(&flags, reinterpret_cast<std::uint8_t*>(out.data())) != LZMA_OK) {
    return fail("xz: cannot write the stream header");
  }
  lzma_index* index = lzma_index_init(nullptr);
  if (!index) {
    return fail("xz: out of memory");
  }
  for (const auto& block : *blocks) {
    if (lzma_index_append(index, nullptr, get_u64(block),
                          get_u64(std::string_view(block).substr(8))) != LZMA_OK) {
      lzma_index_end(index, nullptr);
      return fail("xz: cannot index a block");
    }
    out.append(block, 16, std::string::npos);
  }
  const std::size_t index_size = lzma_index_size(index);
  std::string encoded(index_size, '\0');
  std::size_t position = 0;
  const auto rc = lzma_index_buffer_encode(index, reinterpret_cast<std::uint8_t*>(encoded.data()),
                                           &position, encoded.size());
  lzma_index_end(index, nullptr);
  if (rc != LZMA_OK) {
    return fail("xz: cannot write the index");
  }
  out += encoded;
  flags.backward_size = index_size;
  std::string footer(LZMA_STREAM_HEADER_SIZE, '\0');
  if (lzma_stream_footer_encode(&flags, reinterpret_cast<std::uint8_t*>(footer.data())) !=
      LZMA_OK) {
    return fail("xz: cannot write the stream footer");
  }
  return out + footer;
}

Result<std::string> gzip_compress_chunked(std::string_view text, ChunkCache& cache,
                                          unsigned threads)
{
  return gzip_compress_pieces(cut_index(text, threads), cache, threads);
}

Result<std::string> gzip_compress_pieces(const IndexPieces& pieces, ChunkCache& cache,
                                         unsigned threads)
{
  if (pieces.pieces.empty()) {
    return gzip_compress("");
  }
  auto members = compress_pieces(pieces, cache, "gz", threads,
                                 [](std::string_view piece) { return gzip_compress(piece); });
  if (!members) {
    return Error{members.error()};
  }
  std::string out;
  for (const auto& member : *members) {
    out += member;
  }
  return out;
}

} // namespace buildme::repo
