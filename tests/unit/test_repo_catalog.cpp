#include "repo/catalog.hpp"
#include "repo/pool.hpp"

#include "scratch.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <map>
#include <string>

namespace unit_test_repo_catalog {

using buildme::repo::CachedFile;
using buildme::repo::Catalog;
using buildme::repo::Member;
using buildme::test::ScratchDir;

namespace {

Member binary(std::string dist, std::string name, std::string version, std::string path)
{
  return {std::move(dist), "binary", "main", "amd64", name, std::move(version), name, "1",
          std::move(path), 100,      0};
}

Catalog open_in(const ScratchDir& scratch)
{
  auto catalog = Catalog::open((scratch / "repo.sqlite").string());
  REQUIRE_MESSAGE(catalog, catalog.message());
  return std::move(*catalog);
}

} // namespace

TEST_SUITE("repo: catalog")
{
  TEST_CASE("a cached stanza comes back with its stamp, byte for byte")
  {
    ScratchDir scratch;
    Catalog catalog = open_in(scratch);
    const std::string stanza = "Package: a\nDescription: x\n y 'quoted' \"and\" ;DROP TABLE\n";
    REQUIRE(catalog.put_file({"pool/main/a/a/a_1_amd64.deb", {10, 20, 30, 40}, stanza, "ff"}));
    auto file = catalog.file("pool/main/a/a/a_1_amd64.deb");
    REQUIRE(file);
    REQUIRE(*file);
    CHECK((*file)->stanza == stanza);
    CHECK((*file)->stamp == buildme::repo::FileStamp{10, 20, 30, 40});
    auto none = catalog.file("pool/main/b/b/b.deb");
    REQUIRE(none);
    CHECK_FALSE(*none);
  }

  TEST_CASE("a .deb's file names are kept for its distribution's current members and forgotten "
            "with the file")
  {
    ScratchDir scratch;
    Catalog catalog = open_in(scratch);
    REQUIRE(catalog.add_member(binary("fremantle", "a", "1.0", "pool/a_1.0.deb")));
    REQUIRE(catalog.add_member(binary("fremantle", "a", "2.0", "pool/a_2.0.deb")));
    REQUIRE(catalog.add_member(binary("diablo", "b", "1.0", "pool/b_1.0.deb")));
    for (const auto& path : {"pool/a_1.0.deb", "pool/a_2.0.deb", "pool/b_1.0.deb"}) {
      REQUIRE(catalog.put_file({path, {1, 2, 3, 4}, "Package: x\nSection: utils\n", "ff"}));
    }
    REQUIRE(catalog.put_contents("pool/a_1.0.deb", "usr/bin/a\n"));
    REQUIRE(catalog.put_contents("pool/a_2.0.deb", "usr/bin/a\nusr/share/a'; DROP\n"));
    REQUIRE(catalog.put_contents("pool/b_1.0.deb", "usr/bin/b\n"));
    // Only the distribution's current members: a 1.0 once it is removed is not.
    REQUIRE(catalog.remove_member(binary("fremantle", "a", "1.0", "pool/a_1.0.deb"), 200));
    auto listed_in = [&](const std::string& dist) {
      std::map<std::string, std::string> listed;
      REQUIRE(catalog.each_contents(
        dist, "main", "amd64",
        [&](std::string_view name, std::string_view section, std::string_view names) {
          CHECK(section == "utils");
          listed.emplace(name, names);
          return buildme::Status();
        }));
      return listed;
    };
    CHECK(listed_in("fremantle") ==
          std::map<std::string, std::string>{{"a", "usr/bin/a\nusr/share/a'; DROP\n"}});
    // Added before their names were kept: looked for, none found, and then
    // not looked for again.
    CHECK(*catalog.state("listed") == 0);
    auto unlisted = catalog.unlisted();
    REQUIRE(unlisted);
    CHECK(unlisted->empty());
    CHECK(*catalog.state("listed") == 1);
    REQUIRE(catalog.forget_file("pool/b_1.0.deb"));
    CHECK(listed_in("diablo").empty());
    // Forgotten with its file: b is a member whose names are not kept.
    CHECK(*catalog.state("listed") == 0);
    auto now_unlisted = catalog.unlisted();
    REQUIRE(now_unlisted);
    CHECK(*now_unlisted == std::vector<std::string>{"pool/b_1.0.deb"});
    CHECK(*catalog.state("listed") == 0);
    REQUIRE(catalog.put_file({"pool/b_1.0.deb", {1, 2, 3, 4}, "Package: b\n", "ff"}));
    REQUIRE(catalog.put_contents("pool/b_1.0.deb", "usr/bin/b\n"));
    REQUIRE(catalog.set_state("listed", 1));
    // A member that comes with its names kept leaves the flag; one without
    // clears it, in any distribution; a source never does.
    REQUIRE(catalog.add_member(binary("diablo", "a", "2.0", "pool/a_2.0.deb")));
    Member source = binary("diablo", "s", "1", "pool/s_1.dsc");
    source.kind = "source";
    REQUIRE(catalog.add_member(source));
    CHECK(*catalog.state("listed") == 1);
    CHECK(catalog.unlisted()->empty());
    REQUIRE(catalog.add_member(binary("lenny", "c", "1", "pool/c_1.deb")));
    CHECK(*catalog.state("listed") == 0);
    CHECK(*catalog.unlisted() == std::vector<std::string>{"pool/c_1.deb"});
    // So does a member that is current again.
    REQUIRE(catalog.put_contents("pool/c_1.deb", "usr/bin/c\n"));
    REQUIRE(catalog.put_contents("pool/a_1.0.deb", "usr/bin/a\n"));
    CHECK(catalog.unlisted()->empty());
    CHECK(*catalog.state("listed") == 1);
    REQUIRE(catalog.add_member(binary("fremantle", "a", "1.0", "pool/a_1.0.deb")));
    CHECK(*catalog.state("listed") == 1); // its names are kept
    REQUIRE(catalog.remove_member(binary("lenny", "c", "1", "pool/c_1.deb"), 300));
    REQUIRE(catalog.forget_file("pool/c_1.deb"));
    REQUIRE(catalog.set_state("listed", 1));
    REQUIRE(catalog.add_member(binary("lenny", "c", "1", "pool/c_1.deb")));
    CHECK(*catalog.state("listed") == 0);
  }

  TEST_CASE("a .deb's Section is kept with its names as its stanza has it, and a catalog from "
            "before gets the Sections of the names it kept")
  {
    ScratchDir scratch;
    const std::map<std::string, std::string> stanzas = {
      {"pool/plain.deb", "Package: plain\nSection: utils\n"},
      {"pool/blanks.deb", "Package: blanks\nSection: \t libs/sub  \nVersion: 1\n"},
      {"pool/none.deb", "Package: none\nDescription: x\n Section: not a field\n"},
      {"pool/last.deb", "Package: last\nSection:net"},
      {"pool/empty.deb", "Package: empty\nSection:\nVersion: 1\n"},
      {"pool/ütf.deb", "Package: ütf\nDescription: äöü\nSection: ëxtra\n"}};
    const std::map<std::string, std::string> sections = {{"plain", "utils"}, {"blanks", "libs/sub"},
                                                         {"none", ""},       {"last", "net"},
                                                         {"empty", ""},      {"ütf", "ëxtra"}};
    auto listed = [&](Catalog& catalog) {
      std::map<std::string, std::string> found;
      REQUIRE(catalog.each_contents(
        "fremantle", "main", "amd64",
        [&](std::string_view name, std::string_view section, std::string_view) {
          found.emplace(name, section);
          return buildme::Status();
        }));
      return found;
    };
    {
      Catalog catalog = open_in(scratch);
      for (const auto& [path, stanza] : stanzas) {
        const std::string name = stanza.substr(9, stanza.find('\n') - 9);
        REQUIRE(catalog.add_member(binary("fremantle", name, "1", path)));
        REQUIRE(catalog.put_file({path, {1, 2, 3, 4}, stanza, "ff"}));
        REQUIRE(catalog.put_contents(path, "usr/bin/" + name + "\n"));
      }
      CHECK(listed(catalog) == sections);
    }
    // A version 3 catalog: no sections kept. Opened, it has them all.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((scratch / "repo.sqlite").c_str(), &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "ALTER TABLE contents DROP COLUMN section; DROP INDEX members_order; "
                       "CREATE INDEX members_listing ON members (dist, removed_at, name, path); "
                       "PRAGMA user_version = 3",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    Catalog again = open_in(scratch);
    CHECK(listed(again) == sections);
  }

  TEST_CASE("the pool check's slices share the members out, each once; one without a stamp is in "
            "every slice")
  {
    ScratchDir scratch;
    Catalog catalog = open_in(scratch);
    for (int i = 0; i < 40; ++i) {
      const std::string path = "pool/p" + std::to_string(i) + ".deb";
      REQUIRE(catalog.add_member(binary("fremantle", "p" + std::to_string(i), "1", path)));
      if (i != 7) {
        REQUIRE(catalog.put_file({path, {1, 2, 3, static_cast<std::uint64_t>(i)}, "P\n", "ff"}));
      }
    }
    std::map<std::string, int> seen;
    for (int slice = 0; slice < 16; ++slice) {
      auto listed = catalog.members_to_check("fremantle", 16, slice);
      REQUIRE(listed);
      for (const auto& [member, stamp] : *listed) {
        ++seen[member.path];
        CHECK(stamp.has_value() == (member.path != "pool/p7.deb"));
        if (stamp) {
          CHECK(stamp->inode == std::stoull(member.path.substr(6)));
        }
      }
    }
    REQUIRE(seen.size() == 40);
    for (const auto& [path, times] : seen) {
      CAPTURE(path);
      CHECK(times == (path == "pool/p7.deb" ? 16 : 1));
    }
    auto all = catalog.members_to_check("fremantle", 1, 0);
    REQUIRE(all);
    CHECK(all->size() == 40);
    // Once every member is stamped (the flag set after a check that read
    // them), the unstamped are not looked for in every slice...
    REQUIRE(catalog.put_file({"pool/p7.deb", {1, 2, 3, 7}, "P\n", "ff"}));
    REQUIRE(catalog.set_state("stamped", 1));
    auto slices_holding = [&](const std::string& path) {
      int found = 0;
      for (int slice = 0; slice < 16; ++slice) {
        auto listed = catalog.members_to_check("fremantle", 16, slice);
        REQUIRE(listed);
        for (const auto& entry : *listed) {
          found += entry.first.path == path;
        }
      }
      return found;
    };
    CHECK(slices_holding("pool/p7.deb") == 1);
    // ...until a member comes without a stamp, or a stamp is forgotten.
    REQUIRE(catalog.add_member(binary("fremantle", "new", "1", "pool/new.deb")));
    CHECK(*catalog.state("stamped") == 0);
    CHECK(slices_holding("pool/new.deb") == 16);
    REQUIRE(catalog.put_file({"pool/new.deb", {1, 2, 3, 99}, "P\n", "ff"}));
    REQUIRE(catalog.set_state("stamped", 1));
    REQUIRE(catalog.add_member(binary("diablo", "p3", "1", "pool/p3.deb")));
    CHECK(*catalog.state("stamped") == 1); // stamped already
    REQUIRE(catalog.forget_file("pool/p3.deb"));
    CHECK(*catalog.state("stamped") == 0);
    CHECK(slices_holding("pool/p3.deb") == 16);
  }

  TEST_CASE("only groups with more versions than kept are counted out, and loaded")
  {
    ScratchDir scratch;
    Catalog catalog = open_in(scratch);
    REQUIRE(catalog.add_member(binary("fremantle", "a", "1.0", "pool/a_1.0.deb")));
    REQUIRE(catalog.add_member(binary("fremantle", "a", "2.0", "pool/a_2.0.deb")));
    REQUIRE(catalog.add_member(binary("fremantle", "a", "3.0", "pool/a_3.0.deb")));
    REQUIRE(catalog.add_member(binary("fremantle", "b", "1.0", "pool/b_1.0.deb")));
    REQUIRE(catalog.add_member(binary("diablo", "b", "2.0", "pool/b_2.0.deb")));
    auto crowded = catalog.crowded("fremantle", 2);
    REQUIRE(crowded);
    REQUIRE(crowded->size() == 1);
    CHECK(std::get<1>((*crowded)[0]) == "a");
    CHECK(catalog.crowded("fremantle", 3)->empty());
    auto versions = catalog.versions_of("fremantle", "binary", "a", "amd64");
    REQUIRE(versions);
    CHECK(versions->size() == 3);
    // Once counted, only groups that gained a member are counted again.
    REQUIRE(catalog.remove_member(binary("fremantle", "a", "1.0", "pool/a_1.0.deb"), 300));
    REQUIRE(catalog.counted("fremantle", 2));
    CHECK(catalog.crowded("fremantle", 2)->empty());
    // (b has too many with keep 1, but has not gained one since the count)
    CHECK(catalog.crowded("fremantle", 2)->empty());
    REQUIRE(catalog.add_member(binary("fremantle", "b", "1.1", "pool/b_1.1.deb")));
    REQUIRE(catalog.add_member(binary("fremantle", "c", "1.0", "pool/c_1.0.deb")));
    CHECK(catalog.crowded("fremantle", 2)->empty());
    REQUIRE(catalog.add_member(binary("fremantle", "b", "1.2", "pool/b_1.2.deb")));
    crowded = catalog.crowded("fremantle", 2);
    REQUIRE(crowded->size() == 1);
    CHECK(std::get<1>((*crowded)[0]) == "b");
    // Another distribution's count is its own; another keep counts all.
    REQUIRE(catalog.counted("fremantle", 2));
    CHECK(catalog.crowded("fremantle", 2)->empty());
    REQUIRE(catalog.add_member(binary("diablo", "b", "2.1", "pool/b_2.1.deb")));
    CHECK(catalog.crowded("fremantle", 2)->empty());
    CHECK(catalog.crowded("diablo", 1)->size() == 1);
    CHECK(catalog.crowded("fremantle", 1)->size() == 2); // a (2.0, 3.0) and b
    // A member current again is one gained.
    REQUIRE(catalog.counted("fremantle", 2));
    REQUIRE(catalog.add_member(binary("fremantle", "a", "1.0", "pool/a_1.0.deb")));
    crowded = catalog.crowded("fremantle", 2);
    REQUIRE(crowded->size() == 1); // (b has three still, but counted() said it was dealt with)
    CHECK(std::get<1>((*crowded)[0]) == "a");
  }

  TEST_CASE("stanzas stream in index order, by kind, component and architecture, and a member "
            "without one is an error")
  {
    ScratchDir scratch;
    Catalog catalog = open_in(scratch);
    auto member = [](std::string name, std::string arch, std::string path) {
      Member m = binary("fremantle", name, "1.0", path);
      m.arch = std::move(arch);
      return m;
    };
    REQUIRE(catalog.add_member(member("zed", "amd64", "pool/zed.deb")));
    REQUIRE(catalog.add_member(member("alpha", "all", "pool/alpha.deb")));
    REQUIRE(catalog.add_member(member("mid", "arm64", "pool/mid.deb")));
    for (const auto& path : {"pool/zed.deb", "pool/alpha.deb", "pool/mid.deb"}) {
      REQUIRE(catalog.put_file({path, {1, 2, 3, 4}, std::string("Stanza: ") + path + "\n", "ff"}));
    }
    std::string text, paths;
    REQUIRE(catalog.each_stanza("fremantle", "binary", "main", "amd64",
                                [&](std::string_view s, std::string_view path) {
                                  text += s;
                                  paths += std::string(path) + " ";
                                  return buildme::Status();
                                }));
    CHECK(text == "Stanza: pool/alpha.deb\nStanza: pool/zed.deb\n");
    CHECK(paths == "pool/alpha.deb pool/zed.deb ");
    // An error from the callback stops the walk and is the result.
    int calls = 0;
    auto stopped =
      catalog.each_stanza("fremantle", "binary", "main", "arm64", [&](std::string_view, auto) {
        ++calls;
        return buildme::Status(buildme::Error{"stop"});
      });
    CHECK_FALSE(stopped);
    CHECK(calls == 1);
    // A member with no cached stanza is an error that names it, not a
    // stanza silently left out.
    REQUIRE(catalog.add_member(member("new", "amd64", "pool/new.deb")));
    auto missing = catalog.each_stanza("fremantle", "binary", "main", "amd64",
                                       [](std::string_view, auto) { return buildme::Status(); });
    REQUIRE_FALSE(missing);
    CHECK(missing.message() == "no cached index entry for pool/new.deb");
  }

  TEST_CASE("the same version at another path replaces the current member")
  {
    ScratchDir scratch;
    Catalog catalog = open_in(scratch);
    REQUIRE(catalog.add_member(binary("fremantle", "a", "1.0", "pool/x/a_1.0.deb")));
    REQUIRE(catalog.add_member(binary("fremantle", "a", "1.0", "pool/y/a_1.0.deb")));
    REQUIRE(catalog.add_member(binary("fremantle", "a", "2.0", "pool/y/a_2.0.deb")));
    REQUIRE(catalog.add_member(binary("diablo", "a", "1.0", "pool/x/a_1.0.deb")));
    auto current = catalog.members("fremantle");
    REQUIRE(current);
    REQUIRE(current->size() == 2);
    CHECK((*current)[0].path == "pool/y/a_1.0.deb");
    CHECK((*current)[1].path == "pool/y/a_2.0.deb");
    auto all = catalog.members("");
    REQUIRE(all);
    CHECK(all->size() == 3);
  }

  TEST_CASE("a removed member stays referenced nowhere until made current again")
  {
    ScratchDir scratch;
    Catalog catalog = open_in(scratch);
    const Member a = binary("fremantle", "a", "1.0", "pool/a.deb");
    REQUIRE(catalog.add_member(a));
    CHECK(*catalog.referenced("pool/a.deb"));
    REQUIRE(catalog.remove_member(a, 500));
    CHECK_FALSE(*catalog.referenced("pool/a.deb"));
    auto removed = catalog.removed_before(600);
    REQUIRE(removed);
    REQUIRE(removed->size() == 1);
    CHECK(removed->front().removed_at == 500);
    CHECK(catalog.removed_before(400)->empty());
    REQUIRE(catalog.add_member(a));
    CHECK(*catalog.referenced("pool/a.deb"));
  }

  TEST_CASE("the files a current source lists are referenced through it")
  {
    ScratchDir scratch;
    Catalog catalog = open_in(scratch);
    Member source{"fremantle", "source", "main",
                  "source",    "hello",  "1.0-1",
                  "hello",     "1.0-1",  "pool/h/hello_1.0-1.dsc",
                  1,           0};
    REQUIRE(catalog.add_member(source));
    REQUIRE(catalog.set_source_files(source.path, {"pool/h/hello_1.0.orig.tar.gz"}));
    CHECK(*catalog.referenced("pool/h/hello_1.0.orig.tar.gz"));
    REQUIRE(catalog.remove_member(source, 5));
    CHECK_FALSE(*catalog.referenced("pool/h/hello_1.0.orig.tar.gz"));
    CHECK(catalog.source_files(source.path)->size() == 1);
  }

  TEST_CASE("the stanza epoch counts changes to current members' stanzas and names, not new "
            "members or unchanged rewrites")
  {
    ScratchDir scratch;
    Catalog catalog = open_in(scratch);
    auto epoch = [&] {
      auto value = catalog.stanza_epoch();
      REQUIRE_MESSAGE(value, value.message());
      return *value;
    };
    const std::int64_t start = epoch();
    // A new .deb: its file, names and member are new rows, which the
    // member lists show.
    REQUIRE(catalog.put_file({"pool/a_1.deb", {1, 2, 3, 4}, "Package: a\n", "aa"}));
    REQUIRE(catalog.put_contents("pool/a_1.deb", "usr/bin/a\n"));
    REQUIRE(catalog.add_member(binary("fremantle", "a", "1", "pool/a_1.deb")));
    CHECK(epoch() == start);
    // The same stanza again (a file read again that did not change), a new stamp.
    REQUIRE(catalog.put_file({"pool/a_1.deb", {1, 2, 3, 5}, "Package: a\n", "aa"}));
    REQUIRE(catalog.set_stamp("pool/a_1.deb", {1, 2, 3, 6}));
    REQUIRE(catalog.put_contents("pool/a_1.deb", "usr/bin/a\n"));
    CHECK(epoch() == start);
    // A pool file read again that did change.
    REQUIRE(catalog.put_file({"pool/a_1.deb", {9, 2, 3, 4}, "Package: a\nSection: x\n", "bb"}));
    CHECK(epoch() == start + 1);
    REQUIRE(catalog.put_contents("pool/a_1.deb", "usr/bin/a\nusr/bin/b\n"));
    CHECK(epoch() == start + 2);
    // Names listed late for a current member (a catalog from before Contents).
    REQUIRE(catalog.put_file({"pool/c_1.deb", {1, 2, 3, 4}, "Package: c\n", "cc"}));
    REQUIRE(catalog.add_member(binary("fremantle", "c", "1", "pool/c_1.deb")));
    REQUIRE(catalog.put_contents("pool/c_1.deb", "usr/bin/c\n"));
    CHECK(epoch() == start + 3);
    // Forgetting a current member's file counts; a removed member's does not.
    REQUIRE(catalog.forget_file("pool/c_1.deb"));
    CHECK(epoch() > start + 3);
    const std::int64_t before = epoch();
    REQUIRE(catalog.remove_member(binary("fremantle", "a", "1", "pool/a_1.deb"), 200));
    REQUIRE(catalog.forget_file("pool/a_1.deb"));
    CHECK(epoch() == before);
  }

  TEST_CASE("a written index's record is kept, replaced and forgotten per distribution")
  {
    ScratchDir scratch;
    Catalog catalog = open_in(scratch);
    REQUIRE(catalog.put_written("fremantle", "main/binary-amd64/Packages", {"in1", "files1"}));
    REQUIRE(catalog.put_written("diablo", "main/binary-amd64/Packages", {"in2", "files2"}));
    REQUIRE(catalog.put_written("fremantle", "main/binary-amd64/Packages", {"in3", "files3"}));
    auto got = catalog.written("fremantle", "main/binary-amd64/Packages");
    REQUIRE(got);
    REQUIRE(*got);
    CHECK((*got)->inputs == "in3");
    CHECK((*got)->files == "files3");
    REQUIRE(catalog.forget_written("fremantle", "main/binary-amd64/Packages"));
    got = catalog.written("fremantle", "main/binary-amd64/Packages");
    REQUIRE(got);
    CHECK_FALSE(*got);
    got = catalog.written("diablo", "main/binary-amd64/Packages");
    REQUIRE(got);
    REQUIRE(*got);
    CHECK((*got)->inputs == "in2");
  }

  TEST_CASE("data survives reopening the database")
  {
    ScratchDir scratch;
    {
      Catalog catalog = open_in(scratch);
      REQUIRE(catalog.add_member(binary("fremantle", "a", "1.0", "pool/a.deb")));
    }
    Catalog again = open_in(scratch);
    CHECK(again.members("fremantle")->size() == 1);
  }

  TEST_CASE("a damaged database is an error that names it and says what to do")
  {
    ScratchDir scratch;
    scratch.write("repo.sqlite", std::string(4096, 'x') + "this is not SQLite");
    auto catalog = Catalog::open((scratch / "repo.sqlite").string());
    REQUIRE_FALSE(catalog);
    CHECK(catalog.message().find((scratch / "repo.sqlite").string()) != std::string::npos);
    CHECK(catalog.message().find("move it aside") != std::string::npos);
  }

  TEST_CASE("pool folders use the lib prefix rule")
  {
    CHECK(buildme::repo::pool_dir("main", "hello") == "pool/main/h/hello");
    CHECK(buildme::repo::pool_dir("non-free", "libfoo") == "pool/non-free/libf/libfoo");
    CHECK(buildme::repo::pool_dir("main", "lib") == "pool/main/l/lib");
  }
}

} // namespace unit_test_repo_catalog
