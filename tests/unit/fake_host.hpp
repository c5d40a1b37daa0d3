// A builder Host that keeps its files in memory and runs no process: each
// run() is answered by the test's `script`, which may write the results a
// build would leave, talk on the output, end in any way, or lose the
// connection. Faults can be set for each operation.
#pragma once

#include "builder/host.hpp"
#include "util/fs.hpp"

#include <fmt/format.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace buildme::test {

class FakeHost : public builder::Host
{
public:
  // What the command "does": returns its end, or an Error for a lost
  // connection. `host` lets it write files (host.files[...]).
  using Script = std::function<Result<builder::ExecResult>(
    FakeHost& host, const std::vector<std::string>& argv, const std::string& cwd,
    const builder::ExecOptions& options)>;

  std::string name() const override { return "fake"; }

  Status make_dir(const std::string& dir) override
  {
    dirs.insert(dir);
    return fault("make_dir");
  }
  Status remove_tree(const std::string& dir) override
  {
    for (auto it = files.begin(); it != files.end();) {
      it = it->first.starts_with(dir + "/") ? files.erase(it) : std::next(it);
    }
    return fault("remove_tree");
  }
  Status upload(const std::filesystem::path& local, const std::string& remote, mode_t) override
  {
    if (auto failed = fault("upload"); !failed) {
      return failed;
    }
    auto content = util::read_file(local);
    if (!content) {
      return Error{content.error()};
    }
    files[remote] = *content;
    uploaded.push_back(remote);
    return {};
  }
  Status download(const std::string& remote, const std::filesystem::path& local,
                  std::uint64_t max_size) override
  {
    if (auto failed = fault("download"); !failed) {
      return failed;
    }
    auto found = files.find(remote);
    if (found == files.end()) {
      return fail("fake: no {}", remote);
    }
    if (found->second.size() > max_size) {
      return fail("fake: {} is larger than {} bytes", remote, max_size);
    }
    return util::write_file_exclusive(local, found->second);
  }
  Result<std::vector<builder::RemoteFile>> list_dir(const std::string& dir) override
  {
    if (auto failed = fault("list_dir"); !failed) {
      return failed.error();
    }
    std::vector<builder::RemoteFile> listing;
    for (const auto& [path, content] : files) {
      if (path.starts_with(dir + "/") && path.find('/', dir.size() + 1) == std::string::npos) {
        listing.push_back({path.substr(dir.size() + 1), content.size(), true});
      }
    }
    return listing;
  }
  Result<builder::ExecResult> run(const std::vector<std::string>& argv, const std::string& cwd,
                                  const builder::ExecOptions& options) override
  {
    commands.push_back(argv);
    if (auto failed = fault("run"); !failed) {
      return failed.error();
    }
    // The worker's own housekeeping (stopping what an earlier build left
    // running) is a bash script; only the build command goes to the script.
    if (!argv.empty() && argv[0] == "bash" && argv.size() > 1 && argv[1] == "-c") {
      return builder::ExecResult{builder::ExecResult::End::exited, 0};
    }
    if (!script) {
      return fail("fake: no script for {}", argv.empty() ? "" : argv[0]);
    }
    return script(*this, argv, cwd, options);
  }

  std::map<std::string, std::string> files; // remote path -> content
  std::set<std::string> dirs;
  std::vector<std::string> uploaded;
  std::vector<std::vector<std::string>> commands;
  std::map<std::string, std::string> faults; // operation -> error message
  Script script;

private:
  Status fault(const std::string& operation) const
  {
    auto found = faults.find(operation);
    if (found == faults.end()) {
      return {};
    }
    return fail("{}", found->second);
  }
};

// A Host that forwards to one the test keeps, so that the test can look at
// it after the code under test has dropped its connection.
class HostRef : public builder::Host
{
public:
  explicit HostRef(builder::Host& target) : m_target(target) {}
  std::string name() const override { return m_target.name(); }
  Status make_dir(const std::string& dir) override { return m_target.make_dir(dir); }
  Status remove_tree(const std::string& dir) override { return m_target.remove_tree(dir); }
  Status upload(const std::filesystem::path& local, const std::string& remote, mode_t mode) override
  {
    return m_target.upload(local, remote, mode);
  }
  Status download(const std::string& remote, const std::filesystem::path& local,
                  std::uint64_t max_size) override
  {
    return m_target.download(remote, local, max_size);
  }
  Result<std::vector<builder::RemoteFile>> list_dir(const std::string& dir) override
  {
    return m_target.list_dir(dir);
  }
  Result<builder::ExecResult> run(const std::vector<std::string>& argv, const std::string& cwd,
                                  const builder::ExecOptions& options) override
  {
    return m_target.run(argv, cwd, options);
  }

private:
  builder::Host& m_target;
};

} // namespace buildme::test
