// Setting files aside with a reason (jobs/set_aside.hpp): what ends in the
// rejected folder and its .reason, that nothing there is overwritten, and
// that a run killed half-way (a failpoint in a forked child) is finished by
// the replay without losing a file or taking a new one of the same name.
#include "jobs/set_aside.hpp"

#include "scratch.hpp"
#include "util/fs.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <string>
#include <vector>

namespace unit_test_jobs_set_aside {

using buildme::jobs::MovedName;
using buildme::jobs::reason_text;
using buildme::jobs::replay_set_asides;
using buildme::jobs::SetAside;
using buildme::test::has;
using buildme::test::names_in;
using buildme::test::ScratchDir;

namespace fs = std::filesystem;

namespace {

std::vector<std::string> sorted(std::vector<std::string> names)
{
  std::sort(names.begin(), names.end());
  return names;
}

unsigned long inode_of(const fs::path& path)
{
  auto info = buildme::util::stat_no_follow(path);
  REQUIRE(info);
  REQUIRE(*info);
  return static_cast<unsigned long>((*info)->inode);
}

constexpr std::string_view advice = "finish it by hand, then delete it";

// A queue with a refused source (three files) and a build's unit folder.
struct Queue
{
  ScratchDir scratch;
  fs::path queue = scratch / "queue";
  fs::path rejected = queue / "rejected";
  fs::path journals = scratch / "state/repo/extras-devel.txn";
  const std::vector<std::string> source{"hello_1.0-1.dsc", "hello_1.0.orig.tar.gz",
                                        "hello_1.0-1.debian.tar.xz"};

  Queue()
  {
    for (const auto& name : source) {
      put(name, "");
    }
    scratch.write("queue/job-1-amd64-1/hello_1.0-1_amd64.deb", "the package\n");
  }

  void put(const std::string& name, std::string_view flavour) const
  {
    scratch.write("queue/" + name, content(name, flavour));
  }
  static std::string content(const std::string& name, std::string_view flavour = "")
  {
    return fmt::format("the content of {}{}\n", name, flavour);
  }

  // The source's set-aside as queue-manage makes it: the .dsc is the
  // control, the inodes are known.
  SetAside source_move() const
  {
    SetAside move;
    move.from_dir = queue;
    move.rejected_dir = rejected;
    move.control = source.front();
    move.control_inode = inode_of(queue / source.front());
    for (std::size_t i = 1; i < source.size(); ++i) {
      move.files.push_back(source[i]);
      move.inodes.push_back(inode_of(queue / source[i]));
    }
    move.header = {{"Repository", "extras-devel"}, {"Refused", "2024-01-01 12:00:00"}};
    move.reason = "SHA256 of hello_1.0.orig.tar.gz does not match the .dsc";
    return move;
  }

  // Runs the set-aside in a child killed at `failpoint`; the journal stays.
  void set_aside_killed_at(const std::string& failpoint, const SetAside& move) const
  {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::setenv("BUILDME_FAILPOINT", failpoint.c_str(), 1);
      auto done = buildme::jobs::set_aside(journals, move);
      ::_exit(done ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE_MESSAGE(WIFSIGNALED(status), "the set-aside did not stop at ", failpoint);
    CHECK(WTERMSIG(status) == SIGKILL);
    REQUIRE(names_in(journals).size() == 1);
  }
};

} // namespace

TEST_CASE("the .reason is the header, the reason, then every name moved, a folder with a slash")
{
  const std::string text =
    reason_text({{"Repository", "extras-devel"}, {"Unit", "job-1-amd64-1"}}, "it was refused",
                {{"hello_1.0-1_amd64.deb", "hello_1.0-1_amd64.deb", false},
                 {"hello_1.0.orig.tar.gz", "hello_1.0.orig.tar.gz.1", false},
                 {"job-1-amd64-1", "job-1-amd64-1", true},
                 {"job-2-amd64-1", "job-2-amd64-1.2", true},
                 {"hello_1.0-1.dsc", "", false}});
  CHECK(text == "Repository: extras-devel\n"
                "Unit: job-1-amd64-1\n"
                "\n"
                "it was refused\n"
                "\n"
                "Files moved to this folder:\n"
                "  hello_1.0-1_amd64.deb\n"
                "  hello_1.0.orig.tar.gz (as hello_1.0.orig.tar.gz.1)\n"
                "  job-1-amd64-1/\n"
                "  job-2-amd64-1/ (as job-2-amd64-1.2/)\n"
                "  hello_1.0-1.dsc (moved before the run was interrupted)\n");
  // Without a header (the journals of older runs carry it in the reason).
  CHECK(reason_text({}, "Upload: x\n\nbad\n", {{"x", "x", false}}) ==
        "Upload: x\n\nbad\n\nFiles moved to this folder:\n  x\n");
}

TEST_CASE("files and a folder are set aside, the control last, with one .reason in the one format")
{
  Queue q;
  auto files = buildme::jobs::set_aside(q.journals, q.source_move());
  REQUIRE_MESSAGE(files, files.message());
  CHECK(files->control == q.rejected / "hello_1.0-1.dsc");
  CHECK(files->moved.back() ==
        std::pair<std::string, std::string>{"hello_1.0-1.dsc", "hello_1.0-1.dsc"});
  CHECK(ScratchDir::read(files->reason) ==
        "Repository: extras-devel\nRefused: 2024-01-01 12:00:00\n\n"
        "SHA256 of hello_1.0.orig.tar.gz does not match the .dsc\n\n"
        "Files moved to this folder:\n"
        "  hello_1.0.orig.tar.gz\n  hello_1.0-1.debian.tar.xz\n  hello_1.0-1.dsc\n");

  SetAside unit;
  unit.from_dir = q.queue;
  unit.rejected_dir = q.rejected;
  unit.control = "job-1-amd64-1";
  unit.control_inode = inode_of(q.queue / "job-1-amd64-1");
  unit.header = {{"Repository", "extras-devel"}, {"Unit", "job-1-amd64-1"}};
  unit.reason = "its source was refused";
  auto folder = buildme::jobs::set_aside(q.journals, unit);
  REQUIRE_MESSAGE(folder, folder.message());
  CHECK(ScratchDir::read(q.rejected / "job-1-amd64-1/hello_1.0-1_amd64.deb") == "the package\n");
  CHECK(ScratchDir::read(q.rejected / "job-1-amd64-1.reason") ==
        "Repository: extras-devel\nUnit: job-1-amd64-1\n\nits source was refused\n\n"
        "Files moved to this folder:\n  job-1-amd64-1/\n");

  CHECK(names_in(q.queue) == std::vector<std::string>{"rejected"});
  CHECK(names_in(q.journals).empty());
  for (const auto& name : q.source) {
    CAPTURE(name);
    CHECK(ScratchDir::read(q.rejected / name) == Queue::content(name));
  }
}

TEST_CASE("a name already in rejected/ is never overwritten: the second gets .1, its .reason too")
{
  Queue q;
  REQUIRE(buildme::jobs::set_aside(q.journals, q.source_move()));
  for (const auto& name : q.source) {
    q.put(name, " (second)");
  }
  // A .reason whose file someone removed is not taken for the new one's.
  q.scratch.write("queue/rejected/hello_1.0-1.dsc.1.reason", "left alone\n");

  auto second = buildme::jobs::set_aside(q.journals, q.source_move());
  REQUIRE_MESSAGE(second, second.message());
  CHECK(second->control == q.rejected / "hello_1.0-1.dsc.2");
  CHECK(second->reason == q.rejected / "hello_1.0-1.dsc.2.reason");
  CHECK(ScratchDir::read(q.rejected / "hello_1.0-1.dsc.1.reason") == "left alone\n");
  for (const auto& name : q.source) {
    CAPTURE(name);
    CHECK(ScratchDir::read(q.rejected / name) == Queue::content(name));
  }
  CHECK(ScratchDir::read(q.rejected / "hello_1.0.orig.tar.gz.1") ==
        Queue::content("hello_1.0.orig.tar.gz", " (second)"));
  CHECK(ScratchDir::read(q.rejected / "hello_1.0-1.dsc.2") ==
        Queue::content("hello_1.0-1.dsc", " (second)"));
  const std::string reason = ScratchDir::read(second->reason);
  CHECK(has(reason, "  hello_1.0.orig.tar.gz (as hello_1.0.orig.tar.gz.1)\n"));
  CHECK(has(reason, "  hello_1.0-1.dsc (as hello_1.0-1.dsc.2)\n"));
  CHECK(ScratchDir::read(q.rejected / "hello_1.0-1.dsc.reason").starts_with("Repository:"));
}

TEST_CASE("a set-aside killed half-way is finished by the replay, nothing lost")
{
  for (const std::string failpoint : {"set-aside:file-moved", "set-aside:control-moved"}) {
    CAPTURE(failpoint);
    Queue q;
    q.set_aside_killed_at(failpoint, q.source_move());
    CHECK(fs::exists(q.rejected / "hello_1.0.orig.tar.gz"));
    CHECK_FALSE(fs::exists(q.rejected / "hello_1.0-1.dsc.reason"));

    auto replayed = replay_set_asides(q.journals, advice);
    REQUIRE_MESSAGE(replayed, replayed.message());
    REQUIRE(replayed->size() == 1);
    CHECK(has(replayed->front(), "hello_1.0-1.dsc"));
    CHECK(names_in(q.queue) == sorted({"job-1-amd64-1", "rejected"}));
    CHECK(names_in(q.rejected) == sorted({"hello_1.0-1.dsc", "hello_1.0-1.dsc.reason",
                                          "hello_1.0.orig.tar.gz", "hello_1.0-1.debian.tar.xz"}));
    for (const auto& name : q.source) {
      CAPTURE(name);
      CHECK(ScratchDir::read(q.rejected / name) == Queue::content(name));
    }
    const std::string reason = ScratchDir::read(q.rejected / "hello_1.0-1.dsc.reason");
    INFO(reason);
    CHECK(reason.starts_with("Repository: extras-devel\nRefused: 2024-01-01 12:00:00\n\n"
                             "SHA256 of hello_1.0.orig.tar.gz does not match the .dsc\n\n"
                             "Files moved to this folder:\n"));
    for (const auto& name : q.source) {
      CHECK(has(reason, "  " + name + "\n"));
    }
    CHECK(names_in(q.journals).empty());
  }
}

TEST_CASE("a replay never moves a new file of the same name")
{
  for (const std::string failpoint : {"set-aside:file-moved", "set-aside:control-moved"}) {
    CAPTURE(failpoint);
    Queue q;
    q.set_aside_killed_at(failpoint, q.source_move());
    // New uploads of the names the killed run had moved already.
    std::vector<std::string> renewed{"hello_1.0.orig.tar.gz"};
    if (failpoint == "set-aside:control-moved") {
      renewed = q.source;
    }
    for (const auto& name : renewed) {
      q.put(name, " (new)");
    }

    auto replayed = replay_set_asides(q.journals, advice);
    REQUIRE_MESSAGE(replayed, replayed.message());
    for (const auto& name : renewed) {
      CAPTURE(name);
      CHECK(ScratchDir::read(q.queue / name) == Queue::content(name, " (new)"));
      CHECK(ScratchDir::read(q.rejected / name) == Queue::content(name));
      CHECK_FALSE(fs::exists(q.rejected / (name + ".1")));
    }
    CHECK(fs::exists(q.rejected / "hello_1.0-1.dsc.reason"));
    CHECK(names_in(q.journals).empty());
  }
}

TEST_CASE("a journal an older buildme wrote, its header inside Reason, still replays")
{
  Queue q;
  q.scratch.write("state/repo/extras-devel.txn/reject-1",
                  fmt::format("Action: reject\nFrom: {}\nRejected-Dir: {}\nControl: "
                              "hello_1.0-1.dsc\nFiles:\n hello_1.0.orig.tar.gz\n"
                              " hello_1.0-1.debian.tar.xz\nReason:\n Upload: hello_1.0-1.dsc\n"
                              " .\n bad checksum\n",
                              q.queue.string(), q.rejected.string()));
  auto replayed = replay_set_asides(q.journals, advice);
  REQUIRE_MESSAGE(replayed, replayed.message());
  CHECK(ScratchDir::read(q.rejected / "hello_1.0-1.dsc.reason") ==
        "Upload: hello_1.0-1.dsc\n\nbad checksum\n\nFiles moved to this folder:\n"
        "  hello_1.0.orig.tar.gz\n  hello_1.0-1.debian.tar.xz\n  hello_1.0-1.dsc\n");
  CHECK(names_in(q.journals).empty());
}

TEST_CASE("a journal cut short at any byte is an error naming it and what to do; nothing moves")
{
  Queue q;
  q.set_aside_killed_at("set-aside:file-moved", q.source_move());
  const fs::path journal = q.journals / names_in(q.journals).front();
  const std::string whole = ScratchDir::read(journal);
  REQUIRE(whole.ends_with("End: yes\n"));
  const auto queue_before = names_in(q.queue);
  const auto rejected_before = names_in(q.rejected);
  // (Only the last newline may go: "End: yes" is still whole without it.)
  for (std::size_t cut = 0; cut + 1 < whole.size(); ++cut) {
    CAPTURE(cut);
    q.scratch.write(fs::relative(journal, q.scratch.path()).string(), whole.substr(0, cut));
    auto replayed = replay_set_asides(q.journals, advice);
    REQUIRE_FALSE(replayed);
    CHECK(has(replayed.message(), journal.string()));
    CHECK(has(replayed.message(), advice));
    CHECK(names_in(q.queue) == queue_before);
    CHECK(names_in(q.rejected) == rejected_before);
    CHECK(names_in(q.journals) == std::vector<std::string>{journal.filename().string()});
  }
  q.scratch.write(fs::relative(journal, q.scratch.path()).string(), whole);
  auto replayed = replay_set_asides(q.journals, advice);
  REQUIRE_MESSAGE(replayed, replayed.message());
  CHECK(fs::exists(q.rejected / "hello_1.0-1.dsc.reason"));
}

TEST_CASE("a malformed journal is an error naming it and what to do, never a guess")
{
  Queue q;
  const std::string from =
    fmt::format("From: {}\nRejected-Dir: {}\n", q.queue.string(), q.rejected.string());
  const std::string texts[] = {
    std::string("Action: reject\n\0\0\0", 18),
    "Action: reject\nthis line has no colon\n",
    "Action: reject\n" + from + "Control: hello_1.0-1.dsc\n\nAction: reject\n",
    "Action: accept\n" + from + "Control: hello_1.0-1.dsc\n",
    "Action: reject\n" + from + "\n",
    "Action: reject\nJournal-Format: 3\n" + from + "Control: hello_1.0-1.dsc\nEnd: yes\n",
    "Action: reject\n" + from + "Control: ../../etc/passwd\n",
    "Action: reject\n" + from +
      "Control: hello_1.0-1.dsc\nFiles:\n hello_1.0.orig.tar.gz\n"
      "Inodes: 12 13\n",
    "Action: reject\n" + from + "Control: hello_1.0-1.dsc\nControl-Inode: many\n",
    "Action: reject\nJournal-Format: 2\n" + from +
      "Control: hello_1.0-1.dsc\nHeader:\n no colon here\nEnd: yes\n",
  };
  for (const auto& text : texts) {
    CAPTURE(text);
    q.scratch.write("state/repo/extras-devel.txn/reject-1", text);
    auto replayed = replay_set_asides(q.journals, advice);
    REQUIRE_FALSE(replayed);
    INFO(replayed.message());
    CHECK(has(replayed.message(), (q.journals / "reject-1").string()));
    CHECK(has(replayed.message(), advice));
    CHECK(names_in(q.queue) == sorted({"hello_1.0-1.dsc", "hello_1.0.orig.tar.gz",
                                       "hello_1.0-1.debian.tar.xz", "job-1-amd64-1"}));
    CHECK(names_in(q.journals) == std::vector<std::string>{"reject-1"});
  }
}

TEST_CASE("a header line that is not one 'Field: value' line is refused before anything moves")
{
  Queue q;
  SetAside move = q.source_move();
  move.header.emplace_back("Upload", "evil\nRepository: forged");
  auto done = buildme::jobs::set_aside(q.journals, move);
  REQUIRE_FALSE(done);
  CHECK(has(done.message(), "hello_1.0-1.dsc"));
  CHECK_FALSE(fs::exists(q.rejected));
  CHECK(names_in(q.journals).empty());
}

} // namespace unit_test_jobs_set_aside
