// A builder's health: a builder that cannot take a build (unreachable,
// refused login, wrong host key, tools missing, its environment missing) is
// set aside, and its builds wait in the queue without using an attempt.
// It is tried again after a back-off that doubles with each fault in a row
// (5 minutes to 6 hours); a build that starts there clears it. The list is
// mailed once when a builder is set aside, not at every tick.
//
//   state_dir/builders/<name>.info   Set-Aside-Until, Faults, Since, Reason
#pragma once

#include "config/config.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace buildme::builder {

struct BuilderHealth
{
  std::int64_t set_aside_until = 0; // 0: in service
  int faults = 0;                   // in a row
  std::int64_t since = 0;           // when the first of them happened
  std::string reason;               // the last fault

  bool set_aside(std::int64_t now) const { return set_aside_until > now; }
};

class HealthStore
{
public:
  explicit HealthStore(std::filesystem::path state_dir) : m_dir(std::move(state_dir) / "builders")
  {
  }

  // In service when there is no record (or it cannot be read: a broken
  // record must not stop every build; the error is said by `load`).
  Result<BuilderHealth> load(const std::string& builder) const;
  // Records a fault and sets the builder aside; true when it was in service
  // before (the caller mails the list once per episode).
  Result<bool> fault(const std::string& builder, const std::string& reason, std::int64_t now) const;
  // A build started there: back in service.
  Status clear(const std::string& builder) const;

private:
  std::filesystem::path m_dir;
};

// Records the fault, logs it, and on the first of an episode mails the list.
void set_builder_aside(const config::Config& config, const config::Builder& builder,
                       const std::string& reason, const util::Clock& clock, util::Log& log);

} // namespace buildme::builder
