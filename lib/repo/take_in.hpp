// Taking a product's repo_queue into the pool (reprepro's checkindeb.c and
// checkindsc.c): the loose .debs and .dscs an administrator drops there, and
// the units that builds hand over (jobs/handover.hpp).
//
// Contract:
//  - Nothing is lost: the catalog knows a .deb before it leaves the queue,
//    so a run killed mid-batch leaves the rest in the queue for the next run
//    (and a file already in the pool with the same bytes is simply taken off
//    the queue).
//  - Nothing is clobbered: a pool name taken by other content is refused; a
//    refused file or unit goes to the queue's rejected/ with NAME.reason
//    beside it, journalled (jobs/set_aside.hpp): a run killed half-way
//    through a set-aside is finished by the next.
//  - Nothing is published without its source: a unit's source is taken
//    first and its queue copies go last, and a unit whose source is refused
//    is set aside whole.
//  - A source whose files are still arriving waits; the files other queued
//    sources list stay for them.
//  - Moves into the pool are not synced here: the Pool syncs the folders
//    they touched, once, before any Release names them.
// The caller holds the repository's lock.
#pragma once

#include "config/config.hpp"
#include "jobs/set_aside.hpp"
#include "repo/catalog.hpp"
#include "repo/pool.hpp"
#include "repo/summary.hpp"
#include "util/clock.hpp"
#include "util/digest.hpp"
#include "util/log.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace buildme::repo {

class QueueTaker
{
public:
  // `journal_dir`: where set-asides are journalled (Staging replays what a
  // killed run left there before the next take_queue).
  QueueTaker(const config::Config& config, const config::Repository& repository, Catalog& catalog,
             Pool& pool, std::filesystem::path journal_dir, const util::Clock& clock,
             util::Log& log);

  // Takes product.repo_queue into the distribution product.name. When the
  // queue holds anything to take, `changing` runs first, before anything
  // enters the catalog.
  void take_queue(const config::Product& product, RunSummary& summary,
                  const std::function<void()>& changing);

private:
  struct PreparedDeb;
  void take_debs(const std::filesystem::path& queue, const std::vector<std::string>& names,
                 const std::string& dist, RunSummary& summary);
  // Records a batch read by take_debs in one transaction, then moves its
  // files into the pool; false when the catalog failed (nothing moved).
  bool take_batch(const std::filesystem::path& queue, std::vector<PreparedDeb>& batch,
                  RunSummary& summary);
  // A unit's source stays in the unit until its packages are taken too.
  enum class KeepSource
  {
    no,
    yes
  };
  // `known`: the digests a unit carries (jobs::digests_file), if any.
  bool take_dsc(const std::filesystem::path& queue, const std::string& name,
                const std::string& dist, RunSummary& summary, KeepSource keep = KeepSource::no,
                const std::map<std::string, util::Digests>* known = nullptr);
  void take_unit(const std::filesystem::path& queue, const std::string& unit,
                 const std::string& dist, RunSummary& summary);
  // Refusals, set aside in the queue's rejected/ with a .reason through
  // jobs::set_aside: the first of `names` is the control. False when the
  // set-aside failed (its journal stays for the next run).
  bool set_aside(const std::filesystem::path& queue, const std::vector<std::string>& names,
                 const std::string& reason, RunSummary& summary);
  // A whole unit folder; nothing when a set-aside failed earlier in this run.
  void set_aside_unit(const std::filesystem::path& queue, const std::string& unit,
                      const std::string& reason, RunSummary& summary);
  std::optional<jobs::SetAsideOutcome> finish_set_aside(jobs::SetAside move, RunSummary& summary);
  std::string component_for(const std::string& section) const;
  std::int64_t now() const;

  const config::Config& m_config;
  const config::Repository& m_repository;
  Catalog& m_catalog;
  Pool& m_pool;
  std::filesystem::path m_journal_dir;
  bool m_journal_left = false; // a set-aside failed and its journal stays
  const util::Clock& m_clock;
  util::Log& m_log;
};

} // namespace buildme::repo
