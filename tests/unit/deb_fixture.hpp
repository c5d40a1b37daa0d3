// Real binary packages for the repository tests: built by dpkg-deb, or put
// together by hand with ar and tar when a test needs a .deb that dpkg-deb
// refuses to make. A missing tool fails the test, naming the package to
// install.
#pragma once

#include "scratch.hpp"
#include "util/process.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace buildme::test {

struct Tool
{
  std::string program;
  std::string package;
};

inline const Tool dpkg_deb{"dpkg-deb", "dpkg"};
inline const Tool ar_tool{"ar", "binutils"};
inline const Tool tar_tool{"tar", "tar"};

// Runs `tool` with `args` in `cwd` and returns its output; the test fails if
// the tool is missing or exits non-zero.
inline std::string run_tool(const Tool& tool, std::vector<std::string> args,
                            const std::filesystem::path& cwd, std::string stdin_data = {})
{
  args.insert(args.begin(), tool.program);
  util::ProcessOptions options;
  options.cwd = cwd;
  options.stdin_data = std::move(stdin_data);
  auto result = util::run_process(args, options);
  if (!result) {
    FAIL(tool.program << " is missing (apt-get install " << tool.package
                      << "): " << result.message());
  }
  if (result->exit_code != 0) {
    FAIL(tool.program << " " << args[1] << " failed: " << result->err);
  }
  return result->out;
}

// Builds `name`.deb in `dir` from `control` (the DEBIAN/control text) with
// dpkg-deb and the given compression (gzip, xz, zstd, none).
inline std::filesystem::path build_deb(const std::filesystem::path& dir, const std::string& name,
                                       const std::string& control,
                                       const std::string& compression = "xz")
{
  auto tree = dir / ("tree-" + name);
  std::filesystem::create_directories(tree / "DEBIAN");
  std::filesystem::create_directories(tree / "usr/share/doc" / name);
  {
    std::ofstream(tree / "DEBIAN/control", std::ios::binary) << control;
    std::ofstream(tree / "usr/share/doc" / name / "README") << "Read me.\n";
  }
  auto deb = dir / (name + ".deb");
  run_tool(dpkg_deb,
           {"--root-owner-group", "-Z" + compression, "--build", tree.string(), deb.string()}, dir);
  std::filesystem::remove_all(tree);
  return deb;
}

// What dpkg-deb prints for the control file of `deb`.
inline std::string dpkg_deb_field(const std::filesystem::path& deb)
{
  return run_tool(dpkg_deb, {"--field", deb.string()}, deb.parent_path());
}

// An ar archive of the files in `dir` named `members`, in that order.
inline std::filesystem::path ar_archive(const std::filesystem::path& dir, const std::string& name,
                                        const std::vector<std::string>& members)
{
  std::vector<std::string> args = {"rc", name};
  args.insert(args.end(), members.begin(), members.end());
  run_tool(ar_tool, args, dir);
  return dir / name;
}

// A .deb made by hand: debian-binary "2.0", a control.tar.gz of the folder
// that `fill_control` fills (tar of "."), an empty data.tar.gz. For control
// data that dpkg-deb would refuse to build.
inline std::filesystem::path hand_made_deb(
  const std::filesystem::path& dir, const std::string& name,
  const std::function<void(const std::filesystem::path&)>& fill_control)
{
  auto work = dir / ("hand-" + name);
  std::filesystem::create_directories(work / "control");
  std::filesystem::create_directories(work / "data");
  fill_control(work / "control");
  std::ofstream(work / "debian-binary") << "2.0\n";
  run_tool(tar_tool, {"-C", "control", "-czf", "control.tar.gz", "."}, work);
  run_tool(tar_tool, {"-C", "data", "-czf", "data.tar.gz", "."}, work);
  ar_archive(work, "out.deb", {"debian-binary", "control.tar.gz", "data.tar.gz"});
  auto deb = dir / (name + ".deb");
  std::filesystem::rename(work / "out.deb", deb);
  std::filesystem::remove_all(work);
  return deb;
}

// The same with `control` as its ./control.
inline std::filesystem::path hand_made_deb(const std::filesystem::path& dir,
                                           const std::string& name, const std::string& control)
{
  return hand_made_deb(dir, name, [&](const std::filesystem::path& folder) {
    std::ofstream(folder / "control", std::ios::binary) << control;
  });
}

} // namespace buildme::test
