#include "builder/waiting.hpp"

#include "builder/slots.hpp"
#include "config/arches.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace buildme::builder {

std::string_view to_string(WaitKind kind)
{
  switch (kind) {
  case WaitKind::settling:
    return "settling";
  case WaitKind::grace_period:
    return "grace-period";
  case WaitKind::held:
    return "held";
  case WaitKind::depwait:
    return "depwait";
  case WaitKind::no_builder:
    return "no-builder";
  case WaitKind::builder_set_aside:
    return "builder-set-aside";
  case WaitKind::environment:
    return "environment";
  case WaitKind::slots_busy:
    return "slots-busy";
  case WaitKind::next_tick:
    return "next-tick";
  }
  return "?";
}

std::string set_aside_text(const std::string& builder, const BuilderHealth& health,
                           std::int64_t now)
{
  return fmt::format("builder {} is set aside ({}); tried again in {} s", builder, health.reason,
                     health.set_aside_until - now);
}

Availability availability(const config::Config& config, std::set<std::string> busy,
                          std::int64_t now, util::Log& log)
{
  Availability available;
  available.busy = std::move(busy);
  HealthStore health(config.state_dir);
  for (const auto& builder : config.builders) {
    auto state = health.load(builder.name);
    if (!state) {
      log.verdict("ERROR", util::Log::Tone::bad, state.message());
    } else if (state->set_aside(now)) {
      available.set_aside[builder.name] = set_aside_text(builder.name, *state, now);
    }
  }
  return available;
}

namespace {

bool builds_arch(const Slot& slot, const std::string& arch)
{
  if (arch == "all") {
    return true;
  }
  auto arches = config::builder_arches(*slot.builder);
  return arches && std::find(arches->begin(), arches->end(), arch) != arches->end();
}

} // namespace

WaitReason why_no_slot(const config::Config& config, const std::string& arch,
                       const Availability& available, const std::string& env_why)
{
  if (!env_why.empty()) {
    return {WaitKind::environment, env_why};
  }
  bool exists = false;
  bool in_service = false;
  std::string set_aside; // why every builder for the arch is out of service
  for (const auto& slot : all_slots(config)) {
    if (!builds_arch(slot, arch)) {
      continue;
    }
    exists = true;
    auto aside = available.set_aside.find(slot.builder->name);
    if (aside == available.set_aside.end()) {
      in_service = true;
    } else {
      set_aside = aside->second;
    }
  }
  if (exists && !in_service) {
    return {WaitKind::builder_set_aside, set_aside};
  }
  if (exists) {
    return {WaitKind::slots_busy, fmt::format("all builders for {} are busy", arch)};
  }
  return {WaitKind::no_builder, fmt::format("no builder for {}; add one to {} with 'arches = {}'",
                                            arch, config.path, arch)};
}

WaitReason why_waiting(const config::Config& config, const jobs::Job& job, const jobs::Build& build,
                       const Availability& available)
{
  if (job.state == jobs::JobState::held) {
    return {WaitKind::held, job.reason};
  }
  if (build.state == jobs::BuildState::depwait) {
    return {WaitKind::depwait, build.reason};
  }
  for (const auto& slot : all_slots(config)) {
    if (builds_arch(slot, build.arch) && !available.busy.count(slot.id()) &&
        !available.set_aside.count(slot.builder->name)) {
      const config::Product* product = config.product(job.product);
      if (product && product->build_in == config::Product::BuildIn::chroot &&
          !build.reason.empty()) {
        return {WaitKind::environment, build.reason};
      }
      return {WaitKind::next_tick, "a slot is free; the next tick starts it"};
    }
  }
  return why_no_slot(config, build.arch, available, "");
}

} // namespace buildme::builder
