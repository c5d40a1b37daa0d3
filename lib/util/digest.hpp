// Checksums of files: every digest that a .dsc or .changes lists, computed in
// one pass over the file (OpenSSL EVP), as apt's Hashes does.
#pragma once

#include "util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct evp_md_ctx_st; // OpenSSL's EVP_MD_CTX

namespace buildme::util {

enum class DigestKind
{
  md5,
  sha1,
  sha256,
  sha512
};

// The deb822 field that lists this digest in a .dsc/.changes: "Files" for
// md5, "Checksums-Sha1", "Checksums-Sha256", "Checksums-Sha512".
std::string_view digest_field(DigestKind kind);
// "MD5", "SHA1", "SHA256", "SHA512": for messages.
std::string_view digest_name(DigestKind kind);
// Length of the lower-case hex form: 32, 40, 64, 128.
std::size_t digest_hex_length(DigestKind kind);

inline constexpr DigestKind all_digest_kinds[] = {DigestKind::md5, DigestKind::sha1,
                                                  DigestKind::sha256, DigestKind::sha512};

// Which digests to compute; lower-case hex results.
struct Digests
{
  std::uint64_t size = 0;
  std::optional<std::string> md5, sha1, sha256, sha512;

  std::optional<std::string>& operator[](DigestKind kind);
  const std::optional<std::string>& operator[](DigestKind kind) const;
};

struct DigestSet
{
  bool md5 = false, sha1 = false, sha256 = false, sha512 = false;
  static DigestSet all() { return {true, true, true, true}; }
  bool& operator[](DigestKind kind);
  bool operator[](DigestKind kind) const;
};

// Digests of bytes fed in parts, as digest_bytes takes them of one buffer.
class Hasher
{
public:
  // Begins anew with the digests `wanted`.
  Status start(DigestSet wanted);
  Status update(const void* data, std::size_t size);
  Status update(std::string_view data) { return update(data.data(), data.size()); }
  Result<Digests> finish();

private:
  struct ContextFree
  {
    void operator()(evp_md_ctx_st* context) const;
  };
  std::unique_ptr<evp_md_ctx_st, ContextFree> m_contexts[std::size(all_digest_kinds)];
  std::uint64_t m_size = 0;
};

// Reads the open descriptor from its current position to the end once,
// feeding every wanted digest, and counts the bytes. Stops reading (and
// returns what it has, with size > stop_after) once more than `stop_after`
// bytes were read, so a huge file posing as a small one costs little.
Result<Digests> digest_fd(int fd, DigestSet wanted, std::uint64_t stop_after = UINT64_MAX);

// Digests of a file given by path (regular file, symlinks not followed).
Result<Digests> digest_file(const std::filesystem::path& path, DigestSet wanted);

// Digests of a buffer.
Digests digest_bytes(std::string_view data, DigestSet wanted);

// A digest manifest, so that digests taken once travel with the files
// (intake, the job, a build's unit, the pool): one line per file,
//   NAME SIZE MD5 SHA1 SHA256 SHA512
// NAME a plain file name. Parsing is strict: a manifest with one bad line is
// refused whole (the caller then reads the files itself).
std::string write_digest_manifest(const std::map<std::string, Digests>& files);
Result<std::map<std::string, Digests>> parse_digest_manifest(std::string_view text,
                                                             std::string_view filename);

// "The same bytes": both files readable, of one size and one SHA-256. The
// one test of whether a file already in place is the one being placed.
bool same_content(const std::filesystem::path& a, const std::filesystem::path& b);

} // namespace buildme::util
