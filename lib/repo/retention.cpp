#include "repo/retention.hpp"

#include "debian/version.hpp"
#include "util/digest.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace buildme::repo {

namespace fs = std::filesystem;

namespace {

int compare_versions(const std::string& a, const std::string& b)
{
  auto va = debian::Version::parse(a);
  auto vb = debian::Version::parse(b);
  if (!va || !vb) {
    return a.compare(b);
  }
  return debian::compare(*va, *vb);
}

void add_to(PackageCount& count, const Member& member, const std::vector<std::string>& files)
{
  (member.kind == "source" ? count.sources : count.binaries).insert(member.path);
  count.files.insert(files.begin(), files.end());
  count.dists.insert(member.dist);
}

// At most `limit` of `names`, then how many more.
std::string some_of(const std::set<std::string>& names, std::size_t limit)
{
  std::vector<std::string> shown;
  for (const auto& name : names) {
    if (shown.size() == limit) {
      shown.push_back(fmt::format("and {} more", names.size() - limit));
      break;
    }
    shown.push_back(util::printable(name));
  }
  return util::join(shown, ", ");
}

} // namespace

std::string Removal::describe() const
{
  return fmt::format(
    "{} {} from {} ({}): {}", util::printable(source), util::join(versions, ", "), repository,
    util::join(std::vector<std::string>(count.dists.begin(), count.dists.end()), ", "),
    repo::describe(count));
}

Retention::Retention(const config::Repository& repository, Catalog& catalog,
                     const std::filesystem::path& root, const util::Clock& clock, util::Log& log)
  : m_repository(repository), m_catalog(catalog), m_root(root), m_clock(clock), m_log(log)
{
}

std::int64_t Retention::now() const
{
  return util::unix_seconds(m_clock.now());
}

void Retention::prune(const std::string& dist, RunSummary& summary,
                      const std::function<void()>& changing)
{
  // Only the groups with too many versions are loaded: counted in the
  // catalog, as a run that adds one package must not read every member.
  auto crowded = m_catalog.crowded(dist, m_repository.keep_versions);
  if (!crowded) {
    m_log.verdict("ERROR", util::Log::Tone::bad, crowded.message());
    ++summary.errors;
    return;
  }
  bool all_done = true;
  for (const auto& [kind, name, arch] : *crowded) {
    auto members = m_catalog.versions_of(dist, kind, name, arch);
    if (!members) {
      m_log.verdict("ERROR", util::Log::Tone::bad, members.message());
      ++summary.errors;
      all_done = false;
      continue;
    }
    std::vector<const Member*> versions;
    for (const auto& member : *members) {
      versions.push_back(&member);
    }
    std::sort(versions.begin(), versions.end(), [](const Member* a, const Member* b) {
      return compare_versions(a->version, b->version) > 0;
    });
    for (std::size_t i = static_cast<std::size_t>(m_repository.keep_versions); i < versions.size();
         ++i) {
      changing();
      if (m_catalog.remove_member(*versions[i], now())) {
        m_log.detail(fmt::format("{} {} ({}) leaves {}: keep_versions = {}", versions[i]->name,
                                 versions[i]->version, versions[i]->arch, dist,
                                 m_repository.keep_versions));
        ++summary.pruned;
        summary.changed.insert(dist);
      } else {
        all_done = false;
      }
    }
  }
  // No group is crowded now until one gains a member: the next run counts
  // only those (a group left crowded is counted again).
  if (all_done) {
    if (auto counted = m_catalog.counted(dist, m_repository.keep_versions); !counted) {
      m_log.verdict("ERROR", util::Log::Tone::bad, counted.message());
      ++summary.errors;
    }
  }
}

Result<std::vector<std::string>> Retention::pool_files(const Member& member)
{
  std::vector<std::string> paths{member.path};
  if (member.kind == "source") {
    TRY_ASSIGN(const std::vector<std::string> listed, m_catalog.source_files(member.path));
    paths.insert(paths.end(), listed.begin(), listed.end());
  }
  return paths;
}

void Retention::delete_expired(RunSummary& summary)
{
  auto expired = m_catalog.removed_before(now() - m_repository.delete_after.count());
  if (!expired) {
    ++summary.errors;
    return;
  }
  for (const auto& member : *expired) {
    note_catalog(m_log, m_catalog.delete_member(member), member.path, summary);
    // (The .dsc alone when its list cannot be read: its files then stay.)
    auto files = pool_files(member);
    for (const auto& path : files ? *files : std::vector<std::string>{member.path}) {
      auto used = m_catalog.referenced(path);
      if (!used || *used) {
        continue;
      }
      std::error_code error;
      if (fs::remove(m_root / path, error)) {
        ++summary.deleted;
        m_log.detail(fmt::format("deleted {} (out of the indices for {})", path,
                                 m_repository.delete_after.count()));
      }
      note_catalog(m_log, m_catalog.forget_file(path), path, summary);
    }
    if (member.kind == "source") {
      note_catalog(m_log, m_catalog.set_source_files(member.path, {}), member.path, summary);
    }
  }
}

Result<PackageCount> Retention::promote(const std::string& source, const std::string& version,
                                        const std::vector<std::string>& dists, Retention& to,
                                        const std::function<void(const std::string&)>& changing)
{
  PackageCount copied;
  for (const auto& name : dists) {
    TRY_ASSIGN(const std::vector<Member> members, m_catalog.members(name));
    for (const auto& member : members) {
      if (member.source != source || compare_versions(member.source_version, version) != 0) {
        continue;
      }
      TRY_ASSIGN(const std::vector<std::string> paths, pool_files(member));
      for (const auto& path : paths) {
        const fs::path target = to.m_root / path;
        auto present = util::stat_no_follow(target);
        if (present && *present) {
          if (!util::same_content(m_root / path, target)) {
            return fail("{} has a different {} already; it is never overwritten",
                        to.m_repository.name, path);
          }
          continue;
        }
        TRY(util::make_dirs(target.parent_path()));
        TRY(util::link_or_copy_exclusive(m_root / path, target));
      }
      auto cached = m_catalog.file(member.path);
      if (!cached || !*cached) {
        return fail("{}: no cached index entry for {}", m_repository.name, member.path);
      }
      CachedFile copy = **cached;
      if (auto stamp = stamp_of(to.m_root / member.path)) {
        copy.stamp = *stamp;
      }
      TRY(to.m_catalog.put_file(copy));
      if (member.kind == "source") {
        auto files = m_catalog.source_files(member.path);
        if (files) {
          TRY(to.m_catalog.set_source_files(member.path, *files));
        }
      }
      changing(name);
      Member promoted = member;
      promoted.added_at = now();
      promoted.removed_at = 0;
      TRY(to.m_catalog.add_member(promoted));
      add_to(copied, member, paths);
      m_log.detail(fmt::format("{} -> {} ({})", member.path, to.m_repository.name, name));
    }
  }
  if (copied.dists.empty()) {
    return fail("{} has no {} {} in {}", m_repository.name, util::printable(source),
                util::printable(version), util::join(dists, ", "));
  }
  return copied;
}

Result<Removal> Retention::find_removal(const std::string& source, const std::string& version,
                                        const std::vector<std::string>& dists)
{
  Removal removal;
  removal.repository = m_repository.name;
  removal.source = source;
  std::set<std::string> sources;                         // every source there, to name them
  std::map<std::string, std::set<std::string>> versions; // of `source`: their dists
  std::string built_from; // when `source` names a binary package: its source
  for (const auto& dist : dists) {
    TRY_ASSIGN(const std::vector<Member> members, m_catalog.members(dist));
    for (const auto& member : members) {
      sources.insert(member.source);
      if (member.source != source) {
        if (member.kind == "binary" && member.name == source) {
          built_from = member.source;
        }
        continue;
      }
      versions[member.source_version].insert(dist);
      if (!version.empty() && compare_versions(member.source_version, version) != 0) {
        continue;
      }
      TRY_ASSIGN(const std::vector<std::string> paths, pool_files(member));
      add_to(removal.count, member, paths);
      if (std::find(removal.versions.begin(), removal.versions.end(), member.source_version) ==
          removal.versions.end()) {
        removal.versions.push_back(member.source_version);
      }
      removal.members.push_back(member);
    }
  }
  if (!removal.members.empty()) {
    std::sort(
      removal.versions.begin(), removal.versions.end(),
      [](const std::string& a, const std::string& b) { return compare_versions(a, b) < 0; });
    return removal;
  }
  const std::string where = fmt::format("{} ({})", m_repository.name, util::join(dists, ", "));
  if (!versions.empty()) {
    std::vector<std::string> held;
    for (const auto& [held_version, in] : versions) {
      held.push_back(fmt::format("{} in {}", util::printable(held_version),
                                 util::join(std::vector<std::string>(in.begin(), in.end()), ", ")));
    }
    return fail("{} has no {} {}; it has {}", where, util::printable(source),
                util::printable(version), util::join(held, "; "));
  }
  if (!built_from.empty()) {
    return fail("{} has no source package {}: {} is a binary package built from the source {} "
                "(remove that, with all its binaries)",
                where, util::printable(source), util::printable(source),
                util::printable(built_from));
  }
  if (sources.empty()) {
    return fail("{} has no source package {}: it holds no packages", where,
                util::printable(source));
  }
  return fail("{} has no source package {}; its sources are {} ('queue-manage list --repository "
              "{}' shows every package)",
              where, util::printable(source), some_of(sources, 20), m_repository.name);
}

Status Retention::remove(const Removal& removal, RunSummary& summary,
                         const std::function<void(const std::string&)>& changing)
{
  for (const auto& dist : removal.count.dists) {
    changing(dist);
  }
  TRY(m_catalog.begin());
  const std::int64_t when = now();
  for (const auto& member : removal.members) {
    if (auto removed = m_catalog.remove_member(member, when); !removed) {
      m_catalog.rollback();
      return removed;
    }
  }
  if (auto committed = m_catalog.commit(); !committed) {
    m_catalog.rollback();
    return committed;
  }
  for (const auto& member : removal.members) {
    m_log.detail(
      fmt::format("{} {} ({}) leaves {}", member.name, member.version, member.arch, member.dist));
  }
  summary.removed += static_cast<int>(removal.members.size());
  summary.changed.insert(removal.count.dists.begin(), removal.count.dists.end());
  return {};
}

} // namespace buildme::repo
