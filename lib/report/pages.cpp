#include "report/pages.hpp"

#include "report/html.hpp"
#include "util/clock.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace buildme::report {

namespace {

using json::Array;
using json::Object;
using json::Value;

std::string h(std::string_view text)
{
  return escape(text);
}

std::string link(std::string_view from, std::string_view to, std::string_view text)
{
  return fmt::format("<a href=\"{}\">{}</a>", h(relative(from, to)), h(text));
}

std::string json_path(std::string_view page)
{
  return std::string(page.substr(0, page.rfind('.'))) + ".json";
}

// A time in UTC, with its age at `now` when now is set.
std::string when(std::int64_t seconds, std::int64_t now = 0)
{
  if (seconds <= 0) {
    return "&#8211;";
  }
  std::string out = fmt::format("<time datetime=\"{}\">{}</time>", util::format_rfc3339(seconds),
                                util::format_utc(seconds));
  if (now > 0) {
    out += fmt::format(" <span class=\"age\">({} ago)</span>", util::age_text(now - seconds));
  }
  return out;
}

Value time_value(std::int64_t seconds)
{
  return seconds > 0 ? Value(util::format_rfc3339(seconds)) : Value();
}

std::string state_badge(std::string_view state)
{
  return fmt::format("<span class=\"state s-{}\">{}</span>", h(state), h(state));
}

Value wait_value(const std::optional<builder::WaitReason>& wait)
{
  if (!wait) {
    return {};
  }
  return Object{{"kind", std::string(builder::to_string(wait->kind))}, {"text", wait->text}};
}

std::string wait_html(const builder::WaitReason& wait)
{
  return fmt::format("<span class=\"wait w-{}\">{}</span> {}", builder::to_string(wait.kind),
                     builder::to_string(wait.kind), h(wait.text));
}

std::string page_document(const config::Config& config, std::string_view path,
                          std::string_view title, const std::string& body, std::int64_t now)
{
  const std::string& site = config.report->title;
  std::string out = fmt::format(
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>{} &#8211; {}</title>\n<link rel=\"stylesheet\" href=\"{}\">\n"
    "<link rel=\"alternate\" type=\"application/atom+xml\" title=\"Results\" href=\"{}\">\n"
    "<link rel=\"alternate\" type=\"application/json\" href=\"{}\">\n</head>\n<body>\n"
    "<header><nav><a class=\"site\" href=\"{}\">{}</a> <a href=\"{}\">Stuck</a> "
    "<a href=\"{}\">Feed</a></nav></header>\n<main>\n",
    h(title), h(site), h(relative(path, "style.css")), h(relative(path, "feed.atom")),
    h(relative(path, json_path(path))), h(relative(path, "index.html")), h(site),
    h(relative(path, "stuck.html")), h(relative(path, "feed.atom")));
  out += body;
  out += "</main>\n<footer>";
  if (now > 0) {
    out += fmt::format("Written {}. ", when(now));
  }
  out += fmt::format("Also as <a href=\"{}\">JSON</a>. buildme {}</footer>\n</body>\n</html>\n",
                     h(relative(path, json_path(path))), BUILDME_VERSION);
  return out;
}

std::string table(std::string_view caption_class, const std::vector<std::string>& head,
                  const std::vector<std::string>& rows)
{
  std::string out =
    fmt::format("<div class=\"scroll\"><table class=\"{}\">\n<thead><tr>", caption_class);
  for (const auto& name : head) {
    out += "<th>" + name + "</th>";
  }
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : rows) {
    out += row;
  }
  return out + "</tbody></table></div>\n";
}

std::string cells(const std::vector<std::string>& values)
{
  std::string out = "<tr>";
  for (const auto& value : values) {
    out += "<td>" + value + "</td>";
  }
  return out + "</tr>\n";
}

std::string source_version(std::string_view source, std::string_view version)
{
  return fmt::format("{} {}", source, version);
}

Value row_value(std::string_view from, const BuildRow& row)
{
  return Object{{"job", row.job},
                {"page", relative(from, job_page_path(row.job))},
                {"product", row.product},
                {"source", row.source},
                {"version", row.version},
                {"arch", row.arch},
                {"state", row.state},
                {"builder", row.builder},
                {"attempts", row.attempts},
                {"started_at", time_value(row.started_at)},
                {"finished_at", time_value(row.finished_at)},
                {"reason", row.reason}};
}

std::string log_link(std::string_view from, const jobs::Job& job, const BuildView& build)
{
  if (!build.has_log) {
    return "&#8211;";
  }
  return link(from, log_page_path(job.product, job.number, build.record.arch), "build.log");
}

} // namespace

std::string relative(std::string_view from, std::string_view to)
{
  std::string out;
  for (char c : from) {
    if (c == '/') {
      out += "../";
    }
  }
  return out + std::string(to);
}

std::string job_page_path(long job)
{
  return fmt::format("jobs/{}.html", job);
}

std::string source_page_path(std::string_view source)
{
  return fmt::format("sources/{}.html", segment(source));
}

std::string builder_page_path(std::string_view builder)
{
  return fmt::format("builders/{}.html", segment(builder));
}

std::string distribution_page_path(std::string_view repository, std::string_view dist)
{
  return fmt::format("repos/{}/{}.html", segment(repository), segment(dist));
}

std::string log_page_path(std::string_view product, long job, std::string_view arch)
{
  return fmt::format("logs/{}/{}/{}/build.log", segment(product), job, segment(arch));
}

Page front_page(const config::Config& config, const Front& front, std::int64_t now)
{
  const std::string path = "index.html";
  Page page;
  page.json =
    Object{{"kind", "front"}, {"title", config.report->title}, {"generated_at", time_value(now)}};
  std::string body = fmt::format("<h1>{}</h1>\n", h(config.report->title));

  // The queue, each item with why it waits.
  std::vector<std::string> rows;
  Value queue = Array{};
  for (const auto& upload : front.uploads) {
    rows.push_back(cells({h(upload.control), h(upload.product), "&#8211;", when(upload.since, now),
                          wait_html(upload.wait)}));
    queue.push(Object{{"job", nullptr},
                      {"upload", upload.control},
                      {"product", upload.product},
                      {"source", nullptr},
                      {"version", nullptr},
                      {"arch", nullptr},
                      {"since", time_value(upload.since)},
                      {"wait", wait_value(upload.wait)}});
  }
  int running_count = 0;
  for (const JobView* view : front.open) {
    for (const auto& build : view->builds) {
      if (build.record.state == jobs::BuildState::building) {
        ++running_count;
      }
      if (!build.wait) {
        continue;
      }
      const jobs::Job& job = view->job;
      rows.push_back(cells(
        {link(path, job_page_path(job.number),
              fmt::format("{} (job {})", source_version(job.source, job.version), job.number)),
         h(job.product), h(build.record.arch), when(job.accepted_at, now),
         wait_html(*build.wait)}));
      queue.push(Object{{"job", job.number},
                        {"upload", job.upload},
                        {"product", job.product},
                        {"source", job.source},
                        {"version", job.version},
                        {"arch", build.record.arch},
                        {"since", time_value(job.accepted_at)},
                        {"wait", wait_value(build.wait)}});
    }
  }
  body += fmt::format("<p class=\"summary\">{} waiting, {} building, <a href=\"stuck.html\">{} "
                      "stuck</a>.</p>\n",
                      rows.size(), running_count, front.stuck.size());
  body += "<section id=\"queue\"><h2>Queue</h2>\n";
  body += rows.empty()
            ? "<p>Nothing waits.</p>\n"
            : table("queue", {"Upload", "Product", "Arch", "Waiting since", "Why it waits"}, rows);
  body += "</section>\n";
  page.json.set("queue", std::move(queue));

  // The builds running now.
  rows.clear();
  Value running = Array{};
  for (const JobView* view : front.open) {
    const jobs::Job& job = view->job;
    for (const auto& build : view->builds) {
      if (build.record.state != jobs::BuildState::building) {
        continue;
      }
      const std::string builder_cell =
        build.builder.empty() ? h(build.record.slot)
                              : link(path, builder_page_path(build.builder), build.builder) + " " +
                                  h(build.record.slot);
      rows.push_back(cells(
        {link(path, job_page_path(job.number), source_version(job.source, job.version)),
         h(job.product), h(build.record.arch), builder_cell, when(build.record.started_at, now),
         fmt::format("<pre class=\"tail\">{}</pre>", h(build.log_tail)),
         log_link(path, job, build)}));
      running.push(Object{{"job", job.number},
                          {"page", job_page_path(job.number)},
                          {"product", job.product},
                          {"source", job.source},
                          {"version", job.version},
                          {"arch", build.record.arch},
                          {"builder", build.builder},
                          {"slot", build.record.slot},
                          {"started_at", time_value(build.record.started_at)},
                          {"log_tail", build.log_tail}});
    }
  }
  body += "<section id=\"running\"><h2>Building now</h2>\n";
  body +=
    rows.empty()
      ? "<p>No build runs.</p>\n"
      : table("running",
              {"Source", "Product", "Arch", "Builder", "Since", "Last lines of the log", "Log"},
              rows);
  body += "</section>\n";
  page.json.set("running", std::move(running));

  // Recent results.
  rows.clear();
  Value recent = Array{};
  for (const auto& row : front.recent) {
    rows.push_back(
      cells({when(row.finished_at, now),
             link(path, job_page_path(row.job), source_version(row.source, row.version)),
             h(row.product), h(row.arch), state_badge(row.state),
             row.has_log ? link(path, log_page_path(row.product, row.job, row.arch), "build.log")
                         : "&#8211;"}));
    recent.push(row_value(path, row));
  }
  body += "<section id=\"results\"><h2>Recent results</h2>\n";
  body += rows.empty()
            ? "<p>No build has finished yet.</p>\n"
            : table("results", {"Finished", "Source", "Product", "Arch", "Result", "Log"}, rows);
  body += "</section>\n";
  page.json.set("recent", std::move(recent));

  // Uploads rejected lately: an uploader looks here first.
  rows.clear();
  Value rejected = Array{};
  for (const auto& rejection : front.rejected) {
    rows.push_back(cells({when(rejection.at, now), h(rejection.name), h(rejection.product),
                          fmt::format("<pre class=\"reason\">{}</pre>", h(rejection.reason))}));
    rejected.push(Object{{"name", rejection.name},
                         {"product", rejection.product},
                         {"at", time_value(rejection.at)},
                         {"reason", rejection.reason}});
  }
  if (!rows.empty()) {
    body += "<section id=\"rejected\"><h2>Rejected lately</h2>\n" +
            table("rejected", {"When", "Upload", "Product", "Why"}, rows) + "</section>\n";
  }
  page.json.set("rejected", std::move(rejected));

  // Counts per product and arch.
  rows.clear();
  Value counts = Array{};
  for (const auto& [key, count] : front.counts) {
    rows.push_back(cells({h(key.first), h(key.second), std::to_string(count.queued),
                          std::to_string(count.building), std::to_string(count.built),
                          std::to_string(count.failed)}));
    counts.push(Object{{"product", key.first},
                       {"arch", key.second},
                       {"queued", count.queued},
                       {"building", count.building},
                       {"built_7d", count.built},
                       {"failed_7d", count.failed}});
  }
  body += "<section id=\"counts\"><h2>Per product and arch</h2>\n";
  body +=
    rows.empty()
      ? "<p>No builds yet.</p>\n"
      : table("counts",
              {"Product", "Arch", "Queued", "Building", "Built (7 days)", "Failed (7 days)"}, rows);
  body += "</section>\n";
  page.json.set("counts", std::move(counts));

  body += "<section id=\"builders\"><h2>Builders</h2>\n<ul class=\"inline\">\n";
  Value builders = Array{};
  for (const auto& name : front.builders) {
    body += "<li>" + link(path, builder_page_path(name), name) + "</li>\n";
    builders.push(Object{{"name", name}, {"page", builder_page_path(name)}});
  }
  body += "</ul></section>\n";
  page.json.set("builders", std::move(builders));
  Value distributions = Array{};
  if (!front.distributions.empty()) {
    body += "<section id=\"repositories\"><h2>Repositories</h2>\n<ul class=\"inline\">\n";
    for (const auto& [repository, dist] : front.distributions) {
      body += "<li>" +
              link(path, distribution_page_path(repository, dist), repository + "/" + dist) +
              "</li>\n";
      distributions.push(Object{{"repository", repository},
                                {"dist", dist},
                                {"page", distribution_page_path(repository, dist)}});
    }
    body += "</ul></section>\n";
  }
  page.json.set("distributions", std::move(distributions));
  page.json.set("stuck", static_cast<long>(front.stuck.size()));
  page.html = page_document(config, path, config.report->title, body, now);
  return page;
}

Page stuck_page(const config::Config& config, const std::vector<StuckItem>& stuck, std::int64_t now)
{
  const std::string path = "stuck.html";
  Page page;
  page.json = Object{{"kind", "stuck"},
                     {"generated_at", time_value(now)},
                     {"stuck_after", static_cast<long>(config.report->stuck_after.count())}};
  std::string body = fmt::format(
    "<h1>Stuck</h1>\n<p>Jobs queued or in depwait longer than {}, sources whose latest version "
    "is not built for every arch that long, and builds running far longer than the package's "
    "last ones. The list hears of each once.</p>\n",
    util::age_text(config.report->stuck_after.count()));
  std::vector<std::string> rows;
  Value items = Array{};
  for (const auto& item : stuck) {
    rows.push_back(cells({h(to_string(item.kind)),
                          link(path, job_page_path(item.job),
                               source_version(item.source, item.version) +
                                 (item.arch.empty() ? "" : " [" + item.arch + "]")),
                          h(item.product), when(item.since, now), h(item.text)}));
    items.push(Object{{"key", item.key},
                      {"kind", std::string(to_string(item.kind))},
                      {"job", item.job},
                      {"page", job_page_path(item.job)},
                      {"product", item.product},
                      {"source", item.source},
                      {"version", item.version},
                      {"arch", item.arch},
                      {"since", time_value(item.since)},
                      {"text", item.text}});
  }
  body += rows.empty() ? "<p>Nothing is stuck.</p>\n"
                       : table("stuck", {"Kind", "Item", "Product", "Since", "Why"}, rows);
  page.json.set("items", std::move(items));
  page.html = page_document(config, path, "Stuck", body, now);
  return page;
}

Page job_page(const config::Config& config, const JobView& view)
{
  const jobs::Job& job = view.job;
  const std::string path = job_page_path(job.number);
  const std::string title =
    fmt::format("{} (job {})", source_version(job.source, job.version), job.number);
  Page page;
  Value files = Array{};
  for (const auto& file : job.files) {
    files.push(file);
  }
  page.json = Object{{"kind", "job"},
                     {"job", job.number},
                     {"product", job.product},
                     {"source", job.source},
                     {"source_page", relative(path, source_page_path(job.source))},
                     {"version", job.version},
                     {"uploader", job.uploader},
                     {"state", std::string(jobs::to_string(job.state))},
                     {"reason", job.reason},
                     {"accepted_at", time_value(job.accepted_at)},
                     {"priority", job.priority},
                     {"upload", job.upload},
                     {"files", std::move(files)},
                     {"changes", view.changes}};
  std::string body = fmt::format("<h1>{}</h1>\n<dl class=\"facts\">\n", h(title));
  body += fmt::format("<dt>Source</dt><dd>{}</dd>\n",
                      link(path, source_page_path(job.source), job.source + " (every version)"));
  body += fmt::format("<dt>Product</dt><dd>{}</dd>\n", h(job.product));
  body += fmt::format("<dt>State</dt><dd>{}{}</dd>\n", state_badge(jobs::to_string(job.state)),
                      job.reason.empty() ? "" : " " + h(job.reason));
  body += fmt::format("<dt>Uploader</dt><dd>{}</dd>\n", h(job.uploader));
  body += fmt::format("<dt>Accepted</dt><dd>{}{}</dd>\n", when(job.accepted_at),
                      job.priority ? " (priority)" : "");
  body += "</dl>\n";

  std::vector<std::string> rows;
  Value builds = Array{};
  std::string tails;
  for (const auto& build : view.builds) {
    const jobs::Build& record = build.record;
    const std::string took = record.finished_at > record.started_at && record.started_at > 0
                               ? util::age_text(record.finished_at - record.started_at)
                               : "&#8211;";
    const std::string why = build.wait ? wait_html(*build.wait) : h(record.reason);
    rows.push_back(cells(
      {h(record.arch), state_badge(jobs::to_string(record.state)), std::to_string(record.attempts),
       build.builder.empty() ? "&#8211;"
                             : link(path, builder_page_path(build.builder), build.builder),
       when(record.started_at), when(record.finished_at), took, why, log_link(path, job, build)}));
    builds.push(
      Object{{"arch", record.arch},
             {"state", std::string(jobs::to_string(record.state))},
             {"attempts", record.attempts},
             {"builder", build.builder},
             {"slot", record.slot},
             {"started_at", time_value(record.started_at)},
             {"finished_at", time_value(record.finished_at)},
             {"reason", record.reason},
             {"wait", wait_value(build.wait)},
             {"log", build.has_log
                       ? Value(relative(path, log_page_path(job.product, job.number, record.arch)))
                       : Value()},
             {"log_size", static_cast<long long>(build.log_size)},
             {"log_tail", build.log_tail}});
    if (!build.log_tail.empty()) {
      tails += fmt::format("<h3>{}: the last lines of the log</h3>\n<pre class=\"log\">{}</pre>\n",
                           h(record.arch), h(build.log_tail));
    }
  }
  body += "<section id=\"builds\"><h2>Builds</h2>\n";
  body +=
    rows.empty()
      ? "<p>No builds planned yet.</p>\n"
      : table("builds",
              {"Arch", "State", "Attempts", "Builder", "Started", "Finished", "Took", "Why", "Log"},
              rows);
  body += tails + "</section>\n";
  page.json.set("builds", std::move(builds));

  rows.clear();
  Value attempts = Array{};
  for (const auto& attempt : view.attempts) {
    rows.push_back(
      cells({h(attempt.arch), std::to_string(attempt.attempt), h(attempt.slot),
             when(attempt.started_at), when(attempt.finished_at),
             attempt.result.empty() ? "running" : state_badge(attempt.result), h(attempt.reason)}));
    attempts.push(Object{{"arch", attempt.arch},
                         {"attempt", attempt.attempt},
                         {"builder", attempt.builder},
                         {"slot", attempt.slot},
                         {"started_at", time_value(attempt.started_at)},
                         {"finished_at", time_value(attempt.finished_at)},
                         {"result", attempt.result},
                         {"reason", attempt.reason}});
  }
  if (!rows.empty()) {
    body += "<section id=\"attempts\"><h2>Attempts</h2>\n" +
            table("attempts",
                  {"Arch", "Attempt", "Slot", "Started", "Finished", "Result", "Reason"}, rows) +
            "</section>\n";
  }
  page.json.set("attempts", std::move(attempts));

  body +=
    fmt::format("<section id=\"upload\"><h2>Upload</h2>\n<p>{}, with:</p>\n<ul>\n", h(job.upload));
  for (const auto& file : job.files) {
    body += "<li>" + h(file) + "</li>\n";
  }
  body += "</ul>\n";
  if (!view.changes.empty()) {
    body += "<h3>Changes</h3>\n<pre class=\"changes\">" + h(view.changes) + "</pre>\n";
  }
  body += "</section>\n";
  page.html = page_document(config, path, title, body, 0);
  return page;
}

Page source_page(const config::Config& config, const std::string& source,
                 const std::vector<BuildRow>& builds)
{
  const std::string path = source_page_path(source);
  Page page;
  page.json = Object{{"kind", "source"}, {"source", source}};
  std::string body =
    fmt::format("<h1>{}</h1>\n<p>Every version uploaded, newest first.</p>\n", h(source));
  std::vector<std::string> rows;
  Value jobs_value = Array{};
  for (std::size_t i = 0; i < builds.size();) {
    const BuildRow& first = builds[i];
    std::string results;
    Value job_builds = Array{};
    for (; i < builds.size() && builds[i].job == first.job; ++i) {
      const BuildRow& row = builds[i];
      if (!row.arch.empty()) {
        results +=
          fmt::format("{} {} ({}) ", h(row.arch), state_badge(row.state),
                      row.has_log ? link(path, log_page_path(row.product, row.job, row.arch), "log")
                                  : std::string("no log"));
        job_builds.push(Object{{"arch", row.arch},
                               {"state", row.state},
                               {"attempts", row.attempts},
                               {"finished_at", time_value(row.finished_at)}});
      }
    }
    rows.push_back(cells({h(first.version), h(first.product),
                          link(path, job_page_path(first.job), "job " + std::to_string(first.job)),
                          h(first.uploader), when(first.accepted_at), results}));
    jobs_value.push(Object{{"job", first.job},
                           {"page", relative(path, job_page_path(first.job))},
                           {"product", first.product},
                           {"version", first.version},
                           {"uploader", first.uploader},
                           {"accepted_at", time_value(first.accepted_at)},
                           {"builds", std::move(job_builds)}});
  }
  body += table("versions", {"Version", "Product", "Job", "Uploader", "Accepted", "Builds"}, rows);
  page.json.set("jobs", std::move(jobs_value));
  page.html = page_document(config, path, source, body, 0);
  return page;
}

Page builder_page(const config::Config& config, const BuilderInfo& builder, std::int64_t now)
{
  const std::string path = builder_page_path(builder.name);
  Page page;
  const bool aside = builder.health.set_aside(now);
  Value arches = Array{};
  for (const auto& arch : builder.arches) {
    arches.push(arch);
  }
  page.json =
    Object{{"kind", "builder"},
           {"generated_at", time_value(now)},
           {"name", builder.name},
           {"host", builder.host},
           {"arches", std::move(arches)},
           {"set_aside", aside},
           {"set_aside_until", aside ? time_value(builder.health.set_aside_until) : Value()},
           {"faults", builder.health.faults},
           {"reason", aside ? Value(builder.health.reason) : Value()}};
  std::string body = fmt::format("<h1>Builder {}</h1>\n<dl class=\"facts\">\n", h(builder.name));
  body += fmt::format("<dt>Host</dt><dd>{}</dd>\n", h(builder.host));
  body += fmt::format("<dt>Arches</dt><dd>{}</dd>\n", h(util::join(builder.arches, " ")));
  body += aside ? fmt::format("<dt>Health</dt><dd><span class=\"state s-set-aside\">set "
                              "aside</span> until {} after {} fault(s) since {}: {}</dd>\n",
                              when(builder.health.set_aside_until), builder.health.faults,
                              when(builder.health.since, now), h(builder.health.reason))
                : "<dt>Health</dt><dd><span class=\"state s-success\">in service</span></dd>\n";
  body += "</dl>\n";
  std::vector<std::string> rows;
  Value slots = Array{};
  for (const auto& slot : builder.slots) {
    rows.push_back(cells({h(slot.description),
                          slot.job ? link(path, job_page_path(slot.job), slot.building) : "free"}));
    slots.push(Object{{"id", slot.id},
                      {"description", slot.description},
                      {"building", slot.job ? Value(slot.building) : Value()},
                      {"job", slot.job ? Value(slot.job) : Value()}});
  }
  body += "<section id=\"slots\"><h2>Slots</h2>\n" + table("slots", {"Slot", "Building"}, rows) +
          "</section>\n";
  page.json.set("slots", std::move(slots));
  rows.clear();
  Value per_day = Array{};
  for (const auto& [day, count] : builder.per_day) {
    rows.push_back(cells({h(util::format_utc(day).substr(0, 10)), std::to_string(count)}));
    per_day.push(Object{{"day", util::format_utc(day).substr(0, 10)}, {"builds", count}});
  }
  body += "<section id=\"per-day\"><h2>Builds per day (last 14 days)</h2>\n";
  body += rows.empty() ? "<p>None.</p>\n" : table("per-day", {"Day (UTC)", "Builds"}, rows);
  body += "</section>\n";
  page.json.set("per_day", std::move(per_day));
  page.html = page_document(config, path, "Builder " + builder.name, body, now);
  return page;
}

Page distribution_page(const config::Config& config, const Distribution& dist)
{
  const std::string path = distribution_page_path(dist.repository, dist.dist);
  const std::string title = dist.repository + "/" + dist.dist;
  Page page;
  page.json =
    Object{{"kind", "distribution"},
           {"repository", dist.repository},
           {"dist", dist.dist},
           {"deb_line", dist.deb_line},
           {"sign_with", dist.sign_with},
           {"key", dist.key_link.empty() ? Value() : Value(relative(path, dist.key_link))},
           {"error", dist.error.empty() ? Value() : Value(dist.error)}};
  std::string body = fmt::format("<h1>{}</h1>\n<p>To use it, add this line to "
                                 "<code>/etc/apt/sources.list.d/{}.list</code>:</p>\n"
                                 "<pre class=\"deb\"><code>{}</code></pre>\n",
                                 h(title), h(dist.repository), h(dist.deb_line));
  if (!dist.key_link.empty()) {
    body += fmt::format("<p>The signing key: {} (save it as "
                        "<code>/usr/share/keyrings/{}.asc</code>).</p>\n",
                        link(path, dist.key_link, "download"), h(dist.repository));
  } else if (!dist.sign_with.empty()) {
    body += fmt::format("<p>Signed with the key <code>{}</code>.</p>\n", h(dist.sign_with));
  }
  if (!dist.error.empty()) {
    body += "<p class=\"error\">" + h(dist.error) + "</p>\n";
  }
  std::vector<std::string> rows;
  Value members = Array{};
  for (const auto& member : dist.members) {
    rows.push_back(cells({h(member.name), h(member.version), h(member.arch), h(member.component),
                          link(path, source_page_path(member.source), member.source)}));
    members.push(Object{{"name", member.name},
                        {"version", member.version},
                        {"arch", member.arch},
                        {"kind", member.kind},
                        {"component", member.component},
                        {"source", member.source}});
  }
  body += "<section id=\"packages\"><h2>Packages</h2>\n";
  body += rows.empty()
            ? "<p>It holds nothing yet.</p>\n"
            : table("packages", {"Package", "Version", "Arch", "Component", "Source"}, rows);
  body += "</section>\n";
  page.json.set("packages", std::move(members));
  page.html = page_document(config, path, title, body, 0);
  return page;
}

std::string atom_feed(const config::Config& config, const std::vector<BuildRow>& recent)
{
  const std::string& base = config.report->url;
  const std::string id = base.empty() ? "urn:buildme:results" : base + "feed.atom";
  std::int64_t updated = 1;
  for (const auto& row : recent) {
    updated = std::max(updated, row.finished_at);
  }
  std::string out = fmt::format(
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"{}>\n"
    "<title>{}: results</title>\n<id>{}</id>\n<updated>{}</updated>\n"
    "<author><name>buildme</name></author>\n<link rel=\"self\" href=\"feed.atom\"/>\n"
    "<link href=\"index.html\"/>\n",
    base.empty() ? "" : fmt::format(" xml:base=\"{}\"", h(base)), h(config.report->title), h(id),
    util::format_rfc3339(updated));
  for (const auto& row : recent) {
    const std::string verdict = row.state == "success" ? "BUILT" : "FAILED";
    out += fmt::format(
      "<entry>\n<title>{} {} {} ({}, {})</title>\n<id>urn:buildme:job:{}:{}:{}</id>\n"
      "<updated>{}</updated>\n<link href=\"{}\"/>\n<summary>{}: {}</summary>\n</entry>\n",
      verdict, h(row.source), h(row.version), h(row.product), h(row.arch), row.job, h(row.arch),
      row.attempts, util::format_rfc3339(row.finished_at), h(job_page_path(row.job)), h(row.state),
      h(row.reason));
  }
  return out + "</feed>\n";
}

std::string_view stylesheet()
{
  return R"css(/* buildme status site: one stylesheet, no scripts. */
:root { color-scheme: light dark; --fg: #1b1b1b; --bg: #fdfdfd; --muted: #666; --line: #ddd;
  --good: #1a7f37; --bad: #c62828; --wait: #9a6700; --link: #0b57d0; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e6e6; --bg: #161616; --muted: #a0a0a0; --line: #333;
    --good: #4ac26b; --bad: #ff6b6b; --wait: #e3b341; --link: #8ab4f8; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header, main, footer { max-width: 80rem; margin: 0 auto; padding: 0.5rem 1rem; }
header { border-bottom: 1px solid var(--line); }
nav a { margin-right: 1rem; }
nav a.site { font-weight: bold; }
a { color: var(--link); }
h1 { font-size: 1.5rem; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin-top: 1.5rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 0.3rem 0.5rem;
  border-bottom: 1px solid var(--line); overflow-wrap: break-word; }
time { white-space: nowrap; }
th { font-size: 0.85rem; color: var(--muted); }
pre { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 0.85rem; margin: 0;
  background: color-mix(in srgb, var(--fg) 5%, transparent); padding: 0.4rem; }
pre.tail { max-height: 12rem; overflow-y: auto; min-width: 16rem; }
.state, .wait { font-size: 0.85rem; padding: 0 0.3rem; border: 1px solid currentColor;
  border-radius: 0.2rem; white-space: nowrap; }
.s-success, .s-built { color: var(--good); }
.s-build-failed, .s-failed, .s-bad-package, .s-builder-error, .s-depwait-expired,
.s-set-aside { color: var(--bad); }
.s-queued, .s-building, .s-depwait, .s-held, .wait { color: var(--wait); }
.age, footer { color: var(--muted); }
footer { border-top: 1px solid var(--line); font-size: 0.85rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
ul.inline { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.5rem 1.5rem; }
.error { color: var(--bad); }
@media (max-width: 40rem) {
  body { font-size: 15px; }
  /* Wide tables scroll sideways in their box rather than break every word. */
  table { min-width: 38rem; }
  table.counts, table.slots, table.per-day, table.stuck { min-width: 0; }
  th, td { padding: 0.25rem; }
  dl.facts { grid-template-columns: 1fr; }
}
)css";
}

} // namespace buildme::report
