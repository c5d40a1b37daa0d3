#include "config/config.hpp"
#include "debian/syntax.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <system_error>

namespace buildme::config {

namespace {

// What each section may hold. A named kind is written "[kind NAME]". A new
// section is a new row here, plus the code that reads its values.
struct SectionKind
{
  std::string_view kind;
  bool named;
  std::vector<std::string_view> keys;
};

const std::vector<SectionKind>& section_kinds()
{
  static const std::vector<SectionKind> kinds = {
    {"buildme", false, {"products",       "incoming_dir",  "result_dir",       "repo_queue",
                        "state_dir",      "grace_period",  "settle_time",      "orphan_after",
                        "log_file",       "build_timeout", "idle_timeout",     "max_attempts",
                        "upload_owner",   "upload_group",  "upload_mode",      "env_max_age",
                        "depwait_expire", "base_mirror",   "base_suite",       "base_components",
                        "base_keyring",   "build_in",      "build_profiles",   "build_options",
                        "upload_keyring", "upload_acl",    "signature_max_age"}},
    {"product",
     true,
     {"incoming_dir", "result_dir", "repo_queue", "arches", "base_mirror", "base_suite",
      "base_components", "base_keyring", "build_in", "build_profiles", "build_options",
      "upload_keyring", "upload_acl", "signature_max_age"}},
    {"builder",
     true,
     {"host", "port", "users", "slots", "arches", "identity", "known_hosts", "build_command",
      "work_dir", "env_dir", "build_tmpdir", "jobs", "engine", "schroot_name"}},
    {"mail",
     false,
     {"smtp_url", "starttls", "username", "password", "password_file", "from", "list", "log_url",
      "ca_file", "timeout", "list_throttle"}},
    {"repository", true, {"staging_dir",      "products",  "components",
                          "origin",           "label",     "description",
                          "keep_versions",    "sign_with", "gnupg_home",
                          "passphrase_file",  "valid_for", "by_hash",
                          "compress",         "url",       "promote_to",
                          "delete_after",     "live",      "live_identity",
                          "live_known_hosts", "live_port", "contents"}},
    {"report", false, {"dir", "url", "title", "stuck_after", "repo_url"}},
  };
  return kinds;
}

constexpr std::string_view per_product_paths[] = {"incoming_dir", "result_dir", "repo_queue"};

std::string header(const SectionKind& kind)
{
  return kind.named ? fmt::format("[{} NAME]", kind.kind) : fmt::format("[{}]", kind.kind);
}

const SectionKind* kind_of(std::string_view section)
{
  for (const auto& kind : section_kinds()) {
    if (!kind.named ? section == kind.kind
                    : section.size() > kind.kind.size() + 1 && section.starts_with(kind.kind) &&
                        section[kind.kind.size()] == ' ') {
      return &kind;
    }
  }
  return nullptr;
}

bool has_key(const IniFile::Section* section, std::string_view key)
{
  return section && std::any_of(section->entries.begin(), section->entries.end(),
                                [&](const auto& entry) { return entry.key == key; });
}

using util::trim;

bool is_product_name(std::string_view name)
{
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return !name.empty() && lower_or_digit(name.front()) &&
         std::all_of(name.begin(), name.end(),
                     [&](char c) { return lower_or_digit(c) || c == '.' || c == '_' || c == '-'; });
}

// An apt source URL that goes into a sources line and a command's words
// whole: a scheme apt fetches from, and no blank or shell character.
bool is_apt_url(std::string_view url)
{
  const bool scheme =
    url.starts_with("http://") || url.starts_with("https://") || url.starts_with("file:///");
  return scheme && url.find_first_of(" \t'\"\\$`;|&<>") == std::string_view::npos;
}

// "600", "600s", "10m", "2h", "7d".
std::optional<std::chrono::seconds> parse_seconds(std::string_view text)
{
  text = trim(text);
  std::uint64_t unit = 1;
  if (!text.empty()) {
    switch (text.back()) {
    case 's':
      text.remove_suffix(1);
      break;
    case 'm':
      unit = 60;
      text.remove_suffix(1);
      break;
    case 'h':
      unit = 3600;
      text.remove_suffix(1);
      break;
    case 'd':
      unit = 86400;
      text.remove_suffix(1);
      break;
    default:
      break;
    }
  }
  std::uint64_t count = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), count);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
      count > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / unit) {
    return std::nullopt;
  }
  return std::chrono::seconds(static_cast<std::int64_t>(count * unit));
}

constexpr std::int64_t day = 24 * 3600;

// The longest each duration may be: what makes sense for it (years, not
// centuries), and so far inside what the clock arithmetic that uses it can
// hold (a time point in nanoseconds ends in 2262) that none can overflow.
struct DurationLimit
{
  std::string_view key;
  std::int64_t max; // seconds
};
constexpr DurationLimit duration_limits[] = {
  {"grace_period", 30 * day},
  {"settle_time", day},
  {"orphan_after", 365 * day},
  {"build_timeout", 30 * day},
  {"idle_timeout", 30 * day},
  {"env_max_age", 365 * day},
  {"depwait_expire", 365 * day},
  {"signature_max_age", 10 * 365 * day},
  {"timeout", 3600},
  {"list_throttle", 365 * day},
  {"stuck_after", 365 * day},
  {"valid_for", 10 * 365 * day},
  {"delete_after", 365 * day},
};
constexpr std::int64_t default_duration_limit = 10 * 365 * day;

std::int64_t duration_limit(std::string_view key)
{
  for (const auto& limit : duration_limits) {
    if (limit.key == key) {
      return limit.max;
    }
  }
  return default_duration_limit;
}

// A duration in the largest unit that divides it, as a config would give it.
std::string duration_text(std::int64_t seconds)
{
  if (seconds >= day && seconds % day == 0) {
    return seconds >= 365 * day && seconds % (365 * day) == 0
             ? fmt::format("{}d ({} years)", seconds / day, seconds / (365 * day))
             : fmt::format("{}d", seconds / day);
  }
  if (seconds >= 3600 && seconds % 3600 == 0) {
    return fmt::format("{}h", seconds / 3600);
  }
  if (seconds >= 60 && seconds % 60 == 0) {
    return fmt::format("{}m", seconds / 60);
  }
  return fmt::format("{}s", seconds);
}

// Reads the values of one parsed file; every message names the file, the
// line of the key when the file has it, the section and the key.
class Reader
{
public:
  explicit Reader(const IniFile& ini) : m_ini(ini) {}

  Error error(std::string_view section, std::string_view key, const std::string& what) const
  {
    if (const int line = m_ini.line_of(section, key); line > 0) {
      return fail("{}:{}: [{}] {}: {}", m_ini.filename(), line, printable(section), key, what);
    }
    return fail("{}: [{}] {}: {}", m_ini.filename(), printable(section), key, what);
  }

  Status check_structure() const;
  Result<Config> read() const;

private:
  Result<std::vector<std::string>> products() const;
  Status check_product_sections(const std::vector<std::string>& products) const;
  Result<std::filesystem::path> path(std::string_view section, std::string_view key,
                                     const std::string& value, std::string_view context) const;
  Result<Product> product(const std::string& name, const std::string& repository) const;
  Status build_target(const std::string& own_section, Product& product) const;
  Status upload_rules(const std::string& own_section, Product& product) const;
  Result<Repository> repository(const std::string& name,
                                const std::vector<std::string>& products) const;
  Status seconds_in(const std::string& section, std::string_view key,
                    std::chrono::seconds& target) const;
  Result<Mail> mail() const;
  Result<Report> report() const;
  Result<Builder> builder(const std::string& name) const;
  Result<std::vector<std::string>> arch_list(const std::string& section,
                                             std::string_view key) const;
  Result<std::optional<long long>> integer(const std::string& section, std::string_view key,
                                           long long min, long long max) const;
  Status seconds(std::string_view key, std::chrono::seconds& target) const;

  const IniFile& m_ini;
};

Status Reader::check_structure() const
{
  for (const auto& section : m_ini.sections()) {
    const SectionKind* kind = kind_of(section.name);
    if (!kind) {
      std::string known;
      for (const auto& k : section_kinds()) {
        known += (known.empty() ? "" : ", ") + header(k);
      }
      return fail("{}: unknown section [{}]; known: {}", m_ini.filename(), printable(section.name),
                  known);
    }
    for (const auto& entry : section.entries) {
      if (std::find(kind->keys.begin(), kind->keys.end(), entry.key) == kind->keys.end()) {
        std::string known;
        for (auto key : kind->keys) {
          known += fmt::format("{}{}", known.empty() ? "" : ", ", key);
        }
        return error(section.name, printable(entry.key),
                     fmt::format("unknown key; {} knows: {}", header(*kind), known));
      }
    }
  }
  return {};
}

Result<std::vector<std::string>> Reader::products() const
{
  auto value = m_ini.get("buildme", "products");
  if (!value) {
    return value.error();
  }
  if (!*value) {
    return error("buildme", "products",
                 "missing; list the products to build for, like 'products = fremantle'");
  }
  std::vector<std::string> result;
  for (auto name : util::split(**value)) {
    if (!is_product_name(name)) {
      return error("buildme", "products",
                   fmt::format("'{}' is not a product name (lower-case letters, digits, '.', "
                               "'_' and '-', starting with a letter or digit)",
                               printable(name)));
    }
    if (std::find(result.begin(), result.end(), name) != result.end()) {
      return error("buildme", "products", fmt::format("'{}' is listed twice", name));
    }
    result.emplace_back(name);
  }
  if (result.empty()) {
    return error("buildme", "products",
                 "lists no product; name at least one, like 'products = fremantle'");
  }
  return result;
}

Status Reader::check_product_sections(const std::vector<std::string>& products) const
{
  for (const auto& section : m_ini.sections()) {
    const SectionKind* kind = kind_of(section.name);
    if (kind->kind != "product") {
      continue;
    }
    std::string_view name = std::string_view(section.name).substr(kind->kind.size() + 1);
    if (std::find(products.begin(), products.end(), name) == products.end()) {
      return fail("{}: [{}]: '{}' is not in [buildme] products; add it there or remove this "
                  "section",
                  m_ini.filename(), printable(section.name), printable(name));
    }
  }
  return {};
}

Result<std::filesystem::path> Reader::path(std::string_view section, std::string_view key,
                                           const std::string& value, std::string_view context) const
{
  if (value.find('\n') != std::string::npos) {
    return error(
      section, key,
      fmt::format("'{}'{} spans several lines; a path is one line", printable(value), context));
  }
  if (!value.starts_with('/')) {
    return error(section, key,
                 fmt::format("'{}'{} is not an absolute path; write it from the root, like "
                             "/srv/buildme/...",
                             printable(value), context));
  }
  return std::filesystem::path(value);
}

Result<Product> Reader::product(const std::string& name, const std::string& repository) const
{
  const std::string own_section = "product " + name;
  const IniFile::Section* own = m_ini.section(own_section);
  const IniFile::Vars vars = {{"product", name}, {"repository", repository}};
  const std::string context = fmt::format(" (for product {})", name);

  Product product;
  product.name = name;
  product.repository = repository;
  std::filesystem::path* targets[] = {&product.incoming_dir, &product.result_dir,
                                      &product.repo_queue};
  for (std::size_t i = 0; i < std::size(per_product_paths); ++i) {
    std::string_view key = per_product_paths[i];
    // [product NAME] overrides [buildme], which falls back to [DEFAULT].
    std::string_view section = has_key(own, key) ? std::string_view(own_section) : "buildme";
    auto value = m_ini.get(section, key, vars);
    if (!value) {
      return value.error();
    }
    if (!*value) {
      return error("buildme", key,
                   fmt::format("missing; product {} needs it (set it in [buildme], using "
                               "%(product)s, or in [product {}])",
                               name, name));
    }
    auto path_value = path(section, key, **value, context);
    if (!path_value) {
      return path_value.error();
    }
    *targets[i] = std::move(*path_value);
  }

  if (has_key(own, "arches")) {
    auto arches = arch_list(own_section, "arches");
    if (!arches) {
      return arches.error();
    }
    product.arches = std::move(*arches);
  }
  TRY(build_target(own_section, product));
  TRY(upload_rules(own_section, product));
  return product;
}

// upload_keyring, upload_acl, signature_max_age: [product NAME] overrides
// [buildme]; the paths may use %(product)s.
Status Reader::upload_rules(const std::string& own_section, Product& product) const
{
  const IniFile::Section* own = m_ini.section(own_section);
  const IniFile::Vars vars = {{"product", product.name}};
  const std::string context = fmt::format(" (for product {})", product.name);
  auto section_of = [&](std::string_view key) {
    return has_key(own, key) ? own_section : std::string("buildme");
  };
  const std::string keyring_section = section_of("upload_keyring");
  TRY_ASSIGN(const auto keyrings, m_ini.get(keyring_section, "upload_keyring", vars));
  for (const auto& word : util::split_words(keyrings.value_or(""))) {
    TRY_ASSIGN(auto keyring, path(keyring_section, "upload_keyring", word, context));
    product.upload_keyrings.push_back(std::move(keyring));
  }
  const std::string acl_section = section_of("upload_acl");
  TRY_ASSIGN(const auto acl, m_ini.get(acl_section, "upload_acl", vars));
  const std::string acl_path(trim(acl.value_or("")));
  if (!acl_path.empty()) {
    if (product.upload_keyrings.empty()) {
      return error(acl_section, "upload_acl",
                   fmt::format("is set for product {} but upload_keyring is not; the list says "
                               "which keys of the keyrings may upload what, so give the "
                               "keyrings too",
                               product.name));
    }
    TRY_ASSIGN(product.upload_acl, path(acl_section, "upload_acl", acl_path, context));
  }
  const std::string age_section = section_of("signature_max_age");
  TRY(seconds_in(age_section, "signature_max_age", product.signature_max_age));
  if (product.signature_max_age.count() == 0) {
    return error(age_section, "signature_max_age",
                 "is 0, which would refuse every signature; give an age such as 365d");
  }
  return {};
}

// base_* and build_in: [product NAME] overrides [buildme].
Status Reader::build_target(const std::string& own_section, Product& product) const
{
  const IniFile::Section* own = m_ini.section(own_section);
  auto text = [&](std::string_view key) -> Result<std::pair<std::string, std::string>> {
    std::string section = has_key(own, key) ? own_section : "buildme";
    auto value = m_ini.get(section, key);
    if (!value) {
      return value.error();
    }
    return std::pair{section, std::string(trim(value->value_or("")))};
  };
  TRY_ASSIGN(auto mirror, text("base_mirror"));
  TRY_ASSIGN(auto suite, text("base_suite"));
  TRY_ASSIGN(auto components, text("base_components"));
  TRY_ASSIGN(auto keyring, text("base_keyring"));
  TRY_ASSIGN(auto build_in, text("build_in"));
  TRY_ASSIGN(auto profiles, text("build_profiles"));
  for (auto& profile : util::split_words(profiles.second)) {
    // dpkg's syntax for a profile name: lowercase letters, digits, . + -.
    const bool valid = !profile.empty() && std::all_of(profile.begin(), profile.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '+' || c == '-';
    });
    if (!valid) {
      return error(profiles.first, "build_profiles",
                   fmt::format("'{}' is not a build profile name (like nocheck or nodoc)",
                               printable(profile)));
    }
    product.build_profiles.push_back(std::move(profile));
  }
  TRY_ASSIGN(auto options, text("build_options"));
  for (auto& option : util::split_words(options.second)) {
    // Policy 4.9.1: words, some NAME=VALUE; no shell character.
    const auto name_end = option.find('=');
    const std::string_view name = std::string_view(option).substr(0, name_end);
    auto in = [](std::string_view word, std::string_view allowed) {
      return !word.empty() && std::all_of(word.begin(), word.end(), [&](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               allowed.find(c) != std::string_view::npos;
      });
    };
    const bool valid = in(name, "_.+-") && (name_end == std::string::npos ||
                                            in(std::string_view(option).substr(name_end + 1),
                                               "_.,+-ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
    if (!valid) {
      return error(options.first, "build_options",
                   fmt::format("'{}' is not a DEB_BUILD_OPTIONS word (like nocheck, noopt or "
                               "nodoc)",
                               printable(option)));
    }
    if (name == "parallel") {
      return error(options.first, "build_options",
                   "parallel=N comes from each builder's jobs; leave it out here");
    }
    product.build_options.push_back(std::move(option));
  }
  if (!mirror.second.empty()) {
    const std::string& url = mirror.second;
    if (!is_apt_url(url)) {
      return error(mirror.first, "base_mirror",
                   fmt::format("'{}' is not an http://, https:// or file:/// URL", printable(url)));
    }
    product.base_mirror = url;
  }
  if (!suite.second.empty()) {
    if (!is_product_name(suite.second)) {
      return error(
        suite.first, "base_suite",
        fmt::format("'{}' is not a suite name (like bookworm)", printable(suite.second)));
    }
    product.base_suite = suite.second;
  }
  if (!components.second.empty()) {
    product.base_components.clear();
    for (auto& component : util::split_words(components.second)) {
      if (!is_product_name(component)) {
        return error(components.first, "base_components",
                     fmt::format("'{}' is not a component name (like main)", printable(component)));
      }
      product.base_components.push_back(std::move(component));
    }
  }
  if (!keyring.second.empty()) {
    TRY_ASSIGN(product.base_keyring, path(keyring.first, "base_keyring", keyring.second, ""));
  }
  product.build_in = product.base_suite.empty() ? Product::BuildIn::host : Product::BuildIn::chroot;
  if (build_in.second == "host") {
    product.build_in = Product::BuildIn::host;
  } else if (build_in.second == "chroot") {
    product.build_in = Product::BuildIn::chroot;
  } else if (!build_in.second.empty()) {
    return error(build_in.first, "build_in",
                 fmt::format("'{}' is chroot or host", printable(build_in.second)));
  }
  if (product.build_in == Product::BuildIn::chroot &&
      (product.base_suite.empty() || product.base_mirror.empty())) {
    return error(build_in.first.empty() ? own_section : suite.first,
                 product.base_suite.empty() ? "base_suite" : "base_mirror",
                 fmt::format("missing; product {} builds in a clean environment (build_in = "
                             "chroot), made from base_mirror and base_suite, like "
                             "'base_mirror = http://deb.debian.org/debian' and "
                             "'base_suite = bookworm'",
                             product.name));
  }
  return {};
}

Result<std::vector<std::string>> Reader::arch_list(const std::string& section,
                                                   std::string_view key) const
{
  auto value = m_ini.get(section, key);
  if (!value) {
    return value.error();
  }
  // The text must outlive the views that split() returns into it.
  const std::string text = value->value_or("");
  std::vector<std::string> arches;
  for (auto word : util::split(text)) {
    if (!debian::is_valid_architecture(word) || word == "any" || word == "all" ||
        word == "source") {
      return error(
        section, key,
        fmt::format("'{}' is not an architecture name (like amd64, armel, i386)", printable(word)));
    }
    arches.emplace_back(word);
  }
  if (arches.empty()) {
    return error(section, key,
                 "lists no architecture; name at least one, like 'arches = armel i386'");
  }
  return arches;
}

Result<std::optional<long long>> Reader::integer(const std::string& section, std::string_view key,
                                                 long long min, long long max) const
{
  auto value = m_ini.get(section, key);
  if (!value) {
    return value.error();
  }
  if (!*value) {
    return std::optional<long long>();
  }
  const std::string_view text = trim(**value);
  long long number = 0;
  auto [end, failure] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (failure != std::errc() || end != text.data() + text.size() || number < min || number > max) {
    return error(
      section, key,
      fmt::format("'{}' is not a whole number from {} to {}", printable(**value), min, max));
  }
  return std::optional<long long>(number);
}

Status Reader::seconds(std::string_view key, std::chrono::seconds& target) const
{
  return seconds_in("buildme", key, target);
}

Status Reader::seconds_in(const std::string& section, std::string_view key,
                          std::chrono::seconds& target) const
{
  auto value = m_ini.get(section, key);
  if (!value) {
    return value.error();
  }
  if (!*value) {
    return {};
  }
  // Where the value is written (its own section or [DEFAULT]), for the
  // messages: a duration is a value people get wrong by a unit.
  const std::string where = fmt::format("{}:{}: [{}] {}", m_ini.filename(),
                                        m_ini.line_of(section, key), printable(section), key);
  auto parsed = parse_seconds(**value);
  if (!parsed) {
    return fail("{}: '{}' is not a number of seconds (like 600, 10m or 7d)", where,
                printable(**value));
  }
  const std::int64_t limit = duration_limit(key);
  if (parsed->count() > limit) {
    return fail("{}: '{}' is longer than {}, the most {} may be; give a shorter time", where,
                printable(**value), duration_text(limit), key);
  }
  target = *parsed;
  return {};
}

bool is_user_name(std::string_view name)
{
  auto first = [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; };
  auto rest = [&](char c) { return first(c) || (c >= '0' && c <= '9') || c == '-'; };
  return !name.empty() && name.size() <= 32 && first(name.front()) &&
         std::all_of(name.begin(), name.end(), rest);
}

bool is_host_name(std::string_view host)
{
  return !host.empty() && host.size() <= 253 && host.front() != '-' &&
         std::all_of(host.begin(), host.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
                  c == '_';
         });
}

Result<Builder> Reader::builder(const std::string& name) const
{
  const std::string section = "builder " + name;
  Builder builder;
  builder.name = name;
  if (!is_product_name(name)) {
    return fail("{}: [{}]: '{}' is not a builder name (lower-case letters, digits, '.', '_', "
                "'-')",
                m_ini.filename(), printable(section), printable(name));
  }
  auto text = [&](std::string_view key) -> Result<std::string> {
    auto value = m_ini.get(section, key);
    if (!value) {
      return value.error();
    }
    return std::string(trim(value->value_or("")));
  };
  auto host = text("host");
  if (!host) {
    return host.error();
  }
  if (host->empty()) {
    return error(section, "host",
                 "missing; the builder's host name, or 'local' to build on this machine");
  }
  if (!is_host_name(*host)) {
    return error(section, "host", fmt::format("'{}' is not a host name", printable(*host)));
  }
  builder.host = *host;

  if (has_key(m_ini.section(section), "arches")) {
    auto arches = arch_list(section, "arches");
    if (!arches) {
      return arches.error();
    }
    builder.arches = std::move(*arches);
  }
  auto command = text("build_command");
  if (!command) {
    return command.error();
  }
  builder.build_command = util::split_words(*command);
  auto work_dir = text("work_dir");
  if (!work_dir) {
    return work_dir.error();
  }
  if (!work_dir->empty()) {
    if (work_dir->find("..") != std::string::npos || *work_dir == "/") {
      return error(section, "work_dir",
                   fmt::format("'{}' must not be / or contain '..'", printable(*work_dir)));
    }
    builder.work_dir = *work_dir;
  }
  auto env_dir = text("env_dir");
  if (!env_dir) {
    return env_dir.error();
  }
  if (!env_dir->empty()) {
    if (env_dir->find("..") != std::string::npos || *env_dir == "/" ||
        env_dir->find_first_of(" \t'\"\\$`;|&<>") != std::string::npos) {
      return error(
        section, "env_dir",
        fmt::format("'{}' must not be /, contain '..' or shell characters", printable(*env_dir)));
    }
    builder.env_dir = *env_dir;
  }
  auto tmpdir = text("build_tmpdir");
  if (!tmpdir) {
    return tmpdir.error();
  }
  if (!tmpdir->empty()) {
    if (!tmpdir->starts_with('/') || tmpdir->find("..") != std::string::npos || *tmpdir == "/" ||
        tmpdir->find_first_of(" \t'\"\\$`;|&<>") != std::string::npos) {
      return error(section, "build_tmpdir",
                   fmt::format("'{}' must be an absolute folder other than /, without '..' or "
                               "shell characters",
                               printable(*tmpdir)));
    }
    builder.build_tmpdir = *tmpdir;
  }
  auto jobs = integer(section, "jobs", 1, 1024);
  if (!jobs) {
    return jobs.error();
  }
  builder.jobs = static_cast<int>(jobs->value_or(1));
  auto engine = text("engine");
  if (!engine) {
    return engine.error();
  }
  if (*engine == "schroot") {
    builder.engine = Builder::Engine::schroot;
  } else if (!engine->empty() && *engine != "unshare") {
    return error(section, "engine",
                 fmt::format("'{}' is not an engine: unshare (sbuild's unshare backend, the "
                             "default) or schroot (chroots root set up with 'buildme env "
                             "schroot --install')",
                             printable(*engine)));
  }
  auto schroot_name = text("schroot_name");
  if (!schroot_name) {
    return schroot_name.error();
  }
  if (!schroot_name->empty()) {
    // Checked with a product and an arch in it, as the worker fills it in.
    std::string sample = *schroot_name;
    for (auto [key, value] : {std::pair<std::string_view, std::string_view>{"{product}", "p"},
                              {"{arch}", "a"},
                              {"{builder}", "b"}}) {
      for (auto at = sample.find(key); at != std::string::npos; at = sample.find(key)) {
        sample.replace(at, key.size(), value);
      }
    }
    const bool valid = sample.size() <= 100 &&
                       std::isalnum(static_cast<unsigned char>(sample.front())) &&
                       std::all_of(sample.begin(), sample.end(), [](char c) {
                         return std::isalnum(static_cast<unsigned char>(c)) || c == '.' ||
                                c == '_' || c == '-' || c == '+';
                       });
    if (!valid || schroot_name->find("{product}") == std::string::npos ||
        schroot_name->find("{arch}") == std::string::npos) {
      return error(section, "schroot_name",
                   fmt::format("'{}' is not a schroot chroot name with {{product}} and {{arch}} "
                               "in it (letters, digits, '.', '_', '-', '+'), like "
                               "buildme-{{product}}-{{arch}}",
                               printable(*schroot_name)));
    }
    builder.schroot_name = *schroot_name;
  }
  if (builder.engine == Builder::Engine::schroot && !builder.is_local() &&
      !builder.env_dir.starts_with('/')) {
    return error(section, "engine",
                 fmt::format("schroot names each base by its absolute path, and env_dir '{}' is "
                             "relative to the user's home: set env_dir to an absolute folder",
                             printable(builder.env_dir)));
  }

  const IniFile::Section* own = m_ini.section(section);
  if (builder.is_local()) {
    for (auto key : {"users", "port", "identity", "known_hosts"}) {
      if (has_key(own, key)) {
        return error(section, key,
                     "only for SSH builders; a local builder builds as the user buildme runs "
                     "as (use 'slots = N' for parallel builds)");
      }
    }
    auto slots = integer(section, "slots", 1, 64);
    if (!slots) {
      return slots.error();
    }
    builder.slots = static_cast<int>(slots->value_or(1));
    return builder;
  }

  if (has_key(own, "slots")) {
    return error(section, "slots",
                 "only for local builders; an SSH builder has one slot per user in 'users'");
  }
  if (builder.arches.empty()) {
    return error(section, "arches",
                 "missing; name the architectures this builder builds, like 'arches = armel'");
  }
  auto port = integer(section, "port", 1, 65535);
  if (!port) {
    return port.error();
  }
  builder.port = static_cast<int>(port->value_or(22));
  auto users = text("users");
  if (!users) {
    return users.error();
  }
  for (auto& user : util::split_words(*users)) {
    if (!is_user_name(user)) {
      return error(section, "users", fmt::format("'{}' is not a user name", printable(user)));
    }
    if (std::find(builder.users.begin(), builder.users.end(), user) != builder.users.end()) {
      return error(section, "users", fmt::format("'{}' is listed twice", user));
    }
    builder.users.push_back(std::move(user));
  }
  if (builder.users.empty()) {
    return error(section, "users",
                 "missing; list the accounts to build as, one build slot each, like "
                 "'users = builder1 builder2'");
  }
  if (builder.engine == Builder::Engine::schroot && builder.users.front() != "root") {
    // schroot unpacks a base as root: one its build account made could
    // carry device nodes and set-id files, so schroot takes only root's.
    return error(section, "engine",
                 fmt::format("schroot takes only bases owned by root, and buildme makes them as "
                             "the first of users ({}): list root first, or keep the unshare "
                             "engine",
                             builder.users.front()));
  }
  for (auto [key, target] :
       {std::pair{"identity", &builder.identity}, std::pair{"known_hosts", &builder.known_hosts}}) {
    auto value = text(key);
    if (!value) {
      return value.error();
    }
    if (value->empty()) {
      return error(section, key,
                   std::string_view(key) == "identity"
                     ? "missing; the private key buildme logs in with, like "
                       "'identity = /etc/buildme/id_ed25519'"
                     : "missing; the known_hosts file that must hold this host's key, like "
                       "'known_hosts = /etc/buildme/known_hosts' (never trusted on first use)");
    }
    auto absolute = path(section, key, *value, "");
    if (!absolute) {
      return absolute.error();
    }
    *target = *value;
  }
  return builder;
}

Result<Repository> Reader::repository(const std::string& name,
                                      const std::vector<std::string>& products) const
{
  const std::string section = "repository " + name;
  Repository repository;
  repository.name = name;
  if (!is_product_name(name)) {
    return fail("{}: [{}]: '{}' is not a repository name (lower-case letters, digits, '.', "
                "'_', '-')",
                m_ini.filename(), printable(section), printable(name));
  }
  const IniFile::Vars vars = {{"repository", name}};
  auto text = [&](std::string_view key) -> Result<std::string> {
    auto value = m_ini.get(section, key, vars);
    if (!value) {
      return value.error();
    }
    return std::string(trim(value->value_or("")));
  };

  auto staging = text("staging_dir");
  if (!staging) {
    return staging.error();
  }
  if (staging->empty()) {
    return error(section, "staging_dir",
                 "missing; the folder queue-manage builds this repository in, like "
                 "'staging_dir = /srv/repo/staging/" +
                   name + "'");
  }
  auto staging_path = path(section, "staging_dir", *staging, "");
  if (!staging_path) {
    return staging_path.error();
  }
  repository.staging_dir = std::move(*staging_path);

  auto listed = text("products");
  if (!listed) {
    return listed.error();
  }
  for (auto& product : util::split_words(*listed)) {
    if (std::find(products.begin(), products.end(), product) == products.end()) {
      return error(section, "products",
                   fmt::format("'{}' is not in [buildme] products", printable(product)));
    }
    repository.products.push_back(std::move(product));
  }
  if (repository.products.empty()) {
    return error(section, "products",
                 "missing; list the products (one distribution each) this repository holds");
  }

  auto components = text("components");
  if (!components) {
    return components.error();
  }
  if (!components->empty()) {
    repository.components.clear();
    for (auto& component : util::split_words(*components)) {
      if (!is_product_name(component)) {
        return error(section, "components",
                     fmt::format("'{}' is not a component name (like main, free, non-free)",
                                 printable(component)));
      }
      repository.components.push_back(std::move(component));
    }
  }
  for (auto [key, target] :
       {std::pair{"origin", &repository.origin}, std::pair{"label", &repository.label},
        std::pair{"description", &repository.description},
        std::pair{"gnupg_home", &repository.gnupg_home},
        std::pair{"passphrase_file", &repository.passphrase_file},
        std::pair{"promote_to", &repository.promote_to}}) {
    auto value = text(key);
    if (!value) {
      return value.error();
    }
    if (value->find('\n') != std::string::npos) {
      return error(section, key, "must be one line");
    }
    *target = std::move(*value);
  }
  if (repository.origin.empty()) {
    repository.origin = name;
  }
  if (repository.label.empty()) {
    repository.label = name;
  }
  for (auto key : {"gnupg_home", "passphrase_file"}) {
    const std::string& value =
      std::string_view(key) == "gnupg_home" ? repository.gnupg_home : repository.passphrase_file;
    if (!value.empty()) {
      TRY(path(section, key, value, ""));
    }
  }
  auto key = text("sign_with");
  if (!key) {
    return key.error();
  }
  if (!key->empty()) {
    auto fingerprint = parse_fingerprint(*key);
    if (!fingerprint) {
      return error(section, "sign_with",
                   fmt::format("'{}' is not a full key fingerprint (40 hex digits; see gpg "
                               "--list-secret-keys --with-colons)",
                               printable(*key)));
    }
    repository.sign_with = *fingerprint;
  }
  auto url = text("url");
  if (!url) {
    return url.error();
  }
  if (!url->empty()) {
    if (!is_apt_url(*url)) {
      return error(
        section, "url",
        fmt::format("'{}' is not an http://, https:// or file:/// URL", printable(*url)));
    }
    repository.url = *url;
  }

  auto keep = integer(section, "keep_versions", 1, 1000);
  if (!keep) {
    return keep.error();
  }
  repository.keep_versions = static_cast<int>(keep->value_or(3));
  for (auto [name_of_key, target] : {std::pair{"valid_for", &repository.valid_for},
                                     std::pair{"delete_after", &repository.delete_after}}) {
    TRY(seconds_in(section, name_of_key, *target));
  }
  for (auto [flag, target] :
       {std::pair{"by_hash", &repository.by_hash}, std::pair{"contents", &repository.contents}}) {
    auto value = text(flag);
    if (!value) {
      return value.error();
    }
    if (value->empty()) {
      continue;
    }
    if (*value == "yes" || *value == "true" || *value == "1") {
      *target = true;
    } else if (*value == "no" || *value == "false" || *value == "0") {
      *target = false;
    } else {
      return error(section, flag, fmt::format("'{}' is not yes or no", printable(*value)));
    }
  }
  auto compress = text("compress");
  if (!compress) {
    return compress.error();
  }
  if (!compress->empty()) {
    repository.gzip = repository.xz = false;
    for (const auto& word : util::split_words(*compress)) {
      if (word == "gz") {
        repository.gzip = true;
      } else if (word == "xz") {
        repository.xz = true;
      } else if (word != "none") {
        return error(section, "compress",
                     fmt::format("'{}' is not gz, xz or none", printable(word)));
      }
    }
  }
  auto live = text("live");
  if (!live) {
    return live.error();
  }
  for (auto& target : util::split_words(*live)) {
    // A local absolute path, or user@host:path for rsync over SSH; never an
    // rsync option or a remote shell command.
    const auto colon = target.find(':');
    const bool remote = colon != std::string::npos && target.find('@') < colon;
    if (target.starts_with('-') || (!remote && !target.starts_with('/')) ||
        (remote && (colon + 1 >= target.size() || target.find("::") != std::string::npos)) ||
        target.find_first_of(" \t'\"\\$`;|&<>") != std::string::npos) {
      return error(
        section, "live",
        fmt::format("'{}' is neither an absolute path nor user@host:path", printable(target)));
    }
    repository.live.push_back(std::move(target));
  }
  for (auto [name_of_key, target] : {std::pair{"live_identity", &repository.live_identity},
                                     std::pair{"live_known_hosts", &repository.live_known_hosts}}) {
    auto value = text(name_of_key);
    if (!value) {
      return value.error();
    }
    if (!value->empty()) {
      TRY(path(section, name_of_key, *value, ""));
      *target = *value;
    }
  }
  auto live_port = integer(section, "live_port", 1, 65535);
  if (!live_port) {
    return live_port.error();
  }
  repository.live_port = static_cast<int>(live_port->value_or(22));
  return repository;
}

Result<Mail> Reader::mail() const
{
  Mail mail;
  // log_url keeps its %(product)s, %(job)s, %(arch)s for the mail to fill.
  auto raw_log_url = m_ini.raw("mail", "log_url");
  mail.log_url = std::string(trim(raw_log_url.value_or("")));
  for (auto [key, target] :
       {std::pair{"smtp_url", &mail.smtp_url}, std::pair{"starttls", &mail.starttls},
        std::pair{"username", &mail.username}, std::pair{"password", &mail.password},
        std::pair{"password_file", &mail.password_file}, std::pair{"from", &mail.from},
        std::pair{"list", &mail.list}, std::pair{"ca_file", &mail.ca_file}}) {
    auto value = m_ini.get("mail", key);
    if (!value) {
      return value.error();
    }
    if (*value) {
      if ((*value)->find_first_of("\r\n") != std::string::npos) {
        return error("mail", key, "must be one line");
      }
      *target = std::string(trim(**value));
    }
  }
  if (!mail.smtp_url.starts_with("smtp://") && !mail.smtp_url.starts_with("smtps://")) {
    return error("mail", "smtp_url",
                 fmt::format("'{}' is not an smtp:// or smtps:// URL (like "
                             "smtp://mail.example.org:587)",
                             printable(mail.smtp_url)));
  }
  if (mail.starttls != "required" && mail.starttls != "optional" && mail.starttls != "no") {
    return error("mail", "starttls",
                 fmt::format("'{}' is not required, optional or no", printable(mail.starttls)));
  }
  if (mail.from.find('@') == std::string::npos) {
    return error("mail", "from",
                 "missing or not an address; buildme's sender, like "
                 "'from = buildme <buildme@example.org>'");
  }
  if (!mail.password.empty() && !mail.password_file.empty()) {
    return error("mail", "password", "give password or password_file, not both");
  }
  for (auto key : {"password_file", "ca_file"}) {
    const std::string& value =
      std::string_view(key) == "ca_file" ? mail.ca_file : mail.password_file;
    if (!value.empty()) {
      TRY(path("mail", key, value, ""));
    }
  }
  for (auto [key, target] :
       {std::pair{"timeout", &mail.timeout}, std::pair{"list_throttle", &mail.list_throttle}}) {
    TRY(seconds_in("mail", key, *target));
  }
  return mail;
}

// An http(s) URL of a folder, as written in links: one line, no blanks or
// quotes, ending in '/' (added when missing).
Result<std::string> folder_url(std::string_view value)
{
  std::string url(trim(value));
  if (url.empty()) {
    return url;
  }
  if ((!url.starts_with("http://") && !url.starts_with("https://")) ||
      url.find_first_of(" \t\r\n\"'<>\\`") != std::string::npos) {
    return fail("'{}' is not an http:// or https:// URL (like https://builder.example.org/)",
                printable(url));
  }
  if (!url.ends_with('/')) {
    url += '/';
  }
  return url;
}

Result<Report> Reader::report() const
{
  Report report;
  auto dir = m_ini.get("report", "dir");
  if (!dir) {
    return dir.error();
  }
  if (!*dir || trim(**dir).empty()) {
    return error("report", "dir",
                 "missing; the folder the status site is written to, like "
                 "'dir = /srv/www/builder'");
  }
  TRY_ASSIGN(report.dir, path("report", "dir", std::string(trim(**dir)), ""));
  for (auto [key, target] :
       {std::pair{"url", &report.url}, std::pair{"repo_url", &report.repo_url}}) {
    auto value = m_ini.get("report", key);
    if (!value) {
      return value.error();
    }
    auto url = folder_url(value->value_or(""));
    if (!url) {
      return error("report", key, url.message());
    }
    *target = std::move(*url);
  }
  auto title = m_ini.get("report", "title");
  if (!title) {
    return title.error();
  }
  if (*title) {
    if ((*title)->find_first_of("\r\n") != std::string::npos || trim(**title).empty()) {
      return error("report", "title", "must be one line of text");
    }
    report.title = std::string(trim(**title));
  }
  TRY(seconds_in("report", "stuck_after", report.stuck_after));
  if (report.stuck_after.count() == 0) {
    return error("report", "stuck_after", "must be more than 0 (like 2d)");
  }
  return report;
}

Result<Config> Reader::read() const
{
  if (!m_ini.section("buildme")) {
    return fail("{}: no [buildme] section; it names the products and their folders (see "
                "etc/buildme.conf in buildme's sources)",
                m_ini.filename());
  }
  Config config;
  config.path = m_ini.filename();

  auto names = products();
  if (!names) {
    return names.error();
  }
  TRY(check_product_sections(*names));

  auto raw_state_dir = m_ini.raw("buildme", "state_dir");
  if (raw_state_dir && raw_state_dir->find("%(product)s") != std::string::npos) {
    return error("buildme", "state_dir",
                 "cannot use %(product)s; the state folder is shared by all products");
  }
  auto state_dir = m_ini.get("buildme", "state_dir");
  if (!state_dir) {
    return state_dir.error();
  }
  if (!*state_dir) {
    return error("buildme", "state_dir",
                 "missing; buildme keeps its jobs and locks there, like "
                 "'state_dir = /var/lib/buildme'");
  }
  auto state_path = path("buildme", "state_dir", **state_dir, "");
  if (!state_path) {
    return state_path.error();
  }
  config.state_dir = std::move(*state_path);

  for (auto [key, target] : {std::pair{"grace_period", &config.grace_period},
                             std::pair{"settle_time", &config.settle_time},
                             std::pair{"orphan_after", &config.orphan_after},
                             std::pair{"build_timeout", &config.build_timeout},
                             std::pair{"env_max_age", &config.env_max_age},
                             std::pair{"depwait_expire", &config.depwait_expire},
                             std::pair{"idle_timeout", &config.idle_timeout}}) {
    TRY(seconds(key, *target));
  }
  for (auto [key, target] : {std::pair{"upload_owner", &config.upload_owner},
                             std::pair{"upload_group", &config.upload_group}}) {
    auto value = m_ini.get("buildme", key);
    if (!value) {
      return value.error();
    }
    *target = std::string(trim(value->value_or("")));
    if (!target->empty() && !is_user_name(*target)) {
      return error("buildme", key,
                   fmt::format("'{}' is not a user or group name", printable(*target)));
    }
  }
  if (auto mode = m_ini.get("buildme", "upload_mode"); !mode) {
    return mode.error();
  } else if (*mode) {
    const std::string_view text = trim(**mode);
    unsigned value = 0;
    auto [end, failure] = std::from_chars(text.data(), text.data() + text.size(), value, 8);
    if (text.empty() || failure != std::errc() || end != text.data() + text.size() ||
        value > 0777) {
      return error("buildme", "upload_mode",
                   fmt::format("'{}' is not an octal file mode like 0644", printable(**mode)));
    }
    config.upload_mode = value;
  }
  auto attempts = integer("buildme", "max_attempts", 1, 100);
  if (!attempts) {
    return attempts.error();
  }
  config.max_attempts = static_cast<int>(attempts->value_or(3));

  auto log_file = m_ini.get("buildme", "log_file");
  if (!log_file) {
    return log_file.error();
  }
  if (*log_file && !(*log_file)->empty()) {
    auto log_path = path("buildme", "log_file", **log_file, "");
    if (!log_path) {
      return log_path.error();
    }
    config.log_file = **log_file;
  }

  // The repository each product's builds enter: the first that lists it.
  std::map<std::string, std::string> entry;
  for (const auto& section : m_ini.sections()) {
    if (kind_of(section.name)->kind != "repository") {
      continue;
    }
    const std::string repository = section.name.substr(std::string_view("repository ").size());
    auto listed = m_ini.get(section.name, "products");
    if (listed && *listed) {
      for (auto word : util::split(**listed)) {
        entry.emplace(std::string(word), repository);
      }
    }
  }
  for (const auto& name : *names) {
    auto product = this->product(name, entry.count(name) ? entry[name] : std::string());
    if (!product) {
      return product.error();
    }
    config.products.push_back(std::move(*product));
  }

  for (const auto& section : m_ini.sections()) {
    if (kind_of(section.name)->kind != "builder") {
      continue;
    }
    auto builder = this->builder(section.name.substr(std::string_view("builder ").size()));
    if (!builder) {
      return builder.error();
    }
    config.builders.push_back(std::move(*builder));
  }
  for (const auto& section : m_ini.sections()) {
    if (kind_of(section.name)->kind != "repository") {
      continue;
    }
    auto repository =
      this->repository(section.name.substr(std::string_view("repository ").size()), *names);
    if (!repository) {
      return repository.error();
    }
    config.repositories.push_back(std::move(*repository));
  }
  for (const auto& repository : config.repositories) {
    if (!repository.promote_to.empty() && !config.repository(repository.promote_to)) {
      return error(
        "repository " + repository.name, "promote_to",
        fmt::format("'{}' is not a [repository] in this file", printable(repository.promote_to)));
    }
  }
  if (m_ini.section("mail")) {
    auto mail = this->mail();
    if (!mail) {
      return mail.error();
    }
    config.mail = std::move(*mail);
  }
  if (m_ini.section("report")) {
    TRY_ASSIGN(config.report, report());
    if (config.mail && config.mail->log_url.empty() && !config.report->url.empty()) {
      config.mail->log_url = config.report->url + std::string(report_log_path);
    }
  }
  if (config.builders.empty()) {
    // The embedded default: build here, one at a time.
    Builder local;
    local.name = "local";
    local.host = "local";
    config.builders.push_back(std::move(local));
  }
  return config;
}

Result<Config> read_config(const IniFile& ini)
{
  Reader reader(ini);
  TRY(reader.check_structure());
  return reader.read();
}

} // namespace

const Product* Config::product(std::string_view name) const
{
  for (const auto& p : products) {
    if (p.name == name) {
      return &p;
    }
  }
  return nullptr;
}

const Repository* Config::repository(std::string_view name) const
{
  for (const auto& r : repositories) {
    if (r.name == name) {
      return &r;
    }
  }
  return nullptr;
}

const Builder* Config::builder(std::string_view name) const
{
  for (const auto& b : builders) {
    if (b.name == name) {
      return &b;
    }
  }
  return nullptr;
}

std::optional<std::string> parse_fingerprint(std::string_view text)
{
  std::string hex;
  for (char c : text) {
    if (c == ' ') {
      continue;
    }
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return std::nullopt;
    }
    hex += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (hex.size() != 40) {
    return std::nullopt;
  }
  return hex;
}

Result<Config> parse_config(std::string_view text, const std::string& filename)
{
  auto ini = IniFile::parse(text, filename);
  if (!ini) {
    return ini.error();
  }
  return read_config(*ini);
}

Result<Config> load_config(const std::string& path)
{
  std::error_code ignored;
  if (!std::filesystem::exists(path, ignored) && !ignored) {
    return fail("cannot read {}: {} (use --config FILE, or copy etc/buildme.conf from "
                "buildme's sources)",
                path, std::strerror(ENOENT));
  }
  auto ini = IniFile::load(path);
  if (!ini) {
    return ini.error();
  }
  return read_config(*ini);
}

} // namespace buildme::config
