// Writing one distribution of a repository (apt-ftparchive's and reprepro's
// "export" step), apart from deciding what goes in it:
//
//   - each index (Packages, Sources, Contents) plain, .gz and .xz as the
//     repository says, written piece by piece as it is made (IndexFiles):
//     not at all when its record says its inputs did not change; else with
//     the pieces its record has copied from the files in place, and the
//     others compressed, or taken from the ChunkCache;
//   - by-hash links to each new file, made and synced before any Release
//     names them;
//   - Release, and InRelease and Release.gpg when there is a signer;
//   - everything under temporary names, put in place in order (indices,
//     then Release.gpg, Release, InRelease), each folder synced before the
//     Release files; `before_commit` runs first (the pool must be on disk);
//   - old by-hash copies removed once delete_after has passed.
// A killed run's temporaries beside these names are removed on the way. The
// caller holds the repository's lock. After each rename a failpoint
// (util/failpoint.hpp), queue-manage:renamed:PATH with PATH below dists/DIST,
// lets a test kill the run there.
#pragma once

#include "config/config.hpp"
#include "repo/index.hpp"
#include "repo/index_files.hpp"
#include "sign/signer.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/result.hpp"

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace buildme::repo {

// One index: its folder below dists/DIST ("main/binary-amd64"), its name
// ("Packages"), its text, or what makes its text.
struct IndexText
{
  std::string rel_dir;
  std::string name;
  std::string text;
  // Written as NAME.gz only, whatever the repository's compress says, and
  // NAME listed in Release with the digests of the text though not written
  // (Contents, as Debian publishes it: apt finds a target by its
  // uncompressed name).
  bool gzip_only = false;
  // When set, `text` is left empty: the writer makes the text when it comes
  // to this index, into a buffer it empties and reuses for the next (its
  // memory is allocated once, not for every index), so that one index
  // text is in memory at a time, not all of a distribution's.
  std::function<Status(std::string& text)> make = {};
  // What the index is made from (its members and the settings that shape its
  // files, as a digest); empty: it is made every time.
  std::string inputs = {};
  // When set, the index is made in pieces of the caller's choosing, added to
  // `files` in order (`text` and `make` are not used). `before` (null when
  // none can be) gives the pieces of the files in place as their record has
  // them, to copy those that did not change.
  std::function<Status(IndexFiles& files, PieceCopier* before)> stream = {};
};

// An index as it was written: its inputs, its files as Release lists them,
// and its pieces.
struct IndexRecord
{
  std::string inputs;
  std::vector<ReleaseFile> files;
  std::vector<PieceSpan> pieces = {};
};

// The records of the indices written before, kept between runs (the catalog).
// An index whose inputs are those of its record, and whose files are in
// place with the sizes recorded, is not made again: Release lists it as the
// record has it.
class IndexRecords
{
public:
  virtual ~IndexRecords() = default;
  // PATH is the index below dists/DIST ("main/binary-amd64/Packages").
  // A record that cannot be read is none.
  virtual std::optional<IndexRecord> get(const std::string& path) = 0;
  // Called before an index's new files are put in place, so that no record
  // outlives the files it describes.
  virtual Status forget(const std::string& path) = 0;
  // Called once they are in place; a record not kept only costs time.
  virtual void put(const std::string& path, const IndexRecord& record) = 0;
};

class DistributionWriter
{
public:
  // `signer` may be null (an unsigned repository).
  DistributionWriter(const config::Repository& repository, sign::Signer* signer, ChunkCache& chunks,
                     const util::Clock& clock, util::Log& log)
    : m_repository(repository), m_signer(signer), m_chunks(chunks), m_clock(clock), m_log(log)
  {
  }

  // Keeps a record of each index written in `records`; with `reuse`, an
  // index whose record matches is not made again.
  void set_records(IndexRecords* records, bool reuse)
  {
    m_records = records;
    m_reuse = reuse;
  }

  // Writes and puts in place dists/DIST (the folder `dists`) with `indices`
  // for `arches`. On an Error nothing new is in place.
  Status write(const std::filesystem::path& dists, const std::string& dist,
               const std::vector<std::string>& arches, const std::vector<IndexText>& indices,
               const std::function<Status()>& before_commit);

private:
  const config::Repository& m_repository;
  sign::Signer* m_signer;
  ChunkCache& m_chunks;
  const util::Clock& m_clock;
  util::Log& m_log;
  IndexRecords* m_records = nullptr;
  bool m_reuse = false;
};

} // namespace buildme::repo
