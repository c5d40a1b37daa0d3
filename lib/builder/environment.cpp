#include "builder/environment.hpp"

#include "builder/build_status.hpp"
#include "builder/local_host.hpp"
#include "builder/ssh_host.hpp"
#include "builder/worker.hpp"
#include "config/arches.hpp"
#include "debian/control_writer.hpp"
#include "debian/deb822.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace buildme::builder {

namespace fs = std::filesystem;

namespace {

constexpr std::array<std::pair<EnvState, std::string_view>, 4> state_words = {{
  {EnvState::missing, "missing"},
  {EnvState::making, "making"},
  {EnvState::ready, "ready"},
  {EnvState::failed, "failed"},
}};

constexpr std::int64_t env_first_backoff = 600;
constexpr std::int64_t env_longest_backoff = 6 * 3600;

std::string file_stem(const std::string& product, const std::string& arch)
{
  return product + "_" + arch;
}

std::string ago(std::int64_t seconds)
{
  if (seconds < 120) {
    return fmt::format("{} s", seconds);
  }
  if (seconds < 2 * 3600) {
    return fmt::format("{} min", seconds / 60);
  }
  if (seconds < 2 * 86400) {
    return fmt::format("{} h", seconds / 3600);
  }
  return fmt::format("{} days", seconds / 86400);
}

} // namespace

std::string_view to_string(EnvState state)
{
  for (const auto& [known, word] : state_words) {
    if (known == state) {
      return word;
    }
  }
  return "missing";
}

std::string BaseEnv::text() const
{
  auto number_text = [](std::int64_t value) { return value ? std::to_string(value) : ""; };
  return debian::write_paragraph({
    {"Builder", builder},
    {"Product", product},
    {"Arch", arch},
    {"State", std::string(to_string(state))},
    {"Path", path},
    {"Started-At", number_text(started_at)},
    {"Made-At", number_text(made_at)},
    {"Failed-At", number_text(failed_at)},
    {"Failures", failures ? std::to_string(failures) : ""},
    {"Reason", util::printable(reason)},
  });
}

Result<BaseEnv> BaseEnv::from_text(std::string_view text, std::string_view filename)
{
  TRY_ASSIGN(auto control,
             debian::parse_one_paragraph(text, filename, "a base environment record"));
  const debian::Paragraph& record = control.paragraphs.front();
  BaseEnv env;
  env.builder = record.get("Builder").value_or("");
  env.product = record.get("Product").value_or("");
  env.arch = record.get("Arch").value_or("");
  if (env.builder.empty() || env.product.empty() || env.arch.empty()) {
    return fail("{}: a base environment record needs Builder, Product and Arch (delete the file: "
                "buildme makes the base again)",
                filename);
  }
  const std::string state = record.get("State").value_or("");
  auto found = std::find_if(state_words.begin(), state_words.end(),
                            [&](const auto& entry) { return entry.second == state; });
  if (found == state_words.end()) {
    return fail("{}: State is '{}'; it is missing, making, ready or failed", filename,
                util::printable(state));
  }
  env.state = found->first;
  env.path = record.get("Path").value_or("");
  TRY_ASSIGN(env.started_at, debian::count_field(record, "Started-At", filename));
  TRY_ASSIGN(env.made_at, debian::count_field(record, "Made-At", filename));
  TRY_ASSIGN(env.failed_at, debian::count_field(record, "Failed-At", filename));
  TRY_ASSIGN(auto failures, debian::count_field(record, "Failures", filename));
  env.failures = static_cast<int>(std::min<std::int64_t>(failures, 1000));
  env.reason = record.get("Reason").value_or("");
  return env;
}

fs::path EnvStore::info_path(const std::string& builder, const std::string& product,
                             const std::string& arch) const
{
  return m_dir / builder / (file_stem(product, arch) + ".info");
}

fs::path EnvStore::log_path(const std::string& builder, const std::string& product,
                            const std::string& arch) const
{
  return m_dir / builder / (file_stem(product, arch) + ".log");
}

fs::path EnvStore::lock_path(const std::string& builder, const std::string& product,
                             const std::string& arch) const
{
  return m_dir / builder / (file_stem(product, arch) + ".lock");
}

Result<BaseEnv> EnvStore::load(const std::string& builder, const std::string& product,
                               const std::string& arch) const
{
  const fs::path path = info_path(builder, product, arch);
  TRY_ASSIGN(auto present, util::stat_no_follow(path));
  if (!present) {
    BaseEnv env;
    env.builder = builder;
    env.product = product;
    env.arch = arch;
    return env;
  }
  TRY_ASSIGN(auto text, util::read_file(path, 1024 * 1024));
  return BaseEnv::from_text(text, path.string());
}

Status EnvStore::save(const BaseEnv& env) const
{
  TRY(util::make_dirs(m_dir / env.builder));
  return util::write_file_atomic(info_path(env.builder, env.product, env.arch), env.text());
}

Result<std::vector<BaseEnv>> EnvStore::list() const
{
  std::vector<BaseEnv> envs;
  TRY_ASSIGN(auto present, util::stat_no_follow(m_dir));
  if (!present) {
    return envs;
  }
  TRY_ASSIGN(auto builders, util::list_dir(m_dir));
  for (const auto& builder : builders) {
    TRY_ASSIGN(auto names, util::list_dir(m_dir / builder));
    for (const auto& name : names) {
      if (!name.ends_with(".info") || name.starts_with('.')) {
        continue;
      }
      TRY_ASSIGN(auto text, util::read_file(m_dir / builder / name, 1024 * 1024));
      TRY_ASSIGN(auto env, BaseEnv::from_text(text, (m_dir / builder / name).string()));
      envs.push_back(std::move(env));
    }
  }
  return envs;
}

std::string base_path(const config::Config& config, const config::Builder& builder,
                      const std::string& product, const std::string& arch)
{
  const std::string file = file_stem(product, arch) + ".tar";
  if (builder.env_dir.starts_with('/')) {
    return builder.env_dir + "/" + file;
  }
  if (builder.is_local()) {
    return (config.state_dir / builder.env_dir / file).string();
  }
  return builder.env_dir + "/" + file;
}

Result<std::string> base_arch(const config::Builder& builder, const std::string& arch)
{
  if (arch != "all") {
    return arch;
  }
  TRY_ASSIGN(auto arches, config::builder_arches(builder));
  if (arches.empty()) {
    return fail("builder {} lists no architecture", builder.name);
  }
  return arches.front();
}

EnvNeed assess(const BaseEnv& env, const config::Config& config, std::int64_t now, bool being_made)
{
  EnvNeed need;
  need.usable = env.made_at > 0;
  const std::int64_t age = now - env.made_at;
  if (being_made) {
    need.why =
      fmt::format("its build environment {} on {} is being made (since {} ago)", env.name(),
                  env.builder, ago(std::max<std::int64_t>(0, now - env.started_at)));
    return need;
  }
  if (env.state == EnvState::failed) {
    const std::int64_t backoff =
      std::min(env_longest_backoff, env_first_backoff << std::min(env.failures - 1, 10));
    const std::int64_t wait = env.failed_at + backoff - now;
    if (wait > 0) {
      need.why = fmt::format("its build environment {} on {} could not be made ({}); tried "
                             "again in {} (or run 'buildme env update {}')",
                             env.name(), env.builder, env.reason, ago(wait), env.name());
      return need;
    }
    need.make = true;
    need.why = fmt::format("its build environment {} on {} is made again after a failure",
                           env.name(), env.builder);
    return need;
  }
  if (!need.usable) {
    need.make = true;
    need.why = fmt::format("its build environment {} on {} is being made", env.name(), env.builder);
    return need;
  }
  if (age >= config.env_max_age.count()) {
    need.make = true;
    need.why = fmt::format("the build environment {} on {} is {} old (env_max_age): made again",
                           env.name(), env.builder, ago(age));
  }
  return need;
}

Result<std::unique_ptr<Host>> connect_builder(const config::Builder& builder)
{
  if (builder.is_local()) {
    return make_local_host();
  }
  if (builder.users.empty()) {
    return fail("builder {} has no users", builder.name);
  }
  SshTarget target;
  target.host = builder.host;
  target.port = builder.port;
  target.user = builder.users.front();
  target.identity = builder.identity;
  target.known_hosts = builder.known_hosts;
  return connect_ssh(target);
}

Status make_base(const config::Config& config, const config::Builder& builder,
                 const config::Product& product, const std::string& arch, Host& host,
                 const std::string& script, const EnvStore& store, const util::Clock& clock,
                 const std::function<void(std::string_view)>& on_output)
{
  auto now = [&] {
    return std::chrono::duration_cast<std::chrono::seconds>(clock.now().time_since_epoch()).count();
  };
  TRY_ASSIGN(BaseEnv env, store.load(builder.name, product.name, arch));
  env.state = EnvState::making;
  env.started_at = now();
  env.reason.clear();
  TRY(store.save(env));

  const std::string path = base_path(config, builder, product.name, arch);
  const std::string dir = path.substr(0, path.rfind('/'));
  const std::string work = dir + "/.make-" + file_stem(product.name, arch);
  std::string tail;
  auto attempt = [&]() -> Status {
    TRY(host.make_dir(dir));
    TRY(host.remove_tree(work));
    TRY(host.make_dir(work));
    TRY(host.upload(script, work + "/buildme-build", 0755));
    std::vector<std::string> argv = {
      "bash",     "buildme-build",     "--make-base",
      path,       "--suite",           product.base_suite,
      "--mirror", product.base_mirror, "--arch",
      arch,       "--components",      util::join(product.base_components, " ")};
    if (!product.base_keyring.empty()) {
      argv.push_back("--keyring");
      argv.push_back(product.base_keyring.string());
    }
    ExecOptions options;
    options.timeout = config.build_timeout;
    options.idle_timeout = config.idle_timeout;
    options.on_output = [&](std::string_view chunk) {
      tail.append(chunk);
      if (tail.size() > 64 * 1024) {
        tail.erase(0, tail.size() - 32 * 1024);
      }
      on_output(chunk);
    };
    TRY_ASSIGN(auto ran, host.run(argv, work, options));
    if (ran.end != ExecResult::End::exited) {
      return fail("mmdebstrap {}", describe(ran.end));
    }
    const BuildStatus status = classify_build(tail, ran.exit_code);
    if (status.result != BuildResult::success) {
      return fail("{}",
                  status.detail.empty() ? std::string(result_word(status.result)) : status.detail);
    }
    (void)host.remove_tree(work); // a leftover folder is removed by the next making
    return {};
  };
  if (auto made = attempt(); !made) {
    env.state = EnvState::failed;
    env.failed_at = now();
    env.failures += 1;
    env.reason = made.message();
    TRY(store.save(env));
    return made;
  }
  env.state = EnvState::ready;
  env.path = path;
  env.made_at = now();
  env.failures = 0;
  env.reason = fmt::format("made from {} {} ({})", product.base_mirror, product.base_suite,
                           util::join(product.base_components, " "));
  return store.save(env);
}

Result<std::vector<EnvTarget>> wanted_envs(const config::Config& config)
{
  std::vector<EnvTarget> targets;
  for (const auto& product : config.products) {
    if (product.build_in != config::Product::BuildIn::chroot) {
      continue;
    }
    TRY_ASSIGN(auto product_arches, config::product_arches(product));
    for (const auto& builder : config.builders) {
      TRY_ASSIGN(auto builder_arches, config::builder_arches(builder));
      for (const auto& arch : builder_arches) {
        if (std::find(product_arches.begin(), product_arches.end(), arch) != product_arches.end()) {
          targets.push_back({&builder, &product, arch});
        }
      }
    }
  }
  return targets;
}

Status make_base_on_builder(const config::Config& config, const EnvTarget& target,
                            const util::Clock& clock,
                            const std::function<void(std::string_view)>& on_output)
{
  EnvStore store(config.state_dir);
  auto fault = [&](const Error& error) -> Status {
    // Recorded as a failed making, so that the back-off applies.
    auto env = store.load(target.builder->name, target.product->name, target.arch);
    if (env) {
      env->state = EnvState::failed;
      env->failed_at =
        std::chrono::duration_cast<std::chrono::seconds>(clock.now().time_since_epoch()).count();
      env->failures += 1;
      env->reason = error.message;
      TRY(store.save(*env));
    }
    return error;
  };
  auto script = find_build_script();
  if (!script) {
    return fault(script.error());
  }
  auto host = connect_builder(*target.builder);
  if (!host) {
    return fault(
      Error{fmt::format("cannot reach builder {}: {}", target.builder->name, host.message())});
  }
  return make_base(config, *target.builder, *target.product, target.arch, **host, *script, store,
                   clock, on_output);
}

} // namespace buildme::builder
