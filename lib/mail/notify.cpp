#include "mail/notify.hpp"

#include "mail/message.hpp"

#include <fmt/format.h>

namespace buildme::mail {

namespace {

// RFC 3986 unreserved characters stay, everything else is %XX: a value can
// never add a path segment, a query or a fragment to the link.
std::string percent_encode(std::string_view text)
{
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", byte);
    }
  }
  return out;
}

std::string replace_all(std::string text, std::string_view from, std::string_view to)
{
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::string log_link(const config::Mail& config, const Notice& notice)
{
  if (config.log_url.empty() || notice.job == 0) {
    return {};
  }
  std::string url = config.log_url;
  url = replace_all(std::move(url), "%(product)s", percent_encode(notice.product));
  url = replace_all(std::move(url), "%(job)s", std::to_string(notice.job));
  url = replace_all(std::move(url), "%(arch)s", percent_encode(notice.arch));
  return url;
}

std::string subject(const Notice& notice)
{
  const std::string where =
    notice.arch.empty() ? notice.product : notice.product + ", " + notice.arch;
  return fmt::format("[buildme] {} {} {} ({})", notice.verdict, notice.source, notice.version,
                     where);
}

std::string body(const config::Mail& config, const Notice& notice)
{
  std::string out =
    fmt::format("{}: {} {} for {}", notice.verdict, notice.source, notice.version, notice.product);
  if (!notice.arch.empty()) {
    out += " on " + notice.arch;
  }
  out += "\n\n";
  out += fmt::format("Verdict: {}\n", notice.verdict);
  out += fmt::format("Source:  {}\n", notice.source);
  out += fmt::format("Version: {}\n", notice.version);
  out += fmt::format("Product: {}\n", notice.product);
  if (!notice.arch.empty()) {
    out += fmt::format("Arch:    {}\n", notice.arch);
  }
  if (notice.job != 0) {
    out += fmt::format("Job:     {}\n", notice.job);
  }
  if (!notice.reason.empty()) {
    out += fmt::format("Reason:  {}\n", notice.reason);
  }
  if (const auto link = log_link(config, notice); !link.empty()) {
    out += fmt::format("\nFull log: {}\n", link);
  }
  if (!notice.summary.empty()) {
    out += "\nSummary:\n" + notice.summary;
    if (out.back() != '\n') {
      out += '\n';
    }
  }
  out += "\n-- \nbuildme\n";
  return out;
}

bool may_be_throttled(const std::string& verdict)
{
  return verdict == "FAILED" || verdict == "GAVE UP" || verdict == "REJECTED";
}

} // namespace

void notify(const config::Mail& config, Outbox& outbox, const Notice& notice, util::Log& log)
{
  const std::string what = fmt::format("{} {} {}", notice.verdict, notice.source, notice.version);
  const auto from = parse_address(config.from);
  if (!from) {
    log.info(fmt::format("no mail about {}: [mail] from: {}", what, from.message()));
    return;
  }

  Message message;
  message.from = *from;
  message.subject = subject(notice);
  message.body = body(config, notice);
  message.headers = {{"X-Buildme-Verdict", notice.verdict},
                     {"X-Buildme-Source", notice.source},
                     {"X-Buildme-Product", notice.product}};
  if (notice.job != 0) {
    message.headers.emplace_back("X-Buildme-Job", std::to_string(notice.job));
  }

  const auto send_to = [&](const Address& to, std::string_view whom) {
    message.to = {to};
    if (auto queued = outbox.queue(message); !queued) {
      log.info(fmt::format("no mail to {} about {}: {}", whom, what, queued.message()));
    } else {
      log.detail(fmt::format("mail to {} <{}> about {} queued", whom, to.email, what));
    }
  };

  if (auto uploader = parse_address(notice.uploader)) {
    send_to(*uploader, "the uploader");
  } else {
    log.info(fmt::format("cannot mail the uploader about {} ({}); only the list hears", what,
                         uploader.message()));
  }

  if (config.list.empty()) {
    return;
  }
  const auto list = parse_address(config.list);
  if (!list) {
    log.info(fmt::format("no mail to the list about {}: [mail] list: {}", what, list.message()));
    return;
  }
  if (may_be_throttled(notice.verdict)) {
    const std::string key = notice.source + '\n' + notice.verdict + '\n' + notice.reason;
    if (!outbox.list_may_hear(key, config.list_throttle)) {
      log.detail(fmt::format("the list heard of {} ({}) lately; not again", what, notice.reason));
      return;
    }
  }
  send_to(*list, "the list");
}

void notify_list(const config::Mail& config, Outbox& outbox, const std::string& subject,
                 const std::string& body, util::Log& log)
{
  if (config.list.empty()) {
    return;
  }
  const auto from = parse_address(config.from);
  const auto list = parse_address(config.list);
  if (!from || !list) {
    log.info(fmt::format("no mail to the list about {}: [mail] {}", subject,
                         !from ? from.message() : list.message()));
    return;
  }
  Message message;
  message.from = *from;
  message.to = {*list};
  message.subject = "[buildme] " + subject;
  message.body = body + "\n-- \nbuildme\n";
  if (auto queued = outbox.queue(message); !queued) {
    log.info(fmt::format("no mail to the list about {}: {}", subject, queued.message()));
  }
}

} // namespace buildme::mail
