// upload_acl: which source packages each key of the upload keyrings may
// upload, as dak's ACLs limit Debian Maintainers to the packages they were
// granted. One line per key, '#' starts a comment:
//
//   # Jane Doe, the hello team
//   0123456789ABCDEF0123456789ABCDEF01234567  hello hello-* libhello
//   89ABCDEF0123456789ABCDEF0123456789ABCDEF  *
//
// The key's full fingerprint (40 hex digits, any case, no spaces), then the
// source packages it may upload: names or shell globs (fnmatch: '*', '?',
// '[...]'). A key with no line may upload nothing. Any line that is not of
// this shape is an Error naming the file and the line: the file is the
// archive's policy, and a policy half understood is not applied.
#pragma once

#include "util/result.hpp"

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace buildme::config {

class UploadAcl
{
public:
  // The source globs a fingerprint (canonical, as parse_fingerprint gives
  // it) was granted; empty when it has no line.
  const std::vector<std::string>& sources_of(const std::string& fingerprint) const;
  // Whether that key may upload `source`.
  bool allows(const std::string& fingerprint, std::string_view source) const;

  friend Result<UploadAcl> parse_upload_acl(std::string_view text, std::string_view filename);

private:
  std::map<std::string, std::vector<std::string>> m_sources;
};

Result<UploadAcl> parse_upload_acl(std::string_view text, std::string_view filename);
// Reads and parses the file; it must be a regular file of at most 16 MiB.
Result<UploadAcl> load_upload_acl(const std::filesystem::path& path);

} // namespace buildme::config
