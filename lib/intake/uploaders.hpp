// Who may upload to a product (issue 11): the keys of its upload keyrings
// (sign/upload_keyring: a good signature under dak's hygiene rules), the
// sources each may upload (upload_acl, read anew on every run), and no
// signature twice (state_dir/signatures/, written when an upload is
// accepted). Intake, `buildme check` and upload-drop all verify through it,
// so that every door applies the same rules.
#pragma once

#include "config/config.hpp"
#include "config/upload_acl.hpp"
#include "debian/signature.hpp"
#include "jobs/state_dir.hpp"
#include "sign/upload_keyring.hpp"
#include "util/clock.hpp"
#include "util/result.hpp"

#include <map>
#include <memory>
#include <optional>
#include <string>

namespace buildme::intake {

class Uploaders final : public debian::UploadSignatures
{
public:
  Uploaders(std::unique_ptr<sign::UploadKeyring> keyring, std::optional<config::UploadAcl> acl,
            std::string acl_path, jobs::StateDir state, const util::Clock& clock);

  debian::SignatureCheck check(std::string_view file, std::string_view name) const override;
  std::string refuse_source(const debian::Signer& signer, std::string_view source) const override;
  std::optional<long> job_with_signature(std::string_view signature_id) const override;

private:
  std::unique_ptr<sign::UploadKeyring> m_keyring;
  std::optional<config::UploadAcl> m_acl; // none: every key may upload any source
  std::string m_acl_path;
  jobs::StateDir m_state;
  const util::Clock& m_clock;
};

// The product's Uploaders, or null when it has no upload_keyring (uploads
// are taken unsigned). An Error (a keyring missing or holding no key, a
// wrong line in upload_acl with its file:line) means the archive's policy
// cannot be applied: the program stops.
Result<std::unique_ptr<Uploaders>> load_uploaders(const config::Config& config,
                                                  const config::Product& product,
                                                  const util::Clock& clock);

// Every product's, by product name (absent: no upload_keyring).
using UploadersByProduct = std::map<std::string, std::unique_ptr<Uploaders>>;
Result<UploadersByProduct> load_all_uploaders(const config::Config& config,
                                              const util::Clock& clock);

} // namespace buildme::intake
