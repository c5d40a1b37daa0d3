#!/bin/bash
# Builds in a clean environment (build_in = chroot) with the real sbuild and
# mmdebstrap: each build in a fresh copy of the base environment that
# tests/integration/make-test-base made once for the run ($BUILDME_TEST_BASE),
# its Build-Depends installed from the Debian mirror. The tests marked
# "(schroot)" run with a builder's engine = schroot (sbuild's schroot backend,
# chroots set up by 'buildme env schroot --install' under names of the
# test's own), the others with the default unshare engine; what a build
# leaves behind is checked with both.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/repo.bash"
source "$(dirname "$0")/sshd.bash"
require_tools sbuild mmdebstrap newuidmap dpkg-source

source "$(dirname "$0")/clean.bash"

HTTP_PID=
teardown()
{
  [ -z "${GNUPGHOME_DIR:-}" ] || drop_key
  remove_schroot
  stop_all_sshd
  [ -z "$HTTP_PID" ] || kill "$HTTP_PID" 2>/dev/null
  HTTP_PID=
}

# serve_http DIR: a real HTTP server for DIR on 127.0.0.1 (a free port, in
# HTTP_PORT), as a repository's web server.
serve_http()
{
  local try waited
  for try in 1 2 3 4 5; do
    HTTP_PORT=$((20000 + RANDOM % 40000))
    /usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$1" "$HTTP_PORT" \
      >>"$T/http.log" 2>&1 &
    HTTP_PID=$!
    for waited in $(seq 1 50); do
      kill -0 "$HTTP_PID" 2>/dev/null || break
      if (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null; then
        return 0
      fi
      sleep 0.1
    done
    kill "$HTTP_PID" 2>/dev/null
  done
  HTTP_PID=
  fail "no HTTP server for $1: $(tail -3 "$T/http.log")"
  return 1
}

build_field() { sed -n "s/^$3: //p" "$STATE/jobs/$1/builds/$2.info" 2>/dev/null; }

# variant NAME SUFFIX BUILD_DEPENDS [BUILD_LINES]: the example as source
# package NAME, version 1.0-1SUFFIX, with those Build-Depends (none when
# empty), copied into incoming as a lone .dsc upload. Its debian/rules is
# example/rules-without-debhelper (a build installs only what the test names,
# not debhelper's thirty packages), with BUILD_LINES (recipe lines, each
# starting with a tab) run before the Makefile's build.
variant()
{
  local name=$1 suffix=$2 depends=$3 lines=${4:-} dir="$SOURCE_CACHE/variant-$1-$2" orig
  if [ ! -d "$dir" ]; then
    orig=$(source_upload 1.0-1 --dsc-only) || return 1
    mkdir -p "$dir/$name-1.0"
    cp -a "$BUILDME_SOURCE/example/hello-buildme/." "$dir/$name-1.0/"
    cp "$orig/hello-buildme_1.0.orig.tar.gz" "$dir/${name}_1.0.orig.tar.gz"
    sed -i -e "s/^Source: .*/Source: $name/" -e "s/^Package: .*/Package: $name/" \
      -e "s/^Build-Depends: .*/Build-Depends: $depends/" -e '/^Build-Depends: *$/d' \
      -e 's/^Depends: .*/Depends: ${shlibs:Depends}/' "$dir/$name-1.0/debian/control"
    sed -i "1s/^hello-buildme (1.0-1)/$name (1.0-1$suffix)/" "$dir/$name-1.0/debian/changelog"
    sed "s/^package = hello-buildme$/package = $name/" "$BUILDME_SOURCE/example/rules-without-debhelper" |
      awk -v lines="$lines" '{ print } /^debian\/build-stamp:$/ && lines != "" { print lines }' >"$dir/$name-1.0/debian/rules"
    chmod +x "$dir/$name-1.0/debian/rules"
    (cd "$dir/$name-1.0" && dpkg-source -b . >/dev/null 2>&1) || {
      echo "FAIL: dpkg-source -b of $name 1.0-1$suffix" >&2
      return 1
    }
  fi
  cp "$dir"/*.dsc "$dir"/*.tar.* "$INCOMING/"
}

test_a_package_whose_build_depends_the_host_lacks_builds_in_a_clean_environment_schroot()
{
  configure here schroot
  install_schroot || return
  dpkg-query -W -f='${Status}' help2man 2>/dev/null | grep -q "ok installed" &&
    echo "note: this host has help2man; the test still shows it installed in the buildroot" >&2
  variant hello-buildme help2man "help2man"
  # The base is older than env_max_age: the tick starts making a new one in
  # the background (here from an empty mirror, so that it fails at once)
  # and the build goes on in the old one.
  sed -i "s/^Made-At: .*/Made-At: $(($(date +%s) - 8 * 86400))/" "$STATE/envs/here/fremantle_$ARCH.info"
  mkdir -p "$T/no-mirror"
  sed -i "s|^base_mirror = .*|base_mirror = file://$T/no-mirror|" "$T/buildme.conf"
  age_all
  buildme --foreground
  assert_status 0
  assert_output "MAKING: mmdebstrap of file://$T/no-mirror bookworm in the background"
  [ "$(build_field 1 "$ARCH" State)" = success ] || fail "state $(build_field 1 "$ARCH" State): $(build_field 1 "$ARCH" Reason)"
  wait_for_env_state failed || return
  assert_symlink "$T/envs/fremantle_$ARCH.tar" # the old one (the shared base) stays in use
  assert_contains "$STATE/envs/here/fremantle_$ARCH.log" "mmdebstrap failed"
  local log=$T/results/fremantle/1/$ARCH/build.log
  assert_contains "$log" "in a clean bookworm environment"
  grep -q "^Setting up help2man" "$log" || fail "help2man was not installed in the buildroot"
  assert_file "$T/repo/incoming/extras-devel/fremantle/job-1-$ARCH-1/hello-buildme_1.0-1help2man_$ARCH.deb"
  # The build left nothing installed on the host.
  if ! dpkg-query -W -f='${Status}' help2man 2>/dev/null | grep -q "ok installed"; then
    command -v help2man >/dev/null && fail "help2man appeared on the host"
  fi
  true
}

test_an_unsatisfiable_build_dependency_ends_in_depwait_naming_it_schroot()
{
  configure here schroot
  install_schroot || return
  variant hello-buildme missing "buildme-no-such-package (>= 1)"
  age_all
  buildme --foreground
  assert_status 0
  [ "$(build_field 1 "$ARCH" State)" = depwait ] || fail "state $(build_field 1 "$ARCH" State): $(build_field 1 "$ARCH" Reason)"
  build_field 1 "$ARCH" Reason | grep -q "buildme-no-such-package (>= 1)" || fail "the reason does not name the dependency: $(build_field 1 "$ARCH" Reason)"
  [ "$(build_field 1 "$ARCH" Attempts)" = 1 ] || fail "attempts $(build_field 1 "$ARCH" Attempts)"
}

test_a_build_depends_line_that_is_not_valid_syntax_is_a_bad_package_naming_it()
{
  configure
  variant hello-buildme missing "buildme-no-such-package (>= 1)"
  # dpkg-source refuses to make such a .dsc: an uploader's hand did.
  local dsc=$INCOMING/hello-buildme_1.0-1missing.dsc
  sed -i 's/^Build-Depends: .*/Build-Depends: debhelper-compat (= 13), foo (>> /' "$dsc"
  age_all
  buildme --foreground
  assert_status 0
  [ "$(build_field 1 "$ARCH" State)" = bad-package ] || fail "state $(build_field 1 "$ARCH" State): $(build_field 1 "$ARCH" Reason)"
  build_field 1 "$ARCH" Reason | grep -qF "not valid syntax: Build-Depends: debhelper-compat (= 13), foo (>>" || fail "reason: $(build_field 1 "$ARCH" Reason)"
}

test_the_products_build_profiles_choose_the_build_depends_and_reach_the_build_with_its_build_options_schroot()
{
  configure here schroot
  install_schroot || return
  sed -i 's/^base_suite = bookworm$/&\nbuild_profiles = nocheck\nbuild_options = nocheck noopt/' "$T/buildme.conf"
  # Installable only with the nocheck profile on.
  variant hello-buildme profile "buildme-no-such-package <!nocheck>" "\
	@echo \"profiles: \$\$DEB_BUILD_PROFILES\"
	@echo \"options: \$\$DEB_BUILD_OPTIONS\""
  age_all
  buildme --foreground
  assert_status 0
  [ "$(build_field 1 "$ARCH" State)" = success ] || fail "state $(build_field 1 "$ARCH" State): $(build_field 1 "$ARCH" Reason)"
  grep -q "^profiles: nocheck" "$T/results/fremantle/1/$ARCH/build.log" || fail "the build did not see the profile"
  # (and parallel=N, from the builder's jobs)
  grep -Eq "^options: nocheck noopt( parallel=[0-9]+)?$" "$T/results/fremantle/1/$ARCH/build.log" ||
    fail "the build did not see the product's build_options: $(grep '^options:' "$T/results/fremantle/1/$ARCH/build.log")"
}

test_a_base_gone_from_the_builder_is_made_again_and_the_upload_keeps_its_attempts()
{
  configure
  rm "$T/envs/fremantle_$ARCH.tar"
  upload 1.0-1
  buildme --foreground
  assert_status 0
  [ "$(build_field 1 "$ARCH" State)" = queued ] || fail "state $(build_field 1 "$ARCH" State): $(build_field 1 "$ARCH" Reason)"
  [ "$(build_field 1 "$ARCH" Uncounted)" = 1 ] || fail "the attempt counted: $(build_field 1 "$ARCH" Uncounted)"
  build_field 1 "$ARCH" Reason | grep -q "its build environment was gone from here; it is made again" || fail "reason: $(build_field 1 "$ARCH" Reason)"
  grep -q "^State: missing" "$STATE/envs/here/fremantle_$ARCH.info" || fail "the record still says: $(cat "$STATE/envs/here/fremantle_$ARCH.info")"
  # The next tick makes it again (here from an empty mirror, so that it
  # fails at once), and the build waits without using an attempt.
  mkdir -p "$T/no-mirror"
  sed -i "s|^base_mirror = .*|base_mirror = file://$T/no-mirror|" "$T/buildme.conf"
  buildme
  wait_for_env_state failed || return
  buildme
  [ "$(build_field 1 "$ARCH" State)" = queued ] || fail "state $(build_field 1 "$ARCH" State)"
  [ "$(build_field 1 "$ARCH" Attempts)" = 1 ] || fail "attempts $(build_field 1 "$ARCH" Attempts)"
  build_field 1 "$ARCH" Reason | grep -q "could not be made" || fail "reason: $(build_field 1 "$ARCH" Reason)"
}

# wait_for_env_state STATE: until the record of the test's base says STATE
# (a making runs in the background), at most 300 s.
wait_for_env_state()
{
  local waited=0
  until grep -q "^State: $1" "$STATE/envs/here/fremantle_$ARCH.info" 2>/dev/null; do
    if [ "$waited" -ge 300 ]; then
      fail "the base is not $1 after 300 s: $(cat "$STATE/envs/here/fremantle_$ARCH.info" 2>&1)"
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

test_a_base_that_cannot_be_made_keeps_its_builds_waiting_and_tells_the_list_once()
{
  configure
  # A mirror with nothing in it: mmdebstrap fails at once.
  mkdir -p "$T/no-mirror"
  sed -i "s|^base_mirror = .*|base_mirror = file://$T/no-mirror|" "$T/buildme.conf"
  rm -f "$STATE/envs/here/fremantle_$ARCH.info" "$T/envs/fremantle_$ARCH.tar"
  # Mail stays in the outbox: nothing listens on the port.
  cat >>"$T/buildme.conf" <<CONF

[mail]
smtp_url = smtp://127.0.0.1:1
from = buildme <buildme@example.org>
list = builds@example.org
CONF
  upload 1.0-1
  age_all
  # The tick starts making the base in the background; the build waits.
  buildme --foreground
  wait_for_env_state failed || return
  [ "$(build_field 1 "$ARCH" State)" = queued ] || fail "state $(build_field 1 "$ARCH" State): $(build_field 1 "$ARCH" Reason)"
  local attempts
  attempts=$(build_field 1 "$ARCH" Attempts)
  [ "${attempts:-0}" = 0 ] || fail "an attempt was used: $attempts"
  buildme env list
  assert_output "failed"
  # Once an episode: a second failure in a row mails no one.
  buildme env-make here fremantle "$ARCH"
  grep -q "^Failures: 2" "$STATE/envs/here/fremantle_$ARCH.info" || fail "no second failure: $(cat "$STATE/envs/here/fremantle_$ARCH.info")"
  local mails
  mails=$(grep -l "BUILD ENVIRONMENT FAILED here fremantle/$ARCH" -r "$STATE/mail/outbox" 2>/dev/null | wc -l)
  [ "$mails" = 1 ] || fail "$mails mails to the list about the base, not 1"
}

# leaves_behind_check TAG: two builds; the first writes outside its tree,
# leaves a process running; the second fails if it sees any of that. TAG
# keeps each caller's sources apart (the variants are cached for the run,
# and each holds the marker of the test that made it).
leaves_behind_check()
{
  local tag=$1
  # Unique to this test, so that its processes are found by name safely.
  local marker
  marker="buildme-leak-$(basename "$T")"
  # The first build writes outside its tree and
  # leaves a process running; the second fails if it sees any of that.
  variant hello-buildme "leak$tag" "help2man" "\
	echo leaked >/tmp/$marker
	echo leaked >/etc/$marker
	(exec -a $marker-process sleep 3600) </dev/null >/dev/null 2>&1 &"
  age_all
  buildme --foreground
  [ "$(build_field 1 "$ARCH" State)" = success ] || fail "leaking build: $(build_field 1 "$ARCH" State): $(build_field 1 "$ARCH" Reason)"
  assert_contains "$T/results/fremantle/1/$ARCH/build.log" "echo leaked >/etc/$marker"
  # Its Build-Depends (which this host lacks) came from the mirror.
  grep -q "^Setting up help2man" "$T/results/fremantle/1/$ARCH/build.log" || fail "help2man was not installed in the buildroot"
  variant hello-buildme "check$tag" "help2man" "\
	! test -e /tmp/$marker || { echo SAW-TMP; exit 1; }
	! test -e /etc/$marker || { echo SAW-ETC; exit 1; }
	! grep -qa $marker-proces[s] /proc/[0-9]*/cmdline || { echo SAW-PROCESS; exit 1; }"
  age_all
  buildme --foreground
  [ "$(build_field 2 "$ARCH" State)" = success ] || fail "the next build saw the first one's leftovers: $(build_field 2 "$ARCH" Reason); $(grep -o 'SAW-[A-Z]*' "$T/results/fremantle/2/$ARCH/build.log" | head -1)"
  # The same Build-Depends again: apt finds every package in the builder's
  # cache and downloads nothing but sbuild's own dummy package (bytes).
  grep -Eq "^Need to get [0-9]+ B/" "$T/results/fremantle/2/$ARCH/build.log" ||
    fail "the second build downloaded its Build-Depends again: $(grep '^Need to get' "$T/results/fremantle/2/$ARCH/build.log")"
  assert_absent "/tmp/$marker"
  assert_absent "/etc/$marker"
  # (The bracket keeps this grep from finding its own command line.)
  grep -qa -- "$marker-proces[s]" /proc/[0-9]*/cmdline 2>/dev/null && fail "the first build's process still runs on the host"
  true
}

test_what_a_build_leaves_behind_is_not_seen_by_the_next_build_nor_the_host()
{
  configure
  leaves_behind_check unshare
}

test_what_a_build_leaves_behind_is_not_seen_by_the_next_build_nor_the_host_schroot()
{
  configure here schroot
  install_schroot || return
  leaves_behind_check schroot
  # schroot's session and its tmpfs are gone with the build.
  local left
  left=$(grep -c " /var/lib/schroot/unpack/$(schroot_prefix)" /proc/mounts || true)
  [ "$left" = 0 ] || fail "$left mounts of the test's sessions are left: $(grep "$(schroot_prefix)" /proc/mounts)"
}

test_b_that_build_depends_on_a_builds_once_a_reached_the_repository_with_no_command_by_hand_schroot()
{
  new_key
  configure here schroot
  sed -i 's/^host = local$/host = local\nslots = 2/' "$T/buildme.conf"
  repository_section extras-devel >>"$T/buildme.conf"
  # As the set-up's error asks: the repository folder the chroot binds.
  mkdir -p "$T/staging/extras-devel"
  install_schroot || return
  variant buildme-chain-a "" ""
  variant buildme-chain-b "" "buildme-chain-a"
  age_all
  # A and B build at once: B cannot find A yet and waits.
  buildme --foreground
  assert_status 0
  local a b
  a=$(grep -l "^Source: buildme-chain-a" "$STATE"/jobs/*/job.info | xargs dirname | xargs basename)
  b=$(grep -l "^Source: buildme-chain-b" "$STATE"/jobs/*/job.info | xargs dirname | xargs basename)
  [ "$(build_field "$a" "$ARCH" State)" = success ] || fail "A: $(build_field "$a" "$ARCH" State): $(build_field "$a" "$ARCH" Reason)"
  [ "$(build_field "$b" "$ARCH" State)" = depwait ] || fail "B: $(build_field "$b" "$ARCH" State): $(build_field "$b" "$ARCH" Reason)"
  build_field "$b" "$ARCH" Reason | grep -q "buildme-chain-a" || fail "B's reason: $(build_field "$b" "$ARCH" Reason)"
  grep -q "^State: queued" "$STATE/jobs/$b/job.info" || fail "B's job is not waiting"
  # Nothing changed in the archive: B waits, not retried on a timer.
  buildme --foreground
  [ "$(build_field "$b" "$ARCH" State)" = depwait ] || fail "B retried with nothing new"
  # A reaches the repository; the next tick builds B against it.
  queue_manage --repository extras-devel
  assert_status 0
  buildme --foreground
  assert_status 0
  assert_output "RETRY: retried:"
  [ "$(build_field "$b" "$ARCH" State)" = success ] || fail "B: $(build_field "$b" "$ARCH" State): $(build_field "$b" "$ARCH" Reason)"
  # From the archive's signed distribution, checked with its own key
  # (queue-manage wrote it beside the indices), not marked trusted.
  assert_contains "$T/results/fremantle/$b/$ARCH/build.log" "file:/srv/buildme-repository fremantle InRelease"
  assert_contains "$T/staging/extras-devel/archive-key.asc" "BEGIN PGP PUBLIC KEY BLOCK"
  grep -q "trusted=yes" "$T/results/fremantle/$b/$ARCH/build.log" && fail "the archive's distribution was marked trusted"
  [ "$(build_field "$b" "$ARCH" Uncounted)" = 1 ] || fail "the waiting attempt counted"
}

test_a_builder_over_ssh_builds_against_the_archive_through_its_url_verified_with_its_key_schroot()
{
  new_key
  # This machine as an SSH builder: its own sshd, the base in its env_dir,
  # the archive reached through the repository's url (a real web server)
  # instead of the staging folder.
  start_sshd b1 || return
  configure b1 schroot
  mkdir -p "$T/staging/extras-devel"
  serve_http "$T/staging/extras-devel" || return
  repository_section extras-devel "url = http://127.0.0.1:$HTTP_PORT" >>"$T/buildme.conf"
  install_schroot || return
  # A first, on its own; then it reaches the repository.
  variant buildme-ssh-a "" ""
  age_all
  buildme --foreground
  assert_status 0
  assert_output "building on root@127.0.0.1:${SSHD_PORT[b1]}"
  local a b
  a=$(grep -l "^Source: buildme-ssh-a" "$STATE"/jobs/*/job.info | xargs dirname | xargs basename)
  [ "$(build_field "$a" "$ARCH" State)" = success ] || fail "A: $(build_field "$a" "$ARCH" State): $(build_field "$a" "$ARCH" Reason)"
  queue_manage --repository extras-devel
  assert_status 0
  # B build-depends on A: the builder finds A only through the url.
  variant buildme-ssh-b "" "buildme-ssh-a"
  age_all
  buildme --foreground
  assert_status 0
  b=$(grep -l "^Source: buildme-ssh-b" "$STATE"/jobs/*/job.info | xargs dirname | xargs basename)
  [ "$(build_field "$b" "$ARCH" State)" = success ] || fail "B: $(build_field "$b" "$ARCH" State): $(build_field "$b" "$ARCH" Reason)"
  local log=$T/results/fremantle/$b/$ARCH/build.log
  assert_contains "$log" "http://127.0.0.1:$HTTP_PORT fremantle InRelease"
  assert_contains "$log" "--extra-repository-key=$T/work-b1/b1.root/archive-key.asc"
  grep -q "Unpacking buildme-ssh-a " "$log" || fail "B did not install A: $log"
  grep -q "trusted=yes" "$log" && fail "the archive's distribution was marked trusted"
  grep -q '"GET /dists/fremantle/InRelease' "$T/http.log" || fail "apt did not ask the web server: $T/http.log"
}

run_tests
