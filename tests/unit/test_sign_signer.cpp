#include "sign/signer.hpp"

#include "gpg_home.hpp"
#include "scratch.hpp"
#include "util/process.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace unit_test_sign_signer {

using buildme::sign::make_gpgme_signer;
using buildme::sign::Signer;
using buildme::sign::SignerConfig;
using buildme::test::GpgHome;
using buildme::test::run;
using buildme::test::ScratchDir;
using buildme::util::ProcessResult;
using buildme::util::run_process;

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const std::string release_text = "Origin: buildme\n"
                                 "Label: extras-devel\n"
                                 "Suite: fremantle\n"
                                 "Codename: fremantle\n"
                                 "Date: Mon, 01 Jan 2024 12:00:00 UTC\n"
                                 "Architectures: armel i386\n"
                                 "Components: free non-free\n"
                                 "SHA256:\n"
                                 " 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                                 " 1234 free/binary-armel/Packages\n";

std::unique_ptr<Signer> make_signer(const SignerConfig& config)
{
  auto signer = make_gpgme_signer(config);
  REQUIRE_MESSAGE(signer.ok(), (signer.ok() ? std::string() : signer.message()));
  return std::move(*signer);
}

std::string refusal(const SignerConfig& config)
{
  auto signer = make_gpgme_signer(config);
  REQUIRE_FALSE(signer.ok());
  return signer.message();
}

ProcessResult gpgv(const ScratchDir& scratch, const fs::path& keyring,
                   const std::vector<std::string>& files)
{
  std::vector<std::string> argv{"gpgv", "--homedir", scratch.path().string(), "--keyring",
                                keyring.string()};
  argv.insert(argv.end(), files.begin(), files.end());
  return run(argv);
}

std::string hash_header(const std::string& clearsigned)
{
  auto start = clearsigned.find("\nHash: ");
  REQUIRE(start != std::string::npos);
  start += 7;
  return clearsigned.substr(start, clearsigned.find('\n', start) - start);
}

} // namespace

TEST_CASE("InRelease and Release.gpg made with the configured key pass gpgv")
{
  ScratchDir scratch;
  GpgHome home;
  auto fingerprint = home.generate_key("buildme test <test@example.org>");
  auto signer = make_signer({home.path(), fingerprint, ""});

  auto inrelease = signer->clearsign(release_text);
  REQUIRE_MESSAGE(inrelease.ok(), (inrelease.ok() ? "" : inrelease.message()));
  auto release_gpg = signer->detach_sign(release_text);
  REQUIRE_MESSAGE(release_gpg.ok(), (release_gpg.ok() ? "" : release_gpg.message()));

  CHECK(inrelease->starts_with("-----BEGIN PGP SIGNED MESSAGE-----\n"));
  CHECK(inrelease->find("\n\n" + release_text + "-----BEGIN PGP SIGNATURE-----\n") !=
        std::string::npos);
  auto hash = hash_header(*inrelease);
  CHECK((hash == "SHA256" || hash == "SHA384" || hash == "SHA512"));
  CHECK(release_gpg->starts_with("-----BEGIN PGP SIGNATURE-----\n"));
  CHECK(release_gpg->find(release_text) == std::string::npos);

  auto keyring = home.export_keyring(scratch, fingerprint);
  scratch.write("Release", release_text);
  auto inrelease_file = scratch.write("InRelease", *inrelease);
  auto release_gpg_file = scratch.write("Release.gpg", *release_gpg);

  auto checked = gpgv(scratch, keyring, {inrelease_file.string()});
  CHECK_MESSAGE(checked.exit_code == 0, checked.err);
  checked = gpgv(scratch, keyring, {release_gpg_file.string(), (scratch / "Release").string()});
  CHECK_MESSAGE(checked.exit_code == 0, checked.err);
  CHECK_FALSE(home.prompted());
}

TEST_CASE("the exported public key is armored and verifies the key's own signatures")
{
  ScratchDir scratch;
  GpgHome home;
  auto fingerprint = home.generate_key("buildme test <test@example.org>");
  auto other = home.generate_key("another key <other@example.org>");
  auto signer = make_signer({home.path(), fingerprint, ""});
  auto key = signer->public_key();
  REQUIRE_MESSAGE(key.ok(), (key.ok() ? "" : key.message()));
  CHECK(key->starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----\n"));
  CHECK(key->find("PRIVATE KEY") == std::string::npos);

  // As apt and sbuild take it: dearmored into a keyring of its own.
  auto armored = scratch.write("archive-key.asc", *key);
  const fs::path keyring = scratch / "archive-key.gpg";
  auto dearmored =
    home.gpg({"--batch", "--yes", "-o", keyring.string(), "--dearmor", armored.string()});
  REQUIRE_MESSAGE(dearmored.exit_code == 0, dearmored.err);
  auto inrelease = signer->clearsign(release_text);
  REQUIRE(inrelease.ok());
  auto checked = gpgv(scratch, keyring, {scratch.write("InRelease", *inrelease).string()});
  CHECK_MESSAGE(checked.exit_code == 0, checked.err);
  // Only that key: a signature by the other key in the home does not verify.
  auto by_other = make_signer({home.path(), other, ""})->clearsign(release_text);
  REQUIRE(by_other.ok());
  CHECK(gpgv(scratch, keyring, {scratch.write("Other", *by_other).string()}).exit_code != 0);
}

TEST_CASE("a Release or InRelease changed after signing fails gpgv")
{
  ScratchDir scratch;
  GpgHome home;
  auto fingerprint = home.generate_key("buildme test <test@example.org>");
  auto signer = make_signer({home.path(), fingerprint, ""});
  auto keyring = home.export_keyring(scratch, fingerprint);

  auto inrelease = signer->clearsign(release_text);
  REQUIRE(inrelease.ok());
  std::string tampered = *inrelease;
  auto at = tampered.find("Suite: fremantle");
  REQUIRE(at != std::string::npos);
  tampered.replace(at, 16, "Suite: diablo123");
  auto inrelease_file = scratch.write("InRelease", tampered);
  CHECK(gpgv(scratch, keyring, {inrelease_file.string()}).exit_code != 0);

  auto release_gpg = signer->detach_sign(release_text);
  REQUIRE(release_gpg.ok());
  auto release_gpg_file = scratch.write("Release.gpg", *release_gpg);
  auto release = scratch.write("Release", release_text + "Suite: diablo\n");
  CHECK(gpgv(scratch, keyring, {release_gpg_file.string(), release.string()}).exit_code != 0);
}

TEST_CASE("the fingerprint may be written as gpg prints it: spaced, in any case")
{
  ScratchDir scratch;
  GpgHome home;
  auto fingerprint = home.generate_key("buildme test <test@example.org>");
  std::string spaced;
  for (size_t i = 0; i < fingerprint.size(); i += 4) {
    spaced += (i ? " " : "") + fingerprint.substr(i, 4);
  }
  std::string lower;
  for (char c : spaced) {
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  auto signer = make_signer({home.path(), lower, ""});
  auto signature = signer->detach_sign(release_text);
  REQUIRE(signature.ok());
  scratch.write("Release", release_text);
  auto checked =
    gpgv(scratch, home.export_keyring(scratch, fingerprint),
         {scratch.write("Release.gpg", *signature).string(), (scratch / "Release").string()});
  CHECK_MESSAGE(checked.exit_code == 0, checked.err);
}

TEST_CASE("a short key id or anything but 40 hex digits is refused as the signing key")
{
  GpgHome home;
  auto fingerprint = home.generate_key("buildme test <test@example.org>");
  for (const std::string& key :
       {fingerprint.substr(24), fingerprint.substr(32), "0x" + fingerprint.substr(24),
        fingerprint + "0", "0x" + fingerprint.substr(2), fingerprint.substr(0, 39) + "G",
        std::string("test@example.org"), std::string(), std::string("\x1b[2J")}) {
    CAPTURE(key);
    auto message = refusal({home.path(), key, ""});
    CHECK(message.find("not a full fingerprint") != std::string::npos);
    CHECK(message.find('\x1b') == std::string::npos);
  }
}

TEST_CASE("a key not in the home is refused, naming the key, the home and the import")
{
  GpgHome home;
  home.generate_key("buildme test <test@example.org>");
  const std::string absent = "0123456789ABCDEF0123456789ABCDEF01234567";
  auto message = refusal({home.path(), absent, ""});
  CHECK(message.find("no secret key " + absent) != std::string::npos);
  CHECK(message.find(home.path()) != std::string::npos);
  CHECK(message.find("--import") != std::string::npos);
}

TEST_CASE("a key with only its public part in the home is refused as missing")
{
  ScratchDir scratch;
  GpgHome home;
  GpgHome public_only;
  auto fingerprint = home.generate_key("buildme test <test@example.org>");
  auto keyring = home.export_keyring(scratch, fingerprint);
  REQUIRE(public_only.gpg({"--import", keyring.string()}).exit_code == 0);
  auto message = refusal({public_only.path(), fingerprint, ""});
  CHECK(message.find("no secret key " + fingerprint) != std::string::npos);
}

TEST_CASE("a home that does not exist is refused, naming it")
{
  auto message =
    refusal({"/tmp/buildme-no-such-home", "0123456789ABCDEF0123456789ABCDEF01234567", ""});
  CHECK(message.find("/tmp/buildme-no-such-home") != std::string::npos);
  CHECK(message.find("gnupg_home") != std::string::npos);
}

TEST_CASE("an expired key is refused, saying it expired and how to extend it")
{
  GpgHome home;
  auto fingerprint =
    home.generate_key("old key <old@example.org>", "", "sign", "1d", "20200101T000000");
  auto message = refusal({home.path(), fingerprint, ""});
  CHECK(message.find(fingerprint) != std::string::npos);
  CHECK(message.find("expired") != std::string::npos);
  CHECK(message.find("--quick-set-expire") != std::string::npos);
}

TEST_CASE("a revoked key is refused, saying it is revoked")
{
  GpgHome home;
  auto fingerprint = home.generate_key("revoked key <revoked@example.org>");
  home.import(home.revocation_certificate(fingerprint));

  auto message = refusal({home.path(), fingerprint, ""});
  CHECK(message.find(fingerprint) != std::string::npos);
  CHECK(message.find("revoked") != std::string::npos);
}

TEST_CASE("a key made only to certify is refused: it cannot sign")
{
  GpgHome home;
  auto fingerprint = home.generate_key("certify only <cert@example.org>", "", "cert");
  auto message = refusal({home.path(), fingerprint, ""});
  CHECK(message.find(fingerprint) != std::string::npos);
  CHECK(message.find("cannot sign") != std::string::npos);
}

TEST_CASE("a subkey's fingerprint is refused: the primary key is named")
{
  GpgHome home;
  auto primary = home.generate_key("buildme test <test@example.org>");
  REQUIRE(home
            .gpg({"--passphrase", "", "--pinentry-mode", "loopback", "--quick-add-key", primary,
                  "ed25519", "sign", "never"})
            .exit_code == 0);
  auto all = home.fingerprints(primary);
  REQUIRE(all.size() == 2);
  auto message = refusal({home.path(), all[1], ""});
  CHECK(message.find("subkey of " + primary) != std::string::npos);
}

TEST_CASE("a home whose gpg.conf asks for SHA1 signatures is refused: apt rejects them")
{
  GpgHome home;
  auto fingerprint = home.generate_key("buildme test <test@example.org>");
  home.write("gpg.conf", "digest-algo SHA1\n");
  auto message = refusal({home.path(), fingerprint, ""});
  CHECK(message.find("SHA1") != std::string::npos);
  CHECK(message.find("personal-digest-preferences") != std::string::npos);
}

TEST_CASE("a key with a passphrase signs unattended with passphrase_file")
{
  ScratchDir scratch;
  GpgHome home;
  const std::string passphrase = "correct horse 7Q";
  auto fingerprint = home.generate_key("locked <locked@example.org>", passphrase);
  // Only the first line counts; the rest may be a comment or nothing.
  auto file = scratch.write("passphrase", passphrase + "\nanything after the first line\n");

  auto signer = make_signer({home.path(), fingerprint, file.string()});
  auto inrelease = signer->clearsign(release_text);
  REQUIRE_MESSAGE(inrelease.ok(), (inrelease.ok() ? "" : inrelease.message()));
  auto checked = gpgv(scratch, home.export_keyring(scratch, fingerprint),
                      {scratch.write("InRelease", *inrelease).string()});
  CHECK_MESSAGE(checked.exit_code == 0, checked.err);
  CHECK_FALSE(home.prompted());
}

TEST_CASE("a key with a passphrase and no passphrase_file fails at once, without a prompt")
{
  GpgHome home;
  auto fingerprint = home.generate_key("locked <locked@example.org>", "correct horse 7Q");
  auto start = std::chrono::steady_clock::now();
  auto message = refusal({home.path(), fingerprint, ""});
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK_FALSE(home.prompted());
  CHECK(message.find(fingerprint) != std::string::npos);
  CHECK(message.find("passphrase_file") != std::string::npos);
}

TEST_CASE("a wrong passphrase fails at once, and no message shows a passphrase")
{
  ScratchDir scratch;
  GpgHome home;
  const std::string passphrase = "correct horse 7Q";
  const std::string wrong = "wrong battery 3Z";
  auto fingerprint = home.generate_key("locked <locked@example.org>", passphrase);
  auto file = scratch.write("passphrase", wrong + "\n");

  auto start = std::chrono::steady_clock::now();
  auto message = refusal({home.path(), fingerprint, file.string()});
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK_FALSE(home.prompted());
  CHECK(message.find("passphrase") != std::string::npos);
  CHECK(message.find("wrong") != std::string::npos);
  CHECK(message.find(wrong) == std::string::npos);
  CHECK(message.find(passphrase) == std::string::npos);
}

TEST_CASE("a passphrase_file that cannot be read is refused, naming it")
{
  GpgHome home;
  auto fingerprint = home.generate_key("buildme test <test@example.org>");
  auto message = refusal({home.path(), fingerprint, "/tmp/buildme-no-such-passphrase"});
  CHECK(message.find("/tmp/buildme-no-such-passphrase") != std::string::npos);
}

} // namespace unit_test_sign_signer
