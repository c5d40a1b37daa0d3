// The pages of the status site, each as HTML and as the JSON beside it
// (docs/report-schema.json). Pure functions of what they are given: every
// string from an upload or a log goes through escape() (html.hpp), links
// are relative to the page, times are UTC with their age at `now`.
//
//   index.html                       the front page: queue, running, results, counts
//   stuck.html                       what is stuck
//   jobs/JOB.html                    a job: its upload, builds, attempts, logs
//   sources/SOURCE.html              every version of a source package
//   builders/NAME.html               a builder: slots, health, builds per day
//   repos/REPOSITORY/DIST.html       what a distribution holds, its deb line
//   logs/PRODUCT/JOB/ARCH/build.log  the build logs (and build.log.gz)
//   feed.atom                        the latest results
//   style.css                        the one stylesheet
#pragma once

#include "builder/health.hpp"
#include "config/config.hpp"
#include "report/json.hpp"
#include "report/model.hpp"
#include "repo/catalog.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace buildme::report {

struct Page
{
  std::string html;
  json::Value json;
};

// Counts on the front page, per product and arch.
struct Counts
{
  int queued = 0;
  int building = 0;
  int built = 0; // finished in the last 7 days
  int failed = 0;
};

struct Front
{
  std::vector<WaitingUpload> uploads;
  std::vector<const JobView*> open; // queued, building, held
  std::vector<BuildRow> recent;     // newest first
  std::vector<Rejection> rejected;  // newest first
  std::map<std::pair<std::string, std::string>, Counts> counts;
  std::vector<StuckItem> stuck;
  std::vector<std::string> builders;
  std::vector<std::pair<std::string, std::string>> distributions; // repository, dist
};

struct Slot
{
  std::string id;
  std::string description;
  std::string building; // "job 12 hello 1.0-1 [armel]", empty when free
  long job = 0;
};

struct BuilderInfo
{
  std::string name;
  std::string host;
  std::vector<std::string> arches;
  std::vector<Slot> slots;
  builder::BuilderHealth health;
  std::vector<std::pair<std::int64_t, int>> per_day; // day (seconds), builds
};

struct Distribution
{
  std::string repository;
  std::string dist;
  std::vector<std::string> components;
  std::string deb_line;
  std::string sign_with;
  std::string key_link; // relative to the site, empty without a key file
  std::vector<repo::Member> members;
  std::string error; // the catalog could not be read
};

// The relative link from a page at `from` (a path below the site) to
// `to`: "../jobs/12.html".
std::string relative(std::string_view from, std::string_view to);

std::string job_page_path(long job);
std::string source_page_path(std::string_view source);
std::string builder_page_path(std::string_view builder);
std::string distribution_page_path(std::string_view repository, std::string_view dist);
std::string log_page_path(std::string_view product, long job, std::string_view arch);

Page front_page(const config::Config& config, const Front& front, std::int64_t now);
Page stuck_page(const config::Config& config, const std::vector<StuckItem>& stuck,
                std::int64_t now);
// A job's page does not depend on the time it is written: a job that did
// not change gives the same bytes.
Page job_page(const config::Config& config, const JobView& view);
Page source_page(const config::Config& config, const std::string& source,
                 const std::vector<BuildRow>& builds);
Page builder_page(const config::Config& config, const BuilderInfo& builder, std::int64_t now);
Page distribution_page(const config::Config& config, const Distribution& dist);
std::string atom_feed(const config::Config& config, const std::vector<BuildRow>& recent);

std::string_view stylesheet();

} // namespace buildme::report
