// buildme-report: write the status site (report/report.hpp).
#include "config/config.hpp"
#include "mail/outbox.hpp"
#include "report/report.hpp"
#include "util/cli.hpp"
#include "util/clock.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view usage_text =
  R"(Usage: buildme-report [--config FILE] [--all] [--verbose]

Writes the status site that [report] dir names: static HTML with JSON beside
every page and an Atom feed of results, for any web server. The front page
shows the queue and why each item waits, the builds running now with the last
lines of their logs, recent results and counts per product and arch; there is
a page per job, per source package, per builder and per repository
distribution, the build logs as text files, and the list of stuck items
(queued or in depwait longer than stuck_after, sources whose latest version is
not built for every arch, builds running far longer than usual). Newly stuck
items are mailed to the [mail] list once (the mail waits in the outbox for
buildme's next tick).

Each run rewrites only what changed since the last one (buildme runs it at
the end of every tick; cron may run it too); --all rewrites every page.

  --all           write every page again
  --verbose       list the files written
  --help, --version

Exit status: 0 written (or another run was writing), 1 it could not be
written (the reason is printed), 2 usage or config error.
)";

} // namespace

int main(int argc, char** argv)
{
  using namespace buildme;
  if (auto answered = util::answer_help_or_version(
        argc, argv, usage_text, fmt::format("buildme-report (buildme) {}", BUILDME_VERSION))) {
    return *answered;
  }
  auto line =
    util::parse_command_line(argc, argv, {{"config", 'c', true}, {"all"}, {"verbose", 'v'}});
  if (!line || !line->arguments.empty()) {
    fmt::print(stderr, "buildme-report: {}\nTry 'buildme-report --help'.\n",
               line ? fmt::format("unknown argument {}", util::printable(line->arguments.front()))
                    : line.message());
    return util::exit_usage;
  }
  auto config = config::load_config(line->value("config").value_or(config::default_config_path));
  if (!config) {
    fmt::print(stderr, "buildme-report: error: {}\n", config.message());
    return util::exit_usage;
  }
  util::SystemClock clock;
  util::Log log(stdout, clock);
  log.set_verbose(line->has("verbose"));
  if (!config->log_file.empty()) {
    if (auto opened = log.open_file(config->log_file); !opened) {
      fmt::print(stderr, "buildme-report: error: {}\n", opened.message());
      return util::exit_attention;
    }
  }
  std::optional<mail::Outbox> outbox;
  if (config->mail) {
    outbox.emplace(config->state_dir, clock);
  }
  auto written = report::write_report(
    *config, line->has("all") ? report::Rewrite::all : report::Rewrite::changed, clock, log,
    outbox ? &*outbox : nullptr);
  if (!written) {
    fmt::print(stderr, "buildme-report: error: {}\n", written.message());
    return util::exit_attention;
  }
  if (written->skipped) {
    log.detail("another buildme-report is writing the site; nothing to do");
    return util::exit_ok;
  }
  for (const auto& file : written->written) {
    log.detail(fmt::format("wrote {}", (config->report->dir / file).string()));
  }
  log.detail(fmt::format("{} jobs read, {} files written, {} unchanged, {} stuck ({} mailed)",
                         written->jobs_read, written->pages_written, written->pages_same,
                         written->stuck, written->stuck_mailed));
  return util::exit_ok;
}
