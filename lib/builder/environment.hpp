// Base environments: the clean buildroot every build of a product copies
// fresh (build_in = chroot). One per builder, product and arch, made on the
// builder with mmdebstrap from the product's base_mirror and base_suite
// (buildme-build --make-base) and kept there as a tarball, at
//
//   <env_dir>/<product>_<arch>.tar      (env_dir: config::Builder)
//
// What buildme knows of each is kept on this host:
//
//   state_dir/envs/<builder>/<product>_<arch>.info   the record below
//   state_dir/envs/<builder>/<product>_<arch>.log    the last making's output
//   state_dir/envs/<builder>/<product>_<arch>.lock   held while one is made
//
// A base older than env_max_age is still used while a new one is made in
// its place (the rename is atomic; a build that already copied the old one
// is not disturbed). Failing to make one is the builder's fault, never an
// upload's: the builds wait, and the making is tried again after a back-off
// that doubles with each failure in a row (10 minutes to 6 hours).
#pragma once

#include "builder/host.hpp"
#include "config/config.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace buildme::builder {

enum class EnvState
{
  missing, // never made (no record)
  making,  // a maker started (its lock says whether it still runs)
  ready,
  failed
};
std::string_view to_string(EnvState state);

struct BaseEnv
{
  std::string builder;
  std::string product;
  std::string arch;
  EnvState state = EnvState::missing;
  std::string path;            // on the builder
  std::int64_t started_at = 0; // when the last making began
  std::int64_t made_at = 0;    // when the one in place was made (0: none is)
  std::int64_t failed_at = 0;  // when the last making failed
  int failures = 0;            // failed makings in a row
  std::string reason;          // what the last making said

  std::string name() const { return product + "/" + arch; }
  std::string text() const;
  static Result<BaseEnv> from_text(std::string_view text, std::string_view filename);
};

class EnvStore
{
public:
  explicit EnvStore(std::filesystem::path state_dir) : m_dir(std::move(state_dir) / "envs") {}

  std::filesystem::path info_path(const std::string& builder, const std::string& product,
                                  const std::string& arch) const;
  std::filesystem::path log_path(const std::string& builder, const std::string& product,
                                 const std::string& arch) const;
  std::filesystem::path lock_path(const std::string& builder, const std::string& product,
                                  const std::string& arch) const;

  // The record, or one in state missing when there is none.
  Result<BaseEnv> load(const std::string& builder, const std::string& product,
                       const std::string& arch) const;
  Status save(const BaseEnv& env) const;
  // Every record, by builder, then product and arch.
  Result<std::vector<BaseEnv>> list() const;

private:
  std::filesystem::path m_dir;
};

// Where the base of `product` for `arch` lives on `builder`: below env_dir,
// which is relative to state_dir for a local builder and to the home of the
// builder's first user over SSH (the build script resolves it there).
std::string base_path(const config::Config& config, const config::Builder& builder,
                      const std::string& product, const std::string& arch);

// The arch of the base a build of `arch` uses on `builder`: its own, or the
// builder's native one for an arch-independent ("all") build.
Result<std::string> base_arch(const config::Builder& builder, const std::string& arch);

// What a build needs of a base now.
struct EnvNeed
{
  bool usable = false; // a base is in place: a build may start
  bool make = false;   // a (new) one should be made now
  std::string why;     // for the queue: why the build waits, or why a new one
};
EnvNeed assess(const BaseEnv& env, const config::Config& config, std::int64_t now, bool being_made);

// Makes (or makes again) a base on `host`: sends buildme-build `script`,
// runs its --make-base with the config's timeouts, passing each chunk of
// output to `on_output`, and records the result in `store`. The caller holds
// the lock. An Error is the builder's fault, already recorded as failed.
Status make_base(const config::Config& config, const config::Builder& builder,
                 const config::Product& product, const std::string& arch, Host& host,
                 const std::string& script, const EnvStore& store, const util::Clock& clock,
                 const std::function<void(std::string_view)>& on_output);

// The host a base is made on: the builder itself (local), or over SSH as
// the builder's first user.
Result<std::unique_ptr<Host>> connect_builder(const config::Builder& builder);

// The bases the config asks for: every product that builds in a clean
// environment, on every builder, for each arch both build.
struct EnvTarget
{
  const config::Builder* builder = nullptr;
  const config::Product* product = nullptr;
  std::string arch;
};
Result<std::vector<EnvTarget>> wanted_envs(const config::Config& config);

// make_base on the real builder with the installed buildme-build.
Status make_base_on_builder(const config::Config& config, const EnvTarget& target,
                            const util::Clock& clock,
                            const std::function<void(std::string_view)>& on_output);

} // namespace buildme::builder
