#include "builder/ssh_host.hpp"
#include "util/process.hpp"

#include "scratch.hpp"
#include "sshd_fixture.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

namespace unit_test_builder_ssh_host {

using buildme::builder::connect_ssh;
using buildme::builder::ExecOptions;
using buildme::builder::ExecResult;
using buildme::builder::Host;
using buildme::builder::RemoteFile;
using buildme::test::ScratchDir;
using buildme::test::SshServer;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<Host> connect(const SshServer& server)
{
  auto host = connect_ssh(server.target());
  REQUIRE_MESSAGE(host.ok(), (host.ok() ? "" : host.message()) << "\nsshd log:\n" << server.log());
  return std::move(*host);
}

struct Ran
{
  ExecResult result;
  std::string output;
  int chunks = 0;
  double seconds = 0;
};

Ran run(Host& host, const std::vector<std::string>& argv, const std::string& cwd = "",
        ExecOptions options = {})
{
  Ran ran;
  options.on_output = [&ran](std::string_view data) {
    ran.output += data;
    ++ran.chunks;
  };
  // A generous limit, so that a hang fails the test instead of stalling it.
  if (options.timeout.count() == 0) {
    options.timeout = 30s;
  }
  auto start = std::chrono::steady_clock::now();
  auto result = host.run(argv, cwd, options);
  ran.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.message()));
  ran.result = *result;
  return ran;
}

std::string random_bytes(std::size_t size)
{
  std::mt19937_64 generator(42);
  std::string data(size, '\0');
  for (auto& c : data) {
    c = static_cast<char>(generator());
  }
  return data;
}

std::string fingerprint_of(const fs::path& public_key)
{
  auto result =
    buildme::util::run_process({"ssh-keygen", "-l", "-E", "sha256", "-f", public_key.string()});
  REQUIRE(result.ok());
  REQUIRE(result->exit_code == 0);
  // "256 SHA256:... comment (ED25519)"
  auto start = result->out.find("SHA256:");
  REQUIRE(start != std::string::npos);
  return result->out.substr(start, result->out.find(' ', start) - start);
}

// Gone, or a zombie waiting for a parent that is not us.
bool process_is_dead(pid_t pid)
{
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) {
    return true;
  }
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

std::vector<std::string> local_names(const fs::path& dir)
{
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

} // namespace

TEST_CASE("a command runs on the builder with its exit code, its output streamed as it comes")
{
  SshServer server;
  auto host = connect(server);
  CHECK(host->name() == SshServer::user() + "@127.0.0.1:" + std::to_string(server.port()));

  auto ran = run(*host, {"sh", "-c", "echo one; sleep 0.5; echo two >&2; exit 3"});
  CHECK(ran.result.end == ExecResult::End::exited);
  CHECK(ran.result.exit_code == 3);
  CHECK(ran.output == "one\ntwo\n");
  CHECK(ran.chunks >= 2);

  // The same connection serves command after command.
  auto again = run(*host, {"true"});
  CHECK(again.result.end == ExecResult::End::exited);
  CHECK(again.result.exit_code == 0);
  CHECK(again.output.empty());
}

TEST_CASE("arguments arrive on the builder verbatim, however hostile")
{
  SshServer server;
  auto host = connect(server);
  ScratchDir work;
  std::vector<std::string> words = {"with space",
                                    "it's",
                                    "'",
                                    "\"double\"",
                                    "$(touch PWNED1)",
                                    "`touch PWNED2`",
                                    "; touch PWNED3",
                                    "&& touch PWNED4",
                                    "line\nbreak",
                                    "*",
                                    "$HOME",
                                    "",
                                    "-n",
                                    "back\\slash",
                                    "tab\there",
                                    "BUILDME-PGID 1"};
  std::vector<std::string> argv = {"printf", "%s\\n"};
  argv.insert(argv.end(), words.begin(), words.end());
  std::string expected;
  for (const auto& word : words) {
    expected += word + "\n";
  }

  auto ran = run(*host, argv, work.path().string());
  CHECK(ran.result.exit_code == 0);
  CHECK(ran.output == expected);
  CHECK(fs::is_empty(work.path()));
}

TEST_CASE("a command runs in the folder it is given, whatever its name")
{
  SshServer server;
  auto host = connect(server);
  ScratchDir work;
  auto folder = work / "it's a $(folder)";
  fs::create_directories(folder);

  auto ran = run(*host, {"pwd"}, folder.string());
  CHECK(ran.result.exit_code == 0);
  CHECK(ran.output == fs::canonical(folder).string() + "\n");

  auto missing = run(*host, {"pwd"}, (work / "missing").string());
  CHECK(missing.result.end == ExecResult::End::exited);
  CHECK(missing.result.exit_code != 0);
  CHECK(missing.output.find("missing") != std::string::npos);
}

TEST_CASE("a program missing on the builder and one killed by a signal are told apart")
{
  SshServer server;
  auto host = connect(server);

  auto missing = run(*host, {"no-such-program-buildme"});
  CHECK(missing.result.end == ExecResult::End::exited);
  CHECK(missing.result.exit_code == 127);

  auto killed = run(*host, {"sh", "-c", "kill -KILL $$"});
  CHECK(killed.result.end == ExecResult::End::killed);
}

TEST_CASE("a 5 MB file goes to the builder and comes back byte for byte")
{
  SshServer server;
  auto host = connect(server);
  ScratchDir work;
  std::string data = random_bytes(5 * 1024 * 1024 + 12345);
  auto local = work.write("local/source.bin", data);
  fs::create_directories(work / "remote");
  std::string remote = (work / "remote" / "source.bin").string();

  auto sent = host->upload(local, remote, 0640);
  REQUIRE_MESSAGE(sent.ok(), (sent.ok() ? "" : sent.message()));
  CHECK(ScratchDir::read(remote) == data);
  struct stat st;
  REQUIRE(::stat(remote.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  CHECK(local_names(work / "remote") == std::vector<std::string>{"source.bin"});

  fs::create_directories(work / "back");
  auto fetched = host->download(remote, work / "back" / "result.bin", data.size());
  REQUIRE_MESSAGE(fetched.ok(), (fetched.ok() ? "" : fetched.message()));
  CHECK(ScratchDir::read(work / "back" / "result.bin") == data);
  CHECK(local_names(work / "back") == std::vector<std::string>{"result.bin"});

  SUBCASE("a download never overwrites a local file")
  {
    auto again = host->download(remote, work / "back" / "result.bin", data.size());
    REQUIRE_FALSE(again.ok());
    CHECK(again.message().find("result.bin") != std::string::npos);
    CHECK(again.message().find("exists") != std::string::npos);
    CHECK(local_names(work / "back") == std::vector<std::string>{"result.bin"});
  }
  SUBCASE("an upload replaces the builder's older copy, and a stale partial one")
  {
    work.write("remote/source.bin.buildme-tmp", "left over from a cut-off upload");
    auto newer = work.write("local/newer.bin", "second version");
    auto resent = host->upload(newer, remote, 0755);
    REQUIRE_MESSAGE(resent.ok(), (resent.ok() ? "" : resent.message()));
    CHECK(ScratchDir::read(remote) == "second version");
    REQUIRE(::stat(remote.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0755);
    CHECK(local_names(work / "remote") == std::vector<std::string>{"source.bin"});
  }
  SUBCASE("an empty file makes the round trip too")
  {
    auto empty = work.write("local/empty", "");
    REQUIRE(host->upload(empty, (work / "remote" / "empty").string()).ok());
    REQUIRE(host->download((work / "remote" / "empty").string(), work / "back" / "empty", 0).ok());
    CHECK(fs::file_size(work / "back" / "empty") == 0);
  }
}

TEST_CASE("an upload of something that is not a local regular file fails naming it")
{
  SshServer server;
  auto host = connect(server);
  ScratchDir work;
  auto sent = host->upload(work / "missing", (work / "copy").string());
  REQUIRE_FALSE(sent.ok());
  CHECK(sent.message().find("missing") != std::string::npos);

  auto into_nowhere = host->upload(work.write("file", "x"), (work / "no/such/dir/file").string());
  REQUIRE_FALSE(into_nowhere.ok());
  CHECK(into_nowhere.message().find("no/such/dir/file") != std::string::npos);
}

TEST_CASE("a download refuses files over the size limit, symlinks and folders")
{
  SshServer server;
  auto host = connect(server);
  ScratchDir work;
  auto big = work.write("remote/big.log", std::string(1000, 'x'));
  fs::create_symlink(big, work / "remote" / "link.log");
  fs::create_directories(work / "remote" / "folder");
  fs::create_directories(work / "back");

  auto too_big = host->download(big.string(), work / "back" / "big.log", 999);
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.message().find("big.log") != std::string::npos);
  CHECK(too_big.message().find("limit of 999") != std::string::npos);

  auto link = host->download((work / "remote" / "link.log").string(), work / "back" / "l", 5000);
  REQUIRE_FALSE(link.ok());
  CHECK(link.message().find("symlink") != std::string::npos);

  auto folder = host->download((work / "remote" / "folder").string(), work / "back" / "f", 5000);
  REQUIRE_FALSE(folder.ok());
  CHECK(folder.message().find("folder") != std::string::npos);

  auto missing = host->download((work / "remote" / "nothing").string(), work / "back" / "n", 5);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.message().find("nothing") != std::string::npos);

  CHECK(fs::is_empty(work / "back"));
  CHECK(host->download(big.string(), work / "back" / "big.log", 1000).ok());
}

TEST_CASE("a remote folder lists its files with sizes, folders and symlinks as not regular")
{
  SshServer server;
  auto host = connect(server);
  ScratchDir work;
  work.write("remote/b.deb", "12345");
  work.write("remote/a.log", "");
  fs::create_directories(work / "remote" / "sub");
  fs::create_symlink("b.deb", work / "remote" / "c.link");

  auto files = host->list_dir((work / "remote").string());
  REQUIRE_MESSAGE(files.ok(), (files.ok() ? "" : files.message()));
  REQUIRE(files->size() == 4);
  CHECK((*files)[0].name == "a.log");
  CHECK((*files)[0].regular);
  CHECK((*files)[0].size == 0);
  CHECK((*files)[1].name == "b.deb");
  CHECK((*files)[1].regular);
  CHECK((*files)[1].size == 5);
  CHECK((*files)[2].name == "c.link");
  CHECK_FALSE((*files)[2].regular);
  CHECK((*files)[3].name == "sub");
  CHECK_FALSE((*files)[3].regular);

  auto missing = host->list_dir((work / "nothing").string());
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.message().find("nothing") != std::string::npos);
}

TEST_CASE("make_dir makes nested folders, accepts existing ones, and names what is in the way")
{
  SshServer server;
  auto host = connect(server);
  ScratchDir work;
  auto nested = (work / "a" / "b" / "c").string();
  REQUIRE(host->make_dir(nested).ok());
  CHECK(fs::is_directory(nested));
  CHECK(host->make_dir(nested).ok());
  CHECK(host->make_dir(nested + "/").ok());

  work.write("file", "x");
  auto blocked = host->make_dir((work / "file" / "sub").string());
  REQUIRE_FALSE(blocked.ok());
  CHECK(blocked.message().find("file") != std::string::npos);
}

TEST_CASE("remove_tree removes a work folder and refuses the root, nothing and ..")
{
  SshServer server;
  auto host = connect(server);
  ScratchDir work;
  work.write("job/sub/file", "x");
  work.write("job/-rf", "x");
  REQUIRE(host->remove_tree((work / "job").string()).ok());
  CHECK_FALSE(fs::exists(work / "job"));
  CHECK(host->remove_tree((work / "job").string()).ok()); // already gone

  for (std::string bad : {"", "/", "//", "/./", ".", "./", "a/../..", "..", "/tmp/../"}) {
    auto refused = host->remove_tree(bad);
    CHECK_FALSE(refused.ok());
  }
  work.write("kept/file", "x");
  CHECK_FALSE(host->remove_tree((work / "kept" / "..").string()).ok());
  CHECK(fs::exists(work / "kept" / "file"));
}

TEST_CASE("an unknown host key is refused with its fingerprint, never trusted on first use")
{
  SshServer server;
  auto fingerprint = fingerprint_of(server.path("host_key.pub"));
  auto target = server.target();

  server.dir().write("empty_known_hosts", "");
  target.known_hosts = server.path("empty_known_hosts").string();
  auto refused = connect_ssh(target);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.message().find("is not in " + target.known_hosts) != std::string::npos);
  CHECK(refused.message().find(fingerprint) != std::string::npos);
  CHECK(refused.message().find("ssh-keyscan -p " + std::to_string(server.port())) !=
        std::string::npos);
  CHECK(ScratchDir::read(target.known_hosts).empty());

  target.known_hosts = server.path("no_such_known_hosts").string();
  auto missing = connect_ssh(target);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.message().find(fingerprint) != std::string::npos);
  CHECK_FALSE(fs::exists(target.known_hosts));
}

TEST_CASE("a changed host key is refused with the new fingerprint")
{
  SshServer server;
  auto target = server.target();
  server.dir().write("changed_known_hosts", server.known_hosts_line(server.path("other_key.pub")));
  target.known_hosts = server.path("changed_known_hosts").string();

  auto refused = connect_ssh(target);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.message().find("CHANGED") != std::string::npos);
  CHECK(refused.message().find(fingerprint_of(server.path("host_key.pub"))) != std::string::npos);
  CHECK(refused.message().find("refusing to connect") != std::string::npos);
}

TEST_CASE("a key the builder does not accept is refused naming the user and the key")
{
  SshServer server;
  auto target = server.target();
  target.identity = server.path("other_key").string();
  auto refused = connect_ssh(target);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.message().find(target.identity) != std::string::npos);
  CHECK(refused.message().find(target.user) != std::string::npos);
  CHECK(refused.message().find("127.0.0.1") != std::string::npos);

  target.identity = server.path("no_such_key").string();
  auto missing = connect_ssh(target);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.message().find(target.identity) != std::string::npos);
}

TEST_CASE("a builder that is not listening is an error naming it")
{
  auto target = [] {
    SshServer server;
    return server.target();
  }();
  auto refused = connect_ssh(target);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.message().find("127.0.0.1:" + std::to_string(target.port)) != std::string::npos);
}

TEST_CASE("the wall-clock timeout stops the command and everything it started")
{
  SshServer server;
  auto host = connect(server);
  ScratchDir work;
  auto pidfile = (work / "child.pid").string();
  ExecOptions options;
  options.timeout = 1s;

  // The background sleep ignores SIGINT (as a non-interactive shell sets it
  // up), so it takes the TERM that follows.
  auto ran =
    run(*host, {"sh", "-c", "sleep 60 & echo $! > \"$1\"; echo started; wait", "sh", pidfile}, "",
        options);
  CHECK(ran.result.end == ExecResult::End::timed_out);
  CHECK(ran.output == "started\n");
  CHECK(ran.seconds >= 1.0);
  CHECK(ran.seconds < 10.0);
  auto pid = std::stoi(ScratchDir::read(pidfile));
  auto deadline = std::chrono::steady_clock::now() + 3s;
  while (!process_is_dead(pid) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  CHECK(process_is_dead(pid));

  // The connection is still good for the next command.
  CHECK(run(*host, {"true"}).result.exit_code == 0);
}

TEST_CASE("a command that closes its output still obeys the timeout")
{
  SshServer server;
  auto host = connect(server);
  ExecOptions options;
  options.timeout = 1s;

  auto ran = run(*host, {"sh", "-c", "echo closing; exec >&- 2>&-; sleep 60"}, "", options);
  CHECK(ran.result.end == ExecResult::End::timed_out);
  CHECK(ran.output == "closing\n");
  // Stopped by the timeout, long before the command's own 60 s; the margin
  // is for a loaded machine, not a measure of speed.
  CHECK(ran.seconds < 30.0);

  // And its exit status still counts when it ends by itself.
  auto quiet = run(*host, {"sh", "-c", "exec >&- 2>&-; sleep 0.5; exit 4"});
  CHECK(quiet.result.end == ExecResult::End::exited);
  CHECK(quiet.result.exit_code == 4);
}

TEST_CASE("the silence timeout stops a quiet command but not one that keeps talking")
{
  SshServer server;
  auto host = connect(server);
  ExecOptions options;
  options.idle_timeout = 1s;

  auto quiet = run(*host, {"sleep", "60"}, "", options);
  CHECK(quiet.result.end == ExecResult::End::idle);
  CHECK(quiet.seconds >= 1.0);
  CHECK(quiet.seconds < 30.0); // stopped for silence, not by sleep's own end

  auto talking = run(*host,
                     {"sh", "-c",
                      "i=0; while [ $i -lt 12 ]; do echo $i; sleep 0.2; "
                      "i=$((i+1)); done"},
                     "", options);
  CHECK(talking.result.end == ExecResult::End::exited);
  CHECK(talking.result.exit_code == 0);
  CHECK(talking.seconds >= 2.0);
}

TEST_CASE("a cancelled command is stopped")
{
  SshServer server;
  auto host = connect(server);
  ExecOptions options;
  auto start = std::chrono::steady_clock::now();
  options.cancelled = [&] { return std::chrono::steady_clock::now() - start > 300ms; };

  // SIGINT is enough here: no waiting for TERM.
  auto ran = run(*host, {"sh", "-c", "echo waiting; sleep 60"}, "", options);
  CHECK(ran.result.end == ExecResult::End::cancelled);
  CHECK(ran.output == "waiting\n");
  CHECK(ran.seconds < 2.5);

  // Cancelled before the command has said anything at all.
  options.cancelled = [] { return true; };
  auto at_once = run(*host, {"sleep", "60"}, "", options);
  CHECK(at_once.result.end == ExecResult::End::cancelled);
  CHECK(at_once.seconds < 2.5);
}

TEST_CASE("a builder whose sshd dies mid-command gives an error, not a hang")
{
  SshServer server;
  auto host = connect(server);
  ExecOptions options;
  options.timeout = 30s;
  auto start = std::chrono::steady_clock::now();
  options.cancelled = [&] {
    if (std::chrono::steady_clock::now() - start > 500ms) {
      server.kill_all();
    }
    return false;
  };

  auto result = host->run({"sleep", "20"}, "", options);
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE_FALSE(result.ok());
  CHECK(result.message().find("lost connection to " + host->name()) != std::string::npos);
  CHECK(result.message().find("sleep") != std::string::npos);
  CHECK(seconds < 10.0);

  // And so does everything after it.
  CHECK_FALSE(host->run({"true"}, "", {}).ok());
  CHECK_FALSE(host->list_dir("/").ok());
}

} // namespace unit_test_builder_ssh_host
