// What buildme tells people, and whom: one mail to the uploader (Changed-By
// of the .changes, else Maintainer of the .dsc) and one to the list, for a
// rejected upload, a built package, a failed build and a build given up
// after max_attempts. The subject names the verdict, source, version,
// product and arch; the body says why, with the failure summary and the log
// link (log_url with %(product)s, %(job)s, %(arch)s filled in, each
// percent-encoded):
//
//   [buildme] REJECTED hello-buildme 1.0-1 (fremantle)
//   [buildme] FAILED hello-buildme 1.0-1 (fremantle, armel)
#pragma once

#include "config/config.hpp"
#include "mail/outbox.hpp"
#include "util/log.hpp"

#include <string>

namespace buildme::mail {

struct Notice
{
  std::string verdict; // "REJECTED", "BUILT", "FAILED", "GAVE UP"
  std::string source;
  std::string version;
  std::string product;
  std::string arch;     // empty for a reject
  long job = 0;         // 0 for a reject
  std::string uploader; // the Changed-By/Maintainer text, untrusted
  std::string reason;   // one line
  std::string summary;  // the last lines of the log, or the .reason text
};

// Queues the mails for `notice` in the outbox, from config.from: always to
// the uploader (when the address parses; when not, that is logged and only
// the list hears), and to the list (when set) unless list_throttle holds
// back a repeat of a failure (FAILED, GAVE UP, REJECTED) of the same source
// with the same verdict and reason; BUILT is never held back. Never fails
// the caller: a problem is logged.
void notify(const config::Mail& config, Outbox& outbox, const Notice& notice, util::Log& log);

// A mail to the list alone about the archive itself (a builder set aside):
// "[buildme] SUBJECT". Never fails the caller: a problem is logged.
void notify_list(const config::Mail& config, Outbox& outbox, const std::string& subject,
                 const std::string& body, util::Log& log);

} // namespace buildme::mail
