#include "mail/outbox.hpp"

#include "util/digest.hpp"
#include "util/fs.hpp"
#include "util/lock.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <optional>

namespace buildme::mail {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view from_field = "envelope-from: ";
constexpr std::string_view to_field = "envelope-to: ";
constexpr std::string_view error_field = "last-error: ";
constexpr std::string_view suffix = ".mail";
constexpr auto keep_sent = std::chrono::hours(7 * 24);
// As mail servers do: a message not sent in five days is given up.
constexpr auto keep_trying = std::chrono::hours(5 * 24);

struct Stored
{
  std::string from;
  std::vector<std::string> to;
  std::string last_error;
  std::string text;
};

// Errors are kept on one line of the file's envelope.
std::string envelope_line(std::string_view text)
{
  return util::join(util::split_words(text, "\r\n"), " ");
}

std::string serialise(const Stored& stored)
{
  std::string out = std::string(from_field) + stored.from + "\n";
  for (const auto& address : stored.to) {
    out += std::string(to_field) + address + "\n";
  }
  if (!stored.last_error.empty()) {
    out += std::string(error_field) + envelope_line(stored.last_error) + "\n";
  }
  return out + "\n" + stored.text;
}

std::optional<Stored> parse_stored(std::string_view content)
{
  Stored stored;
  std::size_t start = 0;
  while (true) {
    const auto end = content.find('\n', start);
    if (end == std::string_view::npos) {
      return std::nullopt;
    }
    const auto line = content.substr(start, end - start);
    start = end + 1;
    if (line.empty()) {
      break;
    }
    if (line.starts_with(from_field)) {
      stored.from = line.substr(from_field.size());
    } else if (line.starts_with(to_field)) {
      stored.to.emplace_back(line.substr(to_field.size()));
    } else if (line.starts_with(error_field)) {
      stored.last_error = line.substr(error_field.size());
    } else {
      return std::nullopt;
    }
  }
  stored.text = content.substr(start);
  if (!valid_email(stored.from) || stored.to.empty() || stored.text.empty()) {
    return std::nullopt;
  }
  for (const auto& address : stored.to) {
    if (!valid_email(address)) {
      return std::nullopt;
    }
  }
  return stored;
}

// The waiting messages, oldest first (names sort by queue time).
std::vector<std::string> mail_files(const fs::path& dir)
{
  std::vector<std::string> names;
  if (auto listing = util::list_dir(dir)) {
    for (auto& name : *listing) {
      if (name.ends_with(suffix)) {
        names.push_back(std::move(name));
      }
    }
  }
  return names;
}

std::string domain_of(const std::string& email)
{
  return email.substr(email.find('@') + 1);
}

std::int64_t unix_seconds(util::Clock::time_point when)
{
  return std::chrono::duration_cast<std::chrono::seconds>(when.time_since_epoch()).count();
}

// When the message named `name` was queued: its first 16 digits are the
// microseconds since the epoch (queue()); nullopt for a name of another form.
std::optional<util::Clock::time_point> queued_at(std::string_view name)
{
  std::int64_t micros = 0;
  const auto parsed =
    std::from_chars(name.data(), name.data() + std::min<std::size_t>(16, name.size()), micros);
  if (parsed.ec != std::errc() || parsed.ptr != name.data() + 16 || name.size() <= 16 ||
      name[16] != '-') {
    return std::nullopt;
  }
  return util::Clock::time_point(std::chrono::duration_cast<util::Clock::time_point::duration>(
    std::chrono::microseconds(micros)));
}

} // namespace

Outbox::Outbox(std::filesystem::path state_dir, const util::Clock& clock)
  : m_dir(std::move(state_dir) / "mail"), m_clock(clock)
{
}

Status Outbox::queue(const Message& message)
{
  Stored stored;
  stored.from = message.from.email;
  for (const auto& address : message.to) {
    stored.to.push_back(address.email);
  }
  if (stored.to.empty()) {
    return fail("mail '{}' has no recipient", util::printable(message.subject));
  }
  for (const auto& address : stored.to) {
    if (!valid_email(address)) {
      return fail("mail '{}' not queued: '{}' is not a plain mail address",
                  util::printable(message.subject), util::printable(address));
    }
  }
  if (!valid_email(stored.from)) {
    return fail("mail '{}' not queued: sender '{}' is not a plain mail address (from in [mail])",
                util::printable(message.subject), util::printable(stored.from));
  }

  const fs::path dir = m_dir / "outbox";
  TRY(util::make_dirs(dir));
  static std::atomic<unsigned> sequence{0};
  const auto now = m_clock.now();
  const auto micros =
    std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  const std::string id = fmt::format("{:016}-{}-{:06}", micros, ::getpid(), sequence++);
  stored.text = render(message, now, new_message_id(domain_of(stored.from)));
  return util::write_file_exclusive(dir / (id + std::string(suffix)), serialise(stored), 0600);
}

Outbox::FlushResult Outbox::flush(Mailer& mailer, util::Log& log)
{
  FlushResult result;
  const fs::path outbox = m_dir / "outbox";
  const fs::path sending = m_dir / "sending";
  const fs::path sent = m_dir / "sent";
  const fs::path broken = m_dir / "broken";
  const fs::path undeliverable = m_dir / "undeliverable";
  for (const auto& dir : {outbox, sending, sent}) {
    if (auto made = util::make_dirs(dir); !made) {
      log.info(fmt::format("mail not sent: {}", made.message()));
      result.waiting = static_cast<int>(mail_files(outbox).size());
      return result;
    }
  }
  auto lock = util::FileLock::acquire(m_dir / "flush.lock", util::FileLock::Mode::try_once);
  if (!lock || !lock->locked()) {
    if (!lock) {
      log.info(fmt::format("mail not sent: {}", lock.message()));
    }
    result.waiting = static_cast<int>(mail_files(outbox).size());
    return result;
  }

  for (const auto& name : mail_files(sending)) {
    log.info(fmt::format("mail {} was being sent when a run stopped; it will be sent again", name));
    if (auto moved = util::move_no_clobber(sending / name, outbox / name); !moved) {
      log.info(fmt::format("mail {} stays in {}: {}", name, sending.string(), moved.message()));
    }
  }

  // sent/ is a record for a person, not a queue: a week of it is enough.
  const auto too_old = m_clock.now() - keep_sent;
  for (const auto& name : mail_files(sent)) {
    auto info = util::stat_no_follow(sent / name);
    if (info && *info && (*info)->mtime < too_old) {
      std::error_code ignored;
      fs::remove(sent / name, ignored);
    }
  }

  // When the server last took a message.
  const fs::path accepted_record = m_dir / "last-accepted";
  bool took_mail_lately = false;
  if (auto text = util::read_file(accepted_record, 64)) {
    std::int64_t last = 0;
    if (std::from_chars(text->data(), text->data() + text->size(), last).ec == std::errc()) {
      const std::int64_t now = unix_seconds(m_clock.now());
      took_mail_lately = now >= last && now - last < 3600;
    }
  }
  for (const auto& name : mail_files(outbox)) {
    if (!util::move_exclusive(outbox / name, sending / name)) {
      continue; // gone meanwhile: not ours to send
    }
    auto content = util::read_file(sending / name);
    auto stored = content ? parse_stored(*content) : std::nullopt;
    if (!stored) {
      (void)util::make_dirs(broken);
      auto moved = util::move_no_clobber(sending / name, broken / name);
      log.info(fmt::format("mail {} is unreadable and was set aside in {}", name,
                           moved ? moved->string() : (sending / name).string()));
      ++result.failed;
      continue;
    }

    const SendResult sending_result = mailer.send(stored->from, stored->to, stored->text);
    const std::string recipients = util::join(stored->to, ", ");
    if (sending_result.accepted()) {
      ++result.sent;
      if (!took_mail_lately || result.sent == 1) {
        took_mail_lately = true;
        (void)util::write_file_atomic(accepted_record,
                                      std::to_string(unix_seconds(m_clock.now())) + "\n", 0644);
      }
      if (!stored->last_error.empty()) {
        log.info(fmt::format("mail {} to {} sent after all", name, recipients));
      }
      if (!util::move_no_clobber(sending / name, sent / name)) {
        // Never send it twice: without a record in sent/, it must go.
        std::error_code error;
        if (!fs::remove(sending / name, error)) {
          log.info(fmt::format("mail {} was sent but cannot be moved to {} nor removed ({}): "
                               "remove it by hand or it is sent again",
                               name, sent.string(), error.message()));
        }
      }
      continue;
    }

    ++result.failed;
    const auto queued = queued_at(name);
    const bool overdue = queued && m_clock.now() - *queued > keep_trying;
    // A refusal for good counts only from a server that takes mail: one
    // that has taken none lately may refuse every recipient for a reason of
    // its own (relaying denied to an unauthenticated sender), and then
    // nothing is given up before the configuration is fixed.
    const bool refused_for_good =
      sending_result.outcome == SendResult::Outcome::undeliverable && took_mail_lately;
    if (refused_for_good || overdue) {
      // It will never go: set aside for a person, with the reason, and not
      // tried again.
      stored->last_error = refused_for_good
                             ? sending_result.error
                             : "not sent in 5 days; last error: " + sending_result.error;
      (void)util::write_file_atomic(sending / name, serialise(*stored), 0600);
      (void)util::make_dirs(undeliverable);
      auto moved = util::move_no_clobber(sending / name, undeliverable / name);
      log.verdict("ERROR", util::Log::Tone::bad,
                  fmt::format("mail {} to {} given up: {}; set aside in {}", name, recipients,
                              stored->last_error,
                              moved ? moved->string() : (sending / name).string()));
      if (sending_result.outcome == SendResult::Outcome::unavailable) {
        break;
      }
      continue;
    }
    if (envelope_line(sending_result.error) != stored->last_error) {
      log.info(fmt::format("mail {} to {} kept to retry: {}{}", name, recipients,
                           sending_result.error,
                           sending_result.outcome == SendResult::Outcome::undeliverable
                             ? " (refused for good, but the server has taken no mail in the last "
                               "hour: the fault may be its configuration)"
                             : ""));
      stored->last_error = sending_result.error;
      (void)util::write_file_atomic(sending / name, serialise(*stored), 0600);
    }
    if (auto moved = util::move_no_clobber(sending / name, outbox / name); !moved) {
      log.info(fmt::format("mail {} stays in {}: {}", name, sending.string(), moved.message()));
    }
    if (sending_result.outcome == SendResult::Outcome::unavailable) {
      break;
    }
  }
  result.waiting = static_cast<int>(mail_files(outbox).size());
  return result;
}

bool Outbox::list_may_hear(const std::string& key, std::chrono::seconds window)
{
  if (window.count() <= 0) {
    return true;
  }
  const fs::path dir = m_dir / "throttle";
  if (!util::make_dirs(dir)) {
    return true;
  }
  // Two runs asking at once must not both hear yes.
  auto lock = util::FileLock::acquire(dir / ".lock", util::FileLock::Mode::wait);
  if (!lock) {
    return true;
  }
  const std::int64_t now = unix_seconds(m_clock.now());
  // When the list last heard of the key in `record`; nullopt if unknown.
  auto last_heard = [](const fs::path& record) -> std::optional<std::int64_t> {
    auto text = util::read_file(record, 64);
    std::int64_t last = 0;
    if (!text ||
        std::from_chars(text->data(), text->data() + text->size(), last).ec != std::errc()) {
      return std::nullopt;
    }
    return last;
  };
  // A record older than the window says nothing any more: once a run,
  // those go, so that the folder does not grow for ever.
  if (!m_throttle_pruned) {
    m_throttle_pruned = true;
    auto names = util::list_dir(dir);
    for (const auto& name : names ? *names : std::vector<std::string>{}) {
      if (name.size() != 64) {
        continue; // only records are named by a SHA-256
      }
      const auto last = last_heard(dir / name);
      if (last && now >= *last && now - *last >= window.count()) {
        std::error_code ignored;
        fs::remove(dir / name, ignored);
      }
    }
  }
  const auto digest = util::digest_bytes(key, {.sha256 = true});
  const fs::path record = dir / *digest.sha256;
  if (const auto last = last_heard(record); last && now >= *last && now - *last < window.count()) {
    return false;
  }
  (void)util::write_file_atomic(record, std::to_string(now) + "\n", 0644);
  return true;
}

} // namespace buildme::mail
