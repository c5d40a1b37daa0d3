#include "intake/uploaders.hpp"

#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

namespace buildme::intake {

Uploaders::Uploaders(std::unique_ptr<sign::UploadKeyring> keyring,
                     std::optional<config::UploadAcl> acl, std::string acl_path,
                     jobs::StateDir state, const util::Clock& clock)
  : m_keyring(std::move(keyring)), m_acl(std::move(acl)), m_acl_path(std::move(acl_path)),
    m_state(std::move(state)), m_clock(clock)
{
}

debian::SignatureCheck Uploaders::check(std::string_view file, std::string_view name) const
{
  return m_keyring->check(file, name, m_clock.now());
}

std::string Uploaders::refuse_source(const debian::Signer& signer, std::string_view source) const
{
  if (!m_acl || m_acl->allows(signer.fingerprint, source)) {
    return {};
  }
  const auto& granted = m_acl->sources_of(signer.fingerprint);
  return fmt::format("key {} ({}) may not upload source {}: upload_acl {} {} (rule: "
                     "upload_acl)",
                     signer.fingerprint, util::printable(signer.user_id), util::printable(source),
                     m_acl_path,
                     granted.empty() ? "has no line for it, so it may upload nothing"
                                     : "grants it only " + util::join(granted, " "));
}

std::optional<long> Uploaders::job_with_signature(std::string_view signature_id) const
{
  return m_state.signature_used(signature_id);
}

Result<std::unique_ptr<Uploaders>> load_uploaders(const config::Config& config,
                                                  const config::Product& product,
                                                  const util::Clock& clock)
{
  if (product.upload_keyrings.empty()) {
    return std::unique_ptr<Uploaders>();
  }
  std::optional<config::UploadAcl> acl;
  if (!product.upload_acl.empty()) {
    TRY_ASSIGN(acl, config::load_upload_acl(product.upload_acl));
  }
  sign::UploadKeyringConfig keyring_config{product.upload_keyrings, product.signature_max_age,
                                           config.state_dir / "upload-keyrings"};
  auto keyring = sign::open_upload_keyring(keyring_config);
  if (!keyring) {
    return fail("product {}: {}", product.name, keyring.message());
  }
  return std::make_unique<Uploaders>(std::move(*keyring), std::move(acl),
                                     product.upload_acl.string(), jobs::StateDir(config.state_dir),
                                     clock);
}

Result<UploadersByProduct> load_all_uploaders(const config::Config& config,
                                              const util::Clock& clock)
{
  UploadersByProduct all;
  for (const auto& product : config.products) {
    TRY_ASSIGN(auto uploaders, load_uploaders(config, product, clock));
    if (uploaders) {
      all.emplace(product.name, std::move(uploaders));
    }
  }
  return all;
}

} // namespace buildme::intake
