#include "mail/smtp.hpp"

#include "mail/message.hpp"
#include "util/fs.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <mutex>

namespace buildme::mail {

namespace {

// The URL as messages show it: without a user:password@ an administrator
// may have written into it.
std::string url_for_messages(const std::string& url)
{
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    return util::printable(url);
  }
  const auto host_start = scheme_end + 3;
  const auto host_end = url.find('/', host_start);
  const auto at = url.rfind('@', host_end == std::string::npos ? url.size() : host_end);
  if (at == std::string::npos || at < host_start) {
    return util::printable(url);
  }
  return util::printable(url.substr(0, host_start) + url.substr(at + 1));
}

struct Upload
{
  const std::string& text;
  std::size_t offset = 0;
};

std::size_t read_upload(char* buffer, std::size_t size, std::size_t count, void* user)
{
  auto& upload = *static_cast<Upload*>(user);
  const std::size_t n = std::min(size * count, upload.text.size() - upload.offset);
  std::memcpy(buffer, upload.text.data() + upload.offset, n);
  upload.offset += n;
  return n;
}

struct EasyHandle
{
  CURL* curl = curl_easy_init();
  curl_slist* recipients = nullptr;
  ~EasyHandle()
  {
    curl_slist_free_all(recipients);
    curl_easy_cleanup(curl);
  }
};

class SmtpMailer : public Mailer
{
public:
  SmtpMailer(config::Mail config, std::string password)
    : m_config(std::move(config)), m_password(std::move(password))
  {
  }

  SendResult send(const std::string& envelope_from, const std::vector<std::string>& recipients,
                  const std::string& rendered) override
  {
    const std::string server = url_for_messages(m_config.smtp_url);
    // Checked here too: these go into SMTP commands verbatim.
    for (const auto& address : recipients) {
      if (!valid_email(address)) {
        return {SendResult::Outcome::refused,
                fmt::format("not sent through {}: '{}' is not a plain mail address", server,
                            util::printable(address))};
      }
    }
    if (!valid_email(envelope_from) || recipients.empty()) {
      return {SendResult::Outcome::refused,
              fmt::format("not sent through {}: sender '{}' is not a plain mail address or "
                          "there is no recipient",
                          server, util::printable(envelope_from))};
    }

    EasyHandle handle;
    if (!handle.curl) {
      return {SendResult::Outcome::unavailable, "libcurl could not make a handle (out of memory?)"};
    }
    CURL* curl = handle.curl;
    for (const auto& address : recipients) {
      handle.recipients = curl_slist_append(handle.recipients, ("<" + address + ">").c_str());
    }
    const std::string from = "<" + envelope_from + ">";
    Upload upload{rendered};
    char error_buffer[CURL_ERROR_SIZE] = "";

    set_session(curl, error_buffer);
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, handle.recipients);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_upload);
    curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(rendered.size()));

    const CURLcode code = curl_easy_perform(curl);
    if (code == CURLE_OK) {
      return {};
    }
    long reply = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply);
    std::string why = explain(code, reply, error_buffer);
    // Only a reply to the recipient ("RCPT failed: 550") or to the text (the
    // reply after DATA, which libcurl reports with no message of its own)
    // refuses this one message. A refused sender (MAIL FROM: "530
    // authentication required"), a refused greeting ("554 no service") and
    // anything else (no server, TLS, login) refuse every message alike: that
    // is the server's state or the configuration.
    const std::string_view said(error_buffer);
    const bool about_this_message =
      reply >= 400 && ((code == CURLE_SEND_ERROR && said.starts_with("RCPT failed")) ||
                       (code == CURLE_WEIRD_SERVER_REPLY && said.empty()));
    const auto outcome = !about_this_message ? SendResult::Outcome::unavailable
                         : reply >= 500      ? SendResult::Outcome::undeliverable
                                             : SendResult::Outcome::refused;
    return {outcome, fmt::format("not sent through {}: {}", server, why)};
  }

  Status check() override
  {
    // The session up to where a message would begin: connection, greeting,
    // EHLO, STARTTLS with the certificate checked, and AUTH.
    EasyHandle handle;
    if (!handle.curl) {
      return fail("libcurl could not make a handle (out of memory?)");
    }
    char error_buffer[CURL_ERROR_SIZE] = "";
    set_session(handle.curl, error_buffer);
    curl_easy_setopt(handle.curl, CURLOPT_CONNECT_ONLY, 1L);
    const CURLcode code = curl_easy_perform(handle.curl);
    if (code == CURLE_OK) {
      return {};
    }
    long reply = 0;
    curl_easy_getinfo(handle.curl, CURLINFO_RESPONSE_CODE, &reply);
    return fail("the mail server {} does not take mail: {}", url_for_messages(m_config.smtp_url),
                explain(code, reply, error_buffer));
  }

private:
  // What every session sets: the server, TLS as configured with the
  // certificate verified, the login, the timeouts.
  void set_session(CURL* curl, char* error_buffer) const
  {
    const long timeout = static_cast<long>(m_config.timeout.count());
    curl_easy_setopt(curl, CURLOPT_URL, m_config.smtp_url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(curl, CURLOPT_USE_SSL, use_ssl());
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!m_config.ca_file.empty()) {
      curl_easy_setopt(curl, CURLOPT_CAINFO, m_config.ca_file.c_str());
    }
    if (!m_config.username.empty()) {
      curl_easy_setopt(curl, CURLOPT_USERNAME, m_config.username.c_str());
      curl_easy_setopt(curl, CURLOPT_PASSWORD, m_password.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, timeout);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  }

  // libcurl's error with what the administrator can do about it.
  static std::string explain(CURLcode code, long reply, const char* error_buffer)
  {
    std::string why = curl_easy_strerror(code);
    if (error_buffer[0] != '\0' && why != error_buffer) {
      why += fmt::format(" ({})", util::printable(error_buffer));
    }
    if (reply != 0) {
      why += fmt::format(", last reply {}", reply);
    }
    if (code == CURLE_LOGIN_DENIED) {
      why += "; check username and password in [mail]";
    } else if (code == CURLE_USE_SSL_FAILED) {
      why += "; the server offers no STARTTLS (starttls = required in [mail])";
    } else if (code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE) {
      why += "; the server's certificate is not trusted (ca_file in [mail])";
    }
    if (std::string_view(error_buffer).starts_with("MAIL failed")) {
      why += "; the server refuses the sender (from, username in [mail])";
    }
    return why;
  }

  long use_ssl() const
  {
    if (m_config.smtp_url.starts_with("smtps://") || m_config.starttls == "required") {
      return CURLUSESSL_ALL;
    }
    return m_config.starttls == "optional" ? CURLUSESSL_TRY : CURLUSESSL_NONE;
  }

  config::Mail m_config;
  std::string m_password;
};

} // namespace

Result<std::unique_ptr<Mailer>> make_smtp_mailer(const config::Mail& config)
{
  if (!config.smtp_url.starts_with("smtp://") && !config.smtp_url.starts_with("smtps://")) {
    return fail("[mail] smtp_url '{}' must start with smtp:// or smtps://",
                url_for_messages(config.smtp_url));
  }
  static std::once_flag initialised;
  static CURLcode init_code = CURLE_OK;
  std::call_once(initialised, [] { init_code = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (init_code != CURLE_OK) {
    return fail("libcurl does not start: {}", curl_easy_strerror(init_code));
  }

  std::string password = config.password;
  if (!config.password_file.empty()) {
    auto text = util::read_file(config.password_file, 64 * 1024);
    if (!text) {
      return fail("[mail] password_file: {} (it must be readable by this user, password on the "
                  "first line)",
                  text.message());
    }
    password = text->substr(0, text->find('\n'));
    if (!password.empty() && password.back() == '\r') {
      password.pop_back();
    }
    if (password.empty()) {
      return fail("[mail] password_file {}: the first line is empty; put the password there",
                  util::printable(config.password_file));
    }
  }
  return std::unique_ptr<Mailer>(std::make_unique<SmtpMailer>(config, std::move(password)));
}

} // namespace buildme::mail
