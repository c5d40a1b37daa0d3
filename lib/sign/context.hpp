// What the repository signer and the upload keyring share of GPGME: starting
// it once per process, owning its handles, and a context that never prompts
// (loopback pinentry: gpg-agent asks us, never a pinentry on some terminal or
// display, so a cron run cannot hang on a prompt).
#pragma once

#include "util/result.hpp"

#include <gpgme.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace buildme::sign {

struct ContextDeleter
{
  void operator()(gpgme_ctx_t ctx) const { gpgme_release(ctx); }
};
struct KeyDeleter
{
  void operator()(gpgme_key_t key) const { gpgme_key_unref(key); }
};
struct DataDeleter
{
  void operator()(gpgme_data_t data) const { gpgme_data_release(data); }
};
using Context = std::unique_ptr<gpgme_context, ContextDeleter>;
using Key = std::unique_ptr<_gpgme_key, KeyDeleter>;
using Data = std::unique_ptr<gpgme_data, DataDeleter>;

std::string gpgme_text(gpgme_error_t error);

// GPGME must be told its version is checked before its first context, once
// per process; an Error when it or gpg cannot start.
Status init_gpgme();

// An OpenPGP context on `home` (empty: gpg's default home) in loopback
// pinentry mode. `home_for_messages` names it in errors.
Result<Context> new_context(const std::string& home, std::string_view home_for_messages);

// GPGME data over `bytes` (not copied: they must outlive it), and an empty
// one to write into; `what` names them in errors.
Result<Data> data_from(std::string_view bytes, std::string_view what);
Result<Data> new_data(std::string_view what);
// The bytes written into `data`, which it releases.
Result<std::string> take_bytes(Data data, std::string_view what);

// SHA-256 or stronger: what apt and dak accept.
bool strong_digest(gpgme_hash_algo_t algo);

// The gpg.conf of a home that only verifies, in gpgv's manner in a full gpg:
// the keys imported into it are the trust, nothing is looked up anywhere, no
// agent or dirmngr is started.
inline constexpr std::string_view verify_only_conf = "# made by buildme: checking signatures\n"
                                                     "trust-model always\n"
                                                     "no-auto-key-retrieve\n"
                                                     "auto-key-locate local\n"
                                                     "no-autostart\n"
                                                     "no-greeting\n";

// A new, empty folder PARENT/PREFIXxxxxxx (mode 0700, as gpg wants its
// home); `what` says in an Error what it was for.
Result<std::filesystem::path> make_temporary_home(const std::filesystem::path& parent,
                                                  std::string_view prefix, std::string_view what);

// The text a clear signature covers as gpg hashes it: each line without its
// trailing spaces and tabs, without trailing empty lines.
std::string canonical_text(std::string_view text);

} // namespace buildme::sign
