#include "util/digest.hpp"

#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

namespace buildme::util {

namespace {

const EVP_MD* evp_md(DigestKind kind)
{
  switch (kind) {
  case DigestKind::md5:
    return EVP_md5();
  case DigestKind::sha1:
    return EVP_sha1();
  case DigestKind::sha256:
    return EVP_sha256();
  case DigestKind::sha512:
    return EVP_sha512();
  }
  return nullptr;
}

} // namespace

void Hasher::ContextFree::operator()(evp_md_ctx_st* context) const
{
  EVP_MD_CTX_free(context);
}

Status Hasher::start(DigestSet wanted)
{
  m_size = 0;
  for (auto kind : all_digest_kinds) {
    auto& context = m_contexts[static_cast<std::size_t>(kind)];
    context.reset();
    if (!wanted[kind]) {
      continue;
    }
    context.reset(EVP_MD_CTX_new());
    if (!context || EVP_DigestInit_ex(context.get(), evp_md(kind), nullptr) != 1) {
      return fail("OpenSSL cannot compute {} digests here", digest_name(kind));
    }
  }
  return {};
}

Status Hasher::update(const void* data, std::size_t size)
{
  m_size += size;
  for (std::size_t i = 0; i < std::size(all_digest_kinds); ++i) {
    if (m_contexts[i] && EVP_DigestUpdate(m_contexts[i].get(), data, size) != 1) {
      return fail("OpenSSL failed to compute a {} digest", digest_name(all_digest_kinds[i]));
    }
  }
  return {};
}

Result<Digests> Hasher::finish()
{
  Digests digests;
  digests.size = m_size;
  for (std::size_t i = 0; i < std::size(all_digest_kinds); ++i) {
    if (!m_contexts[i]) {
      continue;
    }
    unsigned char raw[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(m_contexts[i].get(), raw, &length) != 1) {
      return fail("OpenSSL failed to compute a {} digest", digest_name(all_digest_kinds[i]));
    }
    static const char hex[] = "0123456789abcdef";
    std::string text;
    text.reserve(2 * length);
    for (unsigned int j = 0; j < length; ++j) {
      text += hex[raw[j] >> 4];
      text += hex[raw[j] & 0x0f];
    }
    digests[all_digest_kinds[i]] = std::move(text);
  }
  return digests;
}

namespace {

// What the archive calls each digest, in DigestKind order.
struct DigestNames
{
  std::string_view field; // in a .dsc/.changes
  std::string_view name;  // in messages
  std::size_t hex_length;
};
constexpr DigestNames digest_names[] = {
  {"Files", "MD5", 32},
  {"Checksums-Sha1", "SHA1", 40},
  {"Checksums-Sha256", "SHA256", 64},
  {"Checksums-Sha512", "SHA512", 128},
};
static_assert(std::size(digest_names) == std::size(all_digest_kinds));

const DigestNames& names_of(DigestKind kind)
{
  return digest_names[static_cast<std::size_t>(kind)];
}

} // namespace

std::string_view digest_field(DigestKind kind)
{
  return names_of(kind).field;
}

std::string_view digest_name(DigestKind kind)
{
  return names_of(kind).name;
}

std::size_t digest_hex_length(DigestKind kind)
{
  return names_of(kind).hex_length;
}

std::optional<std::string>& Digests::operator[](DigestKind kind)
{
  switch (kind) {
  case DigestKind::md5:
    return md5;
  case DigestKind::sha1:
    return sha1;
  case DigestKind::sha256:
    return sha256;
  case DigestKind::sha512:
    break;
  }
  return sha512;
}

const std::optional<std::string>& Digests::operator[](DigestKind kind) const
{
  return const_cast<Digests&>(*this)[kind];
}

bool& DigestSet::operator[](DigestKind kind)
{
  switch (kind) {
  case DigestKind::md5:
    return md5;
  case DigestKind::sha1:
    return sha1;
  case DigestKind::sha256:
    return sha256;
  case DigestKind::sha512:
    break;
  }
  return sha512;
}

bool DigestSet::operator[](DigestKind kind) const
{
  return const_cast<DigestSet&>(*this)[kind];
}

Result<Digests> digest_fd(int fd, DigestSet wanted, std::uint64_t stop_after)
{
  Hasher hashers;
  auto started = hashers.start(wanted);
  if (!started) {
    return started.error();
  }
  // Not zeroed: most files are far smaller than the buffer.
  constexpr std::size_t buffer_size = 256 * 1024;
  const auto buffer = std::make_unique_for_overwrite<unsigned char[]>(buffer_size);
  std::uint64_t size = 0;
  while (size <= stop_after) {
    ssize_t got = ::read(fd, buffer.get(), buffer_size);
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail("read error: {}", std::strerror(errno));
    }
    if (got == 0) {
      break;
    }
    size += static_cast<std::uint64_t>(got);
    auto updated = hashers.update(buffer.get(), static_cast<std::size_t>(got));
    if (!updated) {
      return updated.error();
    }
  }
  return hashers.finish();
}

Result<Digests> digest_file(const std::filesystem::path& path, DigestSet wanted)
{
  auto file = open_regular_file(path);
  if (!file) {
    return file.error();
  }
  auto digests = digest_fd(file->fd(), wanted);
  if (!digests) {
    return fail("cannot compute checksums of {}: {}", printable(path.string()), digests.message());
  }
  return digests;
}

Digests digest_bytes(std::string_view data, DigestSet wanted)
{
  // Nothing here depends on outside input; a failure means OpenSSL itself
  // is broken, which no caller can handle.
  Hasher hashers;
  Status status = hashers.start(wanted);
  if (status) {
    status = hashers.update(data.data(), data.size());
  }
  if (!status) {
    throw std::runtime_error(status.message());
  }
  auto digests = hashers.finish();
  if (!digests) {
    throw std::runtime_error(digests.message());
  }
  return std::move(*digests);
}

bool same_content(const std::filesystem::path& a, const std::filesystem::path& b)
{
  const DigestSet sha256{false, false, true, false};
  auto da = digest_file(a, sha256);
  auto db = digest_file(b, sha256);
  return da && db && da->size == db->size && da->sha256 == db->sha256;
}

namespace {

bool is_hex(std::string_view text, std::size_t length)
{
  return text.size() == length && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

bool is_plain_name(std::string_view name)
{
  return !name.empty() && name != "." && name != ".." && name.size() <= 255 &&
         std::all_of(name.begin(), name.end(),
                     [](char c) { return c > ' ' && c < 127 && c != '/'; });
}

} // namespace

std::string write_digest_manifest(const std::map<std::string, Digests>& files)
{
  std::string text;
  for (const auto& [name, digests] : files) {
    if (!digests.md5 || !digests.sha1 || !digests.sha256 || !digests.sha512) {
      continue; // a manifest names only files with all four
    }
    text += fmt::format("{} {} {} {} {} {}\n", name, digests.size, *digests.md5, *digests.sha1,
                        *digests.sha256, *digests.sha512);
  }
  return text;
}

Result<std::map<std::string, Digests>> parse_digest_manifest(std::string_view text,
                                                             std::string_view filename)
{
  std::map<std::string, Digests> files;
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    const auto end = text.find('\n');
    if (end == std::string_view::npos) {
      return fail("{}:{}: the last line is cut short (no newline)", filename, number);
    }
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    const auto words = split_words(line);
    if (words.size() != 6) {
      return fail("{}:{}: {} words; a line is NAME SIZE MD5 SHA1 SHA256 SHA512", filename, number,
                  words.size());
    }
    const auto size = parse_count(words[1]);
    if (!is_plain_name(words[0]) || !size || !is_hex(words[2], 32) || !is_hex(words[3], 40) ||
        !is_hex(words[4], 64) || !is_hex(words[5], 128)) {
      return fail("{}:{}: not NAME SIZE MD5 SHA1 SHA256 SHA512 (a plain name, a number and "
                  "four lower-case hex digests)",
                  filename, number);
    }
    Digests digests;
    digests.size = static_cast<std::uint64_t>(*size);
    digests.md5 = words[2];
    digests.sha1 = words[3];
    digests.sha256 = words[4];
    digests.sha512 = words[5];
    if (!files.emplace(words[0], std::move(digests)).second) {
      return fail("{}:{}: {} is listed twice", filename, number, printable(words[0]));
    }
  }
  return files;
}

} // namespace buildme::util
