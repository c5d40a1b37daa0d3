#include "builder/health.hpp"

#include "debian/control_writer.hpp"
#include "debian/deb822.hpp"
#include "mail/notify.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace buildme::builder {

namespace {

constexpr std::int64_t first_backoff = 300;
constexpr std::int64_t longest_backoff = 6 * 3600;

std::string format_utc(std::int64_t seconds)
{
  const std::time_t time = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&time, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", &utc);
  return text;
}

} // namespace

Result<BuilderHealth> HealthStore::load(const std::string& builder) const
{
  const auto path = m_dir / (builder + ".info");
  TRY_ASSIGN(auto present, util::stat_no_follow(path));
  BuilderHealth health;
  if (!present) {
    return health;
  }
  TRY_ASSIGN(auto text, util::read_file(path, 64 * 1024));
  TRY_ASSIGN(auto control, debian::parse_one_paragraph(text, path.string(), "a builder record"));
  const auto& record = control.paragraphs.front();
  TRY_ASSIGN(health.set_aside_until, debian::count_field(record, "Set-Aside-Until", path.string()));
  TRY_ASSIGN(auto faults, debian::count_field(record, "Faults", path.string()));
  health.faults = static_cast<int>(std::min<std::int64_t>(faults, 1000));
  TRY_ASSIGN(health.since, debian::count_field(record, "Since", path.string()));
  health.reason = record.get("Reason").value_or("");
  return health;
}

Result<bool> HealthStore::fault(const std::string& builder, const std::string& reason,
                                std::int64_t now) const
{
  auto loaded = load(builder);
  BuilderHealth health = loaded ? *loaded : BuilderHealth{};
  const bool first = health.faults == 0;
  health.faults += 1;
  if (first) {
    health.since = now;
  }
  health.reason = reason;
  health.set_aside_until =
    now + std::min(longest_backoff, first_backoff << std::min(health.faults - 1, 10));
  TRY(util::make_dirs(m_dir));
  TRY(util::write_file_atomic(
    m_dir / (builder + ".info"),
    debian::write_paragraph({{"Builder", builder},
                             {"Set-Aside-Until", std::to_string(health.set_aside_until)},
                             {"Faults", std::to_string(health.faults)},
                             {"Since", std::to_string(health.since)},
                             {"Reason", util::printable(reason)}})));
  return first;
}

Status HealthStore::clear(const std::string& builder) const
{
  std::error_code error;
  std::filesystem::remove(m_dir / (builder + ".info"), error);
  if (error) {
    return fail("cannot put builder {} back in service: {}: {}", builder,
                (m_dir / (builder + ".info")).string(), error.message());
  }
  return {};
}

void set_builder_aside(const config::Config& config, const config::Builder& builder,
                       const std::string& reason, const util::Clock& clock, util::Log& log)
{
  const std::int64_t now =
    std::chrono::duration_cast<std::chrono::seconds>(clock.now().time_since_epoch()).count();
  HealthStore store(config.state_dir);
  auto first = store.fault(builder.name, reason, now);
  if (!first) {
    log.verdict("ERROR", util::Log::Tone::bad, first.message());
    return;
  }
  auto health = store.load(builder.name);
  const std::string until = health ? format_utc(health->set_aside_until) : "later";
  log.heading(fmt::format("builder {}", builder.name));
  log.verdict("SET ASIDE", util::Log::Tone::bad,
              fmt::format("{}; its builds wait in the queue (no attempt used); tried again at {}",
                          reason, until));
  if (*first && config.mail) {
    mail::Outbox outbox(config.state_dir, clock);
    mail::notify_list(
      *config.mail, outbox, fmt::format("BUILDER SET ASIDE {}", builder.name),
      fmt::format("Builder {} ({}) cannot take builds:\n\n  {}\n\nIts builds wait in the queue "
                  "and use no attempt. buildme tries it again at {}, then less often while the "
                  "fault lasts; 'buildme hosts' shows its state. This list hears again only "
                  "after the builder has been back in service.\n",
                  builder.name, builder.host, util::printable(reason), until),
      log);
  }
}

} // namespace buildme::builder
