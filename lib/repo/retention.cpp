#include "repo/retention.hpp"

#include "debian/version.hpp"
#include "util/digest.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
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

} // namespace

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
  auto members = m_catalog.members(dist);
  if (!members) {
    ++summary.errors;
    return;
  }
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<const Member*>> groups;
  for (const auto& member : *members) {
    groups[{member.kind, member.name, member.arch}].push_back(&member);
  }
  for (auto& [key, versions] : groups) {
    if (versions.size() <= static_cast<std::size_t>(m_repository.keep_versions)) {
      continue;
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
      }
    }
  }
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
    std::vector<std::string> paths{member.path};
    if (member.kind == "source") {
      if (auto files = m_catalog.source_files(member.path)) {
        paths.insert(paths.end(), files->begin(), files->end());
      }
    }
    for (const auto& path : paths) {
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

Result<int> Retention::promote(const std::string& source, const std::string& version,
                               const std::vector<std::string>& dists, Retention& to,
                               const std::function<void(const std::string&)>& changing)
{
  int copied = 0;
  for (const auto& name : dists) {
    TRY_ASSIGN(const std::vector<Member> members, m_catalog.members(name));
    for (const auto& member : members) {
      if (member.source != source || compare_versions(member.source_version, version) != 0) {
        continue;
      }
      std::vector<std::string> paths{member.path};
      if (member.kind == "source") {
        auto files = m_catalog.source_files(member.path);
        if (files) {
          paths.insert(paths.end(), files->begin(), files->end());
        }
      }
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
      ++copied;
      m_log.detail(fmt::format("{} -> {} ({})", member.path, to.m_repository.name, name));
    }
  }
  if (copied == 0) {
    return fail("{} has no {} {} in {}", m_repository.name, source, version,
                util::join(dists, ", "));
  }
  return copied;
}

} // namespace buildme::repo
