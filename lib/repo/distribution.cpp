#include "repo/distribution.hpp"

#include "util/digest.hpp"
#include "util/failpoint.hpp"
#include "util/fs.hpp"
#include "util/parallel.hpp"

#include <fmt/format.h>

#include <chrono>
#include <set>

namespace buildme::repo {

namespace fs = std::filesystem;

namespace {

// Index files written under temporary names, renamed into place together.
class StagedFiles
{
public:
  // The temporary name to write `path` under, to be renamed to `path` by
  // commit() once add()ed; what a killed run left there is removed.
  Result<fs::path> prepare(const fs::path& path)
  {
    TRY(util::make_dirs(path.parent_path()));
    const fs::path temp = path.parent_path() / ("." + path.filename().string() + ".new");
    // Leftovers of a run that died (queue-manage holds the repository's
    // lock, so no other run writes here): the staged name, and the
    // temporaries util::write_file_exclusive and util::FileWriter make for it
    // (..NAME.new.XXXXXX) when killed mid-write. Only those names.
    std::error_code ignored;
    fs::remove(temp, ignored);
    const std::string partial = "." + temp.filename().string() + ".";
    if (auto names = util::list_dir(path.parent_path())) {
      for (const auto& name : *names) {
        if (name.size() == partial.size() + 6 && name.starts_with(partial)) {
          fs::remove(path.parent_path() / name, ignored);
        }
      }
    }
    return temp;
  }
  // `temp`, written in full, is to be renamed to `path`.
  void add(const fs::path& temp, const fs::path& path) { m_pending.emplace_back(temp, path); }
  // Writes `content` under the temporary name it returns (synced), to be
  // renamed to `path` by commit().
  Result<fs::path> write(const fs::path& path, std::string_view content)
  {
    TRY_ASSIGN(const fs::path temp, prepare(path));
    TRY(util::write_file_exclusive(temp, content));
    add(temp, path);
    return temp;
  }
  // Renames in the order written, each made durable: before the first file
  // that goes straight into `top` (the Release files) is renamed, every
  // folder renamed into so far, and the folders between it and `top` (new
  // on a first run), are synced, so that after a crash no Release names an
  // index that is not in place; `top` itself last.
  Status commit(const fs::path& top)
  {
    std::set<fs::path> renamed_into;
    auto sync_all = [&]() -> Status {
      for (const auto& dir : renamed_into) {
        TRY(util::sync_dir(dir));
      }
      renamed_into.clear();
      return {};
    };
    for (const auto& [temp, path] : m_pending) {
      if (path.parent_path() == top) {
        TRY(sync_all());
      }
      std::error_code error;
      fs::rename(temp, path, error);
      if (error) {
        return fail("cannot put {} in place: {}", path.string(), error.message());
      }
      // A test kills the run here, after each rename in turn, and shows
      // that repo-publish pushes none of the mixes this leaves.
      util::failpoint(
        fmt::format("queue-manage:renamed:{}", path.lexically_relative(top).string()));
      for (fs::path dir = path.parent_path(); dir != top && dir.has_relative_path();
           dir = dir.parent_path()) {
        renamed_into.insert(dir);
      }
    }
    m_pending.clear();
    renamed_into.insert(top);
    return sync_all();
  }
  ~StagedFiles()
  {
    for (const auto& [temp, path] : m_pending) {
      std::error_code ignored;
      fs::remove(temp, ignored);
    }
  }

private:
  std::vector<std::pair<fs::path, fs::path>> m_pending;
};

} // namespace

Status DistributionWriter::write(const fs::path& dists, const std::string& dist,
                                 const std::vector<std::string>& arches,
                                 const std::vector<IndexText>& indices,
                                 const std::function<Status()>& before_commit)
{
  const auto started = std::chrono::steady_clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  const unsigned threads = util::core_count();

  StagedFiles staged;
  std::vector<ReleaseFile> release_files;
  std::vector<std::string> by_hash_dirs;
  std::set<fs::path> by_hash_made;
  std::string made; // a made text, its memory kept for the next
  // One index's files, made piece by piece under their temporary names (a
  // gzip-only index has no plain file, but Release lists it by its plain
  // name all the same: apt looks a target up by its uncompressed name, then
  // fetches the compressed file, as with Debian's Contents-ARCH).
  auto add_index = [&](const IndexText& index, const std::optional<IndexRecord>& before,
                       std::vector<PieceSpan>& pieces) -> Status {
    const util::Stopwatch index_watch;
    const fs::path dir = dists / index.rel_dir;
    const bool gz = m_repository.gzip || index.gzip_only;
    const bool xz = m_repository.xz && !index.gzip_only;
    IndexFiles::Paths finals, temps;
    if (!index.gzip_only) {
      finals.plain = dir / index.name;
    }
    if (gz) {
      finals.gz = dir / (index.name + ".gz");
    }
    if (xz) {
      finals.xz = dir / (index.name + ".xz");
    }
    fs::path* final_paths[] = {&finals.plain, &finals.gz, &finals.xz};
    fs::path* temp_paths[] = {&temps.plain, &temps.gz, &temps.xz};
    for (std::size_t i = 0; i < 3; ++i) {
      if (!final_paths[i]->empty()) {
        TRY_ASSIGN(*temp_paths[i], staged.prepare(*final_paths[i]));
      }
    }
    IndexFiles files(m_chunks, 6, threads);
    TRY(files.open(temps));
    if (index.stream) {
      std::unique_ptr<PieceCopier> copier;
      // (A gzip-only index has no plain file to copy text from.)
      if (m_reuse && before && !before->pieces.empty() && !index.gzip_only) {
        const util::Digests* recorded[3] = {nullptr, nullptr, nullptr};
        for (const auto& file : before->files) {
          for (std::size_t i = 0; i < 3; ++i) {
            if (!final_paths[i]->empty() && dists / file.path == *final_paths[i]) {
              recorded[i] = &file.digests;
            }
          }
        }
        auto opened = PieceCopier::open(finals, recorded, before->pieces);
        if (opened) {
          copier = std::move(*opened);
        } else {
          m_log.detail(
            fmt::format("{}/{} is made whole: {}", index.rel_dir, index.name, opened.message()));
        }
      }
      TRY(index.stream(files, copier.get()));
    } else {
      const std::string* text = &index.text;
      if (index.make) {
        made.clear();
        TRY(index.make(made));
        text = &made;
      }
      // (A gzip-only index is a Contents index: lines, no stanzas.)
      for (std::string_view piece :
           cut_text(*text, index.gzip_only ? IndexUnits::lines : IndexUnits::stanzas)) {
        TRY(files.add(std::string(piece)));
      }
    }
    TRY_ASSIGN(IndexFiles::Written written, files.finish());
    m_log.detail(fmt::format("{}/{}: {} pieces, {} copied, {} from the cache, {} compressed "
                             "({:.2f} s)",
                             index.rel_dir, index.name, written.pieces.size(), written.copied,
                             written.cached, written.compressed, index_watch.seconds()));
    pieces = std::move(written.pieces);
    if (index.gzip_only) {
      release_files.push_back({index.rel_dir + "/" + index.name, written.plain});
    }
    const util::Digests* digests_of[] = {&written.plain, &written.gz, &written.xz};
    for (std::size_t i = 0; i < 3; ++i) {
      if (final_paths[i]->empty()) {
        continue;
      }
      const fs::path& temp = *temp_paths[i];
      const util::Digests& digests = *digests_of[i];
      staged.add(temp, *final_paths[i]);
      if (m_repository.by_hash) {
        // By-hash copies are links to the new file under their final names,
        // made before the Release that names them.
        for (const auto& [kind, kind_name] : by_hash_kinds) {
          const fs::path copy = dir / "by-hash" / kind_name / *digests[kind];
          auto present = util::stat_no_follow(copy);
          if (present && *present) {
            continue;
          }
          if (by_hash_made.insert(copy.parent_path()).second) {
            TRY(util::make_dirs(copy.parent_path()));
          }
          TRY(util::link_or_copy_exclusive(temp, copy, false));
        }
        by_hash_dirs.push_back(index.rel_dir);
      }
      release_files.push_back({index.rel_dir + "/" + final_paths[i]->filename().string(), digests});
    }
    return {};
  };

  // An index as its record has it: every file it wrote still there, of the
  // size recorded (the plain name of a gzip-only index is listed, not written).
  auto in_place = [&](const IndexText& index, const IndexRecord& record) {
    const std::string plain = index.rel_dir + "/" + index.name;
    for (const auto& file : record.files) {
      if (index.gzip_only && file.path == plain) {
        continue;
      }
      auto info = util::stat_no_follow(dists / file.path);
      if (!info || !*info || (*info)->type != util::FileInfo::Type::regular ||
          (*info)->size != file.digests.size) {
        return false;
      }
    }
    return !record.files.empty();
  };

  std::vector<std::pair<std::string, IndexRecord>> records;
  std::size_t reused = 0;
  for (const auto& index : indices) {
    const std::string path = index.rel_dir + "/" + index.name;
    std::optional<IndexRecord> before;
    if (m_records && !index.inputs.empty()) {
      before = m_records->get(path);
    }
    if (m_reuse && before && before->inputs == index.inputs && in_place(index, *before)) {
      release_files.insert(release_files.end(), before->files.begin(), before->files.end());
      if (m_repository.by_hash) {
        by_hash_dirs.push_back(index.rel_dir);
      }
      ++reused;
      continue;
    }
    if (m_records) {
      TRY(m_records->forget(path));
    }
    const std::size_t first = release_files.size();
    std::vector<PieceSpan> pieces;
    TRY(add_index(index, before, pieces));
    if (m_records && !index.inputs.empty()) {
      records.emplace_back(
        path, IndexRecord{
                index.inputs,
                std::vector<ReleaseFile>(release_files.begin() + static_cast<std::ptrdiff_t>(first),
                                         release_files.end()),
                std::move(pieces)});
    }
  }

  m_log.detail(fmt::format("wrote {} of {} indices of {} in {:.2f} s{}", indices.size() - reused,
                           indices.size(), dist, seconds(),
                           reused ? fmt::format(" ({} unchanged)", reused) : std::string()));
  // The by-hash links, and their folders when new, are on disk before any
  // Release names them (by-hash/<Hash>, then by-hash itself).
  std::set<fs::path> by_hash_folders = by_hash_made;
  for (const auto& dir : by_hash_made) {
    by_hash_folders.insert(dir.parent_path());
  }
  for (const auto& dir : by_hash_folders) {
    TRY(util::sync_dir(dir));
  }
  ReleaseInfo info;
  info.origin = m_repository.origin;
  info.label = m_repository.label;
  info.suite = dist;
  info.codename = dist;
  info.description = m_repository.description;
  info.date = m_clock.now();
  info.valid_for = m_repository.valid_for;
  info.architectures = arches;
  info.components = m_repository.components;
  info.by_hash = m_repository.by_hash;
  const std::string release = release_text(info, release_files);
  std::string inrelease, detached;
  if (m_signer) {
    auto clear = m_signer->clearsign(release);
    if (!clear) {
      return fail("signing {}/dists/{}/InRelease: {}", m_repository.name, dist, clear.message());
    }
    auto detach = m_signer->detach_sign(release);
    if (!detach) {
      return fail("signing {}/dists/{}/Release.gpg: {}", m_repository.name, dist, detach.message());
    }
    inrelease = std::move(*clear);
    detached = std::move(*detach);
    TRY(staged.write(dists / "Release.gpg", detached));
  }
  TRY(staged.write(dists / "Release", release));
  if (m_signer) {
    TRY(staged.write(dists / "InRelease", inrelease));
  }
  TRY(before_commit());
  TRY(staged.commit(dists));
  for (const auto& [path, record] : records) {
    m_records->put(path, record);
  }

  // Old by-hash copies go once no client can still hold a Release naming
  // them (after delete_after); the current ones stay.
  std::set<std::string> current;
  for (const auto& file : release_files) {
    for (const auto& [kind, kind_name] : by_hash_kinds) {
      current.insert(*file.digests[kind]);
    }
  }
  for (const auto& rel_dir : by_hash_dirs) {
    for (const auto& [kind, kind_name] : by_hash_kinds) {
      const fs::path dir = dists / rel_dir / "by-hash" / kind_name;
      auto names = util::list_dir(dir);
      for (const auto& name : names ? *names : std::vector<std::string>{}) {
        auto info_of = util::stat_no_follow(dir / name);
        if (!current.count(name) && info_of && *info_of &&
            m_clock.now() - (*info_of)->mtime > m_repository.delete_after) {
          std::error_code ignored;
          fs::remove(dir / name, ignored);
        }
      }
    }
  }

  return {};
}

} // namespace buildme::repo
