// Why a build waits, in one place: the dispatcher notes it in the build's
// record when no slot takes the build, and the status site shows it for
// every item of the queue, with a kind a reader (or a script reading the
// site's JSON) can sort by.
#pragma once

#include "builder/health.hpp"
#include "config/config.hpp"
#include "jobs/job.hpp"
#include "util/log.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

namespace buildme::builder {

enum class WaitKind
{
  settling,          // a lone .dsc waits settle_time for a .changes
  grace_period,      // an upload still arriving (files missing or short)
  held,              // set aside for a person: buildme retry
  depwait,           // its build dependencies could not be installed
  no_builder,        // no builder builds its arch
  builder_set_aside, // every builder for its arch is set aside
  environment,       // the base environment it needs is not ready
  slots_busy,        // every slot for its arch is building
  next_tick,         // a slot is free: the next tick starts it
};

std::string_view to_string(WaitKind kind);

struct WaitReason
{
  WaitKind kind;
  std::string text;
};

// The builders that cannot take builds now and why, and the slots that are
// building: what decides why a queued build waits.
struct Availability
{
  std::map<std::string, std::string> set_aside; // builder name -> why
  std::set<std::string> busy;                   // slot ids
};

// The builders set aside now, from their health records (a record that
// cannot be read is logged and counts as in service), with `busy`.
Availability availability(const config::Config& config, std::set<std::string> busy,
                          std::int64_t now, util::Log& log);

// "builder b1 is set aside (REASON); tried again in N s"
std::string set_aside_text(const std::string& builder, const BuilderHealth& health,
                           std::int64_t now);

// Why no free slot took a queued build of `arch`: a fitting free slot lacked
// its base environment (`env_why` says why), every builder for the arch is
// set aside, none builds the arch, or all are busy.
WaitReason why_no_slot(const config::Config& config, const std::string& arch,
                       const Availability& available, const std::string& env_why);

// Why a build of `job` that is not building waits: held (the job's
// reason), depwait (the build's reason), or, queued, why_no_slot with the
// slots `available` says are free; with a free fitting slot, what the
// dispatcher last noted in the record.
WaitReason why_waiting(const config::Config& config, const jobs::Job& job, const jobs::Build& build,
                       const Availability& available);

} // namespace buildme::builder
