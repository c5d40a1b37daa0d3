// Writing one distribution of a repository (apt-ftparchive's and reprepro's
// "export" step), apart from deciding what goes in it:
//
//   - each index (Packages, Sources) plain, .gz and .xz as the repository
//     says, compressed in cached pieces (index.hpp's ChunkCache);
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
#include "sign/signer.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/result.hpp"

#include <filesystem>
#include <functional>
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
};

} // namespace buildme::repo
