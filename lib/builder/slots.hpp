// Builder slots: every [builder] section gives one slot per user (SSH) or
// `slots` numbered slots (local). A slot builds one thing at a time; the
// lock file state_dir/slots/<id>.lock is held (flock) for the life of the
// build, by the worker process, so a crashed or killed worker frees its slot.
#pragma once

#include "config/arches.hpp"
#include "config/config.hpp"
#include "jobs/reflect.hpp"
#include "util/result.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace buildme::builder {

struct Slot
{
  const config::Builder* builder = nullptr;
  std::string label; // the user (SSH) or "1", "2", ... (local)

  // "b1.builder1": names the lock file and the work folder.
  std::string id() const;
  // "builder1@b1.example.org:22" or "local#1": for people.
  std::string describe() const;
  std::filesystem::path lock_path(const std::filesystem::path& state_dir) const;
};

std::vector<Slot> all_slots(const config::Config& config);
const Slot* find_slot(const std::vector<Slot>& slots, std::string_view id);
// The builder's name and the slot's description for the history, by slot
// id; a slot no longer in the config keeps its id. `slots` must outlive it.
jobs::SlotNames slot_names(const std::vector<Slot>& slots);

// The builds a job needs: one per product arch for "any" (or "linux-any"),
// one "all" build for an arch-independent package, the listed arches the
// product has for a list. Empty when none fits (the reason says why).
struct PlannedBuilds
{
  std::vector<std::string> arches; // "all" for the arch-independent build
  std::string reason;              // why there are none
};
PlannedBuilds plan_builds(const std::vector<std::string>& job_arches,
                          const std::vector<std::string>& product_arches);

} // namespace buildme::builder
