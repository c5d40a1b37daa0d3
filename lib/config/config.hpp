// buildme.conf, shared by every program: the typed, validated view of it.
// Unknown sections and keys and bad values are errors naming the file, the
// section and the key, so a typo never silently falls back to a default.
//
//   [buildme]
//   products = fremantle diablo
//   incoming_dir = /srv/incoming/%(product)s
//   result_dir = /srv/builder/%(product)s
//   repo_queue = /srv/repo/incoming/extras-devel/%(product)s
//   state_dir = /var/lib/buildme
//   grace_period = 600                  ; seconds, or 10m, 1h; default 600
//   orphan_after = 1d                   ; files no upload lists: set aside
//   upload_keyring = /etc/buildme/uploaders.gpg   ; signed uploads only
//   upload_acl = /etc/buildme/uploaders.acl       ; who may upload what
//   signature_max_age = 365d
//   log_file = /var/log/buildme.log     ; optional; default stdout only
//
//   [product fremantle]      ; optional; may override the three per-product
//   incoming_dir = ...       ; paths for one product, and list its
//   arches = armel i386      ; architectures (checked, not used yet)
//   upload_keyring = ...     ; and upload_acl, signature_max_age
//
// [DEFAULT] may hold any key, for %(name)s references only. The per-product
// paths are interpolated with %(product)s; state_dir may not use it.
// etc/buildme.conf in the sources is the annotated sample.
#pragma once

#include "config/ini.hpp"
#include "util/result.hpp"

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace buildme::config {

inline constexpr const char* default_config_path = "/etc/buildme.conf";

struct Product
{
  std::string name;
  std::filesystem::path incoming_dir;
  std::filesystem::path result_dir;
  std::filesystem::path repo_queue;
  // The architectures this product is built for; empty = this machine's
  // (dpkg --print-architecture), resolved by the dispatcher.
  std::vector<std::string> arches;
  // The repository new builds enter: the first [repository] that lists the
  // product (empty when none does). repo_queue may use %(repository)s.
  std::string repository;

  // The build target: where build dependencies come from. With base_suite
  // set, every build runs in a fresh copy of a base environment made with
  // mmdebstrap from base_mirror and base_suite (build_in = chroot).
  std::string base_mirror; // http(s):// or file:// URL
  std::string base_suite;
  std::vector<std::string> base_components{"main"};
  std::filesystem::path base_keyring{"/usr/share/keyrings/debian-archive-keyring.gpg"};
  enum class BuildIn
  {
    host,  // dpkg-buildpackage in the slot's account, with what the host has
    chroot // sbuild in a fresh copy of the base environment
  };
  BuildIn build_in = BuildIn::host;
  // Build profiles every build of the product is made with (like nocheck
  // or nodoc): its Build-Depends are read with them, and dpkg-buildpackage
  // and debian/rules see them (DEB_BUILD_PROFILES).
  std::vector<std::string> build_profiles;
  // DEB_BUILD_OPTIONS words every build of the product is made with (like
  // nocheck, or noopt to build faster than it should run); parallel=N is
  // added from the builder's jobs.
  std::vector<std::string> build_options;

  // Who may upload (issue 11): with upload_keyrings, an upload is taken only
  // when its .changes (a lone .dsc: the .dsc) is clear-signed by a key of
  // these keyrings (binary or armored OpenPGP keyrings), and only its signed
  // text counts. Empty: uploads are taken unsigned, as anyone who can write
  // to incoming_dir sends them.
  std::vector<std::filesystem::path> upload_keyrings;
  // Which sources each key may upload (config/upload_acl.hpp); empty: every
  // key of the keyrings may upload any source.
  std::filesystem::path upload_acl;
  // A signature older than this is refused (dak's rule against replaying
  // old uploads).
  std::chrono::seconds signature_max_age{365 * 24 * 3600};
};

// The file in a signed repository's staging_dir (and so in the published
// one) that holds its signing key's public part, armored; queue-manage
// writes it.
inline constexpr std::string_view archive_key_name = "archive-key.asc";

// An APT repository that queue-manage builds: [repository NAME]. It holds one
// distribution per product (dists/<product>), as repository.maemo.org did.
struct Repository
{
  std::string name;
  std::filesystem::path staging_dir;
  std::vector<std::string> products;
  std::vector<std::string> components{"main"};
  std::string origin;
  std::string label;
  std::string description;
  int keep_versions = 3; // per package, arch and distribution
  std::string sign_with; // key fingerprint; empty = unsigned
  std::string gnupg_home;
  std::string passphrase_file;
  std::chrono::seconds valid_for{7 * 24 * 3600}; // 0: no Valid-Until
  bool by_hash = true;
  bool gzip = true;
  bool xz = true;
  // Contents-ARCH.gz of each component (apt-file's index of the files in
  // each package), from each .deb's data.tar, kept in the catalog.
  bool contents = true;
  std::string promote_to; // the next repository, or empty
  // Pool files of versions that left the indices are deleted after this
  // long, so clients holding older indices still find them.
  std::chrono::seconds delete_after{24 * 3600};
  // Where repo-publish pushes the repository: local paths or user@host:path
  // (rsync over SSH, with live_identity and live_known_hosts).
  std::vector<std::string> live;
  std::string live_identity;
  std::string live_known_hosts;
  int live_port = 22;
  // Where SSH builders reach this repository (its staging or published
  // copy) for the Build-Depends of clean builds; local builders read
  // staging_dir. Empty: SSH builders do not see it.
  std::string url;
};

// A builder host: [builder NAME]. Each slot builds one thing at a time: over
// SSH a slot is a user (as Maemo ran "multiple hosts/users"); a local
// builder has `slots` numbered slots.
struct Builder
{
  std::string name;
  std::string host; // "local": this machine, no SSH
  int port = 22;
  std::vector<std::string> users;  // SSH: one slot per user
  int slots = 1;                   // local: how many builds at once
  std::vector<std::string> arches; // empty = this machine's (local only)
  std::string identity;            // SSH private key
  std::string known_hosts;         // SSH: the only known_hosts consulted
  // Words of the build command; {dsc}, {arch}, {jobs} and the others the
  // worker names are replaced in each word (no shell). Empty: buildme-build.
  std::vector<std::string> build_command;
  // Where builds happen on the builder; relative = below the user's home
  // (SSH) or below state_dir (local). One subfolder per slot, cleaned before
  // each build.
  std::string work_dir = "buildme-work";
  // Where the base environments are kept on the builder (one tarball per
  // product and arch); relative as work_dir, for an SSH builder below the
  // home of its first user, who makes them (the others must be able to read
  // them: use an absolute, shared folder when slots are several accounts).
  std::string env_dir = "buildme-envs";
  // Where a clean build unpacks its copy of the base and builds (sbuild's
  // unshare_tmpdir_template). Empty: buildme-build's choice, /dev/shm when
  // it is a tmpfs with 8 GiB free, else /tmp.
  std::string build_tmpdir;
  // Parallel jobs a build may run (DEB_BUILD_OPTIONS parallel=N, for the
  // packages that can): the builder's cores shared among its slots.
  int jobs = 1;
  // How clean builds run sbuild: its unshare backend (no root needed), or
  // its schroot backend on chroots root set up once ('buildme env schroot
  // --install'), which costs about half as much a build.
  enum class Engine
  {
    unshare,
    schroot
  };
  Engine engine = Engine::unshare;
  // The schroot chroot of a product and arch on this builder ({builder},
  // {product} and {arch} are filled in).
  std::string schroot_name = "buildme-{product}-{arch}";

  bool is_local() const { return host == "local"; }
};

// [mail]: who hears about uploads and builds. Without the section buildme
// sends no mail.
struct Mail
{
  std::string smtp_url;              // smtp://host:587 or smtps://host:465
  std::string starttls = "required"; // required | optional | no (smtp:// only)
  std::string username;
  std::string password; // or password_file; never logged
  std::string password_file;
  std::string from;    // "buildme <buildme@example.org>"
  std::string list;    // the list that hears about everything
  std::string log_url; // "https://builder.example.org/logs/%(product)s/%(job)s/%(arch)s/build.log"
  std::string ca_file; // extra CA for the server's certificate (tests)
  std::chrono::seconds timeout{60};
  // The list hears of repeated identical failures of one source at most once
  // per this long; the uploader always hears. 0: no throttle.
  std::chrono::seconds list_throttle{6 * 3600};
};

// [report]: the status site buildme-report writes (report/report.hpp).
// Without the section no site is written.
struct Report
{
  std::filesystem::path dir; // where the site is written (required)
  std::string url;           // its public address, ending in '/'; may be empty
  std::string title = "buildme autobuilder";
  // A job queued or in depwait this long, or a source whose latest version
  // is not built for every arch this long, is stuck.
  std::chrono::seconds stuck_after{2 * 24 * 3600};
  // Where clients find the repositories ("https://repository.example.org/"),
  // for the deb line of each distribution page; empty: the [repository] url, or
  // the line says that no address is set.
  std::string repo_url;
};

// The log address in mails that [mail] log_url takes when it is not set and
// [report] url is: the build log as the status site serves it.
inline constexpr std::string_view report_log_path = "logs/%(product)s/%(job)s/%(arch)s/build.log";

struct Config
{
  std::string path;              // the file it came from
  std::vector<Product> products; // in the order of `products`
  std::filesystem::path state_dir;
  std::chrono::seconds grace_period{600};
  // A lone .dsc is taken once its newest file is this old (a .changes naming
  // it may still be on its way); .changes uploads are taken at once.
  std::chrono::seconds settle_time{30};
  // A file in an incoming folder that no upload there lists is set aside in
  // rejected/ once it is this old (0: never).
  std::chrono::seconds orphan_after{24 * 3600};
  std::string log_file; // empty: stdout only
  // What upload-drop gives the files it puts in incoming: owner and group
  // (names; empty = unchanged) and mode.
  std::string upload_owner;
  std::string upload_group;
  unsigned upload_mode = 0644;
  std::vector<Builder> builders; // never empty: default one local
  std::chrono::seconds build_timeout{24 * 3600};
  std::chrono::seconds idle_timeout{4 * 3600};
  int max_attempts = 3;
  // A base environment older than this is made again.
  std::chrono::seconds env_max_age{7 * 24 * 3600};
  // A build waiting for its build dependencies (depwait) fails after this.
  std::chrono::seconds depwait_expire{7 * 24 * 3600};
  std::vector<Repository> repositories;
  std::optional<Mail> mail;
  std::optional<Report> report;

  const Product* product(std::string_view name) const;
  const Builder* builder(std::string_view name) const;
  const Repository* repository(std::string_view name) const;
};

// An OpenPGP key fingerprint as gpg prints it (spaces allowed, any case) in
// its canonical form: the 40 hex digits upper-cased. std::nullopt for anything
// else: a short key id can be forged to match another key.
std::optional<std::string> parse_fingerprint(std::string_view text);

// Checks the structure: [buildme] required; products a non-empty list of
// valid names (lower-case letters, digits, '-', '_', '.'); each path
// absolute after interpolation; grace_period a whole number of seconds
// (an "s", "m" or "h" suffix allowed); no unknown section or key.
Result<Config> load_config(const std::string& path);
Result<Config> parse_config(std::string_view text, const std::string& filename);

} // namespace buildme::config
