#!/bin/bash
# buildme dispatch: real builds of the example package with dpkg-buildpackage,
# on the local builder and on builder hosts reached through real sshd servers.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/sshd.bash"
require_tools dpkg-buildpackage dpkg-deb

ARCH=$(dpkg --print-architecture)
DEB=hello-buildme_1.0-1_${ARCH}.deb

teardown() { stop_all_sshd; }

# build_state JOB ARCH: the State of a build record.
build_state() { sed -n 's/^State: //p' "$STATE/jobs/$1/builds/$2.info" 2>/dev/null; }
build_field() { sed -n "s/^$3: //p" "$STATE/jobs/$1/builds/$2.info" 2>/dev/null; }

# wait_build JOB ARCH: until the build is no longer queued or building
# (workers run detached), at most 120 s.
wait_build()
{
  local waited=0 state
  while :; do
    state=$(build_state "$1" "$2")
    case $state in queued | building | "") ;; *) return 0 ;; esac
    [ $waited -lt 1200 ] || { fail "job $1 [$2] still '$state' after 120 s"; return 1; }
    sleep 0.1
    waited=$((waited + 1))
  done
}

# A build command that waits first, so a test can act mid-build.
slow_build_command()
{
  cat >"$T/slow-build" <<'SCRIPT'
#!/bin/bash
echo "slow build starting"
sleep "${SLOW:-4}"
exec bash buildme-build "$@"
SCRIPT
  chmod +x "$T/slow-build"
  echo "build_command = $T/slow-build --dsc {dsc} --arch {arch}"
}

test_the_local_builder_builds_an_upload_end_to_end()
{
  upload 1.0-1
  buildme --foreground
  assert_status 0
  assert_output "ACCEPTED: hello-buildme 1.0-1 queued as job 1"
  assert_output "BUILDING: building on local#1 (attempt 1)"
  [ "$(build_state 1 "$ARCH")" = success ] || fail "build state $(build_state 1 "$ARCH")"
  local results=$T/results/fremantle/1/$ARCH
  assert_file "$results/build.log"
  assert_file "$results/$DEB"
  assert_contains "$results/build.log" "BUILDME-STATUS: 0 success"
  # The hand-over: one unit a build, its packages with the job's source.
  local queue=$T/repo/incoming/extras-devel/fremantle/job-1-$ARCH-1
  [ "$(build_field 1 "$ARCH" Handover)" = done ] || fail "hand-over $(build_field 1 "$ARCH" Handover)"
  assert_absent "$T/repo/incoming/extras-devel/fremantle/.job-1-$ARCH-1.partial"
  assert_file "$queue/$DEB"
  assert_file "$queue/hello-buildme_1.0-1.dsc"
  assert_file "$queue/hello-buildme_1.0.orig.tar.gz"
  assert_file "$queue/hello-buildme_1.0-1.debian.tar.xz"
  dpkg-deb --field "$queue/$DEB" Package | grep -qx hello-buildme || fail "not a real .deb"
  grep -q "^State: built" "$STATE/jobs/1/job.info" || fail "job not marked built"
  # The history and the maintenance commands see it.
  buildme list
  assert_output "hello-buildme 1.0-1"
  assert_output "$ARCH:success"
  buildme show 1
  assert_output "Build [$ARCH]: success, attempt 1 on local.1"
  assert_output "#1 on local#1"
}

test_a_build_over_ssh_fetches_the_results()
{
  start_sshd b1 || return
  builder_section b1 >>"$T/buildme.conf"
  upload 1.0-1
  buildme --foreground
  assert_status 0
  assert_output "BUILDING: building on root@127.0.0.1:${SSHD_PORT[b1]} (attempt 1)"
  [ "$(build_state 1 "$ARCH")" = success ] || fail "build state $(build_state 1 "$ARCH"): $(build_field 1 "$ARCH" Reason)"
  assert_file "$T/results/fremantle/1/$ARCH/$DEB"
  assert_file "$T/repo/incoming/extras-devel/fremantle/job-1-$ARCH-1/$DEB"
  assert_file "$T/work-b1/b1.root/out/$DEB"
}

test_an_unknown_host_key_is_refused_with_its_fingerprint()
{
  start_sshd b1 || return
  builder_section b1 >>"$T/buildme.conf"
  : >"$T/b1/known_hosts"
  local fingerprint
  fingerprint=$(ssh-keygen -l -E sha256 -f "$T/b1/host_key.pub" | cut -d' ' -f2)
  upload 1.0-1
  buildme --foreground
  local reason
  reason=$(build_field 1 "$ARCH" Reason)
  grep -q "not in $T/b1/known_hosts" <<<"$reason" || fail "reason: $reason"
  grep -qF "$fingerprint" <<<"$reason" || fail "no fingerprint $fingerprint in: $reason"
  [ "$(build_state 1 "$ARCH")" = queued ] || fail "not requeued: $(build_state 1 "$ARCH")"
  assert_absent "$T/work-b1"
}

test_a_changed_host_key_is_refused()
{
  start_sshd b1 || return
  builder_section b1 >>"$T/buildme.conf"
  ssh-keygen -q -t ed25519 -N '' -f "$T/other_key"
  echo "[127.0.0.1]:${SSHD_PORT[b1]} $(cut -d' ' -f1-2 "$T/other_key.pub")" >"$T/b1/known_hosts"
  upload 1.0-1
  buildme --foreground
  local reason
  reason=$(build_field 1 "$ARCH" Reason)
  grep -qi "changed" <<<"$reason" || fail "reason: $reason"
  assert_absent "$T/work-b1"
}

test_a_build_goes_to_the_other_builder_when_one_dies_mid_build()
{
  start_sshd b1 || return
  start_sshd b2 || return
  local slow
  slow=$(slow_build_command)
  builder_section b1 "$ARCH" "$slow" >>"$T/buildme.conf"
  upload 1.0-1
  buildme
  assert_output "BUILDING: building on root@127.0.0.1:${SSHD_PORT[b1]}"
  sleep 2
  stop_sshd b1
  # b2 joins; the next ticks requeue the lost build and give it to b2.
  builder_section b2 "$ARCH" >>"$T/buildme.conf"
  local tick
  for tick in 1 2 3 4 5 6 7 8 9 10; do
    sleep 1
    buildme --foreground
    [ "$(build_state 1 "$ARCH")" = success ] && break
  done
  [ "$(build_state 1 "$ARCH")" = success ] || fail "not built: $(build_field 1 "$ARCH" Reason)"
  [ "$(build_field 1 "$ARCH" Slot)" = b2.root ] || fail "built on $(build_field 1 "$ARCH" Slot)"
  [ "$(build_field 1 "$ARCH" Attempts)" = 2 ] || fail "attempts $(build_field 1 "$ARCH" Attempts)"
  grep -q "b1.root" <<<"$(build_field 1 "$ARCH" Avoid)" || fail "b1 not avoided"
  buildme show 1
  assert_output "#1 on root@127.0.0.1:${SSHD_PORT[b1]}"
  assert_output "#2 on root@127.0.0.1:${SSHD_PORT[b2]}"
}

test_an_unreachable_builder_is_set_aside_and_the_upload_keeps_its_attempts()
{
  # A typo in a builder's port is the builder's problem, never the upload's.
  cat >>"$T/buildme.conf" <<CONF
max_attempts = 2

[builder gone]
host = 127.0.0.1
port = 1
users = root
arches = $ARCH
identity = $T/client_key
known_hosts = $T/known_hosts
CONF
  client_key
  : >"$T/known_hosts"
  upload 1.0-1
  buildme --foreground
  assert_output "SET ASIDE: cannot reach root@127.0.0.1:1"
  [ "$(build_state 1 "$ARCH")" = queued ] || fail "after one tick: $(build_state 1 "$ARCH")"
  [ "$(build_field 1 "$ARCH" Uncounted)" = 1 ] || fail "the attempt counted"
  for tick in 2 3 4; do
    buildme --foreground
    assert_status 0
  done
  # Set aside: no more attempts while its back-off lasts, and never given up.
  [ "$(build_state 1 "$ARCH")" = queued ] || fail "after four ticks: $(build_state 1 "$ARCH")"
  [ "$(build_field 1 "$ARCH" Attempts)" = 1 ] || fail "attempts $(build_field 1 "$ARCH" Attempts)"
  grep -q "builder gone is set aside (cannot reach" <<<"$(build_field 1 "$ARCH" Reason)" || fail "reason: $(build_field 1 "$ARCH" Reason)"
  grep -q "^State: queued" "$STATE/jobs/1/job.info" || fail "job $(sed -n 's/^State: //p' "$STATE/jobs/1/job.info")"
  buildme hosts
  assert_output "SET ASIDE until"
  assert_output "Connection refused"
}

test_a_build_that_runs_too_long_is_stopped_and_reported()
{
  start_sshd b1 || return
  local slow
  slow=$(slow_build_command)
  sed -i 's/sleep "${SLOW:-4}"/sleep 60/' "$T/slow-build"
  echo "build_timeout = 3" >>"$T/buildme.conf"
  builder_section b1 "$ARCH" "$slow" >>"$T/buildme.conf"
  upload 1.0-1
  local start=$SECONDS
  buildme --foreground
  [ $((SECONDS - start)) -lt 30 ] || fail "the timeout did not stop the build in time"
  [ "$(build_state 1 "$ARCH")" = build-failed ] || fail "state $(build_state 1 "$ARCH")"
  grep -q "still running after 3 s (build_timeout)" <<<"$(build_field 1 "$ARCH" Reason)" || fail "reason: $(build_field 1 "$ARCH" Reason)"
  runs_under "$T" "sleep 60" && fail "the remote build still runs"
  assert_file "$T/results/fremantle/1/$ARCH/summary.log"
  # retry builds it again (with time enough this time).
  sed -i 's/^build_timeout = 3$/build_timeout = 600/' "$T/buildme.conf"
  sed -i 's/sleep 60/sleep 0/' "$T/slow-build"
  buildme retry 1
  assert_status 0
  [ "$(build_state 1 "$ARCH")" = queued ] || fail "retry did not requeue"
  buildme --foreground
  [ "$(build_state 1 "$ARCH")" = success ] || fail "retried build: $(build_state 1 "$ARCH")"
  assert_file "$T/results/fremantle/1/$ARCH/build.log.1"
  assert_contains "$T/results/fremantle/1/$ARCH/build.log.1" "build_timeout"
  # Each attempt once, with how it ended: the retried one is no builder error.
  buildme show 1
  assert_output "[$ARCH] #1 on root@127.0.0.1:${SSHD_PORT[b1]}"
  assert_output "build-failed stopped: still running after 3 s (build_timeout)"
  assert_output "log: $T/results/fremantle/1/$ARCH/build.log.1"
  assert_output "[$ARCH] #2 on root@127.0.0.1:${SSHD_PORT[b1]}"
  [ "$(grep -c "\[$ARCH\] #1 " <<<"$OUT")" -eq 1 ] || fail "attempt 1 shown more than once"
  assert_no_output "retried by an operator"
}

test_cancel_stops_a_running_build()
{
  local slow
  slow=$(slow_build_command)
  sed -i 's/sleep "${SLOW:-4}"/sleep 60/' "$T/slow-build"
  printf '\n[builder here]\nhost = local\n%s\n' "$slow" >>"$T/buildme.conf"
  upload 1.0-1
  buildme
  assert_output "BUILDING: building on local#1"
  local waited
  for waited in $(seq 1 50); do
    grep -q "slow build starting" "$T/results/fremantle/1/$ARCH/build.log" 2>/dev/null && break
    sleep 0.1
  done
  runs_under "$T" "sleep 60" || fail "the build's own sleep is not found (runs_under broken?)"
  buildme cancel 1
  assert_status 0
  wait_build 1 "$ARCH"
  [ "$(build_state 1 "$ARCH")" = cancelled ] || fail "state $(build_state 1 "$ARCH")"
  runs_under "$T" "sleep 60" && fail "the build still runs"
  grep -q "^State: cancelled" "$STATE/jobs/1/job.info" || fail "job not cancelled"
  buildme hosts
  assert_output "local#1"
  assert_output "free"
}

test_a_killed_worker_frees_its_slot_and_the_build_is_requeued()
{
  local slow
  slow=$(slow_build_command)
  sed -i 's/sleep "${SLOW:-4}"/sleep 60/' "$T/slow-build"
  printf '\n[builder here]\nhost = local\n%s\n' "$slow" >>"$T/buildme.conf"
  upload 1.0-1
  buildme
  local pid waited
  for waited in $(seq 1 50); do
    pid=$(build_field 1 "$ARCH" Pid)
    [ -n "$pid" ] && break
    sleep 0.1
  done
  [ -n "$pid" ] || { fail "no worker pid recorded"; return; }
  buildme hosts
  assert_output "job 1 hello-buildme 1.0-1 [$ARCH]"
  # Once the build runs, the worker dies; the build goes on without it, and
  # the next build in that slot stops it first.
  for waited in $(seq 1 100); do
    grep -q "slow build starting" "$T/results/fremantle/1/$ARCH/build.log" 2>/dev/null && break
    sleep 0.1
  done
  kill -9 "$pid"
  sleep 0.5
  # The build command's own process names this test's folder.
  runs_under "$T" "$T/slow-build" || fail "the build did not outlive its worker (test broken?)"
  sed -i 's/sleep 60/sleep 0/' "$T/slow-build"
  buildme --foreground
  assert_output "REQUEUED: requeued after attempt 1: the worker on local#1 stopped"
  assert_output "BUILDING: building on local#1 (attempt 2)"
  [ "$(build_state 1 "$ARCH")" = success ] || fail "state $(build_state 1 "$ARCH")"
  ! runs_under "$T" "$T/slow-build" || fail "the first attempt's build still runs"
  assert_contains "$T/results/fremantle/1/$ARCH/build.log" "stopping what an earlier build left running"
}

test_two_arches_go_to_the_builders_that_build_them()
{
  # A second architecture that this machine cannot compile for: its builder
  # runs a build command that packs a real (if tiny) .deb with dpkg-deb.
  cat >"$T/fake-build" <<'SCRIPT'
#!/bin/bash
set -e
arch=$4
mkdir -p out pkg/DEBIAN
printf 'Package: hello-buildme\nVersion: 1.0-1\nArchitecture: %s\nMaintainer: x <x@example.org>\nDescription: fake\n' "$arch" >pkg/DEBIAN/control
dpkg-deb --build pkg "out/hello-buildme_1.0-1_$arch.deb" >/dev/null
echo "BUILDME-STATUS: 0 success"
SCRIPT
  chmod +x "$T/fake-build"
  local other=armel
  [ "$ARCH" = armel ] && other=i386
  printf '\n[product fremantle]\narches = %s %s\n' "$ARCH" "$other" >>"$T/buildme.conf"
  printf '\n[builder native]\nhost = local\n' >>"$T/buildme.conf"
  printf '\n[builder cross]\nhost = local\narches = %s\nbuild_command = %s --dsc {dsc} --arch {arch}\n' "$other" "$T/fake-build" >>"$T/buildme.conf"
  upload 1.0-1
  buildme --foreground
  assert_status 0
  [ "$(build_state 1 "$ARCH")" = success ] || fail "$ARCH: $(build_state 1 "$ARCH")"
  [ "$(build_state 1 "$other")" = success ] || fail "$other: $(build_state 1 "$other"): $(build_field 1 "$other" Reason)"
  [ "$(build_field 1 "$ARCH" Slot)" = native.1 ] || fail "$ARCH built on $(build_field 1 "$ARCH" Slot)"
  [ "$(build_field 1 "$other" Slot)" = cross.1 ] || fail "$other built on $(build_field 1 "$other" Slot)"
  [ "$(build_field 1 "$ARCH" With-Indep)" = yes ] || fail "first arch should build arch:all"
  [ "$(build_field 1 "$other" With-Indep)" = no ] || fail "second arch should not"
  assert_file "$T/repo/incoming/extras-devel/fremantle/job-1-$other-1/hello-buildme_1.0-1_$other.deb"
  assert_file "$T/repo/incoming/extras-devel/fremantle/job-1-$other-1/hello-buildme_1.0-1.dsc"
  assert_file "$T/repo/incoming/extras-devel/fremantle/job-1-$ARCH-1/$DEB"
}

test_a_job_no_builder_can_take_says_why()
{
  printf '\n[product fremantle]\narches = armel\n' >>"$T/buildme.conf"
  printf '\n[builder here]\nhost = local\narches = i386\n' >>"$T/buildme.conf"
  upload 1.0-1
  buildme
  assert_output "WAITING: no builder for armel"
  [ "$(build_state 1 armel)" = queued ] || fail "state $(build_state 1 armel)"
}

test_a_build_failure_is_not_retried()
{
  # A package whose build fails: the example with a broken hello.c.
  local src=$T/broken
  cp -a "$BUILDME_SOURCE/example/hello-buildme" "$src"
  echo "this is not C" >>"$src/hello.c"
  tar --exclude=debian -C "$T" -czf "$T/hello-buildme_1.0.orig.tar.gz" broken
  (cd "$T" && mv broken hello-buildme-1.0 && dpkg-source -b hello-buildme-1.0 >/dev/null 2>&1) || { fail "cannot make the broken source"; return; }
  cp "$T"/hello-buildme_1.0-1.dsc "$T"/hello-buildme_1.0-1.debian.tar.xz "$T"/hello-buildme_1.0.orig.tar.gz "$INCOMING/"
  age_all
  buildme --foreground
  [ "$(build_state 1 "$ARCH")" = build-failed ] || fail "state $(build_state 1 "$ARCH"): $(build_field 1 "$ARCH" Reason)"
  [ "$(build_field 1 "$ARCH" Attempts)" = 1 ] || fail "it was retried"
  assert_contains "$T/results/fremantle/1/$ARCH/summary.log" "BUILDME-STATUS: 10"
  buildme --foreground
  [ "$(build_field 1 "$ARCH" Attempts)" = 1 ] || fail "a later tick retried it"
  assert_absent "$T/repo/incoming/extras-devel/fremantle/job-1-$ARCH-1"
  [ -z "$(ls -A "$T/repo/incoming/extras-devel/fremantle" 2>/dev/null)" ] || fail "the queue holds $(ls -A "$T/repo/incoming/extras-devel/fremantle")"
}

run_tests
