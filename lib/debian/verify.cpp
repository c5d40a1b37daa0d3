#include "debian/verify.hpp"

#include "debian/syntax.hpp"
#include "util/digest.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>
#include <set>

namespace buildme::debian {

namespace {

using util::join;

constexpr std::uint64_t max_control_size = 16 * 1024 * 1024;

// The fields that list an upload's files, one "... NAME" line each.
constexpr std::array<std::string_view, 4> list_fields = {"Files", "Checksums-Sha1",
                                                         "Checksums-Sha256", "Checksums-Sha512"};

// The names a list field gives, read leniently: the last word of each line
// of three words (DIGEST SIZE NAME) or five (.changes Files: MD5 SIZE
// SECTION PRIORITY NAME). Nullopt when a line has another shape: a whole
// line that no later byte can mend.
std::optional<std::vector<std::string_view>> last_words(const debian::Field& field)
{
  std::vector<std::string_view> names;
  for (auto line : util::split(field.value, "\n")) {
    auto words = util::split(line);
    if (words.size() != 3 && words.size() != 5) {
      return std::nullopt;
    }
    names.push_back(words.back());
  }
  return names;
}

// Whether a control file that does not parse may be one cut short by a
// transfer still under way, so that more bytes could make it valid: it ends
// mid-line, its OpenPGP armor is still open, it lacks the Files list that
// tools write last, or it ends in a file list that may go on. A listed name
// that is not a plain file name, a signed text that is whole, bad syntax:
// wrong for good, rejected at once. The grace period is for what is missing.
bool may_be_cut_short(std::string_view text)
{
  if (text.empty() || text.back() != '\n') {
    return true;
  }
  if (text.find("-----BEGIN PGP SIGNED MESSAGE-----") != std::string_view::npos) {
    return text.find("-----END PGP SIGNATURE-----") == std::string_view::npos;
  }
  auto control = debian::parse_control(text, "");
  if (!control || control->paragraphs.empty()) {
    return false;
  }
  const auto& paragraph = control->paragraphs.front();
  if (!paragraph.find("Files")) {
    return true;
  }
  for (auto name : list_fields) {
    if (const debian::Field* field = paragraph.find(name)) {
      auto listed = last_words(*field);
      if (!listed) {
        return false;
      }
      for (auto file : *listed) {
        if (!debian::check_file_name(file)) {
          return false;
        }
      }
    }
  }
  const auto& last = paragraph.fields.back().name;
  return std::any_of(list_fields.begin(), list_fields.end(), [&](std::string_view name) {
    return util::to_lower(name) == util::to_lower(last);
  });
}

// The names a control file's Files field lists, read leniently from a file
// that does not parse as a whole: line by line, so that a file broken
// anywhere around its list (cut short, text outside its signature) still
// says which files are its own. Only plain file names in the folder.
std::vector<std::string> names_in_files_field(std::string_view text)
{
  std::vector<std::string> names;
  bool in_files = false;
  for (auto line : util::split(text, "\n")) {
    if (line.starts_with(' ') || line.starts_with('\t')) {
      auto words = util::split(line);
      if (in_files && words.size() >= 3 && debian::check_file_name(words.back())) {
        names.emplace_back(words.back());
      }
      continue;
    }
    in_files = util::to_lower(line.substr(0, 6)) == "files:";
  }
  return names;
}

// Whether more bytes could still make `text` a whole clear-signed file: it
// is the start of the armor line, or its signature is not closed yet.
// Anything else can never become signed: armor must start the file.
bool may_still_be_signing(std::string_view text)
{
  constexpr std::string_view begin = "-----BEGIN PGP SIGNED MESSAGE-----";
  text.remove_prefix(std::min(text.find_first_not_of(" \t\r\n"), text.size()));
  if (text.size() < begin.size()) {
    return begin.starts_with(text);
  }
  return text.starts_with(begin) &&
         text.find("\n-----END PGP SIGNATURE-----") == std::string_view::npos;
}

// Whether `text` is a clear-signed control file. One whose armor is broken
// is not: parsing it then says what is wrong.
bool is_clear_signed(std::string_view text)
{
  auto control = debian::parse_control(text, "");
  return control && control->is_signed;
}

enum class SignedFile
{
  control,       // the .changes, or a lone .dsc: the upload's own signature
  dsc_of_changes // a signed .dsc that a .changes lists
};

// The rules that need the parsed source: the signer may upload it, and the
// upload's own signature was not used by another accepted upload (than
// `job`, whose files are verified again) before. Empty when both hold.
std::string refuse_signed(const UploadSignatures& signatures, const SignatureCheck& check,
                          std::string_view source, SignedFile file, long job = 0)
{
  if (!check.signer) {
    return "the signature names no signer"; // a checker that breaks its contract
  }
  if (auto why = signatures.refuse_source(*check.signer, source); !why.empty()) {
    return why;
  }
  if (file == SignedFile::dsc_of_changes) {
    return {};
  }
  const auto used = signatures.job_with_signature(check.signature_id);
  if (!used || *used == job) {
    return {};
  }
  return fmt::format("this signature by key {} was used before, by the upload accepted as job "
                     "{}; a signature is good for one upload (rule: no replays): sign a new "
                     "upload",
                     check.signer->fingerprint, *used);
}

// A .dsc that a .changes lists, from its text. With a keyring, a signed one
// must pass the keyring's rules and be signed by a key that may upload its
// source (what was found goes to `check`); an unsigned one is covered by the
// digests the .changes lists.
Result<Dsc> parse_listed_dsc(std::string_view text, std::string_view name,
                             const UploadSignatures* signatures,
                             std::optional<SignatureCheck>& check)
{
  if (!signatures || !is_clear_signed(text)) {
    return Dsc::parse(text, name);
  }
  check = signatures->check(text, name);
  if (!check->refused.empty()) {
    return Error{check->refused};
  }
  TRY_ASSIGN(auto dsc, Dsc::parse(check->signed_text, name));
  if (auto why = refuse_signed(*signatures, *check, dsc.source, SignedFile::dsc_of_changes);
      !why.empty()) {
    return Error{why};
  }
  return dsc;
}

long long seconds_between(util::Clock::time_point from, util::Clock::time_point to)
{
  return std::chrono::duration_cast<std::chrono::seconds>(to - from).count();
}

// One listing of a file: which control file lists it, and what it says.
struct Expectation
{
  std::string listed_in;
  const debian::ListedFile* entry;
};

// The verification in progress: every file the upload names, with what the
// listings expect of it.
class Verifier
{
public:
  Verifier(const Upload& upload, const VerifyOptions& options, Verification& result)
    : m_upload(upload), m_options(options), m_result(result)
  {
  }

  Verification& run();

private:
  Verification& decide(Verdict verdict, std::string reason)
  {
    m_result.last_change = m_newest;
    m_result.verdict = verdict;
    m_result.reason = std::move(reason);
    return m_result;
  }
  Verification& reject(std::string reason) { return decide(Verdict::rejected, std::move(reason)); }

  bool young() const
  {
    return m_options.grace_period.count() > 0 && m_options.now - m_newest < m_options.grace_period;
  }

  // When a file last changed. The mtime, which tests and `touch -d` set; but
  // an mtime in the future (scp -p from a host whose clock runs ahead) would
  // keep an incomplete upload waiting for ever, so then this machine's ctime.
  util::Clock::time_point changed_at(const util::FileInfo& file) const
  {
    return file.mtime <= m_options.now ? file.mtime : file.ctime;
  }

  // Remembers what `listed_in` says of each of `files`.
  void expect(const std::string& listed_in, const std::vector<debian::ListedFile>& files)
  {
    for (const auto& file : files) {
      if (m_expected.find(file.name) == m_expected.end()) {
        m_order.push_back(file.name);
      }
      m_expected[file.name].push_back({listed_in, &file});
    }
  }

  // lstat of every expected file; records missing and short ones, returns a
  // reason to reject at once (symlink, not a file, too big) or nothing.
  std::optional<std::string> stat_files();
  // Checks every expected file, or only `only` when given.
  std::optional<std::string> check_digests(const std::string& only = {});
  // What VerifyOptions::known_digests says of a file of `size` bytes that
  // stat found at that size; Error when it says nothing usable.
  Result<util::Digests> known_digests(const std::string& name, std::uint64_t size) const;
  Result<debian::Dsc> read_dsc(const std::string& name);
  // With a keyring: empty when the control file's signer may upload
  // `source` and its signature is new; else why not.
  std::string refuse_own_signature(std::string_view source) const
  {
    return m_options.signatures ? refuse_signed(*m_options.signatures, *m_result.signature, source,
                                                SignedFile::control, m_options.job)
                                : std::string();
  }

  const Upload& m_upload;
  const VerifyOptions& m_options;
  Verification& m_result;
  util::Clock::time_point m_newest;
  std::map<std::string, std::vector<Expectation>> m_expected;
  std::vector<std::string> m_order; // names in listing order
  std::set<std::string> m_statted;
  std::vector<std::string> m_missing;
  std::vector<std::string> m_short;
};

std::optional<std::string> Verifier::stat_files()
{
  for (const auto& name : m_order) {
    if (m_statted.count(name)) {
      continue;
    }
    m_statted.insert(name);
    if (name == m_upload.control) {
      continue;
    }
    const auto& expectation = m_expected.at(name).front();
    auto info = util::stat_no_follow(m_upload.dir / name);
    if (!info) {
      return info.message();
    }
    if (!*info) {
      m_missing.push_back(name);
      continue;
    }
    const util::FileInfo& file = **info;
    if (file.type == util::FileInfo::Type::symlink) {
      return fmt::format("{} is a symbolic link; upload the file itself", name);
    }
    if (file.type != util::FileInfo::Type::regular) {
      return fmt::format("{} is not a regular file", name);
    }
    m_newest = std::max(m_newest, changed_at(file));
    m_result.files[name] = file;
    for (const auto& [listed_in, entry] : m_expected.at(name)) {
      if (file.size > entry->size) {
        return fmt::format("{} is {} bytes but {} lists {} bytes", name, file.size, listed_in,
                           entry->size);
      }
    }
    if (file.size < expectation.entry->size) {
      m_short.push_back(name);
    }
  }
  return std::nullopt;
}

std::optional<std::string> Verifier::check_digests(const std::string& only)
{
  for (const auto& name : m_order) {
    if (name == m_upload.control || (!only.empty() && name != only)) {
      continue;
    }
    const auto& expectations = m_expected.at(name);
    const std::uint64_t size = expectations.front().entry->size;
    Result<util::Digests> digests = known_digests(name, size);
    if (!digests) {
      // Every digest in the one pass, listed or not: the repository's
      // indices need all four, and a file is read once on its way to the
      // pool.
      auto handle = util::open_regular_file(m_upload.dir / name);
      if (!handle) {
        return handle.message();
      }
      digests = util::digest_fd(handle->fd(), util::DigestSet::all(), size);
      if (!digests) {
        return fmt::format("{}: {}", name, digests.message());
      }
    }
    if (digests->size != size) {
      return fmt::format("{} changed size while it was read ({} bytes, {} lists {})", name,
                         digests->size, expectations.front().listed_in, size);
    }
    for (const auto& [listed_in, entry] : expectations) {
      if (entry->size != digests->size) {
        return fmt::format("{} is {} bytes but {} lists {} bytes", name, digests->size, listed_in,
                           entry->size);
      }
      for (auto kind : util::all_digest_kinds) {
        const auto& listed = entry->digests[kind];
        if (listed && *listed != *(*digests)[kind]) {
          return fmt::format("{} checksum of {} is {} but {} lists {}", util::digest_name(kind),
                             name, *(*digests)[kind], listed_in, *listed);
        }
      }
    }
    m_result.digests[name] = std::move(*digests);
  }
  return std::nullopt;
}

Result<util::Digests> Verifier::known_digests(const std::string& name, std::uint64_t size) const
{
  if (!m_options.known_digests) {
    return fail("none known");
  }
  auto known = m_options.known_digests->find(name);
  auto present = m_result.files.find(name);
  if (known == m_options.known_digests->end() || present == m_result.files.end() ||
      known->second.size != size || present->second.size != size || !known->second.md5 ||
      !known->second.sha1 || !known->second.sha256 || !known->second.sha512) {
    return fail("not known for this file");
  }
  return known->second;
}

Result<debian::Dsc> Verifier::read_dsc(const std::string& name)
{
  auto text = util::read_file(m_upload.dir / name, max_control_size);
  if (!text) {
    return Error{text.error()};
  }
  return parse_listed_dsc(*text, name, m_options.signatures, m_result.dsc_signature);
}

Verification& Verifier::run()
{
  const std::string& control = m_upload.control;
  if (auto valid = debian::check_file_name(control); !valid) {
    return reject(valid.message());
  }
  auto info = util::stat_no_follow(m_upload.control_path());
  if (!info) {
    return reject(info.message());
  }
  if (!*info) {
    return decide(Verdict::waiting, fmt::format("{} is gone", control));
  }
  m_result.control_info = **info;
  if ((*info)->type == util::FileInfo::Type::symlink) {
    return reject(fmt::format("{} is a symbolic link; upload the file itself", control));
  }
  if ((*info)->type != util::FileInfo::Type::regular) {
    return reject(fmt::format("{} is not a regular file", control));
  }
  m_newest = changed_at(**info);

  auto text = util::read_file(m_upload.control_path(), max_control_size);
  if (!text) {
    return reject(text.message());
  }

  // With a keyring, only what the signature covers is read.
  std::string_view fields = *text;
  if (m_options.signatures) {
    m_result.signature = m_options.signatures->check(*text, control);
    const SignatureCheck& signature = *m_result.signature;
    if (!signature.refused.empty()) {
      if (young() && may_still_be_signing(*text)) {
        return decide(Verdict::waiting, fmt::format("cannot check its signature yet (still "
                                                    "arriving?): {}",
                                                    signature.refused));
      }
      return reject(signature.refused);
    }
    fields = signature.signed_text;
  }

  // The control file itself: a .changes names a .dsc; a lone .dsc is its own.
  if (m_upload.is_changes()) {
    auto changes = debian::Changes::parse(fields, control);
    if (!changes) {
      if (young() && may_be_cut_short(*text)) {
        return decide(Verdict::waiting,
                      fmt::format("cannot read it yet (still arriving?): {}", changes.message()));
      }
      return reject(changes.message());
    }
    m_result.changes = std::move(*changes);
    if (auto why = refuse_own_signature(m_result.changes->source); !why.empty()) {
      return reject(why);
    }
    std::vector<std::string> dscs, binaries;
    for (const auto& file : m_result.changes->files) {
      if (file.name.ends_with(".dsc")) {
        dscs.push_back(file.name);
      } else if (debian::binary_kind(file.name)) {
        binaries.push_back(file.name);
      }
    }
    if (!binaries.empty()) {
      return reject(fmt::format(
        "{} includes binary packages ({}); buildme builds from source: upload a source-only "
        ".changes (dpkg-buildpackage -S)",
        control, join(binaries, ", ")));
    }
    if (dscs.size() != 1) {
      return reject(fmt::format("{} lists {} .dsc files; a source upload lists exactly one",
                                control, dscs.size()));
    }
    m_result.dsc_name = dscs.front();
    expect(control, m_result.changes->files);
  } else {
    auto dsc = debian::Dsc::parse(fields, control);
    if (!dsc) {
      if (young() && may_be_cut_short(*text)) {
        return decide(Verdict::waiting,
                      fmt::format("cannot read it yet (still arriving?): {}", dsc.message()));
      }
      return reject(dsc.message());
    }
    m_result.dsc = std::move(*dsc);
    if (auto why = refuse_own_signature(m_result.dsc->source); !why.empty()) {
      return reject(why);
    }
    m_result.dsc_name = control;
    expect(control, m_result.dsc->files);
  }

  if (auto problem = stat_files()) {
    return reject(*problem);
  }

  // A .changes upload: once its .dsc is whole, the .dsc's own files join.
  if (m_upload.is_changes()) {
    const bool dsc_whole =
      std::find(m_missing.begin(), m_missing.end(), m_result.dsc_name) == m_missing.end() &&
      std::find(m_short.begin(), m_short.end(), m_result.dsc_name) == m_short.end();
    if (dsc_whole) {
      auto dsc = read_dsc(m_result.dsc_name);
      if (!dsc) {
        // A digest mismatch explains a broken .dsc better than its syntax.
        if (auto problem = check_digests(m_result.dsc_name)) {
          return reject(*problem);
        }
        return reject(dsc.message());
      }
      m_result.dsc = std::move(*dsc);
      expect(m_result.dsc_name, m_result.dsc->files);
      if (auto problem = stat_files()) {
        return reject(*problem);
      }
    }
  }

  if (!m_missing.empty() || !m_short.empty()) {
    std::vector<std::string> incomplete = m_missing;
    for (const auto& name : m_short) {
      incomplete.push_back(name + " (incomplete)");
    }
    const long long age = seconds_between(m_newest, m_options.now);
    if (young()) {
      return decide(Verdict::waiting,
                    fmt::format("waiting for {} (last file arrived {} s ago, grace period {} s)",
                                join(incomplete, ", "), std::max(age, 0LL),
                                m_options.grace_period.count()));
    }
    if (!m_missing.empty()) {
      return reject(fmt::format(
        "{} {} missing (listed in {}{})", join(m_missing, ", "),
        m_missing.size() == 1 ? "is" : "are", m_expected.at(m_missing.front()).front().listed_in,
        m_options.grace_period.count() > 0 ? fmt::format("; waited {} s, the grace period is {} s",
                                                         age, m_options.grace_period.count())
                                           : ""));
    }
    const auto& name = m_short.front();
    const auto& expectation = m_expected.at(name).front();
    return reject(fmt::format("{} is {} bytes but {} lists {} bytes", name,
                              m_result.files.at(name).size, expectation.listed_in,
                              expectation.entry->size));
  }

  if (auto problem = check_digests()) {
    return reject(*problem);
  }

  if (m_result.changes) {
    const auto& changes = *m_result.changes;
    const auto& dsc = *m_result.dsc;
    if (changes.source != dsc.source) {
      return reject(fmt::format("{} is for source {} but {} is for {}", control, changes.source,
                                m_result.dsc_name, dsc.source));
    }
    if (debian::compare(changes.version, dsc.version) != 0) {
      return reject(fmt::format("{} is for version {} but {} is version {}", control,
                                changes.version.to_string(), m_result.dsc_name,
                                dsc.version.to_string()));
    }
  }
  return decide(Verdict::accepted, fmt::format("{} {}: {} files verified", m_result.source(),
                                               m_result.version(), m_result.files.size() + 1));
}

} // namespace

std::string_view verdict_label(Verdict verdict)
{
  switch (verdict) {
  case Verdict::accepted:
    return "ACCEPTED";
  case Verdict::waiting:
    return "WAITING";
  case Verdict::rejected:
    break;
  }
  return "REJECTED";
}

bool Upload::is_changes() const
{
  return control.ends_with(".changes");
}

std::string Verification::source() const
{
  return dsc ? dsc->source : changes ? changes->source : std::string();
}

std::string Verification::version() const
{
  return dsc ? dsc->version.to_string() : changes ? changes->version.to_string() : std::string();
}

std::string Verification::uploader() const
{
  if (signature) {
    return signature->signer ? signature->signer->user_id : std::string();
  }
  if (changes) {
    return changes->changed_by.empty() ? changes->maintainer : changes->changed_by;
  }
  return dsc ? dsc->maintainer : std::string();
}

std::vector<std::string> Verification::architectures() const
{
  return dsc ? dsc->architectures : std::vector<std::string>();
}

std::vector<std::string> listed_files(const Upload& upload)
{
  std::vector<std::string> names;
  auto text = util::read_file(upload.control_path(), max_control_size);
  if (!text) {
    return names;
  }
  std::string dsc_name;
  if (upload.is_changes()) {
    auto changes = debian::Changes::parse(*text, upload.control);
    // A .changes wrong in one entry still says which files it lists, so
    // that its .dsc goes with it and is never taken as an upload of its own.
    for (auto& name : changes ? std::vector<std::string>() : names_in_files_field(*text)) {
      if (name.ends_with(".dsc")) {
        dsc_name = name;
      }
      names.push_back(std::move(name));
    }
    for (const auto& file : changes ? changes->files : std::vector<debian::ListedFile>()) {
      names.push_back(file.name);
      if (file.name.ends_with(".dsc")) {
        dsc_name = file.name;
      }
    }
    if (dsc_name.empty()) {
      return names;
    }
    text = util::read_file(upload.dir / dsc_name, max_control_size);
    if (!text) {
      return names;
    }
  } else {
    dsc_name = upload.control;
  }
  auto dsc = debian::Dsc::parse(*text, dsc_name);
  if (dsc) {
    for (const auto& file : dsc->files) {
      names.push_back(file.name);
    }
  }
  return names;
}

} // namespace buildme::debian

namespace buildme::debian {

Verification verify_upload(const Upload& upload, const VerifyOptions& options)
{
  Verification result;
  Verifier(upload, options, result).run();
  return result;
}

std::string refuse_signatures(const std::filesystem::path& control,
                              const std::vector<std::filesystem::path>& files,
                              const UploadSignatures& signatures)
{
  const std::string name = control.filename().string();
  auto text = util::read_file(control, max_control_size);
  if (!text) {
    return text.message();
  }
  const SignatureCheck check = signatures.check(*text, name);
  if (!check.refused.empty()) {
    return check.refused;
  }
  std::string source, dsc_name;
  if (name.ends_with(".changes")) {
    auto changes = Changes::parse(check.signed_text, name);
    if (!changes) {
      return changes.message();
    }
    source = changes->source;
    for (const auto& file : changes->files) {
      dsc_name = file.name.ends_with(".dsc") ? file.name : dsc_name;
    }
  } else {
    auto dsc = Dsc::parse(check.signed_text, name);
    if (!dsc) {
      return dsc.message();
    }
    source = dsc->source;
  }
  if (auto why = refuse_signed(signatures, check, source, SignedFile::control); !why.empty()) {
    return why;
  }
  for (const auto& file : files) {
    if (dsc_name.empty() || file.filename() != dsc_name) {
      continue;
    }
    auto dsc_text = util::read_file(file, max_control_size);
    if (!dsc_text) {
      return dsc_text.message();
    }
    std::optional<SignatureCheck> dsc_check;
    if (auto dsc = parse_listed_dsc(*dsc_text, dsc_name, &signatures, dsc_check); !dsc) {
      return dsc.message();
    }
  }
  return {};
}

} // namespace buildme::debian
