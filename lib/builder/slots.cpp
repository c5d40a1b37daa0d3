#include "builder/slots.hpp"

#include "util/process.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>

namespace buildme::builder {

std::string Slot::id() const
{
  return builder->name + "." + label;
}

std::string Slot::describe() const
{
  if (builder->is_local()) {
    return "local#" + label;
  }
  return fmt::format("{}@{}:{}", label, builder->host, builder->port);
}

std::filesystem::path Slot::lock_path(const std::filesystem::path& state_dir) const
{
  return state_dir / "slots" / (id() + ".lock");
}

std::vector<Slot> all_slots(const config::Config& config)
{
  std::vector<Slot> slots;
  for (const auto& builder : config.builders) {
    if (builder.is_local()) {
      for (int i = 1; i <= builder.slots; ++i) {
        slots.push_back({&builder, std::to_string(i)});
      }
    } else {
      for (const auto& user : builder.users) {
        slots.push_back({&builder, user});
      }
    }
  }
  return slots;
}

const Slot* find_slot(const std::vector<Slot>& slots, std::string_view id)
{
  for (const auto& slot : slots) {
    if (slot.id() == id) {
      return &slot;
    }
  }
  return nullptr;
}

jobs::SlotNames slot_names(const std::vector<Slot>& slots)
{
  return [&slots](const std::string& id) -> std::pair<std::string, std::string> {
    if (const Slot* slot = find_slot(slots, id)) {
      return {slot->builder->name, slot->describe()};
    }
    return {id.substr(0, id.find('.')), id};
  };
}

PlannedBuilds plan_builds(const std::vector<std::string>& job_arches,
                          const std::vector<std::string>& product_arches)
{
  PlannedBuilds plan;
  bool any = false;
  bool all = false;
  for (const auto& arch : job_arches) {
    if (arch == "any" || arch == "linux-any") {
      any = true;
    } else if (arch == "all") {
      all = true;
    } else if (std::find(product_arches.begin(), product_arches.end(), arch) !=
               product_arches.end()) {
      plan.arches.push_back(arch);
    }
  }
  if (any) {
    plan.arches = product_arches; // in the product's order: the first builds arch:all too
  }
  // Arch-dependent builds also build the arch-independent packages (on the
  // first arch only: see the worker); an "all"-only package gets one build.
  if (all && plan.arches.empty()) {
    plan.arches.push_back("all");
  }
  std::vector<std::string> unique;
  for (auto& arch : plan.arches) {
    if (std::find(unique.begin(), unique.end(), arch) == unique.end()) {
      unique.push_back(std::move(arch));
    }
  }
  plan.arches = std::move(unique);
  if (plan.arches.empty()) {
    plan.reason = fmt::format("the package is for {} but the product builds only {}",
                              job_arches.empty() ? "no architecture" : util::join(job_arches, " "),
                              util::join(product_arches, " "));
  }
  return plan;
}

} // namespace buildme::builder
