// The status site written from a state folder made with the real
// transitions: what is written, what a later run writes again, escaping,
// and the stuck mail.
#include "report/report.hpp"

#include "builder/slots.hpp"
#include "captured_log.hpp"
#include "history/history.hpp"
#include "jobs/reflect.hpp"
#include "jobs/state_dir.hpp"
#include "jobs/transitions.hpp"
#include "json_check.hpp"
#include "mail/outbox.hpp"
#include "repo/catalog.hpp"
#include "sample_job.hpp"
#include "scratch.hpp"
#include "test_config.hpp"
#include "util/fs.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

namespace unit_test_report_report {

using namespace buildme;
using buildme::test::has;
using buildme::test::ScratchDir;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t day = 86400;

struct SiteFixture
{
  ScratchDir scratch;
  config::Config config;
  jobs::StateDir state{scratch / "state"};
  util::FakeClock clock{util::Clock::time_point(std::chrono::seconds(1000 * day))};
  test::CapturedLog log;
  fs::path site = scratch / "site";

  explicit SiteFixture(const std::string& extra = "")
  {
    config = test::test_config(scratch.path(), fmt::format("[product fremantle]\n"
                                                           "arches = armel\n"
                                                           "[builder b1]\n"
                                                           "host = local\n"
                                                           "arches = armel\n"
                                                           "[report]\n"
                                                           "dir = {}\n"
                                                           "url = https://builder.example.org/\n"
                                                           "title = Example <extras> autobuilder\n",
                                                           site.string()) +
                                                 extra);
    REQUIRE(state.prepare());
  }

  std::int64_t now() const { return util::unix_seconds(clock.now()); }

  void reflect(const fs::path& dir)
  {
    auto history = history::History::open((config.state_dir / "history.sqlite").string());
    REQUIRE_MESSAGE(history, history.message());
    const auto slots = builder::all_slots(config);
    REQUIRE(jobs::reflect(*history, dir, now(), builder::slot_names(slots)));
  }

  // Job N of hello, planned for armel, accepted now.
  fs::path add_job(long number, const std::string& uploader = "Jane Doe <jane@example.org>")
  {
    const fs::path dir = state.job_dir(number);
    fs::create_directories(dir / "upload");
    jobs::Job job = test::sample_job(number);
    job.uploader = uploader;
    job.accepted_at = now();
    REQUIRE(jobs::save_job(dir, job));
    REQUIRE(jobs::plan(dir, job, {"armel"}, ""));
    REQUIRE(util::write_file_atomic(scratch / "state/next-job", fmt::format("{}\n", number + 1)));
    reflect(dir);
    return dir;
  }

  // The build ran on b1.1 and ended with `result`, its log saying `log`.
  void finish(const fs::path& dir, jobs::BuildState result, const std::string& log_text = "ok\n")
  {
    auto build = jobs::load_build(dir, "armel");
    REQUIRE(build);
    REQUIRE(jobs::claim(dir, *build, "b1.1", "building", now() - 60));
    const auto job = jobs::load_job(dir).value();
    const fs::path results = scratch / "results/fremantle" / std::to_string(job.number) / "armel";
    fs::create_directories(results);
    scratch.write(fs::relative(results / "build.log", scratch.path()).string(), log_text);
    if (result == jobs::BuildState::success) {
      REQUIRE(jobs::begin_handover(dir, *build, "built", now()));
      REQUIRE(jobs::complete_handover(dir, *build));
    } else {
      REQUIRE(jobs::finish(dir, *build, result, "the build failed", now()));
    }
    REQUIRE(jobs::update_job_state(dir));
    reflect(dir);
  }

  report::ReportSummary run(report::Rewrite rewrite = report::Rewrite::changed,
                            mail::Outbox* outbox = nullptr)
  {
    auto written = report::write_report(config, rewrite, clock, log, outbox);
    REQUIRE_MESSAGE(written, written.message());
    return *written;
  }

  std::string page(const std::string& rel) const { return ScratchDir::read(site / rel); }
};

bool wrote(const report::ReportSummary& summary, const std::string& rel)
{
  return std::find(summary.written.begin(), summary.written.end(), rel) != summary.written.end();
}

std::vector<fs::path> files_below(const fs::path& dir, const std::string& extension)
{
  std::vector<fs::path> found;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == extension) {
      found.push_back(entry.path());
    }
  }
  return found;
}

} // namespace

TEST_SUITE("report: the status site")
{
  TEST_CASE("every page is written, and the JSON beside each one parses")
  {
    SiteFixture f;
    f.finish(f.add_job(1), jobs::BuildState::success);
    f.finish(f.add_job(2), jobs::BuildState::build_failed, "error: this is not C\n");
    f.add_job(3);
    auto summary = f.run();
    CHECK(summary.jobs_read == 3);
    for (const char* rel :
         {"index.html", "index.json", "stuck.html", "stuck.json", "jobs/1.html", "jobs/2.json",
          "jobs/3.html", "sources/hello.html", "sources/hello.json", "builders/b1.html",
          "logs/fremantle/1/armel/build.log", "logs/fremantle/2/armel/build.log", "feed.atom",
          "style.css"}) {
      CHECK_MESSAGE(fs::is_regular_file(f.site / rel), rel);
    }
    CHECK_FALSE(fs::exists(f.site / "logs/fremantle/3"));
    const auto json = files_below(f.site, ".json");
    CHECK(json.size() == 7); // 3 jobs, front, stuck, source, builder
    for (const auto& file : json) {
      CHECK_MESSAGE(test::valid_json(ScratchDir::read(file)), file.string());
    }
    const std::string front = f.page("index.html");
    CHECK(has(front, "1 waiting, 0 building"));
    CHECK(has(front, "<span class=\"wait w-next-tick\">next-tick</span>"));
    CHECK(has(front, "<a href=\"jobs/2.html\">hello 1.0-2</a>"));
    CHECK(has(f.page("jobs/2.html"), "error: this is not C"));
    CHECK(has(f.page("jobs/2.html"), "<a href=\"../logs/fremantle/2/armel/build.log\">"));
    CHECK(has(f.page("index.json"), "\"kind\": \"next-tick\""));
  }

  TEST_CASE("after one job finishes, its pages and the front page are written, not the others")
  {
    SiteFixture f;
    f.finish(f.add_job(1), jobs::BuildState::success);
    f.finish(f.add_job(2), jobs::BuildState::success);
    auto three = f.add_job(3);
    f.run();
    f.clock.advance(std::chrono::seconds(600));

    auto quiet = f.run();
    CHECK_FALSE(wrote(quiet, "jobs/1.html"));
    CHECK_FALSE(wrote(quiet, "jobs/3.html"));
    CHECK_FALSE(wrote(quiet, "sources/hello.html"));
    CHECK(wrote(quiet, "index.html")); // its ages and "written at" moved on

    f.clock.advance(std::chrono::seconds(600));
    f.finish(three, jobs::BuildState::success);
    auto after = f.run();
    CHECK(wrote(after, "jobs/3.html"));
    CHECK(wrote(after, "jobs/3.json"));
    CHECK(wrote(after, "sources/hello.html"));
    CHECK(wrote(after, "logs/fremantle/3/armel/build.log"));
    CHECK(wrote(after, "index.html"));
    CHECK(wrote(after, "feed.atom"));
    CHECK_FALSE(wrote(after, "jobs/1.html"));
    CHECK_FALSE(wrote(after, "jobs/2.html"));
    CHECK_FALSE(wrote(after, "logs/fremantle/1/armel/build.log"));
    CHECK(has(f.page("index.html"), "0 waiting, 0 building"));

    // --all writes every page again.
    auto all = f.run(report::Rewrite::all);
    CHECK(all.jobs_read == 3);
  }

  TEST_CASE("a <script> in a maintainer field and in a build log shows as text")
  {
    SiteFixture f;
    auto dir = f.add_job(1, "Mallory <script>alert('maintainer')</script> <m@example.org>");
    f.finish(dir, jobs::BuildState::build_failed,
             "make: *** <script>alert(\"log\")</script> Error 1\n\x1b[31mred\x1b[0m\n");
    f.run();
    for (const char* rel : {"jobs/1.html", "index.html", "sources/hello.html", "feed.atom"}) {
      const std::string text = f.page(rel);
      CHECK_MESSAGE(!has(text, "<script"), rel);
    }
    CHECK(has(f.page("jobs/1.html"), "&lt;script&gt;alert(&quot;log&quot;)&lt;/script&gt;"));
    CHECK(has(f.page("jobs/1.html"), "Mallory &lt;script&gt;alert(&#39;maintainer&#39;)"));
    CHECK_FALSE(has(f.page("jobs/1.html"), "\x1b"));
    CHECK(has(f.page("index.html"), "Example &lt;extras&gt; autobuilder"));
    CHECK(test::valid_json(f.page("jobs/1.json")));
  }

  TEST_CASE("a stuck job is listed and mailed to the list once, and again only after it recovered")
  {
    SiteFixture f("[mail]\n"
                  "smtp_url = smtp://127.0.0.1:1\n"
                  "from = buildme <buildme@example.org>\n"
                  "list = builds@example.org\n");
    mail::Outbox outbox(f.config.state_dir, f.clock);
    auto dir = f.add_job(1);
    auto outbox_size = [&] {
      auto names = util::list_dir(f.config.state_dir / "mail/outbox");
      return names ? names->size() : 0;
    };
    f.run(report::Rewrite::changed, &outbox);
    CHECK(outbox_size() == 0);
    f.clock.advance(std::chrono::seconds(2 * day + 1));
    auto first = f.run(report::Rewrite::changed, &outbox);
    CHECK(first.stuck == 1);
    CHECK(first.stuck_mailed == 1);
    CHECK(outbox_size() == 1);
    CHECK(has(f.page("stuck.html"), "queued for 2 days"));
    CHECK(has(f.page("stuck.json"), "\"key\": \"queued/1/armel\""));
    f.clock.advance(std::chrono::seconds(60));
    auto second = f.run(report::Rewrite::changed, &outbox);
    CHECK(second.stuck == 1);
    CHECK(second.stuck_mailed == 0);
    CHECK(outbox_size() == 1);
    // Built at last: no longer stuck, and forgotten.
    f.finish(dir, jobs::BuildState::success);
    auto done = f.run(report::Rewrite::changed, &outbox);
    CHECK(done.stuck == 0);
    CHECK(has(f.page("stuck.html"), "Nothing is stuck."));
  }

  TEST_CASE("before the first upload the site says that nothing waits")
  {
    SiteFixture f;
    fs::remove_all(f.scratch / "state/jobs");
    auto summary = f.run();
    CHECK(summary.jobs_read == 0);
    CHECK(has(f.page("index.html"), "Nothing waits."));
    CHECK(test::valid_json(f.page("index.json")));
  }

  TEST_CASE("a log that cannot be copied costs its link, not the site")
  {
    SiteFixture f;
    auto dir = f.add_job(1);
    f.finish(dir, jobs::BuildState::build_failed);
    fs::create_directories(f.site / "logs/fremantle/1/armel/build.log"); // in the way
    auto summary = f.run();
    CHECK(has(f.log.text(), "status site: the log of job 1 [armel]"));
    CHECK(fs::exists(f.site / "jobs/1.html"));
    CHECK_FALSE(has(f.page("jobs/1.html"), "build.log"));
    CHECK(summary.jobs_read == 1);

    // A log that is a symlink is never read nor served.
    const fs::path log = f.scratch / "results/fremantle/1/armel/build.log";
    fs::remove(log);
    fs::create_symlink("/etc/passwd", log);
    fs::remove_all(f.site / "logs");
    f.run(report::Rewrite::all);
    CHECK_FALSE(fs::exists(f.site / "logs/fremantle/1/armel/build.log"));
    CHECK_FALSE(has(f.page("jobs/1.html"), "build.log"));
  }

  TEST_CASE("a distribution's page lists its packages, the deb line and the signing key")
  {
    ScratchDir staging;
    SiteFixture f(fmt::format("[repository extras-devel]\n"
                              "staging_dir = {}\n"
                              "products = fremantle\n"
                              "url = https://repo.example.org/extras-devel\n",
                              staging.path().string()));
    staging.write("archive-key.asc", "-----BEGIN PGP PUBLIC KEY BLOCK-----\nx\n");
    {
      fs::create_directories(f.scratch / "state/repo");
      auto catalog = repo::Catalog::open((f.scratch / "state/repo/extras-devel.sqlite").string());
      REQUIRE_MESSAGE(catalog, catalog.message());
      repo::Member member;
      member.dist = "fremantle";
      member.kind = "binary";
      member.component = "main";
      member.arch = "armel";
      member.name = "hello<b>";
      member.version = "1.0-1";
      member.source = "hello";
      member.source_version = "1.0-1";
      member.path = "pool/main/h/hello/hello_1.0-1_armel.deb";
      REQUIRE(catalog->add_member(member));
    }
    f.add_job(1);
    f.run();
    const std::string page = f.page("repos/extras-devel/fremantle.html");
    CHECK(has(page, "deb [signed-by=/usr/share/keyrings/extras-devel.asc] "
                    "https://repo.example.org/extras-devel fremantle main"));
    CHECK(has(page, "<a href=\"../../keys/extras-devel.asc\">download</a>"));
    CHECK(has(page, "<td>hello&lt;b&gt;</td><td>1.0-1</td><td>armel</td>"));
    CHECK(f.page("keys/extras-devel.asc") == "-----BEGIN PGP PUBLIC KEY BLOCK-----\nx\n");
    CHECK(test::valid_json(f.page("repos/extras-devel/fremantle.json")));
    CHECK(has(f.page("index.html"), "<a href=\"repos/extras-devel/fremantle.html\">"));
    // Written again only when its Release changed.
    f.clock.advance(std::chrono::seconds(60));
    CHECK_FALSE(wrote(f.run(), "repos/extras-devel/fremantle.html"));
  }

  TEST_CASE("a distribution with no address for clients says so, rather than show another's")
  {
    ScratchDir staging;
    SiteFixture f(fmt::format("[repository extras-devel]\n"
                              "staging_dir = {}\n"
                              "products = fremantle\n",
                              staging.path().string()));
    staging.write("dists/fremantle/Release", "Suite: fremantle\n");
    f.add_job(1);
    f.run();
    const std::string page = f.page("repos/extras-devel/fremantle.html");
    CHECK(has(page, "deb &lt;no address: set repo_url in [report] of buildme.conf&gt; "
                    "fremantle main"));
    CHECK_FALSE(has(page, "example.org/extras-devel"));
  }

  TEST_CASE("a rejected upload shows on the front page with its reason, newest first")
  {
    SiteFixture f;
    f.scratch.write("incoming/fremantle/rejected/old.dsc.reason",
                    "Upload: old.dsc\nProduct: fremantle\n\nan older reject\n\nFiles moved to "
                    "this folder:\n  old.dsc\n");
    fs::last_write_time(f.scratch / "incoming/fremantle/rejected/old.dsc.reason",
                        fs::file_time_type::clock::now() - std::chrono::hours(1));
    f.scratch.write("incoming/fremantle/rejected/x.changes.reason",
                    "Upload: <b>x</b>.changes\nProduct: fremantle\nRejected: 2026-11-21 "
                    "12:00:00\n\nx.dsc is 10 bytes but <script> lists 12\n\nFiles moved to "
                    "this folder:\n  x.changes\n");
    f.run();
    const std::string front = f.page("index.html");
    CHECK(has(front, "<td>&lt;b&gt;x&lt;/b&gt;.changes</td>"));
    CHECK(has(front, "x.dsc is 10 bytes but &lt;script&gt; lists 12"));
    CHECK_FALSE(has(front, "Files moved"));
    CHECK(front.find("x&lt;/b&gt;.changes") < front.find("old.dsc"));
    CHECK(has(f.page("index.json"), "\"reason\": \"an older reject\""));
  }

  TEST_CASE("a site that cannot be written is logged at the end of a tick, never thrown")
  {
    SiteFixture f;
    f.scratch.write("site", "a file where the folder should be");
    report::report_after_tick(f.config, f.clock, f.log, nullptr);
    CHECK(has(f.log.text(), "status site not written"));
  }
}

} // namespace unit_test_report_report
