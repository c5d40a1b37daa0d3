#include "sign/context.hpp"

#include "util/fs.hpp"

#include <fmt/format.h>

#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

namespace buildme::sign {

std::string gpgme_text(gpgme_error_t error)
{
  return gpgme_strerror(error);
}

Status init_gpgme()
{
  static std::once_flag once;
  static Status status;
  std::call_once(once, [] {
    // gpg is found on PATH, as a user runs it, instead of by asking gpgconf:
    // GPGME's start otherwise runs gpgconf three times and gpgsm once, in
    // every process that checks or makes a signature.
    gpgme_set_global_flag("disable-gpgconf", "1");
    if (!gpgme_check_version(nullptr)) {
      status = fail("GPGME cannot start (gpgme_check_version failed)");
      return;
    }
    if (auto error = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP)) {
      status = fail("GPGME finds no usable gpg ({}); install gnupg", gpgme_text(error));
    }
  });
  return status;
}

Result<Context> new_context(const std::string& home, std::string_view home_for_messages)
{
  TRY(init_gpgme());
  gpgme_ctx_t raw = nullptr;
  if (auto error = gpgme_new(&raw)) {
    return fail("cannot start GPGME: {}", gpgme_text(error));
  }
  Context ctx(raw);
  if (auto error = gpgme_set_protocol(ctx.get(), GPGME_PROTOCOL_OpenPGP)) {
    return fail("GPGME refuses OpenPGP: {}", gpgme_text(error));
  }
  if (!home.empty()) {
    auto error =
      gpgme_ctx_set_engine_info(ctx.get(), GPGME_PROTOCOL_OpenPGP, nullptr, home.c_str());
    if (error) {
      return fail("cannot use GNUPGHOME {}: {}", util::printable(home_for_messages),
                  gpgme_text(error));
    }
  }
  if (auto error = gpgme_set_pinentry_mode(ctx.get(), GPGME_PINENTRY_MODE_LOOPBACK)) {
    return fail("GPGME cannot set loopback pinentry: {}", gpgme_text(error));
  }
  return ctx;
}

Result<Data> data_from(std::string_view bytes, std::string_view what)
{
  gpgme_data_t raw = nullptr;
  if (auto error = gpgme_data_new_from_mem(&raw, bytes.data(), bytes.size(), 0)) {
    return fail("GPGME cannot take {}: {}", what, gpgme_text(error));
  }
  return Data(raw);
}

Result<Data> new_data(std::string_view what)
{
  gpgme_data_t raw = nullptr;
  if (auto error = gpgme_data_new(&raw)) {
    return fail("GPGME cannot make room for {}: {}", what, gpgme_text(error));
  }
  return Data(raw);
}

Result<std::string> take_bytes(Data data, std::string_view what)
{
  size_t size = 0;
  char* bytes = gpgme_data_release_and_get_mem(data.release(), &size);
  if (!bytes) {
    return size == 0 ? std::string() : Result<std::string>(fail("GPGME lost {}", what));
  }
  std::string out(bytes, size);
  gpgme_free(bytes);
  return out;
}

bool strong_digest(gpgme_hash_algo_t algo)
{
  return algo == GPGME_MD_SHA256 || algo == GPGME_MD_SHA384 || algo == GPGME_MD_SHA512;
}

Result<std::filesystem::path> make_temporary_home(const std::filesystem::path& parent,
                                                  std::string_view prefix, std::string_view what)
{
  std::string pattern = (parent / fmt::format("{}XXXXXX", prefix)).string();
  if (!::mkdtemp(pattern.data())) {
    return fail("cannot make a folder in {} for {}: {}", util::printable(parent.string()), what,
                std::strerror(errno));
  }
  return std::filesystem::path(pattern);
}

std::string canonical_text(std::string_view text)
{
  std::string out;
  while (!text.empty()) {
    const auto end = std::min(text.find('\n'), text.size());
    const auto line = text.substr(0, end);
    const auto last = line.find_last_not_of(" \t\r");
    out.append(last == std::string_view::npos ? std::string_view() : line.substr(0, last + 1));
    out.push_back('\n');
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  while (out.ends_with("\n\n")) {
    out.pop_back();
  }
  return out;
}

} // namespace buildme::sign
