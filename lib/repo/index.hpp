// The repository's index files, written as apt-ftparchive writes them for
// the same input, so that any APT client reads them:
//
//  - a Packages stanza per .deb: its control fields with Filename, Size,
//    MD5sum, SHA1, SHA256 and SHA512 added, in apt's canonical order
//    (apt-pkg/tagfile-order.c, as apt 2.6 has it);
//  - a Sources stanza per .dsc: "Package" for Source, the .dsc's fields in
//    apt's canonical source order, Directory, Files and Checksums-* listing
//    the .dsc itself and its files;
//  - Release: Origin, Label, Suite, Codename, Date, Valid-Until,
//    Architectures, Components, Description, Acquire-By-Hash, and
//    MD5Sum/SHA1/SHA256/SHA512 lists of every index file;
//  - gzip and xz compression of an index.
#pragma once

#include "debian/deb822.hpp"
#include "util/digest.hpp"
#include "util/result.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace buildme::repo {

// Field values are copied as apt-ftparchive copies them: each line as the
// package wrote it. A parsed Paragraph cannot give that (parse_control trims
// every continuation line), and the difference matters: a Description line
// indented by two spaces is shown verbatim by APT front ends (Policy
// 5.6.13). So each writer takes the text that was parsed along with its
// paragraph, and takes each field's lines from the text by the line numbers
// the paragraph records. A field whose lines do not match the text (the
// paragraph came from other text) is written from its parsed value instead.
//
// Known fields are written in apt's order and spelling ("pre-depends"
// becomes "Pre-Depends"); unknown fields follow in their own order and
// spelling. A field with an empty value is written as "Name:". The writers
// write what they are given: checking that Package, Version and so on are
// present and valid is the caller's business.

// One Packages stanza (ending in "\n", no blank line). `control_text` is the
// control file as read_deb_control returned it, `control` its (first)
// paragraph; `filename` the .deb's pool path relative to the repository root
// ("pool/main/h/hello/hello_1.0-1_amd64.deb"); `digests` the .deb's size and
// all four digests. As apt-ftparchive without an override file: Filename,
// Size, MD5sum, SHA1, SHA256 and SHA512 replace any such fields of the
// control file (a digest missing from `digests` is left out); Priority and Section are trimmed and
// left out when empty; Status is left out.
std::string packages_stanza(std::string_view control_text, const debian::Paragraph& control,
                            std::string_view filename, const util::Digests& digests);

struct SourceFile
{
  std::string name;
  util::Digests digests; // size and all four digests
};

// One Sources stanza. `dsc_text` is the .dsc as read (clear-signed or not),
// `dsc` its paragraph; `directory` the pool folder ("pool/main/h/hello");
// `files` the .dsc itself first, then the files it lists. As apt-ftparchive
// without override files: "Package" replaces "Source"; Files and
// Checksums-Sha1/-Sha256/-Sha512 list `files` in that order (replacing the
// .dsc's own lists, which for any .dsc that dpkg-source writes hold the same
// lines); Directory is added; Priority and Status are left out.
std::string sources_stanza(std::string_view dsc_text, const debian::Paragraph& dsc,
                           std::string_view directory, const std::vector<SourceFile>& files);

struct ReleaseFile
{
  std::string path;      // relative to dists/<dist>/, e.g. "main/binary-amd64/Packages.xz"
  util::Digests digests; // size and all four digests
};

struct ReleaseInfo
{
  std::string origin, label, suite, codename, description;
  std::chrono::system_clock::time_point date;
  std::chrono::seconds valid_for{0}; // 0: no Valid-Until
  std::vector<std::string> architectures;
  std::vector<std::string> components;
  bool by_hash = false;
};

// The digest lists of a Release, by field name, weakest first.
inline constexpr std::pair<util::DigestKind, std::string_view> release_digest_lists[] = {
  {util::DigestKind::md5, "MD5Sum"},
  {util::DigestKind::sha1, "SHA1"},
  {util::DigestKind::sha256, "SHA256"},
  {util::DigestKind::sha512, "SHA512"}};

// The digests whose by-hash copies (DIR/by-hash/NAME/HEX) a distribution
// carries with Acquire-By-Hash; apt fetches by the strongest its Release
// lists.
inline constexpr std::pair<util::DigestKind, std::string_view> by_hash_kinds[] = {
  {util::DigestKind::md5, "MD5Sum"},
  {util::DigestKind::sha256, "SHA256"},
  {util::DigestKind::sha512, "SHA512"}};

// The Release file: the fields above that are not empty (a line break in a
// value becomes a space), then each digest list as apt-ftparchive writes it,
// " HASH SIZE PATH" with the size right-aligned in 16 columns, sorted by
// path. A file without a digest is left out of that digest's list.
std::string release_text(const ReleaseInfo& info, const std::vector<ReleaseFile>& files);

// One package's part in a Contents index: where it is ("section/package",
// or "package" when it has no section, as apt-ftparchive names it from the
// Packages stanza) and its data.tar's file names, one a line (read_deb's
// list_files).
struct ContentsSource
{
  std::string location;
  std::string_view names;
};

// A Contents index as apt-ftparchive writes it and apt-file reads it: one
// line per file name, in byte order, the name padded to column 60 with tabs
// and then spaces (one space after a longer name), then the locations of
// the packages that hold it, sorted and joined with ','. No header.
std::string contents_text(const std::vector<ContentsSource>& packages);
// The same a line at a time (each ending in "\n"), so that the text is never
// held whole; an Error from `each` stops it and is the result.
Status each_contents_line(const std::vector<ContentsSource>& packages,
                          const std::function<Status(std::string_view line)>& each);

// RFC 2822 date in UTC as Release files carry it: "Sat, 21 Nov 2026 18:22:39 UTC".
std::string release_date(std::chrono::system_clock::time_point when);

// gzip (zlib, level 9, no file name or time in the header, so equal input
// gives equal output) and xz (liblzma, preset 6, CRC64).
Result<std::string> gzip_compress(std::string_view data);
Result<std::string> xz_compress(std::string_view data);

} // namespace buildme::repo

namespace buildme::repo {

// Compressed chunks kept between runs, by content.
class ChunkCache
{
public:
  virtual ~ChunkCache() = default;
  virtual std::optional<std::string> get(const std::string& key) = 0;
  virtual void put(const std::string& key, const std::string& value) = 0;
};

// An index compressed as independent pieces, so that a small change costs a
// small recompression: the text is cut after stanzas chosen by their first
// line (content-defined, so inserting a stanza moves no other cut), each piece
// is an xz block (one multi-block xz stream) or a gzip member (a multi-member
// gzip file, as gzip and zlib read them), and pieces found in `cache` are
// reused. Missing pieces are compressed on `threads` threads. The result
// decompresses to exactly `text`.
// (queue-manage writes its indices through index_files.hpp's IndexFiles,
// which lays out the same bytes without holding them; these in-memory forms
// remain for tests and tools, and a test holds the two equal.)
Result<std::string> xz_compress_chunked(std::string_view text, ChunkCache& cache, int preset,
                                        unsigned threads);
Result<std::string> gzip_compress_chunked(std::string_view text, ChunkCache& cache,
                                          unsigned threads);

// The same in two steps, so that both compressions of one text share its
// cut and the pieces' digests (taken on `threads` threads): the pieces (views
// into the text, which must outlive them) and the SHA256 of each, the key
// of its compressed forms in the cache.
struct IndexPieces
{
  std::vector<std::string_view> pieces;
  std::vector<std::string> digests;
};
// What an index is made of: deb822 stanzas (Packages, Sources), cut after a
// stanza, or lines (Contents), cut after a line.
enum class IndexUnits
{
  stanzas,
  lines
};
IndexPieces cut_index(std::string_view text, unsigned threads,
                      IndexUnits units = IndexUnits::stanzas);
// The cut alone: views into `text`.
std::vector<std::string_view> cut_text(std::string_view text, IndexUnits units);
// The cut of an index whose stanzas a caller knows by a key of its own (the
// member's pool path), so that it can tell the pieces from the keys alone:
// after a stanza whose key this is true of, or after max_piece_stanzas.
bool cuts_after(std::string_view key);
// The cut of an index of lines (Contents), a line at a time: true when a
// piece ends after `line` (without its "\n"), the piece being `piece_size`
// bytes with it. The same pieces as cut_text(text, IndexUnits::lines).
bool cuts_after_line(std::string_view line, std::size_t piece_size);
inline constexpr std::size_t max_piece_stanzas = 256;
// One piece as an xz block (preset `preset`, CRC64, dictionary sized to the
// piece), prefixed with its unpadded and uncompressed sizes (8 bytes each,
// host order) for the stream's index: the form the ChunkCache keeps.
Result<std::string> xz_block(std::string_view piece, int preset);
// The unpadded size that form begins with (0 when it is too short).
std::uint64_t xz_block_unpadded(std::string_view cached);
Result<std::string> xz_compress_pieces(const IndexPieces& pieces, ChunkCache& cache, int preset,
                                       unsigned threads);
Result<std::string> gzip_compress_pieces(const IndexPieces& pieces, ChunkCache& cache,
                                         unsigned threads);

} // namespace buildme::repo
