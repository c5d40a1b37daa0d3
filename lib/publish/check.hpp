// Checking a repository tree as a client will read it: staging before
// repo-publish pushes it, and a local live copy after (dak's mirror push
// check: the most reported failure of repository tools is the client's
// "Hash Sum mismatch"). For each dists/DIST/Release:
//
//   - with a keyring, Release.gpg is a good signature of Release by the
//     repository's key, and InRelease a good clear signature of exactly the
//     text of Release;
//   - every file the Release lists is there, a regular file, with the
//     listed size and every listed digest; with Acquire-By-Hash, so is its
//     copy under by-hash/ for each digest the distribution carries copies
//     of (repo::by_hash_kinds), when the Release lists that digest;
//   - every Filename of each plain Packages index the Release lists, and
//     every file of each plain Sources index, is in the tree with the
//     listed Size and SHA256. queue-manage always writes the plain indices;
//     a Release that lists only compressed ones is refused.
//
// Every path read from a Release or an index must stay in the tree: each of
// its parts a plain, visible file name (debian::check_file_name). A hidden
// name would not be pushed at all (repo-publish never publishes hidden
// files).
//
// Speed, at 64,000 packages: the indices are read whole every time (a few
// hundred megabytes at most); a pool file is read only when its stat changed
// since a check last read it (publish/checked_files.hpp), and those reads run
// on every core. A first check, or one without a record, reads the pool
// once. What a stamp cannot see (a disk's bit rot) is out of scope.
#pragma once

#include "sign/release_keyring.hpp"
#include "util/clock.hpp"

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace buildme::publish {

struct CheckOptions
{
  // Checks the signatures; null for an unsigned repository (Release.gpg and
  // InRelease are then not looked at).
  sign::ReleaseKeyring* keyring = nullptr;
  // The record of pool files read before, read and written again; empty:
  // read every pool file.
  std::filesystem::path record;
  unsigned threads = 1;
  // When the check began, for the record's settle rule.
  util::Clock::time_point now;
};

struct TreeCheck
{
  // What does not check out, each naming the file (relative to the tree)
  // and what differs; empty when the tree is whole.
  std::vector<std::string> problems;
  std::size_t dists = 0;      // Release files checked
  std::size_t pool_files = 0; // files the indices name
  std::size_t read = 0;       // of those, read this time (not known from the record)
  // Set when the record could not be written: the next check reads more.
  std::string record_error;

  bool ok() const { return problems.empty(); }
};

TreeCheck check_tree(const std::filesystem::path& root, const CheckOptions& options);

} // namespace buildme::publish
