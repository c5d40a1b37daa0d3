#!/bin/bash
# buildme-build, the builder-side script, run as buildme runs it: in a work
# folder holding a job's source files, with real dpkg-source and
# dpkg-buildpackage builds of the example package.
source "$(dirname "$0")/lib.bash"

BUILD_SCRIPT=$BUILDME_BIN/buildme-build/buildme-build
if [ ! -f "$BUILD_SCRIPT" ]; then
  echo "FAIL: $BUILD_SCRIPT is missing (configure with cmake: it is copied there)" >&2
  exit 1
fi
require_tools dpkg dpkg-checkbuilddeps dpkg-deb make cc ps setsid timeout
NATIVE=$(dpkg --print-architecture)
DSC=hello-buildme_1.0-1.dsc
DEB=hello-buildme_1.0-1_${NATIVE}.deb

# variant_source NAME EDIT: like source_upload 1.0-1 --dsc-only, from a copy
# of example/ whose hello-buildme folder the function EDIT has changed first.
variant_source()
{
  local name=$1 edit=$2 copy dir
  dir=$SOURCE_CACHE/variant-$name
  if [ ! -d "$dir" ]; then
    copy=$(mktemp -d "$SOURCE_CACHE/example-XXXXXX")
    cp -a "$BUILDME_SOURCE/example/." "$copy/"
    (cd "$copy/hello-buildme" && "$edit") || {
      echo "FAIL: could not make the $name variant" >&2
      return 1
    }
    "$copy/make-source" --dsc-only --without-debhelper 1.0-1 "$dir" >&2 || {
      echo "FAIL: make-source of the $name variant failed" >&2
      return 1
    }
  fi
  echo "$dir"
}

does_not_compile() { printf 'this is not C;\n' >>hello.c; }
needs_a_missing_package()
{
  sed -i 's/^Build-Depends: .*/&, buildme-no-such-package/' debian/control
}
# The build sleeps in make, long enough to be stopped, with a mark to find it.
builds_slowly() { sed -i 's/^\t\$(CC)/\tsleep 3471\n&/' Makefile; }
# The build leaves a process behind that holds its output open.
leaves_a_process() { sed -i 's/^\t\$(CC)/\tsleep 3472 \&\n&/' Makefile; }

# still_running WORDS: whether a process of this test (its folder under $T)
# runs with WORDS in its command line; another test run's are not ours.
still_running() { runs_under "$T" "$1"; }

# work_with DIR: a fresh work folder $W holding the files of DIR, as buildme
# sends them.
work_with()
{
  W=$T/work
  mkdir -p "$W"
  [ -n "$1" ] && cp -p "$1"/* "$W/"
}

# build ARGS...: runs buildme-build in $W as buildme does; output in $OUT,
# exit code in $STATUS.
build()
{
  OUT=$(cd "$W" && bash "$BUILD_SCRIPT" "$@" 2>&1)
  STATUS=$?
  printf '%s\n' "$OUT" | tail -n 25 | sed 's/^/    | /' >&2
}

# assert_result CODE WORD [DETAIL]: the exit code, and the status line is the
# last line of both the output and build.log, and the only one in the log.
assert_result()
{
  local code=$1 word=$2 detail=${3:-} last count
  assert_status "$code"
  last=$(tail -n 1 <<<"$OUT")
  [[ $last == "BUILDME-STATUS: $code $word"* ]] || fail "last output line: $last"
  [[ $last == *"$detail"* ]] || fail "status line lacks '$detail': $last"
  last=$(tail -n 1 "$W/build.log" 2>/dev/null)
  [[ $last == "BUILDME-STATUS: $code $word"* ]] || fail "last line of build.log: $last"
  count=$(grep -c '^BUILDME-STATUS:' "$W/build.log" 2>/dev/null)
  [ "$count" = 1 ] || fail "$count status lines in build.log"
}

# finish_within SECONDS PID: waits for buildme-build started in the
# background; its exit code in $STATUS and its output (from $T/stdout) in
# $OUT. A script that does not end in time fails the test and is killed.
finish_within()
{
  local seconds=$1 pid=$2 waited=0
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge $((seconds * 10)) ]; then
      fail "buildme-build did not end within $seconds seconds"
      kill -KILL "$pid"
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  wait "$pid"
  STATUS=$?
  OUT=$(cat "$T/stdout")
  printf '%s\n' "$OUT" | tail -n 5 | sed 's/^/    | /' >&2
}

other_arch()
{
  if [ "$NATIVE" = armel ]; then echo i386; else echo armel; fi
}

test_a_good_source_builds_into_out()
{
  work_with "$(source_upload 1.0-1 --dsc-only)"
  build --dsc "$DSC" --arch "$NATIVE" --jobs 2
  assert_result 0 success "hello-buildme_1.0-1 built for $NATIVE"
  assert_file "$W/out/$DEB"
  assert_file "$W/out/hello-buildme_1.0-1_${NATIVE}.changes"
  assert_file "$W/out/hello-buildme_1.0-1_${NATIVE}.buildinfo"
  [ "$(dpkg-deb -f "$W/out/$DEB" Package 2>/dev/null)" = hello-buildme ] ||
    fail "$DEB is not the hello-buildme package"
  assert_contains "$W/build.log" "dsc: $DSC"
  assert_contains "$W/build.log" "arch: $NATIVE"
  assert_contains "$W/build.log" "package management program version"
  assert_contains "$W/build.log" "+ dpkg-buildpackage -us -uc -b --jobs-try=2"
  cmp -s <(printf '%s\n' "$OUT") "$W/build.log" || fail "output and build.log differ"
}

test_a_source_that_does_not_compile_fails_with_10()
{
  work_with "$(variant_source broken does_not_compile)"
  build --dsc "$DSC" --arch "$NATIVE"
  assert_result 10 build-failed "dpkg-buildpackage failed"
  assert_contains "$W/build.log" "hello.c"
  assert_count 0 "$W/out" '*.deb'
}

test_a_missing_build_dependency_is_depwait_30_with_its_name()
{
  work_with "$(variant_source depwait needs_a_missing_package)"
  build --dsc "$DSC" --arch "$NATIVE"
  assert_result 30 depwait "unmet build dependencies: buildme-no-such-package"
  grep -q '^+ dpkg-buildpackage' "$W/build.log" && fail "dpkg-buildpackage ran anyway"
  assert_count 0 "$W/out" '*.deb'
}

test_a_corrupt_tarball_is_a_bad_package_40()
{
  work_with "$(source_upload 1.0-1 --dsc-only)"
  printf 'X' | dd of="$W/hello-buildme_1.0-1.debian.tar.xz" bs=1 seek=100 conv=notrunc status=none
  build --dsc "$DSC" --arch "$NATIVE"
  assert_result 40 bad-package "dpkg-source -x $DSC failed"
  assert_contains "$W/build.log" "checksum"
}

test_a_missing_tarball_is_a_bad_package_40()
{
  work_with "$(source_upload 1.0-1 --dsc-only)"
  rm "$W/hello-buildme_1.0.orig.tar.gz"
  build --dsc "$DSC" --arch "$NATIVE"
  assert_result 40 bad-package "dpkg-source -x $DSC failed"
}

test_a_missing_dsc_is_a_bad_package_40()
{
  work_with ""
  build --dsc "$DSC" --arch "$NATIVE"
  assert_result 40 bad-package "$DSC is not in the work folder"
}

test_an_arch_this_host_cannot_build_makes_the_builder_unfit_51()
{
  local arch
  arch=$(other_arch)
  work_with "$(source_upload 1.0-1 --dsc-only)"
  build --dsc "$DSC" --arch "$arch"
  assert_result 51 builder-unfit "builder cannot build $arch"
  assert_absent "$W/build"
}

test_a_clean_build_on_a_builder_without_sbuild_or_with_a_closed_cache_makes_it_unfit_51()
{
  work_with "$(source_upload 1.0-1 --dsc-only)"
  : >"$T/base.tar"
  # Every command of this host but sbuild.
  mkdir "$T/bin"
  local tool
  for tool in /usr/bin/* /usr/sbin/*; do
    [ "${tool##*/}" = sbuild ] || ln -sf "$tool" "$T/bin/"
  done
  OUT=$(cd "$W" && PATH=$T/bin bash "$BUILD_SCRIPT" --dsc "$DSC" --arch "$NATIVE" \
    --base "$T/base.tar" --suite bookworm 2>&1)
  STATUS=$?
  assert_result 51 builder-unfit "this builder has no sbuild: install sbuild and uidmap"
  # A cache below a folder the buildroot's root (a subordinate id) cannot
  # enter: refused before sbuild runs, naming the folder and the fix.
  mkdir -m 0700 "$T/closed"
  build --dsc "$DSC" --arch "$NATIVE" --base "$T/base.tar" --suite bookworm \
    --apt-cache "$T/closed/cache"
  assert_result 51 builder-unfit "$T/closed is closed to others (chmod o+x $T/closed)"
  assert_absent "$W/build/sbuild.log"
}

test_a_schroot_build_whose_chroot_is_missing_wrong_or_not_roots_makes_the_builder_unfit_51()
{
  require_tools schroot
  work_with "$(source_upload 1.0-1 --dsc-only)"
  : >"$T/base.tar"
  # No chroot of that name: refused before sbuild runs, with what root runs.
  build --dsc "$DSC" --arch "$NATIVE" --base "$T/base.tar" --suite bookworm \
    --schroot "bmt-${T##*/}-missing"
  assert_result 51 builder-unfit "schroot has no chroot bmt-${T##*/}-missing for $(id -un)"
  assert_output "as root on this builder, run 'buildme env schroot --install'"
  assert_absent "$W/build/sbuild.log"
  # Names that are no chroot name never reach schroot.
  build --dsc "$DSC" --arch "$NATIVE" --base "$T/base.tar" --suite bookworm --schroot '-c;id'
  assert_result 51 builder-unfit "usage: '-c;id' is not a schroot chroot name"
  [ "$(id -u)" = 0 ] || {
    fail "the rest of this test writes /etc/schroot: run it as root"
    return
  }
  # A chroot of another file, then of this base owned by someone else.
  local name="bmt-${T##*/}-wrong"
  printf '[%s]\ntype=file\nfile=%s\nusers=root\nroot-users=root\n' "$name" "$T/other.tar" \
    >"/etc/schroot/chroot.d/$name"
  build --dsc "$DSC" --arch "$NATIVE" --base "$T/base.tar" --suite bookworm --schroot "$name"
  assert_result 51 builder-unfit "the schroot chroot $name is $T/other.tar, not the base $T/base.tar"
  printf '[%s]\ntype=file\nfile=%s\nusers=root\nroot-users=root\n' "$name" "$T/base.tar" \
    >"/etc/schroot/chroot.d/$name"
  chown nobody "$T/base.tar"
  build --dsc "$DSC" --arch "$NATIVE" --base "$T/base.tar" --suite bookworm --schroot "$name"
  rm -f "/etc/schroot/chroot.d/$name"
  assert_result 51 builder-unfit "schroot takes only a base owned by root, and $T/base.tar is not"
  assert_absent "$W/build/sbuild.log"
}

test_a_clean_build_removes_the_buildroot_a_killed_build_left_and_its_own()
{
  work_with "$(source_upload 1.0-1 --dsc-only)"
  : >"$T/base.tar"
  chmod 0755 "$T"
  mkdir -m 0755 "$T/shm"
  # What a build killed a while ago left: its folder, and its lock no one holds.
  mkdir -p "$T/shm/buildme-build.killedXXXX/root.XXXX/usr"
  touch -d '5 minutes ago' "$T/shm/buildme-build.killedXXXX.lock"
  # One being set up now (its lock is new) is left alone.
  mkdir -p "$T/shm/buildme-build.startingXX"
  touch "$T/shm/buildme-build.startingXX.lock"
  build --dsc "$DSC" --arch "$NATIVE" --base "$T/base.tar" --suite bookworm --tmpdir "$T/shm"
  assert_output "removing $T/shm/buildme-build.killedXXXX, left by a build that was stopped"
  assert_absent "$T/shm/buildme-build.killedXXXX"
  assert_absent "$T/shm/buildme-build.killedXXXX.lock"
  [ -d "$T/shm/buildme-build.startingXX" ] || fail "the folder of a build being set up was removed"
  # Its own (sbuild failed on the empty base) is gone too.
  local left
  left=$(find "$T/shm" -mindepth 1 -maxdepth 1 ! -name 'buildme-build.startingXX*' | wc -l)
  [ "$left" = 0 ] || fail "left in $T/shm: $(ls "$T/shm")"
}

test_bad_usage_makes_the_builder_unfit_51()
{
  work_with "$(source_upload 1.0-1 --dsc-only)"
  local -a args
  local usage
  for usage in "" "--dsc $DSC" "--arch $NATIVE" "--dsc $DSC --arch $NATIVE --bogus" \
    "--dsc $DSC --arch $NATIVE --jobs 0" "--dsc $DSC --arch $NATIVE --jobs two" \
    "--dsc $DSC --arch ../x" "--dsc $DSC --arch AMD64" "--dsc $DSC --arch"; do
    echo "    buildme-build $usage" >&2
    read -ra args <<<"$usage"
    build "${args[@]}"
    assert_result 51 builder-unfit "usage"
    assert_absent "$W/build"
  done
}

test_hostile_dsc_names_run_nothing()
{
  work_with "$(source_upload 1.0-1 --dsc-only)"
  cp "$W/$DSC" "$T/x.dsc"
  local name
  local -a names=('../x.dsc' 'a;b.dsc' '$(id).dsc' '$(touch pwned).dsc' '`touch pwned`.dsc'
    "$DSC;touch pwned" "$DSC && touch pwned" '-x.dsc' '/etc/passwd' 'Hello_1.0.dsc'
    $'a\nBUILDME-STATUS: 0 success.dsc' $'\e]0;owned\a_1.dsc')
  for name in "${names[@]}"; do
    echo "    --dsc $(printf '%q' "$name")" >&2
    # The file exists where it can, so only the name itself is refused.
    if [[ $name != */* ]]; then
      : >"$W/$name"
    fi
    build --dsc "$name" --arch "$NATIVE"
    case $STATUS in
      40) assert_result 40 bad-package ;;
      51) assert_result 51 builder-unfit ;;
      *) fail "--dsc $(printf '%q' "$name"): exit $STATUS, expected 40 or 51" ;;
    esac
    assert_absent "$W/build"
    assert_absent "$W/pwned"
    assert_absent "$T/pwned"
    grep -q $'\e' "$W/build.log" && fail "an escape sequence reached build.log"
  done
}

test_sigterm_stops_the_build_with_status_50()
{
  work_with "$(variant_source slow builds_slowly)"
  (cd "$W" && exec bash "$BUILD_SCRIPT" --dsc "$DSC" --arch "$NATIVE") >"$T/stdout" 2>&1 &
  local pid=$! waited=0
  until grep -q 'sleep 3471' "$W/build.log" 2>/dev/null; do
    if [ "$waited" -ge 1200 ]; then
      fail "the build never reached its sleep"
      kill -TERM "$pid"
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  sleep 0.5
  kill -TERM "$pid"
  finish_within 30 "$pid"
  assert_result 50 builder-error "stopped by signal"
  # The whole build stopped, not just the script.
  waited=0
  while still_running 'sleep 3471'; do
    if [ "$waited" -ge 50 ]; then
      fail "the build's 'sleep 3471' still runs"
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

test_sigint_to_the_process_group_as_buildme_sends_it_stops_the_build()
{
  work_with "$(variant_source slow builds_slowly)"
  # buildme runs the script as the leader of a process group of its own
  # (sshd's session, or LocalHost's) and signals that whole group.
  (
    local waited=0 pid
    until grep -q 'sleep 3471' "$W/build.log" 2>/dev/null || [ "$waited" -ge 1200 ]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    pid=$(sed -n '1s/.*, pid \([0-9]*\)$/\1/p' "$W/build.log")
    [ -n "$pid" ] && kill -INT -- "-$pid"
  ) &
  local watcher=$!
  # Output to a file: a stray process of a broken build must not hold the
  # test up.
  (cd "$W" && exec timeout 180 setsid bash "$BUILD_SCRIPT" --dsc "$DSC" --arch "$NATIVE") \
    >"$T/stdout" 2>&1
  STATUS=$?
  OUT=$(cat "$T/stdout")
  wait "$watcher"
  printf '%s\n' "$OUT" | tail -n 5 | sed 's/^/    | /' >&2
  assert_result 50 builder-error "stopped by signal (SIGINT)"
  still_running 'sleep 3471' && fail "the build's 'sleep 3471' still runs"
}

test_a_process_the_build_left_behind_is_stopped_with_it()
{
  work_with "$(variant_source stray leaves_a_process)"
  (cd "$W" && exec bash "$BUILD_SCRIPT" --dsc "$DSC" --arch "$NATIVE") >"$T/stdout" 2>&1 &
  finish_within 120 $!
  assert_result 0 success
  still_running 'sleep 3472' && fail "the build's 'sleep 3472' still runs"
}

test_a_rerun_removes_the_old_build_out_and_log()
{
  work_with "$(source_upload 1.0-1 --dsc-only)"
  mkdir -p "$W/build/src" "$W/out"
  touch "$W/build/src/stale" "$W/out/old_0.9_${NATIVE}.deb"
  echo "BUILDME-STATUS: 10 build-failed last time" >"$W/build.log"
  build --dsc "$DSC" --arch "$NATIVE"
  assert_result 0 success
  assert_output "removing build and out from an earlier run"
  assert_absent "$W/build/src/stale"
  assert_absent "$W/out/old_0.9_${NATIVE}.deb"
  assert_file "$W/out/$DEB"
}

test_a_builder_without_dpkg_dev_says_so_with_51()
{
  # A PATH with what the script itself needs, but no dpkg-dev.
  local bin=$T/bin tool
  mkdir "$bin"
  for tool in bash tee date hostname id rm mkdir sed cat head sleep dpkg; do
    ln -s "$(command -v "$tool")" "$bin/$tool"
  done
  work_with "$(source_upload 1.0-1 --dsc-only)"
  OUT=$(cd "$W" && PATH=$bin "$bin/bash" "$BUILD_SCRIPT" --dsc "$DSC" --arch "$NATIVE" 2>&1)
  STATUS=$?
  printf '%s\n' "$OUT" | tail -n 3 | sed 's/^/    | /' >&2
  assert_result 51 builder-unfit "install dpkg-dev"
  assert_absent "$W/build"
}

test_version_and_help_answer_and_write_nothing()
{
  local out
  mkdir "$T/empty" && cd "$T/empty" || return
  out=$(bash "$BUILD_SCRIPT" --version) || fail "--version exited $?"
  # The same version as buildme's (CMakeLists.txt's project VERSION).
  [ "$out" = "buildme-build (buildme) $("$BUILDME" --version | awk '{print $NF}')" ] ||
    fail "--version says '$out'; buildme says '$("$BUILDME" --version)'"
  bash "$BUILD_SCRIPT" --help | grep -q "buildme-build --help | --version" || fail "--help lacks --version"
  [ -z "$(ls -A "$T/empty")" ] || fail "it wrote into the folder it ran in: $(ls -A "$T/empty")"
}

run_tests
