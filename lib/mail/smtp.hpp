// Sending mail over SMTP with libcurl: smtp:// with STARTTLS (required,
// optional or no) or smtps://, optional AUTH with username and password (or a
// password file), timeouts. The server's certificate and name are always
// verified (ca_file, when set, is the CA file libcurl verifies against). The
// password never appears in a message or log.
// Behind an interface so that unit tests of notifications use a fake; the
// real one is tested against a real SMTP server (aiosmtpd) with STARTTLS.
#pragma once

#include "config/config.hpp"
#include "util/result.hpp"

#include <memory>
#include <string>
#include <vector>

namespace buildme::mail {

struct SendResult
{
  enum class Outcome
  {
    accepted, // the server took the message for delivery
    // The server answered and refused this message for now (a 4xx reply to
    // its sender, a recipient or its text): it may go later, and the next
    // message may still go now.
    refused,
    // The server refused this message for good (a 5xx reply to its sender,
    // a recipient or its text, such as an unknown user): it never will go.
    undeliverable,
    // The server could not be reached or the session failed before any
    // message (connection, timeout, TLS, login): the next would fail alike.
    unavailable,
  };
  Outcome outcome = Outcome::accepted;
  std::string error; // when not accepted: what went wrong, naming the server

  bool accepted() const { return outcome == Outcome::accepted; }
};

class Mailer
{
public:
  virtual ~Mailer() = default;
  // Sends one rendered message (render()) from the envelope sender to the
  // envelope recipients (plain addresses, valid_email()).
  virtual SendResult send(const std::string& envelope_from,
                          const std::vector<std::string>& recipients,
                          const std::string& rendered) = 0;
  // Whether the server would take mail now, sending none: for --dry-run.
  // The Error says what failed (no server, TLS, certificate, login) and
  // what to change.
  virtual Status check() = 0;
};

// Reads the password file (its first line) now, so that a bad one is
// reported when the program starts rather than at the first mail.
Result<std::unique_ptr<Mailer>> make_smtp_mailer(const config::Mail& config);

} // namespace buildme::mail
