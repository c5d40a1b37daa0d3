#include "sign/upload_keyring.hpp"

#include "debian/deb822.hpp"
#include "sign/context.hpp"
#include "util/digest.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace buildme::sign {

namespace fs = std::filesystem;

namespace {

using util::printable;

constexpr std::uint64_t max_keyring_size = 256 * 1024 * 1024;
constexpr auto one_day = std::chrono::hours(24);

constexpr std::string_view complete_marker = "buildme-imported";

std::string date_of(long long seconds)
{
  return util::format_local_time(
    std::chrono::system_clock::time_point(std::chrono::seconds(seconds)));
}

// The key's user id for mail: the first that is neither revoked nor invalid.
std::string user_id_of(gpgme_key_t key)
{
  for (auto uid = key->uids; uid; uid = uid->next) {
    if (!uid->revoked && !uid->invalid && uid->uid) {
      return uid->uid;
    }
  }
  return key->uids && key->uids->uid ? key->uids->uid : "";
}

class GpgmeUploadKeyring final : public UploadKeyring
{
public:
  GpgmeUploadKeyring(fs::path home, bool temporary, std::string keyrings,
                     std::chrono::seconds max_age)
    : m_home(std::move(home)), m_temporary(temporary), m_keyrings(std::move(keyrings)),
      m_max_age(max_age)
  {
  }
  ~GpgmeUploadKeyring() override
  {
    m_ctx.reset();
    if (m_temporary) {
      std::error_code ignored;
      fs::remove_all(m_home, ignored);
    }
  }

  Status open()
  {
    TRY_ASSIGN(m_ctx, new_context(m_home.string(), m_home.string()));
    // No CRL, no keyserver, no key lookup of any kind.
    gpgme_set_offline(m_ctx.get(), 1);
    gpgme_set_keylist_mode(m_ctx.get(), GPGME_KEYLIST_MODE_LOCAL);
    return {};
  }

  debian::SignatureCheck check(std::string_view file, std::string_view name,
                               util::Clock::time_point now) override;

private:
  debian::SignatureCheck refuse(std::string reason) const
  {
    debian::SignatureCheck check;
    check.refused = std::move(reason);
    return check;
  }
  std::string signer_words(const debian::Signer& signer) const
  {
    return fmt::format("key {} ({})", signer.fingerprint, printable(signer.user_id));
  }

  fs::path m_home;
  bool m_temporary;
  std::string m_keyrings; // for messages
  std::chrono::seconds m_max_age;
  Context m_ctx;
};

debian::SignatureCheck GpgmeUploadKeyring::check(std::string_view file, std::string_view name,
                                                 util::Clock::time_point now)
{
  const std::string shown = printable(name);
  auto control = debian::parse_control(file, name);
  if (!control) {
    return refuse(control.message());
  }
  if (!control->is_signed) {
    return refuse(fmt::format("{} is not signed; only uploads clear-signed by a key of the "
                              "upload keyrings are taken here (sign it with debsign)",
                              shown));
  }

  auto signature = data_from(file, "the signed file");
  auto plain = new_data("the signed text");
  if (!signature || !plain) {
    return refuse(!signature ? signature.message() : plain.message());
  }
  if (auto error = gpgme_op_verify(m_ctx.get(), signature->get(), nullptr, plain->get())) {
    return refuse(
      fmt::format("the signature of {} cannot be checked: {}", shown, gpgme_text(error)));
  }
  gpgme_verify_result_t result = gpgme_op_verify_result(m_ctx.get());
  if (!result || !result->signatures) {
    return refuse(fmt::format("{} carries no OpenPGP signature that gpg can read", shown));
  }
  if (result->signatures->next) {
    return refuse(fmt::format("{} carries more than one signature; an upload is signed by one "
                              "key, its uploader",
                              shown));
  }
  const gpgme_signature_t sig = result->signatures;
  const std::string made_by = sig->fpr ? printable(sig->fpr) : std::string("an unnamed key");
  const auto status = gpg_err_code(sig->status);
  if (status == GPG_ERR_NO_PUBKEY) {
    return refuse(fmt::format("{} is signed by key {}, which is not in the upload keyrings ({})",
                              shown, made_by, m_keyrings));
  }
  if (status == GPG_ERR_BAD_SIGNATURE) {
    return refuse(fmt::format("{}: BAD signature by key {}: the text is not the text that was "
                              "signed (changed after signing)",
                              shown, made_by));
  }
  if (status != GPG_ERR_NO_ERROR && status != GPG_ERR_KEY_EXPIRED &&
      status != GPG_ERR_CERT_REVOKED && status != GPG_ERR_SIG_EXPIRED) {
    return refuse(fmt::format("the signature of {} by key {} cannot be checked: {}", shown, made_by,
                              gpgme_text(sig->status)));
  }

  // A good signature by a key of the keyrings: from here on its owner is
  // known, and hears why when a rule refuses it.
  gpgme_key_t raw_key = nullptr;
  if (auto error = gpgme_get_key(m_ctx.get(), sig->fpr, &raw_key, 0)) {
    return refuse(fmt::format("{} is signed by key {}, which gpg cannot look up: {}", shown,
                              made_by, gpgme_text(error)));
  }
  const Key key(raw_key);
  debian::SignatureCheck check;
  check.signer = debian::Signer{key->fpr ? key->fpr : "", user_id_of(key.get())};
  const std::string who = signer_words(*check.signer);

  gpgme_subkey_t subkey = key->subkeys;
  while (subkey && !(subkey->fpr && sig->fpr && std::strcmp(subkey->fpr, sig->fpr) == 0)) {
    subkey = subkey->next;
  }
  const bool revoked =
    key->revoked || status == GPG_ERR_CERT_REVOKED || (subkey && subkey->revoked);
  const bool expired = key->expired || status == GPG_ERR_KEY_EXPIRED || (subkey && subkey->expired);
  const auto created = static_cast<long long>(sig->timestamp);
  const long long now_seconds =
    std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (revoked) {
    check.refused = fmt::format("{} is signed by {}, which is revoked; a revoked key may not "
                                "upload (rule: no revoked keys)",
                                shown, who);
  } else if (expired) {
    const long long expires = subkey && subkey->expires ? subkey->expires : 0;
    check.refused = fmt::format(
      "{} is signed by {}, which {}; an expired key may not upload "
      "(rule: no expired keys); extend it and sign again",
      shown, who, expires ? "expired on " + date_of(expires) : std::string("has expired"));
  } else if (status == GPG_ERR_SIG_EXPIRED) {
    check.refused = fmt::format("{}: the signature by {} has expired (rule: no expired "
                                "signatures); sign it again",
                                shown, who);
  } else if (sig->wrong_key_usage) {
    check.refused =
      fmt::format("{} is signed by a subkey of {} that is not for signing", shown, who);
  } else if (!strong_digest(sig->hash_algo)) {
    const char* digest = gpgme_hash_algo_name(sig->hash_algo);
    check.refused = fmt::format("{} is signed by {} with digest {}, weaker than SHA-256 (rule: "
                                "no weak digests); sign it again with SHA256 or SHA512 "
                                "(personal-digest-preferences SHA512 in gpg.conf)",
                                shown, who, digest ? digest : "unknown");
  } else if (created <= 0) {
    check.refused = fmt::format("the signature of {} by {} has no time", shown, who);
  } else if (now_seconds - created > m_max_age.count()) {
    check.refused = fmt::format("{} is signed by {} on {}, {} days ago: older than "
                                "signature_max_age ({} days) allows (rule: no old signatures, "
                                "against replays); sign it again",
                                shown, who, date_of(created), (now_seconds - created) / 86400,
                                m_max_age.count() / 86400);
  } else if (created - now_seconds > std::chrono::seconds(one_day).count()) {
    check.refused = fmt::format("{} is signed by {} dated {}, more than a day in the future "
                                "(rule: no signatures from the future); check the clock of the "
                                "machine that signed it",
                                shown, who, date_of(created));
  }
  if (!check.refused.empty()) {
    return check;
  }

  auto text = take_bytes(std::move(*plain), "the signed text");
  if (!text) {
    return refuse(text.message());
  }
  // Belt and braces: what gpg verified must be what lies between the armor
  // lines, so that no reading of the file sees text the signature does not
  // cover.
  if (canonical_text(*text) != canonical_text(control->signed_text)) {
    return refuse(fmt::format("{}: the text gpg verified is not the text between its armor "
                              "lines; the file is refused",
                              shown));
  }
  check.signed_text = std::move(*text);
  const auto id = util::digest_bytes(
    fmt::format("{}\n{}\n{}", check.signer->fingerprint, created, check.signed_text),
    {false, false, true, false});
  check.signature_id = *id.sha256;
  return check;
}

// What identifies a set of keyrings: their paths and contents. A changed
// keyring gives a new home.
Result<std::string> keyrings_identity(const std::vector<fs::path>& keyrings,
                                      std::vector<std::string>& contents)
{
  std::string listing;
  for (const auto& keyring : keyrings) {
    auto info = util::stat_no_follow(keyring);
    if (!info) {
      return Error{info.error()};
    }
    if (!*info || (*info)->type != util::FileInfo::Type::regular) {
      return fail("upload_keyring {} is {}; export the uploaders' keys into it (gpg --export "
                  "KEY... > {})",
                  printable(keyring.string()), !*info ? "missing" : "not a regular file",
                  printable(keyring.string()));
    }
    auto bytes = util::read_file(keyring, max_keyring_size);
    if (!bytes) {
      return fail("upload_keyring: {}", bytes.message());
    }
    const auto digests = util::digest_bytes(*bytes, {false, false, true, false});
    listing += fmt::format("{}\n{}\n", keyring.string(), *digests.sha256);
    contents.push_back(std::move(*bytes));
  }
  return util::digest_bytes(listing, {false, false, true, false}).sha256->substr(0, 24);
}

// Imports every keyring into the empty home `home`.
Status import_keyrings(const fs::path& home, const std::vector<fs::path>& keyrings,
                       const std::vector<std::string>& contents)
{
  TRY(util::write_file_atomic(home / "gpg.conf", verify_only_conf, 0600));
  TRY_ASSIGN(Context ctx, new_context(home.string(), home.string()));
  gpgme_set_offline(ctx.get(), 1);
  for (std::size_t i = 0; i < keyrings.size(); ++i) {
    const std::string shown = printable(keyrings[i].string());
    TRY_ASSIGN(Data data, data_from(contents[i], "upload_keyring " + shown));
    if (auto error = gpgme_op_import(ctx.get(), data.get())) {
      return fail("upload_keyring {} cannot be imported: {}", shown, gpgme_text(error));
    }
    gpgme_import_result_t result = gpgme_op_import_result(ctx.get());
    if (!result || result->considered == 0) {
      return fail("upload_keyring {} holds no OpenPGP key (a keybox file? give a keyring "
                  "made with gpg --export, binary or armored)",
                  shown);
    }
  }
  return util::write_file_atomic(home / complete_marker, "", 0600);
}

// The cached home of these keyrings in `cache_dir`, made when missing: built
// under a temporary name and renamed into place whole, so that a run killed
// halfway leaves nothing that looks ready, and two runs at once both end with
// one good home. Homes of keyrings that changed go when no run used them for
// a day.
Result<fs::path> cached_home(const fs::path& cache_dir, const std::string& identity,
                             const std::vector<fs::path>& keyrings,
                             const std::vector<std::string>& contents)
{
  const fs::path home = cache_dir / ("keys-" + identity);
  std::error_code error;
  if (fs::exists(home / complete_marker, error)) {
    fs::last_write_time(home, fs::file_time_type::clock::now(), error); // in use
    return home;
  }
  TRY_ASSIGN(const fs::path building,
             make_temporary_home(cache_dir, ".keys-", "the upload keyrings"));
  if (auto imported = import_keyrings(building, keyrings, contents); !imported) {
    fs::remove_all(building, error);
    return imported.error();
  }
  fs::remove_all(home, error); // a half-made one of an older run, if any
  if (::rename(building.c_str(), home.c_str()) != 0) {
    fs::remove_all(building, error);
    if (!fs::exists(home / complete_marker, error)) {
      return fail("cannot put the imported upload keyrings at {}: {}", home.string(),
                  std::strerror(errno));
    }
  }
  const auto stale = fs::file_time_type::clock::now() - one_day;
  for (const auto& entry : fs::directory_iterator(cache_dir, error)) {
    const std::string name = entry.path().filename().string();
    std::error_code ignored;
    if ((name.starts_with("keys-") || name.starts_with(".keys-")) && entry.path() != home &&
        fs::last_write_time(entry.path(), ignored) < stale) {
      fs::remove_all(entry.path(), ignored);
    }
  }
  return home;
}

} // namespace

Result<std::unique_ptr<UploadKeyring>> open_upload_keyring(const UploadKeyringConfig& config)
{
  if (config.keyrings.empty()) {
    return fail("no upload_keyring given");
  }
  TRY(init_gpgme());
  std::vector<std::string> contents;
  TRY_ASSIGN(const std::string identity, keyrings_identity(config.keyrings, contents));
  std::vector<std::string> names;
  for (const auto& keyring : config.keyrings) {
    names.push_back(printable(keyring.string()));
  }

  fs::path home;
  bool temporary = config.cache_dir.empty() || !util::make_dirs(config.cache_dir, 0700) ||
                   ::access(config.cache_dir.c_str(), W_OK) != 0;
  if (!temporary) {
    TRY_ASSIGN(home, cached_home(config.cache_dir, identity, config.keyrings, contents));
  } else {
    TRY_ASSIGN(
      home, make_temporary_home(fs::temp_directory_path(), "buildme-keys-", "the upload keyrings"));
    if (auto imported = import_keyrings(home, config.keyrings, contents); !imported) {
      std::error_code ignored;
      fs::remove_all(home, ignored);
      return imported.error();
    }
  }
  auto keyring =
    std::make_unique<GpgmeUploadKeyring>(home, temporary, util::join(names, " "), config.max_age);
  TRY(keyring->open());
  return std::unique_ptr<UploadKeyring>(std::move(keyring));
}

} // namespace buildme::sign
