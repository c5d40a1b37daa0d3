#include "sign/release_keyring.hpp"

#include "config/config.hpp"
#include "debian/deb822.hpp"
#include "sign/context.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <cstring>
#include <filesystem>
#include <system_error>

namespace buildme::sign {

namespace fs = std::filesystem;

namespace {

using util::printable;

class GpgmeReleaseKeyring final : public ReleaseKeyring
{
public:
  GpgmeReleaseKeyring(fs::path home, std::string fingerprint, std::string key_name)
    : m_home(std::move(home)), m_fingerprint(std::move(fingerprint)),
      m_key_name(std::move(key_name))
  {
  }
  ~GpgmeReleaseKeyring() override
  {
    m_ctx.reset();
    std::error_code ignored;
    fs::remove_all(m_home, ignored);
  }

  Status open(std::string_view public_key);

  std::string check_detached(std::string_view text, std::string_view signature,
                             std::string_view name) override;
  Result<std::string> check_clearsigned(std::string_view file, std::string_view name) override;

private:
  // Why the signatures gpg just checked do not count, or empty when they do.
  std::string judge(const std::string& shown);
  std::string key_words() const
  {
    return fmt::format("the repository's key {} ({})", m_fingerprint, m_key_name);
  }

  fs::path m_home;
  std::string m_fingerprint;
  std::string m_key_name;
  Context m_ctx;
};

Status GpgmeReleaseKeyring::open(std::string_view public_key)
{
  TRY(util::write_file_atomic(m_home / "gpg.conf", verify_only_conf, 0600));
  TRY_ASSIGN(m_ctx, new_context(m_home.string(), m_home.string()));
  // No CRL, no keyserver, no key lookup of any kind.
  gpgme_set_offline(m_ctx.get(), 1);
  gpgme_set_keylist_mode(m_ctx.get(), GPGME_KEYLIST_MODE_LOCAL);
  TRY_ASSIGN(Data data, data_from(public_key, m_key_name));
  if (auto error = gpgme_op_import(m_ctx.get(), data.get())) {
    return fail("{} cannot be imported: {}", m_key_name, gpgme_text(error));
  }
  gpgme_import_result_t imported = gpgme_op_import_result(m_ctx.get());
  if (!imported || imported->considered == 0) {
    return fail("{} holds no OpenPGP key", m_key_name);
  }
  gpgme_key_t raw = nullptr;
  const bool found = gpgme_get_key(m_ctx.get(), m_fingerprint.c_str(), &raw, 0) == 0;
  const Key key(raw);
  // gpg finds a subkey's fingerprint too; sign_with names the primary key.
  if (!found || !key || !key->fpr || util::to_lower(key->fpr) != util::to_lower(m_fingerprint)) {
    return fail("{} does not hold the key {} that sign_with names", m_key_name, m_fingerprint);
  }
  return {};
}

std::string GpgmeReleaseKeyring::judge(const std::string& shown)
{
  gpgme_verify_result_t result = gpgme_op_verify_result(m_ctx.get());
  if (!result || !result->signatures) {
    return fmt::format("{} carries no OpenPGP signature that gpg can read", shown);
  }
  for (gpgme_signature_t sig = result->signatures; sig; sig = sig->next) {
    const std::string made_by = sig->fpr ? printable(sig->fpr) : std::string("an unnamed key");
    switch (gpg_err_code(sig->status)) {
    case GPG_ERR_NO_ERROR:
      break;
    case GPG_ERR_NO_PUBKEY:
      return fmt::format("{} is signed by key {}, not by {}", shown, made_by, key_words());
    case GPG_ERR_BAD_SIGNATURE:
      return fmt::format("{}: BAD signature by key {}: the text is not the text that was "
                         "signed",
                         shown, made_by);
    case GPG_ERR_KEY_EXPIRED:
      return fmt::format("{} is signed by {}, which has expired; apt refuses its signatures "
                         "(extend it with gpg --quick-set-expire and export it again)",
                         shown, key_words());
    case GPG_ERR_CERT_REVOKED:
      return fmt::format("{} is signed by {}, which is revoked", shown, key_words());
    case GPG_ERR_SIG_EXPIRED:
      return fmt::format("the signature of {} has expired", shown);
    default:
      return fmt::format("the signature of {} by key {} cannot be checked: {}", shown, made_by,
                         gpgme_text(sig->status));
    }
    gpgme_key_t raw = nullptr;
    if (auto error = gpgme_get_key(m_ctx.get(), sig->fpr, &raw, 0)) {
      return fmt::format("{} is signed by key {}, which gpg cannot look up: {}", shown, made_by,
                         gpgme_text(error));
    }
    const Key key(raw);
    if (!key->fpr || util::to_lower(key->fpr) != util::to_lower(m_fingerprint)) {
      return fmt::format("{} is signed by key {}, not by {}", shown, made_by, key_words());
    }
    if (key->revoked || key->expired || key->disabled || key->invalid) {
      return fmt::format("{} is signed by {}, which is {}", shown, key_words(),
                         key->revoked   ? "revoked"
                         : key->expired ? "expired"
                                        : "not usable");
    }
    if (sig->wrong_key_usage) {
      return fmt::format("{} is signed by a subkey of {} that is not for signing", shown,
                         key_words());
    }
    if (!strong_digest(sig->hash_algo)) {
      const char* digest = gpgme_hash_algo_name(sig->hash_algo);
      return fmt::format("{} is signed with digest {}, which apt rejects as weaker than SHA-256",
                         shown, digest ? digest : "unknown");
    }
  }
  return {};
}

std::string GpgmeReleaseKeyring::check_detached(std::string_view text, std::string_view signature,
                                                std::string_view name)
{
  const std::string shown = printable(name);
  auto signature_data = data_from(signature, shown);
  auto text_data = data_from(text, "the signed text");
  if (!signature_data || !text_data) {
    return !signature_data ? signature_data.message() : text_data.message();
  }
  if (auto error = gpgme_op_verify(m_ctx.get(), signature_data->get(), text_data->get(), nullptr)) {
    return fmt::format("the signature {} cannot be checked: {}", shown, gpgme_text(error));
  }
  return judge(shown);
}

Result<std::string> GpgmeReleaseKeyring::check_clearsigned(std::string_view file,
                                                           std::string_view name)
{
  const std::string shown = printable(name);
  TRY_ASSIGN(const debian::ControlFile control, debian::parse_control(file, name));
  if (!control.is_signed) {
    return fail("{} is not a clear-signed message", shown);
  }
  TRY_ASSIGN(Data signed_data, data_from(file, shown));
  TRY_ASSIGN(Data plain, new_data("the signed text"));
  if (auto error = gpgme_op_verify(m_ctx.get(), signed_data.get(), nullptr, plain.get())) {
    return fail("the signature of {} cannot be checked: {}", shown, gpgme_text(error));
  }
  if (auto refused = judge(shown); !refused.empty()) {
    return Error{refused};
  }
  TRY_ASSIGN(std::string text, take_bytes(std::move(plain), "the signed text"));
  // What gpg verified must be what lies between the armor lines, so that no
  // reading of the file sees text the signature does not cover.
  if (canonical_text(text) != canonical_text(control.signed_text)) {
    return fail("{}: the text gpg verified is not the text between its armor lines", shown);
  }
  return text;
}

} // namespace

Result<std::unique_ptr<ReleaseKeyring>> open_release_keyring(std::string_view public_key,
                                                             std::string_view key_name,
                                                             std::string_view fingerprint,
                                                             const fs::path& home)
{
  auto canonical = config::parse_fingerprint(fingerprint);
  if (!canonical) {
    return fail("sign_with '{}' is not a full fingerprint: give its 40 hex digits",
                printable(fingerprint));
  }
  TRY(init_gpgme());
  std::error_code error;
  fs::remove_all(home, error);
  if (error) {
    return fail("cannot empty {} for the repository's key: {}", printable(home.string()),
                error.message());
  }
  TRY(util::make_dirs(home, 0700));
  // From here the keyring owns the home, and removes it on every way out.
  auto keyring =
    std::make_unique<GpgmeReleaseKeyring>(home, std::move(*canonical), printable(key_name));
  TRY(keyring->open(public_key));
  return std::unique_ptr<ReleaseKeyring>(std::move(keyring));
}

} // namespace buildme::sign
