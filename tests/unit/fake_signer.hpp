// A Signer that makes no real signature: InRelease is the text inside an
// armor of the right shape, Release.gpg a marker holding the text's size.
// A test can make it fail, to see what a failed signature leaves.
#pragma once

#include "sign/signer.hpp"

#include <fmt/format.h>

#include <string>

namespace buildme::test {

class FakeSigner : public sign::Signer
{
public:
  Result<std::string> clearsign(std::string_view text) override
  {
    ++calls;
    if (!failure.empty()) {
      return fail("{}", failure);
    }
    return fmt::format("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n{}"
                       "-----BEGIN PGP SIGNATURE-----\n\nfake\n-----END PGP SIGNATURE-----\n",
                       text);
  }
  Result<std::string> detach_sign(std::string_view text) override
  {
    ++calls;
    if (!failure.empty()) {
      return fail("{}", failure);
    }
    return fmt::format("-----BEGIN PGP SIGNATURE-----\n\nfake {}\n-----END PGP SIGNATURE-----\n",
                       text.size());
  }

  Result<std::string> public_key() override
  {
    if (!failure.empty()) {
      return fail("{}", failure);
    }
    return std::string("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nfake\n"
                       "-----END PGP PUBLIC KEY BLOCK-----\n");
  }

  std::string failure; // when set, every signature fails with it
  int calls = 0;
};

} // namespace buildme::test
