// The outbox: a mail that cannot be sent now is kept and sent on a later
// tick; it never blocks or loses a build, and it is never sent twice.
//
//   state_dir/mail/outbox/<id>.mail    waiting (envelope + rendered text)
//   state_dir/mail/sending/<id>.mail   being sent right now
//   state_dir/mail/sent/<id>.mail      accepted by the server (kept for a week)
//   state_dir/mail/broken/<id>.mail    unreadable, set aside for a person
//   state_dir/mail/undeliverable/<id>.mail
//                                      refused for good (a 5xx reply to its
//                                      recipient or text) by a server that
//                                      took another message in the last
//                                      hour, or not sent in 5 days: given
//                                      up, with the reason in last-error
//   state_dir/mail/last-accepted       when the server last took a message
//   state_dir/mail/throttle/<sha256>   when the list last heard of a key
//   state_dir/mail/flush.lock          held by the one flush running
//
// <id> is the queue time and a sequence number, so names sort oldest first.
// A file is "envelope-from: ADDR", one "envelope-to: ADDR" per recipient,
// optionally "last-error: TEXT", an empty line, then the rendered message.
//
// queue() writes a message whole or not at all; flush() takes each waiting
// message (rename to sending/), sends it, and moves it to sent/ only after
// the server accepted it; a failure moves it back to outbox/ for the next
// tick, unless it can never go (undeliverable/). Only one flush runs at a time (flush.lock; a
// second one returns at once), so a message found in sending/ at the start of a flush was being
// sent when a run died: it goes back to the outbox and is sent again, which
// can at worst repeat that one message if the server had accepted it
// (at-least-once at a crash, exactly-once otherwise).
#pragma once

#include "mail/message.hpp"
#include "mail/smtp.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

#include <chrono>
#include <filesystem>
#include <string>

namespace buildme::mail {

class Outbox
{
public:
  Outbox(std::filesystem::path state_dir, const util::Clock& clock);

  // Renders and keeps `message` for sending. Error when an address is not a
  // plain local@domain, there is no recipient, or the file cannot be written.
  Status queue(const Message& message);

  struct FlushResult
  {
    int sent = 0;
    int failed = 0;  // tried, not sent: kept to retry (or set aside in broken/)
    int waiting = 0; // in the outbox after this flush
  };
  // Sends what waits, oldest first. A message the server refuses for now
  // stays and the next is tried; one it refuses for good (while it takes
  // other mail), or that has not gone in 5 days, is given up (undeliverable/,
  // logged as an ERROR); when
  // the server is unavailable the flush stops there (the rest would only
  // wait for the same timeout). A failure is logged the first time, and
  // again only when its error changes, not every tick.
  FlushResult flush(Mailer& mailer, util::Log& log);

  // True when the list should hear about `key` now (and records that it
  // did); false when it heard within `window`. A window of 0 always says
  // true; so does a throttle record that cannot be read or written (better
  // a repeated mail than a lost one). The first call also removes the
  // records older than `window`, which no longer hold anything back.
  bool list_may_hear(const std::string& key, std::chrono::seconds window);

private:
  std::filesystem::path m_dir; // state_dir/mail
  const util::Clock& m_clock;
  bool m_throttle_pruned = false;
};

} // namespace buildme::mail
