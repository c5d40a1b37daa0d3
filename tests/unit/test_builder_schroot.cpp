#include "builder/schroot.hpp"

#include "scratch.hpp"
#include "test_config.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

namespace unit_test_builder_schroot {

namespace builder = buildme::builder;
using buildme::test::has;
using buildme::test::ScratchDir;

namespace {

const std::string clean = "base_mirror = http://deb.debian.org/debian\nbase_suite = bookworm\n";

const builder::SchrootFile* find(const std::vector<builder::SchrootFile>& files,
                                 std::string_view path)
{
  auto at = std::find_if(files.begin(), files.end(),
                         [&](const builder::SchrootFile& file) { return file.path == path; });
  return at == files.end() ? nullptr : &*at;
}

} // namespace

TEST_SUITE("builder: the schroot engine's set-up")
{
  TEST_CASE("a local schroot builder: a file chroot of each base, its fstab, the unpack scripts")
  {
    ScratchDir scratch;
    scratch.write("staging/.keep", "");
    auto config = buildme::test::test_config(
      scratch.path(), clean +
                        "[product fremantle]\narches = amd64 arm64\n"
                        "[builder here]\nhost = local\narches = amd64 arm64\n"
                        "env_dir = /srv/envs\nengine = schroot\n"
                        "[builder other]\nhost = local\narches = amd64\n" +
                        fmt::format("[repository extras]\nproducts = fremantle\n"
                                    "staging_dir = {}/staging\n",
                                    scratch.path().string()));
    auto files = builder::schroot_files(config, "", "root");
    REQUIRE_MESSAGE(files, files.message());
    // Two chroots (the unshare builder has none), two fstabs, the script twice.
    CHECK(files->size() == 6);
    const auto* chroot = find(*files, "/etc/schroot/chroot.d/buildme-fremantle-arm64");
    REQUIRE(chroot);
    CHECK(has(chroot->text, "\n[buildme-fremantle-arm64]\n"));
    CHECK(has(chroot->text, "\ntype=file\nfile=/srv/envs/fremantle_arm64.tar\n"));
    CHECK(has(chroot->text, "\nsetup.fstab=buildme/buildme-fremantle-arm64.fstab\n"));
    CHECK(has(chroot->text, "\nusers=root\nroot-users=root\n"));
    CHECK(has(chroot->text, "\nbuildme.unpack=tmpfs\n"));
    CHECK_FALSE(chroot->executable);
    const auto* fstab = find(*files, "/etc/schroot/buildme/buildme-fremantle-arm64.fstab");
    REQUIRE(fstab);
    CHECK(has(fstab->text, "\n/srv/envs/apt-cache /srv/buildme-apt-cache none rw,bind 0 0\n"));
    CHECK(has(fstab->text, "\n" + (scratch / "staging").string() +
                             " /srv/buildme-repository none ro,bind 0 0\n"));
    CHECK(has(fstab->text, "\n/proc /proc none rw,bind 0 0\n"));
    for (const char* name : {"04buildme-unpack", "06buildme-unpack"}) {
      const auto* script = find(*files, std::string("/etc/schroot/setup.d/") + name);
      REQUIRE(script);
      CHECK(script->executable);
      CHECK(script->text.starts_with("#!/bin/sh\n"));
      CHECK(has(script->text, "\"${BUILDME_UNPACK:-}\" = tmpfs ] || exit 0"));
    }
    auto only = builder::schroot_files(config, "other", "root");
    REQUIRE(only);
    CHECK(only->empty()); // other builds with unshare
  }

  TEST_CASE("an SSH schroot builder: its users, no local repository, unpacked on disk when "
            "build_tmpdir says so")
  {
    ScratchDir scratch;
    auto config = buildme::test::test_config(
      scratch.path(), clean + "[product fremantle]\narches = amd64\n"
                              "[builder far]\nhost = b.example.org\nusers = root b2\n"
                              "identity = /k/id\nknown_hosts = /k/hosts\n"
                              "arches = amd64\nenv_dir = /srv/envs\nengine = schroot\n"
                              "schroot_name = x-{builder}-{product}-{arch}\n"
                              "build_tmpdir = /var/tmp\n");
    auto files = builder::schroot_files(config, "", "ignored");
    REQUIRE_MESSAGE(files, files.message());
    const auto* chroot = find(*files, "/etc/schroot/chroot.d/x-far-fremantle-amd64");
    REQUIRE(chroot);
    CHECK(has(chroot->text, "\nusers=root,b2\nroot-users=root,b2\n"));
    CHECK(has(chroot->text, "\nbuildme.unpack=disk\n"));
    const auto* fstab = find(*files, "/etc/schroot/buildme/x-far-fremantle-amd64.fstab");
    REQUIRE(fstab);
    CHECK_FALSE(has(fstab->text, "/srv/buildme-repository"));
  }

  TEST_CASE("a repository folder that is not there yet is named, with what to do")
  {
    ScratchDir scratch;
    auto config = buildme::test::test_config(
      scratch.path(), clean +
                        "[product fremantle]\narches = amd64\n"
                        "[builder here]\nhost = local\narches = amd64\n"
                        "env_dir = /srv/envs\nengine = schroot\n" +
                        fmt::format("[repository extras]\nproducts = fremantle\n"
                                    "staging_dir = {}/no-staging\n",
                                    scratch.path().string()));
    auto files = builder::schroot_files(config, "", "root");
    REQUIRE_FALSE(files);
    CHECK(has(files.message(), "builder here: the repository folder " +
                                 (scratch / "no-staging").string() +
                                 " of product fremantle is not there yet"));
    CHECK(has(files.message(), "run 'queue-manage' once"));
  }

  TEST_CASE("a local schroot builder whose buildme does not run as root is refused, with why")
  {
    ScratchDir scratch;
    auto config = buildme::test::test_config(
      scratch.path(), clean + "[product fremantle]\narches = amd64\n"
                              "[builder here]\nhost = local\narches = amd64\n"
                              "env_dir = /srv/envs\nengine = schroot\n");
    auto files = builder::schroot_files(config, "", "builder");
    REQUIRE_FALSE(files);
    CHECK(has(files.message(), "builder here: schroot takes only bases owned by root, and buildme "
                               "runs as builder here"));
  }

  TEST_CASE("no schroot builder, or no clean builds: nothing to write")
  {
    ScratchDir scratch;
    auto unshare = buildme::test::test_config(
      scratch.path(), clean + "[builder here]\nhost = local\narches = amd64\n");
    auto none = builder::schroot_files(unshare, "", "root");
    REQUIRE(none);
    CHECK(none->empty());
    auto host_builds = buildme::test::test_config(
      scratch.path(), "[builder here]\nhost = local\narches = amd64\nengine = schroot\n");
    auto also_none = builder::schroot_files(host_builds, "", "root");
    REQUIRE(also_none);
    CHECK(also_none->empty());
  }

  TEST_CASE("the chroot name is the builder's schroot_name filled in")
  {
    buildme::config::Builder b;
    b.name = "b1";
    CHECK(builder::schroot_name(b, "fremantle", "amd64") == "buildme-fremantle-amd64");
    b.schroot_name = "{builder}.{product}.{arch}.{arch}";
    CHECK(builder::schroot_name(b, "p", "armhf") == "b1.p.armhf.armhf");
  }
}

} // namespace unit_test_builder_schroot
