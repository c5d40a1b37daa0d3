// buildme-report: the status site (pages.hpp lists its pages), written
// from the state folder, the history, the builders' health records and the
// repositories' catalogs into [report] dir. Static files only: any web
// server serves it, and it works without scripts.
//
// Incremental: state_dir/report.sqlite keeps the site's own index of every
// job and build (for the source, builder and front pages and the feed) and
// a digest of every page written. A run reads again only the jobs that may
// have changed: the open ones (queued, building, held), those the history
// says changed since the last run, and new ones; it rewrites the pages of a
// job whose content changed, its source's page, and the pages that show the
// present (front, stuck, builders, feed); a distribution's page when its
// Release changed. A page whose bytes are the same is not written again.
//
// Stuck items (stuck.hpp) are mailed to the list once each: the state keeps
// which were mailed, and forgets an item once it is no longer stuck.
#pragma once

#include "config/config.hpp"
#include "mail/outbox.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/result.hpp"

#include <vector>

namespace buildme::report {

enum class Rewrite
{
  changed, // what may have changed since the last run
  all      // every page (after an upgrade, or by hand: --all)
};

struct ReportSummary
{
  bool skipped = false;             // another run held the lock
  int jobs_read = 0;                // job records read
  int pages_written = 0;            // files written (pages, JSON, logs, feed)
  int pages_same = 0;               // rendered, found unchanged, not written
  int stuck = 0;                    // items stuck now
  int stuck_mailed = 0;             // newly stuck, mailed now
  std::vector<std::string> written; // the files written, relative to the site
};

// Writes the site. `outbox`: where the stuck mail goes (none: not mailed,
// and not remembered as mailed). Holds state_dir/report.lock; another run
// holding it makes this one return skipped.
Result<ReportSummary> write_report(const config::Config& config, Rewrite rewrite,
                                   const util::Clock& clock, util::Log& log, mail::Outbox* outbox);

// For the end of a tick: write_report when [report] is configured. A
// failure (an exception too) is logged, never passed on: the site must not
// stop builds.
void report_after_tick(const config::Config& config, const util::Clock& clock, util::Log& log,
                       mail::Outbox* outbox);

} // namespace buildme::report
