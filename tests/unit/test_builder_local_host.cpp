#include "builder/local_host.hpp"

#include "scratch.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace unit_test_builder_local_host {

using buildme::builder::ExecOptions;
using buildme::builder::ExecResult;
using buildme::builder::make_local_host;
using buildme::builder::RemoteFile;
using buildme::test::names_in;
using buildme::test::ScratchDir;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using buildme::test::mode_of;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

TEST_CASE("the local host calls itself local")
{
  CHECK(make_local_host()->name() == "local");
}

TEST_CASE("make_dir creates nested folders and is fine when they exist")
{
  ScratchDir dir;
  auto host = make_local_host();
  auto work = (dir / "a" / "b" / "c").string();
  REQUIRE(host->make_dir(work).ok());
  CHECK(fs::is_directory(work));
  CHECK(host->make_dir(work).ok());

  dir.write("file", "x");
  auto blocked = host->make_dir((dir / "file" / "sub").string());
  REQUIRE_FALSE(blocked.ok());
  CHECK(blocked.message().find((dir / "file").string()) != std::string::npos);
  CHECK_FALSE(host->make_dir("").ok());
}

TEST_CASE("remove_tree removes a work folder with everything in it")
{
  ScratchDir dir;
  dir.write("work/foo-1.0/debian/rules", "#!/usr/bin/make -f\n");
  dir.write("work/build.log", "log");
  auto host = make_local_host();
  REQUIRE(host->remove_tree((dir / "work").string()).ok());
  CHECK_FALSE(fs::exists(dir / "work"));
  // Removing what is gone already is fine, as rm -rf.
  CHECK(host->remove_tree((dir / "work").string()).ok());
}

TEST_CASE("remove_tree removes a symlink in the tree, never what it points to")
{
  ScratchDir dir;
  dir.write("precious/keep", "keep me");
  dir.write("work/file", "x");
  fs::create_directory_symlink(dir / "precious", dir / "work" / "link");
  auto host = make_local_host();
  REQUIRE(host->remove_tree((dir / "work").string()).ok());
  CHECK_FALSE(fs::exists(dir / "work"));
  CHECK(ScratchDir::read(dir / "precious" / "keep") == "keep me");
}

TEST_CASE("remove_tree refuses the root, relative paths, .. and nothing")
{
  ScratchDir dir;
  dir.write("work/file", "x");
  auto host = make_local_host();
  auto relative = fs::relative(dir / "work", fs::current_path()).string();
  for (const std::string& bad : {std::string(), std::string("/"), std::string("//"),
                                 std::string("/."), std::string("/tmp/.."), std::string("work"),
                                 relative, (dir / "other" / ".." / "work").string()}) {
    CAPTURE(bad);
    auto removed = host->remove_tree(bad);
    REQUIRE_FALSE(removed.ok());
    CHECK(removed.message().find("refusing to remove") == 0);
  }
  CHECK(fs::exists(dir / "work" / "file"));
}

TEST_CASE("upload copies a file with the mode asked for and leaves no temporary file")
{
  ScratchDir dir;
  auto local = dir.write("src/buildme-build", "#!/bin/sh\necho build\n");
  fs::create_directory(dir / "work");
  auto host = make_local_host();
  auto remote = (dir / "work" / "buildme-build").string();
  REQUIRE(host->upload(local, remote, 0755).ok());
  CHECK(ScratchDir::read(remote) == "#!/bin/sh\necho build\n");
  CHECK(mode_of(remote) == 0755);
  CHECK(names_in(dir / "work") == std::vector<std::string>{"buildme-build"});
  CHECK(ScratchDir::read(local) == "#!/bin/sh\necho build\n");
}

TEST_CASE("an upload sent again after a retry replaces the first one")
{
  ScratchDir dir;
  auto local = dir.write("src/foo_1.0.dsc", "the real one");
  dir.write("work/foo_1.0.dsc", "half sent by the first try");
  // A leftover temporary of a cut-off upload is no obstacle either.
  dir.write("work/foo_1.0.dsc.buildme-tmp", "cut off");
  auto host = make_local_host();
  auto remote = (dir / "work" / "foo_1.0.dsc").string();
  REQUIRE(host->upload(local, remote).ok());
  CHECK(ScratchDir::read(remote) == "the real one");
  CHECK(mode_of(remote) == 0644);
  CHECK(names_in(dir / "work") == std::vector<std::string>{"foo_1.0.dsc"});
}

TEST_CASE("an upload that cannot be made is an error naming the file")
{
  ScratchDir dir;
  auto host = make_local_host();
  fs::create_directory(dir / "work");
  auto missing = host->upload(dir / "nothing-here", (dir / "work" / "x").string());
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.message().find((dir / "nothing-here").string()) != std::string::npos);
  CHECK(names_in(dir / "work").empty());

  auto local = dir.write("file", "x");
  auto no_folder = host->upload(local, (dir / "no-folder" / "x").string());
  REQUIRE_FALSE(no_folder.ok());
  CHECK(no_folder.message().find((dir / "no-folder").string()) != std::string::npos);
}

TEST_CASE("download fetches a file to a new name")
{
  ScratchDir dir;
  auto remote = dir.write("work/foo_1.0_i386.deb", std::string(5000, 'd'));
  auto host = make_local_host();
  auto local = dir / "result" / "foo_1.0_i386.deb";
  fs::create_directory(dir / "result");
  REQUIRE(host->download(remote.string(), local, 5000).ok());
  CHECK(ScratchDir::read(local) == std::string(5000, 'd'));
  CHECK(names_in(dir / "result") == std::vector<std::string>{"foo_1.0_i386.deb"});
}

TEST_CASE("download never overwrites a local file")
{
  ScratchDir dir;
  auto remote = dir.write("work/build.log", "new log");
  auto local = dir.write("result/build.log", "old log");
  auto host = make_local_host();
  auto fetched = host->download(remote.string(), local, 1000);
  REQUIRE_FALSE(fetched.ok());
  CHECK(fetched.message().find(local.string()) != std::string::npos);
  CHECK(ScratchDir::read(local) == "old log");
}

TEST_CASE("download refuses a file over the size limit, a folder, a symlink and nothing")
{
  ScratchDir dir;
  auto big = dir.write("work/big.deb", std::string(1001, 'x'));
  fs::create_directory(dir / "work" / "folder");
  auto secret = dir.write("secret", "not for the result folder");
  fs::create_symlink(secret, dir / "work" / "link.deb");
  fs::create_directory(dir / "result");
  auto host = make_local_host();

  auto too_big = host->download(big.string(), dir / "result" / "big.deb", 1000);
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.message().find("larger than 1000 bytes") != std::string::npos);
  CHECK(too_big.message().find(big.string()) != std::string::npos);

  auto folder = host->download((dir / "work" / "folder").string(), dir / "result" / "f", 1000);
  REQUIRE_FALSE(folder.ok());
  CHECK(folder.message().find("not a regular file") != std::string::npos);

  auto link = host->download((dir / "work" / "link.deb").string(), dir / "result" / "l", 1000);
  REQUIRE_FALSE(link.ok());
  CHECK(link.message().find("not a regular file") != std::string::npos);

  auto missing = host->download((dir / "work" / "gone").string(), dir / "result" / "g", 1000);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.message().find((dir / "work" / "gone").string()) != std::string::npos);

  CHECK(names_in(dir / "result").empty());
}

TEST_CASE("list_dir tells files from folders and symlinks, with sizes")
{
  ScratchDir dir;
  dir.write("work/foo_1.0_i386.deb", "12345");
  dir.write("work/sub/inner", "x");
  fs::create_symlink("foo_1.0_i386.deb", dir / "work" / "link");
  auto host = make_local_host();
  auto files = host->list_dir((dir / "work").string());
  REQUIRE(files.ok());
  REQUIRE(files->size() == 3);
  const RemoteFile& deb = (*files)[0];
  CHECK(deb.name == "foo_1.0_i386.deb");
  CHECK(deb.size == 5);
  CHECK(deb.regular);
  CHECK((*files)[1].name == "link");
  CHECK_FALSE((*files)[1].regular);
  CHECK((*files)[2].name == "sub");
  CHECK_FALSE((*files)[2].regular);

  auto missing = host->list_dir((dir / "missing").string());
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.message().find((dir / "missing").string()) != std::string::npos);
}

TEST_CASE("run streams the output of a command run in the work folder")
{
  ScratchDir dir;
  dir.write("work/foo.dsc", "Source: foo\n");
  auto host = make_local_host();
  std::string log;
  ExecOptions options;
  options.timeout = 60s;
  options.on_output = [&log](std::string_view chunk) { log.append(chunk); };
  auto ran = host->run({"sh", "-c", "head -n 1 foo.dsc; echo oops >&2; exit 10"},
                       (dir / "work").string(), options);
  REQUIRE(ran.ok());
  CHECK(ran->end == ExecResult::End::exited);
  CHECK(ran->exit_code == 10);
  CHECK(log == "Source: foo\noops\n");
}

TEST_CASE("run stops a command on timeout, on silence and on cancel")
{
  auto host = make_local_host();
  auto start = std::chrono::steady_clock::now();
  ExecOptions timed;
  timed.timeout = 1s;
  auto timed_out = host->run({"sleep", "30"}, "", timed);
  REQUIRE(timed_out.ok());
  CHECK(timed_out->end == ExecResult::End::timed_out);
  CHECK(seconds_since(start) < 4);

  start = std::chrono::steady_clock::now();
  ExecOptions quiet;
  quiet.timeout = 60s;
  quiet.idle_timeout = 1s;
  auto idle = host->run({"sleep", "30"}, "", quiet);
  REQUIRE(idle.ok());
  CHECK(idle->end == ExecResult::End::idle);
  CHECK(seconds_since(start) < 4);

  start = std::chrono::steady_clock::now();
  ExecOptions stoppable;
  stoppable.timeout = 60s;
  stoppable.cancelled = [&start] { return seconds_since(start) > 0.3; };
  auto cancelled = host->run({"sleep", "30"}, "", stoppable);
  REQUIRE(cancelled.ok());
  CHECK(cancelled->end == ExecResult::End::cancelled);
  CHECK(seconds_since(start) < 3);
}

TEST_CASE("run of a command that cannot start is an error, not a failed build")
{
  ScratchDir dir;
  auto host = make_local_host();
  auto missing = host->run({"buildme-no-such-program"}, "", {});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.message().find("buildme-no-such-program") != std::string::npos);

  auto nowhere = host->run({"true"}, (dir / "missing").string(), {});
  REQUIRE_FALSE(nowhere.ok());
  CHECK(nowhere.message().find((dir / "missing").string()) != std::string::npos);
}

} // namespace unit_test_builder_local_host
