#include "sign/signer.hpp"

#include "config/config.hpp"
#include "sign/context.hpp"

#include "util/fs.hpp"
#include "util/text.hpp"

#include <gpgme.h>

#include <string.h> // explicit_bzero

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

namespace buildme::sign {

namespace {

using util::printable;

// The fingerprint in its canonical form, or an Error when it is not a full
// one.
Result<std::string> normalise_fingerprint(std::string_view key)
{
  auto fingerprint = config::parse_fingerprint(key);
  if (!fingerprint) {
    return fail("signing key '{}' is not a full fingerprint: give its 40 hex digits, as "
                "gpg --list-secret-keys --with-colons shows them (a short key id can be "
                "forged to match another key)",
                printable(key));
  }
  return *fingerprint;
}

// What the passphrase callback knows and what it saw. The passphrase is
// wiped when the signer goes.
struct Passphrase
{
  bool configured = false;
  std::string text;
  bool asked = false;

  ~Passphrase() { explicit_bzero(text.data(), text.size()); }
};

// Called by GPGME (loopback pinentry) when gpg needs the passphrase. Never
// prompts: without a configured passphrase, or when gpg asks again after a
// wrong one, it fails at once.
gpgme_error_t give_passphrase(void* hook, const char*, const char*, int prev_was_bad, int fd)
{
  auto& passphrase = *static_cast<Passphrase*>(hook);
  passphrase.asked = true;
  if (!passphrase.configured) {
    return gpg_error(GPG_ERR_NO_PASSPHRASE);
  }
  if (prev_was_bad) {
    return gpg_error(GPG_ERR_BAD_PASSPHRASE);
  }
  std::string line = passphrase.text + "\n";
  int written = gpgme_io_writen(fd, line.data(), line.size());
  explicit_bzero(line.data(), line.size());
  return written == 0 ? 0 : gpgme_error_from_syserror();
}

Result<std::string> read_passphrase(const std::string& path)
{
  auto content = util::read_file(path, 64 * 1024);
  if (!content) {
    return fail("cannot read passphrase_file: {}", content.message());
  }
  std::string first_line = content->substr(0, content->find('\n'));
  if (first_line.ends_with('\r')) {
    first_line.pop_back();
  }
  explicit_bzero(content->data(), content->size());
  return first_line;
}

class GpgmeSigner final : public Signer
{
public:
  GpgmeSigner(std::string fingerprint, std::string home)
    : m_fingerprint(std::move(fingerprint)), m_home(std::move(home))
  {
  }

  Status open(const SignerConfig& config);

  Result<std::string> clearsign(std::string_view text) override
  {
    return sign(text, GPGME_SIG_MODE_CLEAR);
  }
  Result<std::string> detach_sign(std::string_view text) override
  {
    return sign(text, GPGME_SIG_MODE_DETACH);
  }
  Result<std::string> public_key() override;

private:
  Status setup_context(const SignerConfig& config);
  Status find_key();
  Result<std::string> sign(std::string_view text, gpgme_sig_mode_t mode);
  Error sign_failure(gpgme_error_t error) const;

  std::string m_fingerprint;
  std::string m_home; // for messages: the configured home or gpg's default
  Passphrase m_passphrase;
  Context m_ctx;
  Key m_key;
};

Status GpgmeSigner::setup_context(const SignerConfig& config)
{
  TRY_ASSIGN(m_ctx, new_context(config.gnupg_home, m_home));
  gpgme_set_armor(m_ctx.get(), 1);
  // Binary mode for detached signatures: Release.gpg signs Release's exact
  // bytes, as apt-ftparchive's and reprepro's gpg calls do.
  gpgme_set_textmode(m_ctx.get(), 0);
  gpgme_set_passphrase_cb(m_ctx.get(), give_passphrase, &m_passphrase);
  return {};
}

Status GpgmeSigner::find_key()
{
  gpgme_key_t raw = nullptr;
  auto error = gpgme_get_key(m_ctx.get(), m_fingerprint.c_str(), &raw, 1);
  if (gpg_err_code(error) == GPG_ERR_EOF) {
    return fail("no secret key {} in {}; import it with gpg --homedir {} --import KEYFILE",
                m_fingerprint, printable(m_home), printable(m_home));
  }
  if (error) {
    return fail("cannot look up secret key {} in {}: {}", m_fingerprint, printable(m_home),
                gpgme_text(error));
  }
  m_key.reset(raw);
  const gpgme_key_t key = m_key.get();
  auto where = [&] { return fmt::format("key {} in {}", m_fingerprint, printable(m_home)); };

  // gpg matches a subkey's fingerprint too; the key asked for is the
  // primary one, and gpg picks its signing subkey.
  if (!key->fpr || util::to_lower(key->fpr) != util::to_lower(m_fingerprint)) {
    return fail("{} is a subkey of {}; give the primary key's fingerprint", where(),
                key->fpr ? printable(key->fpr) : "another key");
  }
  if (key->revoked) {
    return fail("{} is revoked; sign with another key", where());
  }
  if (key->expired) {
    return fail("{} has expired; extend it (gpg --homedir {} --quick-set-expire {} 2y) or "
                "sign with another key",
                where(), printable(m_home), m_fingerprint);
  }
  if (key->disabled) {
    return fail("{} is disabled; enable it with gpg --edit-key {} enable", where(), m_fingerprint);
  }
  if (key->invalid || !key->can_sign) {
    return fail("{} cannot sign: it has no valid signing key (subkeys expired, revoked, or "
                "made for certifying or encryption only)",
                where());
  }
  bool has_secret = false;
  for (auto sub = key->subkeys; sub; sub = sub->next) {
    if (sub->can_sign && sub->secret && !sub->revoked && !sub->expired && !sub->disabled &&
        !sub->invalid) {
      has_secret = true;
    }
  }
  if (!has_secret) {
    return fail("{} has no secret signing key there, only a stub (the secret part is on "
                "a smartcard or was not exported); import the secret key",
                where());
  }
  return {};
}

Status GpgmeSigner::open(const SignerConfig& config)
{
  if (!config.passphrase_file.empty()) {
    auto text = read_passphrase(config.passphrase_file);
    if (!text) {
      return text.error();
    }
    m_passphrase.configured = true;
    m_passphrase.text = std::move(*text);
  }
  TRY(setup_context(config));
  TRY(find_key());
  if (auto error = gpgme_signers_add(m_ctx.get(), m_key.get())) {
    return fail("cannot sign with key {} in {}: {}", m_fingerprint, printable(m_home),
                gpgme_text(error));
  }
  auto probe = detach_sign("buildme: signing check\n");
  if (!probe) {
    return probe.error();
  }
  return {};
}

Error GpgmeSigner::sign_failure(gpgme_error_t error) const
{
  auto where = fmt::format("key {} in {}", m_fingerprint, printable(m_home));
  if (m_passphrase.asked && !m_passphrase.configured) {
    return fail("{} has a passphrase and no passphrase_file is set: put the passphrase in "
                "a file only the repository's user can read and name it as passphrase_file "
                "({})",
                where, gpgme_text(error));
  }
  if (m_passphrase.configured && gpg_err_code(error) == GPG_ERR_BAD_PASSPHRASE) {
    return fail("{}: the passphrase in passphrase_file is wrong ({})", where, gpgme_text(error));
  }
  return fail("cannot sign with {}: {}", where, gpgme_text(error));
}

Result<std::string> GpgmeSigner::sign(std::string_view text, gpgme_sig_mode_t mode)
{
  m_passphrase.asked = false;

  TRY_ASSIGN(Data in, data_from(text, "the text to sign"));
  TRY_ASSIGN(Data out, new_data("a signature"));

  if (auto error = gpgme_op_sign(m_ctx.get(), in.get(), out.get(), mode)) {
    return sign_failure(error);
  }
  gpgme_sign_result_t result = gpgme_op_sign_result(m_ctx.get());
  if (!result || result->invalid_signers || !result->signatures || result->signatures->next) {
    auto reason = result && result->invalid_signers ? gpgme_text(result->invalid_signers->reason)
                                                    : std::string("not exactly one signature made");
    return fail("cannot sign with key {} in {}: {}", m_fingerprint, printable(m_home), reason);
  }
  // apt warns about SHA1 signatures and will refuse them.
  if (auto algo = result->signatures->hash_algo; !strong_digest(algo)) {
    const char* name = gpgme_hash_algo_name(algo);
    return fail("key {} in {} signs with digest {}, which apt rejects as weak; set "
                "personal-digest-preferences SHA512 (and no digest-algo) in {}/gpg.conf",
                m_fingerprint, printable(m_home), name ? name : "unknown", printable(m_home));
  }

  return take_bytes(std::move(out), fmt::format("the signature made with key {}", m_fingerprint));
}

Result<std::string> GpgmeSigner::public_key()
{
  TRY_ASSIGN(Data out, new_data("the public key"));
  // Armor is on for the whole context (see setup_context).
  if (auto error = gpgme_op_export(m_ctx.get(), m_fingerprint.c_str(), 0, out.get())) {
    return fail("cannot export the public key {} from {}: {}", m_fingerprint, printable(m_home),
                gpgme_text(error));
  }
  TRY_ASSIGN(std::string key, take_bytes(std::move(out), "the public key"));
  if (key.find("-----BEGIN PGP PUBLIC KEY BLOCK-----") == std::string::npos) {
    return fail("gpg exported no public key {} from {}", m_fingerprint, printable(m_home));
  }
  return key;
}

// Where gpg keeps its keys, for messages: the configured home or gpg's own
// default.
std::string home_for_messages(const SignerConfig& config)
{
  if (!config.gnupg_home.empty()) {
    return config.gnupg_home;
  }
  const char* home = gpgme_get_dirinfo("homedir");
  return home ? fmt::format("gpg's default home {}", home) : "gpg's default home";
}

} // namespace

Result<std::unique_ptr<Signer>> make_gpgme_signer(const SignerConfig& config)
{
  auto fingerprint = normalise_fingerprint(config.key);
  if (!fingerprint) {
    return fingerprint.error();
  }
  TRY(init_gpgme());
  if (!config.gnupg_home.empty()) {
    std::error_code error;
    if (!std::filesystem::is_directory(config.gnupg_home, error)) {
      return fail("GNUPGHOME {} is not a folder{}; set gnupg_home to the folder holding "
                  "the signing key",
                  printable(config.gnupg_home), error ? ": " + error.message() : std::string());
    }
  }
  auto signer = std::make_unique<GpgmeSigner>(std::move(*fingerprint), home_for_messages(config));
  TRY(signer->open(config));
  return std::unique_ptr<Signer>(std::move(signer));
}

} // namespace buildme::sign
