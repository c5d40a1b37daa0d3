#include "jobs/state_dir.hpp"

#include "debian/control_writer.hpp"
#include "scratch.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

namespace unit_test_jobs_state_dir {

using buildme::debian::FieldList;
using buildme::debian::write_paragraph;
using buildme::jobs::AcceptMove;
using buildme::jobs::Job;
using buildme::jobs::SetAside;
using buildme::jobs::StateDir;
using buildme::test::has;
using buildme::test::names_in;
using buildme::test::ScratchDir;

namespace fs = std::filesystem;

namespace {

const std::string changes_name = "hello_1.0-1_source.changes";
const std::string dsc_name = "hello_1.0-1.dsc";
const std::string orig_name = "hello_1.0.orig.tar.gz";
const std::string debian_name = "hello_1.0-1.debian.tar.xz";

// "\nA\nB": how buildme writes a list of names as a deb822 value.
std::string lines(const std::vector<std::string>& names)
{
  std::string out;
  for (const auto& name : names) {
    out += "\n" + name;
  }
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> names)
{
  std::sort(names.begin(), names.end());
  return names;
}

Job hello_job(long number)
{
  Job job;
  job.number = number;
  job.product = "bookworm";
  job.source = "hello";
  job.version = "1:1.0-1";
  job.upload = changes_name;
  job.dsc = dsc_name;
  job.uploader = "Jane Doe <jane@example.org>";
  job.architectures = {"any", "all"};
  job.files = {changes_name, dsc_name, debian_name, orig_name};
  job.priority = true;
  job.accepted_at = 1'704'110'400;
  return job;
}

void check_same_job(const Job& got, const Job& want)
{
  CHECK(got.number == want.number);
  CHECK(got.product == want.product);
  CHECK(got.source == want.source);
  CHECK(got.version == want.version);
  CHECK(got.upload == want.upload);
  CHECK(got.dsc == want.dsc);
  CHECK(got.uploader == want.uploader);
  CHECK(got.architectures == want.architectures);
  CHECK(got.files == want.files);
  CHECK(got.priority == want.priority);
  CHECK(got.accepted_at == want.accepted_at);
  CHECK(got.state == want.state);
}

// A prepared state folder and an incoming folder side by side.
class Setup
{
public:
  Setup()
  {
    REQUIRE(state.prepare());
    fs::create_directories(incoming);
  }

  ScratchDir scratch;
  StateDir state{scratch / "state"};
  fs::path incoming = scratch / "incoming";
  fs::path rejected = incoming / "rejected";
  fs::path txn = scratch / "state" / "txn";

  fs::path put(std::string_view name, std::string_view content) const
  {
    return scratch.write("incoming/" + std::string(name), content);
  }

  // The four files of the hello upload, each with content that names it.
  void put_hello(std::string_view flavour = "") const
  {
    for (const auto& name : {changes_name, dsc_name, debian_name, orig_name}) {
      put(name, content_of(name, flavour));
    }
  }

  static std::string content_of(std::string_view name, std::string_view flavour = "")
  {
    return fmt::format("the content of {}{}\n", name, flavour);
  }

  // The move intake makes for the hello upload when another upload also
  // needs the orig tarball.
  AcceptMove hello_accept(long number) const
  {
    return AcceptMove{
      incoming, hello_job(number), {changes_name, dsc_name, debian_name}, {orig_name}};
  }

  SetAside hello_reject(std::string reason = "Upload: hello\n\nMD5 checksum mismatch\n") const
  {
    SetAside move;
    move.from_dir = incoming;
    move.rejected_dir = rejected;
    move.control = changes_name;
    move.files = {dsc_name, debian_name, orig_name};
    move.reason = std::move(reason);
    return move;
  }

  // A journal as accept() writes it, under the name `name` in txn/.
  void write_accept_journal(const AcceptMove& move, std::string_view name = "accept-1") const
  {
    FieldList fields = move.job.fields();
    fields.insert(fields.begin(), {{"Action", "accept"}, {"From", move.from_dir.string()}});
    fields.emplace_back("Move", lines(move.move));
    fields.emplace_back("Copy", lines(move.copy));
    scratch.write("state/txn/" + std::string(name), write_paragraph(fields));
  }

  // A journal as reject() wrote it before set-asides had their own unit
  // (no Journal-Format, the header inside Reason): a killed older run may
  // have left one.
  void write_reject_journal(const SetAside& move, std::string_view name = "reject-1") const
  {
    const FieldList fields{
      {"Action", "reject"},
      {"From", move.from_dir.string()},
      {"Rejected-Dir", move.rejected_dir.string()},
      {"Control", move.control},
      {"Control-Target", move.control_target},
      {"Files", lines(move.files)},
      {"Reason", "\n" + move.reason},
    };
    scratch.write("state/txn/" + std::string(name), write_paragraph(fields));
  }

  void check_job_complete(long number) const
  {
    const fs::path upload = state.job_dir(number) / "upload";
    CHECK(names_in(upload) == sorted({changes_name, dsc_name, debian_name, orig_name}));
    for (const auto& name : names_in(upload)) {
      CAPTURE(name);
      CHECK(ScratchDir::read(upload / name) == content_of(name));
    }
    auto text = ScratchDir::read(state.job_dir(number) / "job.info");
    auto job = Job::from_text(text, "job.info");
    REQUIRE_MESSAGE(job, job.message());
    check_same_job(*job, hello_job(number));
    CHECK(state.accepted_job("bookworm", "hello", "1:1.0-1") == number);
    CHECK_FALSE(fs::exists(state.jobs_dir() / fmt::format(".{}.partial", number)));
  }
};

} // namespace

TEST_CASE("preparing the state folder creates its folders and can be repeated")
{
  ScratchDir scratch;
  StateDir state(scratch / "state");
  REQUIRE(state.prepare());
  REQUIRE(state.prepare());
  for (const auto* name : {"jobs", "txn", "accepted"}) {
    CAPTURE(name);
    CHECK(fs::is_directory(scratch / "state" / name));
  }
  CHECK(state.lock_path() == scratch / "state" / "buildme.lock");
  CHECK(state.job_dir(12) == scratch / "state" / "jobs" / "12");
}

TEST_CASE("preparing a state folder where a file stands fails naming it")
{
  ScratchDir scratch;
  scratch.write("state/jobs", "not a folder");
  auto prepared = StateDir(scratch / "state").prepare();
  REQUIRE_FALSE(prepared);
  CHECK(has(prepared.message(), (scratch / "state" / "jobs").string()));
}

TEST_CASE("job numbers count up from one")
{
  Setup setup;
  for (long want = 1; want <= 3; ++want) {
    auto number = setup.state.allocate_job_number();
    REQUIRE_MESSAGE(number, number.message());
    CHECK(*number == want);
  }
}

TEST_CASE("the next-job temporary a killed run left is removed, and only that")
{
  ScratchDir dir;
  StateDir state(dir.path());
  REQUIRE(state.prepare());
  REQUIRE(state.allocate_job_number().value() == 1);
  dir.write(".next-job.Ab12Cd", "7\n");
  dir.write(".other.Ab12Cd", "kept\n");
  auto recovered = state.recover();
  REQUIRE(recovered);
  CHECK(recovered->size() == 1);
  CHECK_FALSE(std::filesystem::exists(dir / ".next-job.Ab12Cd"));
  CHECK(std::filesystem::exists(dir / ".other.Ab12Cd"));
  CHECK(state.allocate_job_number().value() == 2);
}

TEST_CASE("a lost or garbled next-job file never hands out the number of an existing job")
{
  Setup setup;
  for (const auto* job : {"1", "2", "3", "7"}) {
    fs::create_directories(setup.state.job_dir(std::stol(job)));
  }
  const fs::path next_job = setup.state.root() / "next-job";

  SUBCASE("lost")
  {
    fs::remove(next_job);
  }
  SUBCASE("garbled")
  {
    setup.scratch.write("state/next-job", "twelve\n");
  }
  SUBCASE("empty")
  {
    setup.scratch.write("state/next-job", "");
  }
  SUBCASE("negative")
  {
    setup.scratch.write("state/next-job", "-4\n");
  }
  SUBCASE("out of range")
  {
    setup.scratch.write("state/next-job", "99999999999999999999999999\n");
  }
  SUBCASE("stale")
  {
    setup.scratch.write("state/next-job", "2\n");
  }

  auto number = setup.state.allocate_job_number();
  REQUIRE_MESSAGE(number, number.message());
  CHECK(*number == 8);
  auto after = setup.state.allocate_job_number();
  REQUIRE_MESSAGE(after, after.message());
  CHECK(*after == 9);
}

TEST_CASE("a job still being assembled keeps its number")
{
  Setup setup;
  fs::create_directories(setup.state.jobs_dir() / ".4.partial" / "upload");
  auto number = setup.state.allocate_job_number();
  REQUIRE_MESSAGE(number, number.message());
  CHECK(*number == 5);
}

TEST_CASE("an accepted upload moves into its job, and a file another upload needs is copied")
{
  Setup setup;
  setup.put_hello();
  auto number = setup.state.allocate_job_number();
  REQUIRE(number);

  auto job_dir = setup.state.accept(setup.hello_accept(*number));
  REQUIRE_MESSAGE(job_dir, job_dir.message());
  CHECK(*job_dir == setup.state.job_dir(*number));
  setup.check_job_complete(*number);

  // The shared file stays for the other upload, as an independent copy.
  CHECK(names_in(setup.incoming) == std::vector<std::string>{orig_name});
  CHECK(ScratchDir::read(setup.incoming / orig_name) == Setup::content_of(orig_name));
  CHECK(fs::hard_link_count(setup.incoming / orig_name) == 1);
  setup.put(orig_name, "rewritten in incoming\n");
  CHECK(ScratchDir::read(*job_dir / "upload" / orig_name) == Setup::content_of(orig_name));

  CHECK(names_in(setup.txn).empty());
  CHECK_FALSE(setup.state.accepted_job("bookworm", "hello", "1:1.0-2"));
  CHECK_FALSE(setup.state.accepted_job("trixie", "hello", "1:1.0-1"));
}

TEST_CASE("an accept that stops half way is finished by recovery from its own journal")
{
  Setup setup;
  setup.put_hello();
  AcceptMove move = setup.hello_accept(1);
  // debian.tar.xz has not arrived: the move fails after the first ones.
  fs::remove(setup.incoming / debian_name);

  auto failed = setup.state.accept(move);
  REQUIRE_FALSE(failed);
  CHECK(has(failed.message(), debian_name));
  CHECK(names_in(setup.txn).size() == 1);
  CHECK_FALSE(fs::exists(setup.state.job_dir(1)));

  setup.put(debian_name, Setup::content_of(debian_name));
  auto recovered = setup.state.recover();
  REQUIRE_MESSAGE(recovered, recovered.message());
  REQUIRE(recovered->size() == 1);
  CHECK(has(recovered->front(), "job 1"));
  setup.check_job_complete(1);
  CHECK(names_in(setup.incoming) == std::vector<std::string>{orig_name});
  CHECK(names_in(setup.txn).empty());
}

TEST_CASE("recovery finishes an accept whose moves were only partly done")
{
  Setup setup;
  setup.put_hello();
  const AcceptMove move = setup.hello_accept(3);
  setup.write_accept_journal(move);
  const fs::path partial_upload = setup.state.jobs_dir() / ".3.partial" / "upload";
  fs::create_directories(partial_upload);
  // Done before the crash: the copy, one move, and a move across
  // filesystems whose copy was linked into place but whose source was not
  // yet removed.
  fs::copy_file(setup.incoming / orig_name, partial_upload / orig_name);
  fs::rename(setup.incoming / changes_name, partial_upload / changes_name);
  fs::copy_file(setup.incoming / dsc_name, partial_upload / dsc_name);

  auto recovered = setup.state.recover();
  REQUIRE_MESSAGE(recovered, recovered.message());
  REQUIRE(recovered->size() == 1);
  CHECK(has(recovered->front(), "hello"));
  CHECK(has(recovered->front(), "job 3"));
  setup.check_job_complete(3);
  CHECK(names_in(setup.incoming) == std::vector<std::string>{orig_name});
  CHECK(names_in(setup.txn).empty());

  // Replaying again finds nothing to do.
  auto again = setup.state.recover();
  REQUIRE(again);
  CHECK(again->empty());
}

TEST_CASE("recovery of an accept leaves alone a new file of the same name in incoming")
{
  Setup setup;
  setup.put_hello();
  setup.write_accept_journal(setup.hello_accept(3));
  const fs::path partial_upload = setup.state.jobs_dir() / ".3.partial" / "upload";
  fs::create_directories(partial_upload);
  for (const auto& name : {changes_name, dsc_name, debian_name}) {
    fs::rename(setup.incoming / name, partial_upload / name);
  }
  fs::copy_file(setup.incoming / orig_name, partial_upload / orig_name);
  // A new upload of the same .dsc name arrived after the crash.
  setup.put(dsc_name, "a newer upload's .dsc\n");

  auto recovered = setup.state.recover();
  REQUIRE_MESSAGE(recovered, recovered.message());
  setup.check_job_complete(3);
  CHECK(ScratchDir::read(setup.incoming / dsc_name) == "a newer upload's .dsc\n");
}

TEST_CASE("recovery of an accept that had already finished only removes the journal")
{
  Setup setup;
  setup.put_hello();
  auto done = setup.state.accept(setup.hello_accept(2));
  REQUIRE_MESSAGE(done, done.message());
  // The run died just before removing its journal; since then the same
  // names were uploaded again.
  setup.write_accept_journal(setup.hello_accept(2));
  setup.put_hello(" (uploaded again)");

  auto recovered = setup.state.recover();
  REQUIRE_MESSAGE(recovered, recovered.message());
  setup.check_job_complete(2);
  CHECK(names_in(setup.txn).empty());
  for (const auto& name : {changes_name, dsc_name, debian_name, orig_name}) {
    CAPTURE(name);
    CHECK(ScratchDir::read(setup.incoming / name) == Setup::content_of(name, " (uploaded again)"));
  }
}

TEST_CASE("a rejected upload moves into rejected/ with a .reason beside its control file")
{
  Setup setup;
  setup.put_hello();

  auto outcome = setup.state.reject(setup.hello_reject("Upload: hello\n\nMD5 checksum mismatch"));
  REQUIRE_MESSAGE(outcome, outcome.message());
  CHECK(outcome->control == setup.rejected / changes_name);
  CHECK(outcome->reason == setup.rejected / (changes_name + ".reason"));
  CHECK(outcome->moved.size() == 4);
  CHECK(outcome->moved.back() == std::pair{changes_name, changes_name});

  CHECK(names_in(setup.incoming) == std::vector<std::string>{"rejected"});
  for (const auto& name : {changes_name, dsc_name, debian_name, orig_name}) {
    CAPTURE(name);
    CHECK(ScratchDir::read(setup.rejected / name) == Setup::content_of(name));
  }
  const std::string reason = ScratchDir::read(outcome->reason);
  CHECK(reason.starts_with("Upload: hello\n\nMD5 checksum mismatch\n"));
  for (const auto& name : {changes_name, dsc_name, debian_name, orig_name}) {
    CHECK(has(reason, "  " + name + "\n"));
  }
  CHECK(names_in(setup.txn).empty());
}

TEST_CASE("a second reject of the same names keeps both")
{
  Setup setup;
  setup.put_hello(" (first)");
  auto first = setup.state.reject(setup.hello_reject("first reason\n"));
  REQUIRE_MESSAGE(first, first.message());
  setup.put_hello(" (second)");
  auto second = setup.state.reject(setup.hello_reject("second reason\n"));
  REQUIRE_MESSAGE(second, second.message());

  CHECK(second->control == setup.rejected / (changes_name + ".1"));
  CHECK(second->reason == setup.rejected / (changes_name + ".1.reason"));
  for (const auto& name : {changes_name, dsc_name, debian_name, orig_name}) {
    CAPTURE(name);
    CHECK(ScratchDir::read(setup.rejected / name) == Setup::content_of(name, " (first)"));
    CHECK(ScratchDir::read(setup.rejected / (name + ".1")) == Setup::content_of(name, " (second)"));
    CHECK(std::find(second->moved.begin(), second->moved.end(), std::pair{name, name + ".1"}) !=
          second->moved.end());
  }
  CHECK(ScratchDir::read(setup.rejected / (changes_name + ".reason")).starts_with("first reason"));
  const std::string reason = ScratchDir::read(setup.rejected / (changes_name + ".1.reason"));
  CHECK(reason.starts_with("second reason"));
  CHECK(has(reason, fmt::format("{} (as {}.1)", orig_name, orig_name)));
  CHECK(names_in(setup.txn).empty());
}

TEST_CASE("a reject whose control file is gone fails and keeps its journal")
{
  Setup setup;
  setup.put(orig_name, "orig");
  auto outcome = setup.state.reject(setup.hello_reject());
  REQUIRE_FALSE(outcome);
  CHECK(has(outcome.message(), changes_name));
  CHECK(names_in(setup.txn).size() == 1);
}

TEST_CASE("recovery of a reject whose control file already moved only writes its .reason")
{
  Setup setup;
  // An older reject of the same name is in rejected/ already.
  setup.scratch.write("incoming/rejected/" + changes_name, "older upload\n");
  setup.scratch.write("incoming/rejected/" + changes_name + ".reason", "older reason\n");
  // The interrupted run had moved every file and the control file, to the
  // name it journalled, but had not written the .reason.
  SetAside move = setup.hello_reject("Upload: hello\n\nSHA256 checksum mismatch\n");
  move.control_target = changes_name + ".1";
  setup.write_reject_journal(move);
  setup.scratch.write("incoming/rejected/" + changes_name + ".1", "this upload\n");
  for (const auto& name : move.files) {
    setup.scratch.write("incoming/rejected/" + name, "this upload\n");
  }

  auto recovered = setup.state.recover();
  REQUIRE_MESSAGE(recovered, recovered.message());
  REQUIRE(recovered->size() == 1);
  CHECK(has(recovered->front(), changes_name));
  const fs::path reason = setup.rejected / (changes_name + ".1.reason");
  REQUIRE(fs::exists(reason));
  CHECK(ScratchDir::read(reason).starts_with("Upload: hello\n\nSHA256 checksum mismatch\n"));
  CHECK(ScratchDir::read(setup.rejected / (changes_name + ".reason")) == "older reason\n");
  CHECK(ScratchDir::read(setup.rejected / changes_name) == "older upload\n");
  CHECK_FALSE(fs::exists(setup.rejected / (changes_name + ".2")));
  CHECK(names_in(setup.rejected) ==
        sorted({changes_name, changes_name + ".reason", changes_name + ".1",
                changes_name + ".1.reason", dsc_name, debian_name, orig_name}));
  CHECK(names_in(setup.txn).empty());
}

TEST_CASE("recovery of a reject leaves alone a new upload of the same name")
{
  Setup setup;
  setup.scratch.write("incoming/rejected/" + changes_name, "older upload\n");
  SetAside move = setup.hello_reject("Upload: hello\n\nSHA256 checksum mismatch\n");
  move.files.clear();
  move.control_target = changes_name + ".1";
  setup.write_reject_journal(move);
  setup.scratch.write("incoming/rejected/" + changes_name + ".1", "this upload\n");
  setup.put(changes_name, "a new upload of the same name\n");

  auto recovered = setup.state.recover();
  REQUIRE_MESSAGE(recovered, recovered.message());
  CHECK(ScratchDir::read(setup.incoming / changes_name) == "a new upload of the same name\n");
  CHECK(fs::exists(setup.rejected / (changes_name + ".1.reason")));
  CHECK_FALSE(fs::exists(setup.rejected / (changes_name + ".2")));
}

TEST_CASE("recovery of a reject moves what is left, the control file last")
{
  Setup setup;
  setup.put_hello();
  const SetAside move = setup.hello_reject("Upload: hello\n\nline one\n\nline three\n");
  setup.write_reject_journal(move);
  fs::create_directories(setup.rejected);
  fs::rename(setup.incoming / dsc_name, setup.rejected / dsc_name);

  auto recovered = setup.state.recover();
  REQUIRE_MESSAGE(recovered, recovered.message());
  REQUIRE(recovered->size() == 1);
  CHECK(names_in(setup.incoming) == std::vector<std::string>{"rejected"});
  for (const auto& name : {changes_name, dsc_name, debian_name, orig_name}) {
    CAPTURE(name);
    CHECK(ScratchDir::read(setup.rejected / name) == Setup::content_of(name));
  }
  // The reason survives the journal, blank lines included.
  CHECK(ScratchDir::read(setup.rejected / (changes_name + ".reason"))
          .starts_with("Upload: hello\n\nline one\n\nline three\n"));
  CHECK(names_in(setup.txn).empty());
}

TEST_CASE("the .reason written by recovery lists the files moved before the crash")
{
  Setup setup;
  setup.put_hello();
  setup.write_reject_journal(setup.hello_reject());
  fs::create_directories(setup.rejected);
  fs::rename(setup.incoming / dsc_name, setup.rejected / dsc_name);

  auto recovered = setup.state.recover();
  REQUIRE_MESSAGE(recovered, recovered.message());
  const std::string reason = ScratchDir::read(setup.rejected / (changes_name + ".reason"));
  INFO(reason);
  CHECK(has(reason, "  " + dsc_name + "\n"));
  CHECK(has(reason, "  " + orig_name + "\n"));
}

TEST_CASE("recovery removes journals a killed run was still writing")
{
  Setup setup;
  setup.put_hello();
  setup.scratch.write("state/txn/.accept-1.tmp-x81kd", "Action: acc");
  setup.scratch.write("state/txn/.reject-2.tmp-a0a0a", std::string("\0\0garbage", 9));

  auto recovered = setup.state.recover();
  REQUIRE_MESSAGE(recovered, recovered.message());
  CHECK(recovered->empty());
  CHECK(names_in(setup.txn).empty());
  CHECK(names_in(setup.incoming).size() == 4);
  CHECK(names_in(setup.state.jobs_dir()).empty());
}

TEST_CASE("recovery refuses a garbled journal, naming it and saying what to do")
{
  const std::string texts[] = {
    std::string("Action: accept\n\0\0\0", 18),            // NUL bytes
    "Action: accept\nthis line has no colon\n",           // not deb822
    "Action: accept\nJob: 1\n\nAction: reject\nJob: 2\n", // two records
    "",                                                   // empty
  };
  for (const auto& text : texts) {
    CAPTURE(text);
    Setup setup;
    setup.put_hello();
    setup.scratch.write("state/txn/accept-1", text);

    auto recovered = setup.state.recover();
    REQUIRE_FALSE(recovered);
    INFO(recovered.message());
    CHECK(has(recovered.message(), (setup.txn / "accept-1").string()));
    CHECK(has(recovered.message(), "by hand"));
    CHECK(has(recovered.message(), "delete it"));
    // Nothing moved, and the journal stays for the administrator.
    CHECK(names_in(setup.txn) == std::vector<std::string>{"accept-1"});
    CHECK(names_in(setup.incoming).size() == 4);
    CHECK(names_in(setup.state.jobs_dir()).empty());
  }
}

TEST_CASE("recovery refuses a journal it cannot replay, saying what to do")
{
  const std::string texts[] = {
    "Action: rename\nFrom: /tmp\n",
    "Action: accept\nJob: three\nProduct: bookworm\nSource: hello\nVersion: 1\nUpload: x.dsc\n",
    "Action: accept\nJob: 3\nSource: hello\nVersion: 1\nUpload: x.dsc\n",
  };
  for (const auto& text : texts) {
    CAPTURE(text);
    Setup setup;
    setup.scratch.write("state/txn/accept-1", text);

    auto recovered = setup.state.recover();
    REQUIRE_FALSE(recovered);
    INFO(recovered.message());
    CHECK(has(recovered.message(), (setup.txn / "accept-1").string()));
    CHECK(has(recovered.message(), "delete it"));
    CHECK(names_in(setup.txn) == std::vector<std::string>{"accept-1"});
  }
}

TEST_CASE("jobs are listed in number order")
{
  Setup setup;
  for (long number : {10, 2, 1}) {
    setup.put_hello();
    auto accepted = setup.state.accept(AcceptMove{
      setup.incoming, hello_job(number), {changes_name, dsc_name, debian_name, orig_name}, {}});
    REQUIRE_MESSAGE(accepted, accepted.message());
  }
  // Neither a job being assembled nor a stray file is a job.
  fs::create_directories(setup.state.jobs_dir() / ".11.partial" / "upload");
  setup.scratch.write("state/jobs/README", "not a job\n");

  auto jobs = setup.state.list_jobs();
  REQUIRE_MESSAGE(jobs, jobs.message());
  std::vector<long> numbers;
  for (const auto& job : *jobs) {
    numbers.push_back(job.number);
    check_same_job(job, hello_job(job.number));
  }
  CHECK(numbers == std::vector<long>{1, 2, 10});
}

TEST_CASE("a state folder before its first tick lists no job, and is not made by listing")
{
  ScratchDir scratch;
  for (const auto& root : {scratch / "state", scratch.path()}) {
    CAPTURE(root);
    StateDir state(root);
    auto jobs = state.list_jobs();
    REQUIRE_MESSAGE(jobs, jobs.message());
    CHECK(jobs->empty());
  }
  CHECK_FALSE(fs::exists(scratch / "state"));
  CHECK_FALSE(fs::exists(scratch / "jobs"));
}

TEST_CASE("listing jobs with a broken job.info fails naming it")
{
  Setup setup;
  setup.scratch.write("state/jobs/4/job.info", "Job: 4\nState queued\n");
  auto jobs = setup.state.list_jobs();
  REQUIRE_FALSE(jobs);
  CHECK(has(jobs.message(), (setup.state.job_dir(4) / "job.info").string()));
}

TEST_CASE("a job record reads back as it was written")
{
  Job job = hello_job(42);
  job.state = buildme::jobs::JobState::building;
  job.priority = false;
  auto text = write_paragraph(job.fields());
  auto read = Job::from_text(text, "job.info");
  REQUIRE_MESSAGE(read, read.message());
  check_same_job(*read, job);
}

TEST_CASE("a job record without a number, product, source, version or upload is refused")
{
  const std::string good = write_paragraph(hello_job(5).fields());
  for (const auto* field : {"Job", "Product", "Source", "Version", "Upload"}) {
    CAPTURE(field);
    std::string text;
    for (const auto& [name, value] : hello_job(5).fields()) {
      if (name != field) {
        text += write_paragraph({{name, value}});
      }
    }
    auto read = Job::from_text(text, "state/jobs/5/job.info");
    REQUIRE_FALSE(read);
    CHECK(has(read.message(), "state/jobs/5/job.info"));
  }
  for (const auto* number : {"-1", "five", "5x", ""}) {
    CAPTURE(number);
    std::string text = good;
    text.replace(text.find("Job: 5"), 6, fmt::format("Job: {}", number));
    CHECK_FALSE(Job::from_text(text, "job.info"));
  }
}

TEST_CASE("a job record cut at any byte reads or is refused without crashing")
{
  const std::string text = write_paragraph(hello_job(5).fields());
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    CAPTURE(cut);
    auto read = Job::from_text(text.substr(0, cut), "job.info");
    if (read) {
      CHECK(read->number >= 0);
      CHECK_FALSE(read->upload.empty());
    }
  }
  CHECK(Job::from_text(text, "job.info"));
}

} // namespace unit_test_jobs_state_dir
