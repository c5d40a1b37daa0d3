// What the status site shows, read from the state folder, the history and
// the incoming folders: the pages are written from these and nothing else.
#pragma once

#include "builder/waiting.hpp"
#include "history/history.hpp"
#include "jobs/job.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace buildme::report {

struct BuildView
{
  jobs::Build record;
  std::string builder;                     // of the latest attempt, when it ran
  std::optional<builder::WaitReason> wait; // queued, depwait, or its job held
  bool has_log = false;                    // result_dir/JOB/ARCH/build.log exists
  std::uint64_t log_size = 0;
  std::string log_tail; // the last lines of the log; when finished, summary.log if any
};

struct JobView
{
  jobs::Job job;
  std::vector<BuildView> builds;
  std::vector<history::AttemptRecord> attempts;
  std::string changes; // the Changes field (the changelog) of its .changes, if any
};

// An upload still in an incoming folder after intake: it waits.
struct WaitingUpload
{
  std::string product;
  std::string control; // the .changes or .dsc
  std::int64_t since = 0;
  builder::WaitReason wait;
};

// An upload intake set aside, from its NAME.reason in incoming/rejected/.
struct Rejection
{
  std::string product;
  std::string name; // what was set aside: Upload (or File, for an orphan)
  std::int64_t at = 0;
  std::string reason;
};

// One build as the site's own index keeps it (recent results, source and
// builder pages, the feed).
struct BuildRow
{
  long job = 0;
  std::string product;
  std::string source;
  std::string version;
  std::string uploader;
  std::string arch;
  std::string state; // jobs::to_string(BuildState)
  std::string builder;
  int attempts = 0;
  std::int64_t accepted_at = 0;
  std::int64_t started_at = 0;
  std::int64_t finished_at = 0;
  std::string reason;
  bool has_log = false; // the site has logs/PRODUCT/JOB/ARCH/build.log
};

enum class StuckKind
{
  queued,  // queued (or held) longer than stuck_after
  depwait, // in depwait longer than stuck_after
  unbuilt, // the latest version of a source is not built for every arch
  overdue, // running far longer than the package's last builds
};

std::string_view to_string(StuckKind kind);

struct StuckItem
{
  std::string key; // names the item for "mailed once": kind/job/arch or kind/product/source/version
  StuckKind kind;
  long job = 0;
  std::string product;
  std::string source;
  std::string version;
  std::string arch;
  std::int64_t since = 0;
  std::string text; // for people
};

} // namespace buildme::report
