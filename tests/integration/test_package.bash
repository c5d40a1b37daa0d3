#!/bin/bash
# buildme as a Debian tool, packaged the way an archive packages anything:
# its own source (debian/) uploaded to buildme, built in a clean environment
# (sbuild installs its Build-Depends from the mirror and runs
# dpkg-buildpackage; with the schroot engine, the cheaper of buildme's two,
# set up by 'buildme env schroot --install'), signed and published by queue-manage; then a real apt
# client fetches it from that repository, and its programs, manual pages
# and files are where a Debian tool's are.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/repo.bash"
source "$(dirname "$0")/clean.bash"
require_tools rsync dpkg-parsechangelog

teardown()
{
  [ -z "${GNUPGHOME_DIR:-}" ] || drop_key
  remove_schroot
}

# buildme's source package, as dpkg-source -b makes it from this tree
# (without what a build left in it).
source_package()
{
  local dir=$SOURCE_CACHE/buildme-self version
  version=$(dpkg-parsechangelog -l "$BUILDME_SOURCE/debian/changelog" -S Version)
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    rsync -a --exclude=/build --exclude='/build-*' --exclude=/.git --exclude='/obj-*' \
      "$BUILDME_SOURCE/" "$dir/buildme-$version/" || return 1
    (cd "$dir" && dpkg-source -b "buildme-$version" >&2) || {
      echo "FAIL: dpkg-source -b of buildme's own tree" >&2
      return 1
    }
  fi
  cp "$dir/buildme_$version.dsc" "$dir/buildme_$version.tar.xz" "$INCOMING/"
  echo "$version"
}

test_buildme_builds_signs_and_publishes_its_own_package_and_apt_installs_it()
{
  new_key
  # Built without optimisation (DEB_BUILD_OPTIONS=noopt): what is tested is
  # the package, and a compile at -O2 costs more than the rest of the test.
  printf 'build_options = noopt\n' >>"$T/buildme.conf"
  configure here schroot
  # One compile of the programs: both cores when the machine has them.
  printf 'jobs = %s\n' "$(nproc)" >>"$T/buildme.conf"
  repository_section extras-devel >>"$T/buildme.conf"
  mkdir -p "$T/staging/extras-devel"
  install_schroot || return
  local version
  version=$(source_package) || return
  age_all
  buildme --foreground
  assert_status 0
  local state
  state=$(sed -n 's/^State: //p' "$STATE/jobs/1/builds/$ARCH.info")
  [ "$state" = success ] || {
    fail "buildme's own build: $state: $(sed -n 's/^Reason: //p' "$STATE/jobs/1/builds/$ARCH.info")"
    return
  }
  queue_manage --repository extras-devel
  assert_status 0
  local repo=$T/staging/extras-devel deb
  deb=$repo/pool/main/b/buildme/buildme_${version}_$ARCH.deb
  assert_file "$deb"
  gpgv --keyring "$T/key.gpg" "$repo/dists/fremantle/InRelease" 2>/dev/null ||
    fail "InRelease does not verify with the archive's key"

  # Installing it starts nothing and runs no script: the units wait for the
  # administrator (the package has no maintainer scripts that enable them).
  local scripts
  scripts=$(dpkg-deb --ctrl-tarfile "$deb" | tar -t | grep -E 'postinst|prerm|postrm|preinst' || true)
  grep -q "systemctl\|deb-systemd-invoke start" <(dpkg-deb -I "$deb" postinst 2>/dev/null) &&
    fail "its postinst starts units: $scripts"

  # A real apt client resolves it against this system's packages and fetches
  # it from the published repository, checked against the signed indices.
  # (dpkg --root cannot run its maintainer scripts, which are systemd's
  # usual ones: the files are unpacked as dpkg would.)
  APT_ROOT=$T/apt
  mkdir -p "$APT_ROOT"/etc/apt/apt.conf.d "$APT_ROOT"/etc/apt/preferences.d \
    "$APT_ROOT"/var/lib/apt/lists/partial "$APT_ROOT"/var/cache/apt/archives/partial \
    "$APT_ROOT"/var/lib/dpkg "$APT_ROOT"/var/log "$APT_ROOT"/etc/apt/sources.list.d
  cp /var/lib/dpkg/status "$APT_ROOT/var/lib/dpkg/status"
  echo "deb [signed-by=$T/key.gpg] file:$repo fremantle main" >"$APT_ROOT/etc/apt/sources.list"
  apt_get update
  assert_status 0
  # What installing it would take: buildme alone, its dependencies are here.
  apt_get install -y --no-install-recommends --simulate buildme
  assert_status 0
  assert_output "Inst buildme ($version extras-devel:fremantle [$ARCH])"
  mkdir -p "$T/fetched"
  (cd "$T/fetched" && apt_get download buildme && [ "$STATUS" -eq 0 ]) || fail "apt-get download buildme failed"
  local fetched=$T/fetched/buildme_${version}_$ARCH.deb
  assert_same "$deb" "$fetched"
  mkdir -p "$APT_ROOT/root"
  dpkg-deb -x "$fetched" "$APT_ROOT/root" || fail "dpkg-deb -x $fetched"
  local root=$APT_ROOT/root
  for file in usr/bin/buildme usr/bin/buildme-build usr/bin/queue-manage usr/bin/repo-publish \
    usr/bin/upload-drop usr/bin/buildme-report \
    usr/share/man/man1/buildme.1.gz usr/share/man/man1/buildme-build.1.gz \
    usr/share/man/man1/queue-manage.1.gz usr/share/doc/buildme/examples/buildme.conf \
    usr/share/doc/buildme/examples/buildme.cron usr/share/doc/buildme/admin-guide.md.gz \
    lib/systemd/system/buildme.timer lib/systemd/system/queue-manage@.service \
    etc/logrotate.d/buildme; do
    assert_file "$root/$file"
  done
  # The programs run, say their version, and find buildme-build beside them.
  local said
  said=$("$root/usr/bin/buildme" --version) || fail "buildme --version failed"
  [ "$said" = "buildme ${version%%-*}" ] || fail "buildme --version says '$said'"
  said=$(bash "$root/usr/bin/buildme-build" --version)
  [ "$said" = "buildme-build (buildme) ${version%%-*}" ] || fail "buildme-build --version says '$said'"
  # The installed units and crontab name the installed programs.
  assert_contains "$root/lib/systemd/system/buildme.service" "ExecStart=/usr/bin/buildme "
  assert_contains "$root/usr/share/doc/buildme/examples/buildme.cron" " /usr/bin/queue-manage "
  # The manual page is the program's own --help.
  zcat "$root/usr/share/man/man1/buildme.1.gz" | grep -q "dry\\\\-run" ||
    fail "buildme.1 lacks --dry-run"
}

run_tests
