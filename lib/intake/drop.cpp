#include "intake/drop.hpp"

#include "debian/syntax.hpp"
#include "debian/verify.hpp"
#include "intake/uploaders.hpp"
#include "util/clock.hpp"
#include "util/digest.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <csignal>
#include <cstring>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

namespace buildme::intake {

namespace fs = std::filesystem;

namespace {

// Control files last, the .changes after the .dsc: buildme takes an upload
// by its control file, so that one appears only when all else is in place.
int rank(const std::string& name)
{
  return name.ends_with(".changes") ? 2 : name.ends_with(".dsc") ? 1 : 0;
}

Result<uid_t> user_id(const std::string& name)
{
  if (name.empty()) {
    return static_cast<uid_t>(-1);
  }
  const passwd* entry = ::getpwnam(name.c_str());
  if (!entry) {
    return fail("no user {} on this system (upload_owner)", name);
  }
  return entry->pw_uid;
}

Result<gid_t> group_id(const std::string& name)
{
  if (name.empty()) {
    return static_cast<gid_t>(-1);
  }
  const group* entry = ::getgrnam(name.c_str());
  if (!entry) {
    return fail("no group {} on this system (upload_group)", name);
  }
  return entry->gr_gid;
}

// The hidden copies of drops that were killed before they renamed them in:
// .upload-drop.PID.NAME whose PID no longer runs. Only those.
void remove_temporaries_of_killed_drops(const fs::path& incoming)
{
  auto names = util::list_dir(incoming);
  if (!names) {
    return; // the drop itself says what is wrong with the folder
  }
  constexpr std::string_view prefix = ".upload-drop.";
  for (const auto& name : *names) {
    if (!name.starts_with(prefix)) {
      continue;
    }
    const auto dot = name.find('.', prefix.size());
    const auto pid = util::parse_count(std::string_view(name).substr(
      prefix.size(), dot == std::string::npos ? std::string::npos : dot - prefix.size()));
    if (!pid || *pid <= 0 || *pid > std::numeric_limits<pid_t>::max()) {
      continue;
    }
    if (::kill(static_cast<pid_t>(*pid), 0) != 0 && errno == ESRCH) {
      std::error_code ignored;
      fs::remove(incoming / name, ignored);
    }
  }
}

// With upload_keyring, the signature rules buildme applies, before anything
// is placed: the .changes (else the lone .dsc) among `uploads`.
Status check_signatures(const config::Config& config, const config::Product& product,
                        const std::vector<std::pair<fs::path, std::string>>& uploads)
{
  util::SystemClock clock;
  TRY_ASSIGN(const auto uploaders, load_uploaders(config, product, clock));
  if (!uploaders) {
    return {};
  }
  std::vector<fs::path> files;
  for (const auto& [file, name] : uploads) {
    files.push_back(file);
  }
  // Sorted by rank: the control file is last.
  const fs::path& control = uploads.back().first;
  if (auto why = debian::refuse_signatures(control, files, *uploaders); !why.empty()) {
    return fail("refused, nothing was dropped: {}", why);
  }
  return {};
}

// Every file a given .changes or .dsc lists must be given too, or already
// lie in the incoming folder: a lone .changes would only wait there until
// buildme rejects it after grace_period.
Status check_listed_files_given(const std::vector<std::pair<fs::path, std::string>>& uploads,
                                const fs::path& incoming)
{
  for (const auto& [file, name] : uploads) {
    if (rank(name) == 0) {
      continue;
    }
    const debian::Upload control{file.parent_path(), name};
    for (const auto& listed : debian::listed_files(control)) {
      const bool given = std::any_of(uploads.begin(), uploads.end(),
                                     [&](const auto& upload) { return upload.second == listed; });
      if (given) {
        continue;
      }
      if (auto there = util::stat_no_follow(incoming / listed); there && *there) {
        continue; // buildme checks it against the listed size and digests
      }
      return fail("{} lists {}, which was not given; nothing was dropped (give every file "
                  "the {} lists)",
                  util::printable(file.string()), util::printable(listed),
                  name.ends_with(".changes") ? ".changes" : ".dsc");
    }
  }
  return {};
}

} // namespace

Result<std::vector<std::string>> drop_upload(const config::Config& config,
                                             const config::Product& product,
                                             const std::vector<fs::path>& files)
{
  std::vector<std::pair<fs::path, std::string>> uploads; // source, name
  for (const auto& file : files) {
    const std::string name = file.filename().string();
    TRY(debian::check_file_name(name));
    auto info = util::stat_no_follow(file);
    if (!info) {
      return Error{info.error()};
    }
    if (!*info || (*info)->type != util::FileInfo::Type::regular) {
      return fail("{} is not a regular file", util::printable(file.string()));
    }
    if (std::any_of(uploads.begin(), uploads.end(),
                    [&](const auto& upload) { return upload.second == name; })) {
      return fail("{} is given twice", name);
    }
    uploads.emplace_back(file, name);
  }
  if (std::none_of(uploads.begin(), uploads.end(),
                   [](const auto& upload) { return rank(upload.second) > 0; })) {
    return fail("an upload needs its .dsc or .changes; none among the files given");
  }
  std::stable_sort(uploads.begin(), uploads.end(),
                   [](const auto& a, const auto& b) { return rank(a.second) < rank(b.second); });
  TRY(check_signatures(config, product, uploads));

  const fs::path& incoming = product.incoming_dir;
  auto folder = util::stat_no_follow(incoming);
  if (!folder || !*folder || (*folder)->type != util::FileInfo::Type::directory) {
    return fail("incoming folder {} of product {} is missing (create it, or fix incoming_dir "
                "in {})",
                incoming.string(), product.name, config.path);
  }
  TRY(check_listed_files_given(uploads, incoming));
  remove_temporaries_of_killed_drops(incoming);
  // A name already there with the same bytes (the orig tarball of an
  // earlier upload still waiting, or what a killed drop of this very upload
  // put in place) is that file: it is left as it is. Other bytes under the
  // name are never replaced.
  std::vector<std::pair<fs::path, std::string>> present;
  for (const auto& [file, name] : uploads) {
    auto taken = util::stat_no_follow(incoming / name);
    if (taken && *taken) {
      if (!util::same_content(file, incoming / name)) {
        return fail("{} already holds a different {} (an earlier upload of it is still "
                    "waiting); nothing was dropped",
                    incoming.string(), name);
      }
      present.emplace_back(file, name);
    }
  }
  std::erase_if(uploads, [&](const auto& upload) {
    return std::find(present.begin(), present.end(), upload) != present.end();
  });
  auto uid = user_id(config.upload_owner);
  auto gid = group_id(config.upload_group);
  if (!uid || !gid) {
    return Error{!uid ? uid.error() : gid.error()};
  }

  // Copy everything under hidden names first; remove them all on failure.
  std::vector<std::pair<fs::path, fs::path>> staged; // hidden, final
  auto discard = [&] {
    for (const auto& [hidden, final_path] : staged) {
      std::error_code ignored;
      fs::remove(hidden, ignored);
    }
  };
  for (const auto& [file, name] : uploads) {
    const fs::path hidden = incoming / fmt::format(".upload-drop.{}.{}", ::getpid(), name);
    if (auto copied = util::copy_exclusive(file, hidden); !copied) {
      discard();
      return Error{copied.error()};
    }
    staged.emplace_back(hidden, incoming / name);
    if ((config.upload_owner.size() || config.upload_group.size()) &&
        ::lchown(hidden.c_str(), *uid, *gid) != 0) {
      const int error = errno;
      discard();
      return fail("cannot give {} to {}:{}: {}", hidden.string(), config.upload_owner,
                  config.upload_group, std::strerror(error));
    }
    if (::chmod(hidden.c_str(), static_cast<mode_t>(config.upload_mode)) != 0) {
      const int error = errno;
      discard();
      return fail("cannot set the mode of {}: {}", hidden.string(), std::strerror(error));
    }
  }
  std::vector<std::string> dropped;
  for (std::size_t i = 0; i < staged.size(); ++i) {
    const auto& [hidden, final_path] = staged[i];
    if (auto moved = util::move_exclusive(hidden, final_path); !moved) {
      // What is already in place stays (buildme waits for the rest, then
      // rejects it); the rest is removed.
      for (std::size_t j = i; j < staged.size(); ++j) {
        std::error_code ignored;
        fs::remove(staged[j].first, ignored);
      }
      return Error{moved.error()};
    }
    dropped.push_back(final_path.filename().string());
  }
  TRY(util::sync_dir(incoming));
  return dropped;
}

} // namespace buildme::intake
