// The files of one index, written as the index is made, piece by piece:
// nothing holds the whole text or its compressed forms.
//
// The text comes in pieces (index.hpp's content-defined cut, or pieces a
// caller chose). Each piece becomes an xz block and a gzip member, from the
// ChunkCache or compressed now (a batch at a time, on every core), and is
// appended to the plain file, NAME.gz (a multi-member gzip file) and NAME.xz
// (one multi-block xz stream), whose digests are taken as they grow. A piece
// written before can be copied as it is (its plain text, gzip member and xz
// block), so that an index of which one piece changed costs one compression.
// Where each piece lies in each file is kept (PieceSpan) for that copy.
#pragma once

#include "repo/index.hpp"
#include "util/digest.hpp"
#include "util/fs.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace buildme::repo {

// One piece of an index as written: its label (the caller's name for what
// it was made from; empty: none), the SHA256 of its text, and where it lies
// in each file (offset and size; a file not written: 0 and 0). `xz_unpadded`
// is its xz block's unpadded size, which the stream's index lists.
struct PieceSpan
{
  std::string label;
  std::string sha256;
  std::uint64_t plain_offset = 0, plain_size = 0;
  std::uint64_t gz_offset = 0, gz_size = 0;
  std::uint64_t xz_offset = 0, xz_size = 0, xz_unpadded = 0;
};

// Spans as one line each ("LABEL SHA256 PO PS GO GS XO XS XU"), and back; a
// line that is not one (a hand-edited or truncated catalog) is an Error.
std::string write_piece_spans(const std::vector<PieceSpan>& spans);
Result<std::vector<PieceSpan>> parse_piece_spans(std::string_view text);

class IndexFiles
{
public:
  // The files to write (an empty path: not written). The plain text's
  // digests are taken whether or not it is written (Release lists a
  // gzip-only index by its plain name).
  struct Paths
  {
    std::filesystem::path plain, gz, xz;
  };
  // The digests of each file, the pieces, and how many pieces were copied
  // (add_copy), taken whole from the cache, or compressed now (in part or
  // whole).
  struct Written
  {
    util::Digests plain, gz, xz;
    std::vector<PieceSpan> pieces;
    std::size_t copied = 0, cached = 0, compressed = 0;
  };

  IndexFiles(ChunkCache& cache, int xz_preset, unsigned threads);
  ~IndexFiles();
  IndexFiles(const IndexFiles&) = delete;
  IndexFiles& operator=(const IndexFiles&) = delete;

  // Creates the files (under temporary names until finish()).
  Status open(const Paths& paths);
  // The next piece of text (not empty), labelled for the caller.
  Status add(std::string text, std::string label = {});
  // The next piece copied as an earlier run wrote it: its text, its gzip
  // member and xz block (each present when that file is written), the
  // unpadded size of the block, and its span then (label and SHA256).
  Status add_copy(std::string text, std::string gz, std::string xz, std::uint64_t xz_unpadded,
                  const PieceSpan& was);
  // Ends the files (the xz index and footer; an empty index is one empty
  // gzip member and an xz stream of no blocks), syncs them and links each
  // to its path; an Error leaves none of them.
  Result<Written> finish();

  // Pieces are taken in batches of this many bytes of text: a writer holds
  // two batches at most, one being compressed while the one before is
  // written and digested.
  static constexpr std::size_t batch_bytes = 4 * 1024 * 1024;

private:
  struct Pending
  {
    std::string text, gz, xz;
    std::size_t xz_skip = 0; // 16 when `xz` is in the cache's form (xz_block)
    std::uint64_t xz_unpadded = 0;
    PieceSpan span;
    bool made = false; // gz and xz present (a copy, or from the cache)
  };
  // Compresses the batch and hands it to drain().
  Status flush();
  // Writes and digests what each output took (on a thread of its own, the
  // batch kept in m_draining_batch until wait_for_drain()).
  Status drain();
  Status wait_for_drain();

  ChunkCache& m_cache;
  int m_preset;
  unsigned m_threads;
  struct Output;
  std::vector<std::unique_ptr<Output>> m_outputs; // plain, gz, xz (a file or only digests)
  std::vector<Pending> m_batch;
  std::vector<Pending> m_draining_batch;
  std::future<Status> m_draining;
  std::size_t m_batch_size = 0;
  std::vector<PieceSpan> m_pieces;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> m_blocks; // xz: unpadded, uncompressed
  std::string m_xz_header;
  bool m_gz = false, m_xz = false;
  std::size_t m_copied = 0, m_compressed = 0;
};

// The files of an index as a record describes them (IndexFiles::Written),
// to copy its unchanged pieces from into the files that replace them. Opened
// only when each file is the one recorded (size and SHA256), so that a file
// changed by hand is never copied from.
class PieceCopier
{
public:
  // `paths` as IndexFiles::open takes them (the files in place, those the
  // new index writes); `files` their digests as recorded; `pieces` the
  // record's. An Error says why they cannot be copied from.
  static Result<std::unique_ptr<PieceCopier>> open(const IndexFiles::Paths& paths,
                                                   const util::Digests* files[3],
                                                   std::vector<PieceSpan> pieces);
  ~PieceCopier();
  PieceCopier(const PieceCopier&) = delete;
  PieceCopier& operator=(const PieceCopier&) = delete;

  // The piece labelled `label` (null: none).
  const PieceSpan* find(std::string_view label) const;
  // Reads `span` from the files and adds it to `to` as it was.
  Status copy(const PieceSpan& span, IndexFiles& to);

private:
  PieceCopier() = default;
  std::filesystem::path m_paths[3];
  int m_fds[3] = {-1, -1, -1};
  std::vector<PieceSpan> m_pieces;
  std::map<std::string_view, std::size_t> m_by_label;
};

} // namespace buildme::repo
