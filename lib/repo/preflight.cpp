#include "repo/preflight.hpp"

#include "sign/signer.hpp"
#include "util/folder_check.hpp"

#include <fmt/format.h>

namespace buildme::repo {

std::vector<std::string> check_queue_manage(const config::Config& config,
                                            const config::Repository& repository)
{
  std::vector<std::string> faults;
  auto add = [&](std::string fault) {
    if (!fault.empty()) {
      faults.push_back(std::move(fault));
    }
  };
  const std::string owner = fmt::format(" (repository {})", repository.name);
  add(util::folder_fault(repository.staging_dir, "staging_dir", owner, false));
  add(util::folder_fault(config.state_dir / "repo", "state_dir's repo folder", "", false));
  for (const auto& name : repository.products) {
    if (const config::Product* product = config.product(name)) {
      add(util::folder_fault(product->repo_queue, "repo_queue",
                             fmt::format(" (product {})", product->name), false));
    }
  }
  if (!repository.sign_with.empty()) {
    // The same check a run makes before it writes any index: the key is
    // there, may sign, and signs now without a prompt.
    sign::SignerConfig signer;
    signer.gnupg_home = repository.gnupg_home;
    signer.key = repository.sign_with;
    signer.passphrase_file = repository.passphrase_file;
    if (auto made = sign::make_gpgme_signer(signer); !made) {
      add(fmt::format("sign_with{}: {}", owner, made.message()));
    }
  }
  return faults;
}

} // namespace buildme::repo
