#include "repo/index_files.hpp"

#include "util/parallel.hpp"
#include "util/text.hpp"

#include <fmt/format.h>
#include <lzma.h>

#include <atomic>
#include <future>
#include <cstring>
#include <mutex>
#include <set>

#include <fcntl.h>
#include <unistd.h>

namespace buildme::repo {

namespace fs = std::filesystem;

// One file of the index (or, not written, only its digests): a digest each
// on its own Hasher, so that the four are taken on different cores.
struct IndexFiles::Output
{
  std::optional<util::FileWriter> file;
  util::Hasher hashers[std::size(util::all_digest_kinds)];
  std::uint64_t size = 0;
  std::vector<std::string_view> parts; // this batch's, in order

  Status start()
  {
    for (std::size_t i = 0; i < std::size(util::all_digest_kinds); ++i) {
      util::DigestSet one;
      one[util::all_digest_kinds[i]] = true;
      TRY(hashers[i].start(one));
    }
    return {};
  }
  std::uint64_t take(std::string_view part)
  {
    const std::uint64_t offset = size;
    size += part.size();
    parts.push_back(part);
    return offset;
  }
  Result<util::Digests> digests()
  {
    util::Digests all;
    for (std::size_t i = 0; i < std::size(util::all_digest_kinds); ++i) {
      TRY_ASSIGN(util::Digests one, hashers[i].finish());
      all.size = one.size;
      const auto kind = util::all_digest_kinds[i];
      all[kind] = std::move(one[kind]);
    }
    return all;
  }
};

IndexFiles::IndexFiles(ChunkCache& cache, int xz_preset, unsigned threads)
  : m_cache(cache), m_preset(xz_preset), m_threads(threads)
{
}

IndexFiles::~IndexFiles()
{
  (void)wait_for_drain(); // its batch and files go with this
}

Status IndexFiles::open(const Paths& paths)
{
  m_outputs.clear();
  m_gz = !paths.gz.empty();
  m_xz = !paths.xz.empty();
  for (const fs::path* path : {&paths.plain, &paths.gz, &paths.xz}) {
    auto output = std::make_unique<Output>();
    TRY(output->start());
    if (!path->empty()) {
      TRY_ASSIGN(util::FileWriter file, util::FileWriter::create(*path));
      output->file.emplace(std::move(file));
    }
    m_outputs.push_back(std::move(output));
  }
  if (m_xz) {
    lzma_stream_flags flags{};
    flags.version = 0;
    flags.check = LZMA_CHECK_CRC64;
    m_xz_header.assign(LZMA_STREAM_HEADER_SIZE, '\0');
    if (lzma_stream_header_encode(&flags, reinterpret_cast<std::uint8_t*>(m_xz_header.data())) !=
        LZMA_OK) {
      return fail("xz: cannot write the stream header");
    }
    m_outputs[2]->take(m_xz_header);
  }
  return {};
}

Status IndexFiles::add(std::string text, std::string label)
{
  Pending piece;
  piece.span.label = std::move(label);
  piece.text = std::move(text);
  m_batch_size += piece.text.size();
  m_batch.push_back(std::move(piece));
  return m_batch_size >= batch_bytes ? flush() : Status();
}

Status IndexFiles::add_copy(std::string text, std::string gz, std::string xz,
                            std::uint64_t xz_unpadded, const PieceSpan& was)
{
  Pending piece;
  piece.span.label = was.label;
  piece.span.sha256 = was.sha256;
  piece.text = std::move(text);
  piece.gz = std::move(gz);
  piece.xz = std::move(xz);
  piece.xz_unpadded = xz_unpadded;
  piece.made = true;
  m_batch_size += piece.text.size();
  m_batch.push_back(std::move(piece));
  return m_batch_size >= batch_bytes ? flush() : Status();
}

Status IndexFiles::flush()
{
  // The SHA256 of each new piece (its key in the cache), on every core.
  std::vector<Pending*> fresh;
  for (auto& piece : m_batch) {
    if (!piece.made) {
      fresh.push_back(&piece);
    }
  }
  util::parallel_for(fresh.size(), m_threads, [&](std::size_t i) {
    fresh[i]->span.sha256 = *util::digest_bytes(fresh[i]->text, {false, false, true, false}).sha256;
  });
  // Their compressed forms from the cache, or made now on every core.
  const std::string xz_key = fmt::format("xz{}:", m_preset);
  std::vector<std::pair<Pending*, bool>> missing; // the piece, and whether xz (else gz)
  for (Pending* piece : fresh) {
    if (m_gz) {
      if (auto hit = m_cache.get("gz:" + piece->span.sha256)) {
        piece->gz = std::move(*hit);
      } else {
        missing.emplace_back(piece, false);
      }
    }
    if (m_xz) {
      auto hit = m_cache.get(xz_key + piece->span.sha256);
      if (hit && hit->size() > 16) {
        piece->xz_unpadded = xz_block_unpadded(*hit);
        piece->xz = std::move(*hit);
        piece->xz_skip = 16;
      } else {
        missing.emplace_back(piece, true);
      }
    }
  }
  std::mutex failure_lock;
  std::string failure;
  util::parallel_for(missing.size(), m_threads, [&](std::size_t i) {
    auto [piece, xz] = missing[i];
    auto made = xz ? xz_block(piece->text, m_preset) : gzip_compress(piece->text);
    if (!made) {
      std::lock_guard lock(failure_lock);
      failure = made.message();
      return;
    }
    if (xz) {
      piece->xz_unpadded = xz_block_unpadded(*made);
      piece->xz = std::move(*made);
      piece->xz_skip = 16;
    } else {
      piece->gz = std::move(*made);
    }
  });
  if (!failure.empty()) {
    return Error{failure};
  }
  std::set<const Pending*> compressed;
  for (auto [piece, xz] : missing) {
    compressed.insert(piece);
    if (xz) {
      m_cache.put(xz_key + piece->span.sha256, piece->xz);
    } else {
      m_cache.put("gz:" + piece->span.sha256, piece->gz);
    }
  }
  m_copied += m_batch.size() - fresh.size();
  m_compressed += compressed.size();
  // Where each piece goes, then each file's part of the batch written and
  // digested (a task per file write and per digest, on every core), while
  // the next batch is read and compressed.
  TRY(wait_for_drain());
  for (auto& piece : m_batch) {
    PieceSpan& span = piece.span;
    span.plain_size = piece.text.size();
    span.plain_offset = m_outputs[0]->take(piece.text);
    if (m_gz) {
      span.gz_size = piece.gz.size();
      span.gz_offset = m_outputs[1]->take(piece.gz);
    }
    if (m_xz) {
      const std::string_view block = std::string_view(piece.xz).substr(piece.xz_skip);
      span.xz_size = block.size();
      span.xz_offset = m_outputs[2]->take(block);
      span.xz_unpadded = piece.xz_unpadded;
      m_blocks.emplace_back(piece.xz_unpadded, piece.text.size());
    }
    m_pieces.push_back(span);
  }
  m_draining_batch = std::move(m_batch);
  m_batch.clear();
  m_batch_size = 0;
  m_draining = std::async(std::launch::async, [this] { return drain(); });
  return {};
}

Status IndexFiles::wait_for_drain()
{
  if (!m_draining.valid()) {
    return {};
  }
  Status drained = m_draining.get();
  m_draining_batch.clear();
  return drained;
}

Status IndexFiles::drain()
{
  struct Task
  {
    Output* output;
    int hasher; // -1: the write
  };
  std::vector<Task> tasks;
  for (auto& output : m_outputs) {
    if (output->parts.empty()) {
      continue;
    }
    if (output->file) {
      tasks.push_back({output.get(), -1});
    }
    for (int i = 0; i < static_cast<int>(std::size(util::all_digest_kinds)); ++i) {
      tasks.push_back({output.get(), i});
    }
  }
  std::mutex failure_lock;
  std::string failure;
  util::parallel_for(tasks.size(), m_threads, [&](std::size_t i) {
    const Task& task = tasks[i];
    for (std::string_view part : task.output->parts) {
      Status done = task.hasher < 0 ? task.output->file->append(part)
                                    : task.output->hashers[task.hasher].update(part);
      if (!done) {
        std::lock_guard lock(failure_lock);
        failure = done.message();
        return;
      }
    }
  });
  for (auto& output : m_outputs) {
    output->parts.clear();
  }
  if (!failure.empty()) {
    return Error{failure};
  }
  return {};
}

Result<IndexFiles::Written> IndexFiles::finish()
{
  TRY(flush());
  TRY(wait_for_drain());
  std::string tail;
  if (m_gz && m_pieces.empty()) {
    TRY_ASSIGN(tail, gzip_compress(""));
    m_outputs[1]->take(tail);
  }
  std::string xz_end;
  if (m_xz) {
    lzma_index* index = lzma_index_init(nullptr);
    if (!index) {
      return fail("xz: out of memory");
    }
    for (const auto& [unpadded, uncompressed] : m_blocks) {
      if (lzma_index_append(index, nullptr, unpadded, uncompressed) != LZMA_OK) {
        lzma_index_end(index, nullptr);
        return fail("xz: cannot index a block");
      }
    }
    const std::size_t index_size = lzma_index_size(index);
    xz_end.assign(index_size + LZMA_STREAM_HEADER_SIZE, '\0');
    std::size_t position = 0;
    const auto rc = lzma_index_buffer_encode(index, reinterpret_cast<std::uint8_t*>(xz_end.data()),
                                             &position, index_size);
    lzma_index_end(index, nullptr);
    if (rc != LZMA_OK) {
      return fail("xz: cannot write the index");
    }
    lzma_stream_flags flags{};
    flags.version = 0;
    flags.check = LZMA_CHECK_CRC64;
    flags.backward_size = index_size;
    if (lzma_stream_footer_encode(&flags, reinterpret_cast<std::uint8_t*>(xz_end.data()) +
                                            index_size) != LZMA_OK) {
      return fail("xz: cannot write the stream footer");
    }
    m_outputs[2]->take(xz_end);
  }
  TRY(drain());
  Written written;
  util::Digests* digests[] = {&written.plain, &written.gz, &written.xz};
  for (std::size_t i = 0; i < m_outputs.size(); ++i) {
    TRY_ASSIGN(*digests[i], m_outputs[i]->digests());
    if (m_outputs[i]->file) {
      TRY(m_outputs[i]->file->finish());
    }
  }
  written.pieces = std::move(m_pieces);
  written.copied = m_copied;
  written.compressed = m_compressed;
  written.cached = written.pieces.size() - m_copied - m_compressed;
  return written;
}

std::string write_piece_spans(const std::vector<PieceSpan>& spans)
{
  std::string out;
  for (const auto& span : spans) {
    out += fmt::format("{} {} {} {} {} {} {} {} {}\n", span.label.empty() ? "-" : span.label,
                       span.sha256, span.plain_offset, span.plain_size, span.gz_offset,
                       span.gz_size, span.xz_offset, span.xz_size, span.xz_unpadded);
  }
  return out;
}

Result<std::vector<PieceSpan>> parse_piece_spans(std::string_view text)
{
  std::vector<PieceSpan> spans;
  std::size_t line_number = 0;
  for (std::string_view line : util::split(text, "\n")) {
    ++line_number;
    const auto fields = util::split(line, " ");
    PieceSpan span;
    bool good = fields.size() == 9 && fields[1].size() == 64 &&
                fields[1].find_first_not_of("0123456789abcdef") == std::string_view::npos;
    std::uint64_t* numbers[] = {&span.plain_offset, &span.plain_size, &span.gz_offset,
                                &span.gz_size,      &span.xz_offset,  &span.xz_size,
                                &span.xz_unpadded};
    for (std::size_t i = 0; good && i < std::size(numbers); ++i) {
      const auto value = util::parse_count(fields[2 + i]);
      good = value.has_value();
      if (good) {
        *numbers[i] = static_cast<std::uint64_t>(*value);
      }
    }
    if (!good) {
      return fail("piece record line {} is not 'LABEL SHA256' and seven numbers: {}", line_number,
                  util::printable(line));
    }
    span.label = fields[0] == "-" ? std::string() : std::string(fields[0]);
    span.sha256 = std::string(fields[1]);
    spans.push_back(std::move(span));
  }
  return spans;
}

Result<std::unique_ptr<PieceCopier>> PieceCopier::open(const IndexFiles::Paths& paths,
                                                       const util::Digests* files[3],
                                                       std::vector<PieceSpan> pieces)
{
  if (paths.plain.empty()) {
    return fail("an index without its plain file has no text to copy");
  }
  std::unique_ptr<PieceCopier> copier(new PieceCopier());
  const fs::path* wanted[] = {&paths.plain, &paths.gz, &paths.xz};
  for (std::size_t i = 0; i < 3; ++i) {
    if (wanted[i]->empty()) {
      continue;
    }
    if (!files[i] || !files[i]->sha256) {
      return fail("{} was not written before", wanted[i]->string());
    }
    const int fd = ::open(wanted[i]->c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      return fail("cannot open {}: {}", wanted[i]->string(), std::strerror(errno));
    }
    copier->m_fds[i] = fd;
    copier->m_paths[i] = *wanted[i];
    // The whole file read once (from the page cache, as a rule): a file
    // that is not the one recorded is not copied from.
    if (::lseek(fd, 0, SEEK_SET) != 0) {
      return fail("cannot read {}", wanted[i]->string());
    }
    TRY_ASSIGN(util::Digests found, util::digest_fd(fd, {false, false, true, false}));
    if (found.size != files[i]->size || found.sha256 != files[i]->sha256) {
      return fail("{} is not the file written last (its SHA256 differs)", wanted[i]->string());
    }
  }
  // The spans must tile each file in order, as IndexFiles lays them out
  // (gzip members from the start, xz blocks after the stream header, each
  // block its unpadded size padded to 4 bytes): a record that does not (a
  // catalog edited or damaged) is not copied by, since a wrong span would
  // make a broken file.
  std::uint64_t plain_at = 0, gz_at = 0, xz_at = paths.xz.empty() ? 0 : LZMA_STREAM_HEADER_SIZE;
  for (const PieceSpan& span : pieces) {
    const bool tiles = span.plain_offset == plain_at && span.plain_size > 0 &&
                       (paths.gz.empty() || (span.gz_offset == gz_at && span.gz_size > 0)) &&
                       (paths.xz.empty() || (span.xz_offset == xz_at && span.xz_unpadded > 0 &&
                                             (span.xz_unpadded + 3) / 4 * 4 == span.xz_size));
    if (!tiles) {
      return fail("the record of {}'s pieces does not match its files", paths.plain.string());
    }
    plain_at += span.plain_size;
    gz_at += span.gz_size;
    xz_at += span.xz_size;
  }
  const std::uint64_t ends[] = {plain_at, gz_at, xz_at};
  for (std::size_t i = 0; i < 3; ++i) {
    if (!wanted[i]->empty() && ends[i] > files[i]->size) {
      return fail("the record of {}'s pieces does not match its files", paths.plain.string());
    }
  }
  copier->m_pieces = std::move(pieces);
  for (std::size_t i = 0; i < copier->m_pieces.size(); ++i) {
    const PieceSpan& span = copier->m_pieces[i];
    if (!span.label.empty()) {
      copier->m_by_label.emplace(span.label, i);
    }
  }
  return copier;
}

PieceCopier::~PieceCopier()
{
  for (int fd : m_fds) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
}

const PieceSpan* PieceCopier::find(std::string_view label) const
{
  auto found = m_by_label.find(label);
  return found == m_by_label.end() ? nullptr : &m_pieces[found->second];
}

Status PieceCopier::copy(const PieceSpan& span, IndexFiles& to)
{
  std::string parts[3];
  const std::pair<std::uint64_t, std::uint64_t> ranges[] = {{span.plain_offset, span.plain_size},
                                                            {span.gz_offset, span.gz_size},
                                                            {span.xz_offset, span.xz_size}};
  for (std::size_t i = 0; i < 3; ++i) {
    if (m_fds[i] < 0) {
      continue;
    }
    const auto [offset, size] = ranges[i];
    if (size == 0 || size > 256 * 1024 * 1024) {
      return fail("{}: the record of a piece says {} bytes", m_paths[i].string(), size);
    }
    parts[i].resize(size);
    std::size_t done = 0;
    while (done < size) {
      const ssize_t got =
        ::pread(m_fds[i], parts[i].data() + done, size - done, static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) {
        continue;
      }
      if (got <= 0) {
        return fail("cannot read {} bytes at {} of {}", size, offset, m_paths[i].string());
      }
      done += static_cast<std::size_t>(got);
    }
  }
  return to.add_copy(std::move(parts[0]), std::move(parts[1]), std::move(parts[2]),
                     span.xz_unpadded, span);
}

} // namespace buildme::repo
