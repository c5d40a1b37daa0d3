#include "config/upload_acl.hpp"

#include "config/config.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <fnmatch.h>

#include <algorithm>

namespace buildme::config {

namespace {

// What a source glob may hold: the characters of source package names
// (Debian Policy 5.6.1) and fnmatch's '*', '?' and '[...]' ('!' negates a
// bracket). Anything else (a '/', a backslash, a quote) is a mistake.
bool is_source_glob(std::string_view glob)
{
  int depth = 0;
  for (char c : glob) {
    const bool name_char =
      (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    if (c == '[') {
      if (depth++ > 0) {
        return false;
      }
    } else if (c == ']') {
      if (depth-- == 0) {
        return false;
      }
    } else if (!name_char && c != '*' && c != '?' && !(c == '!' && depth > 0)) {
      return false;
    }
  }
  return depth == 0 && !glob.empty();
}

} // namespace

const std::vector<std::string>& UploadAcl::sources_of(const std::string& fingerprint) const
{
  static const std::vector<std::string> none;
  auto found = m_sources.find(fingerprint);
  return found == m_sources.end() ? none : found->second;
}

bool UploadAcl::allows(const std::string& fingerprint, std::string_view source) const
{
  const std::string name(source);
  const auto& globs = sources_of(fingerprint);
  return std::any_of(globs.begin(), globs.end(), [&](const std::string& glob) {
    return ::fnmatch(glob.c_str(), name.c_str(), 0) == 0;
  });
}

Result<UploadAcl> parse_upload_acl(std::string_view text, std::string_view filename)
{
  const std::string file = util::printable(filename);
  if (text.find('\0') != std::string_view::npos) {
    return fail("{}: a NUL byte: this is not an upload_acl text file", file);
  }
  UploadAcl acl;
  std::map<std::string, int> first_line;
  int number = 0;
  for (std::size_t start = 0; start < text.size();) {
    auto end = std::min(text.find('\n', start), text.size());
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++number;
    line = line.substr(0, line.find('#'));
    const auto words = util::split(line);
    if (words.empty()) {
      continue;
    }
    auto fingerprint = parse_fingerprint(words.front());
    if (!fingerprint) {
      return fail("{}:{}: '{}' is not a key's full fingerprint (40 hex digits, as gpg "
                  "--with-colons --fingerprint shows them, without spaces)",
                  file, number, util::printable(words.front().substr(0, 80)));
    }
    if (words.size() == 1) {
      return fail("{}:{}: key {} is given no source package; list the sources it may upload "
                  "after the fingerprint ('*' for any), or remove the line",
                  file, number, *fingerprint);
    }
    if (auto [at, added] = first_line.emplace(*fingerprint, number); !added) {
      return fail("{}:{}: key {} has a line already (line {}); give each key one line", file,
                  number, *fingerprint, at->second);
    }
    auto& globs = acl.m_sources[*fingerprint];
    for (std::size_t i = 1; i < words.size(); ++i) {
      if (!is_source_glob(words[i])) {
        return fail("{}:{}: '{}' is not a source package name or glob (lower-case letters, "
                    "digits, '+', '-', '.', and '*', '?', '[...]')",
                    file, number, util::printable(words[i].substr(0, 80)));
      }
      globs.emplace_back(words[i]);
    }
  }
  return acl;
}

Result<UploadAcl> load_upload_acl(const std::filesystem::path& path)
{
  auto info = util::stat_no_follow(path);
  if (!info) {
    return Error{info.error()};
  }
  if (!*info || (*info)->type != util::FileInfo::Type::regular) {
    return fail("upload_acl {} is {}; it must be a file listing the keys that may upload",
                path.string(), !*info ? "missing" : "not a regular file");
  }
  TRY_ASSIGN(const std::string text, util::read_file(path, 16 * 1024 * 1024));
  return parse_upload_acl(text, path.string());
}

} // namespace buildme::config
