// Signed uploads: the clear-signed text splitting of lib/debian/deb822.hpp
// and what uses it, verify_upload and refuse_signatures
// (lib/debian/verify.hpp), with a keyring that takes every signature in
// shape as gpg would take a good one (gpg itself is too slow to fuzz, and is
// not ours). The input is an upload's .changes, optionally followed by a
// line "=====" and the .dsc it lists (hello_1.0-1.dsc); an input without
// "Distribution:" is a lone .dsc. The files are written to a scratch folder
// and verified there, beside the two files the seeds' .dsc lists
// (hello_1.0.orig.tar.gz holds "orig\n", hello_1.0-1.debian.tar.xz
// "debian\n"), so that an input can be accepted whole.
#include "debian/verify.hpp"
#include "fuzz.hpp"
#include "util/digest.hpp"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

using namespace buildme;
namespace fs = std::filesystem;

namespace {

// Signatures as a keyring of one key would judge them, the signed text
// being what parse_control found between the armor lines.
struct AnySignature : debian::UploadSignatures
{
  debian::SignatureCheck check(std::string_view file, std::string_view name) const override
  {
    debian::SignatureCheck result;
    auto control = debian::parse_control(file, name);
    if (!control || !control->is_signed) {
      result.refused = control ? std::string(name) + " is not signed" : control.message();
      return result;
    }
    result.signer = debian::Signer{"0123456789ABCDEF0123456789ABCDEF01234567", "Fuzz <f@example>"};
    result.signed_text = control->signed_text;
    result.signature_id =
      *util::digest_bytes(control->signed_text, {false, false, true, false}).sha256;
    return result;
  }
  std::string refuse_source(const debian::Signer& /*signer*/,
                            std::string_view source) const override
  {
    return source.starts_with('z') ? "sources starting with z are refused" : "";
  }
  std::optional<long> job_with_signature(std::string_view id) const override
  {
    return id.starts_with('0') ? std::optional<long>(1) : std::nullopt;
  }
};

fs::path scratch;

void put(const fs::path& file, std::string_view content)
{
  std::ofstream(file, std::ios::binary | std::ios::trunc)
    .write(content.data(), static_cast<std::streamsize>(content.size()));
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/)
{
  scratch = fuzz::scratch_folder();
  put(scratch / "hello_1.0.orig.tar.gz", "orig\n");
  put(scratch / "hello_1.0-1.debian.tar.xz", "debian\n");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const auto text = fuzz::text_of(data, size);
  const bool changes = text.find("Distribution:") != std::string_view::npos;
  const auto split = text.find("\n=====\n");
  const std::string control = changes ? "hello_1.0-1_source.changes" : "hello_1.0-1.dsc";
  put(scratch / control, text.substr(0, split == std::string_view::npos ? split : split + 1));
  if (changes && split != std::string_view::npos) {
    put(scratch / "hello_1.0-1.dsc", text.substr(split + 7));
  }

  const AnySignature signatures;
  const auto now = std::chrono::system_clock::now();
  for (auto grace : {std::chrono::seconds(0), std::chrono::seconds(600)}) {
    debian::VerifyOptions options{now, grace};
    options.signatures = &signatures;
    (void)debian::verify_upload({scratch, control}, options); // must not crash
  }
  (void)debian::verify_upload({scratch, control}, {now, std::chrono::seconds(0)}); // unsigned
  (void)debian::listed_files({scratch, control});
  (void)debian::refuse_signatures(scratch / control, {scratch / "hello_1.0-1.dsc"}, signatures);

  std::error_code ignored;
  fs::remove(scratch / control, ignored);
  fs::remove(scratch / "hello_1.0-1.dsc", ignored);
  return 0;
}
