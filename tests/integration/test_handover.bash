#!/bin/bash
# The hand-over from a build to the repository, killed at each of its steps
# (BUILDME_FAILPOINT sends the worker or queue-manage SIGKILL there): the
# build ends built exactly once, its packages reach the repository only
# with their source, the history says what the records say, and nothing a
# killed run left behind stays.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/repo.bash"
require_tools dpkg-buildpackage dpkg-deb

ARCH=$(dpkg --print-architecture)
DEB=hello-buildme_1.0-1_${ARCH}.deb
teardown() { drop_key; }

build_field() { sed -n "s/^$3: //p" "$STATE/jobs/$1/builds/$2.info" 2>/dev/null; }

setup()
{
  new_key
  repository_section extras-devel >>"$T/buildme.conf"
  printf '\n[builder here]\nhost = local\n' >>"$T/buildme.conf"
  QUEUE=$T/repo/incoming/extras-devel/fremantle
  STAGING=$T/staging/extras-devel
  upload 1.0-1
}

# What must hold once the build is over and queue-manage has run, however
# it was killed on the way: built once, published with its source, no
# temporaries, a history that agrees.
check_published()
{
  local attempts=$1
  [ "$(build_field 1 "$ARCH" State)" = success ] || fail "state $(build_field 1 "$ARCH" State): $(build_field 1 "$ARCH" Reason)"
  [ "$(build_field 1 "$ARCH" Handover)" = done ] || fail "hand-over $(build_field 1 "$ARCH" Handover)"
  [ "$(build_field 1 "$ARCH" Attempts)" = "$attempts" ] || fail "attempts $(build_field 1 "$ARCH" Attempts), expected $attempts"
  grep -q "^State: built" "$STATE/jobs/1/job.info" || fail "job $(sed -n 's/^State: //p' "$STATE/jobs/1/job.info")"
  queue_manage --repository extras-devel
  assert_status 0
  local pool=$STAGING/pool/main/h/hello-buildme
  assert_file "$pool/$DEB"
  assert_file "$pool/hello-buildme_1.0-1.dsc"
  assert_file "$pool/hello-buildme_1.0.orig.tar.gz"
  grep -q "^Package: hello-buildme$" "$STAGING/dists/fremantle/main/binary-$ARCH/Packages" || fail "not in Packages"
  grep -q "^Package: hello-buildme$" "$STAGING/dists/fremantle/main/source/Sources" || fail "source not in Sources"
  [ -z "$(ls -A "$QUEUE")" ] || fail "the queue still holds: $(ls -A "$QUEUE")"
  buildme show 1
  assert_no_output ": running"
  assert_output "#$attempts on local#1"
  assert_output ": success built"
}

test_a_worker_killed_before_the_record_says_built_is_requeued_and_its_copy_removed()
{
  setup
  BUILDME_FAILPOINT=worker:unit-assembled buildme --foreground
  [ "$(build_field 1 "$ARCH" State)" = building ] || fail "state $(build_field 1 "$ARCH" State)"
  [ -d "$QUEUE/.job-1-$ARCH-1.partial" ] || fail "the killed worker left no partial unit (failpoint not reached?)"
  assert_absent "$QUEUE/job-1-$ARCH-1"
  buildme --foreground
  assert_output "REQUEUED: requeued after attempt 1: the worker on local#1 stopped"
  assert_absent "$QUEUE/.job-1-$ARCH-1.partial"
  assert_file "$QUEUE/job-1-$ARCH-2/$DEB"
  check_published 2
}

test_a_worker_killed_after_the_record_says_built_is_finished_by_the_next_tick()
{
  setup
  BUILDME_FAILPOINT=worker:handover-recorded buildme --foreground
  [ "$(build_field 1 "$ARCH" State)" = success ] || fail "state $(build_field 1 "$ARCH" State)"
  [ "$(build_field 1 "$ARCH" Handover)" = pending ] || fail "hand-over $(build_field 1 "$ARCH" Handover)"
  [ -d "$QUEUE/.job-1-$ARCH-1.partial" ] || fail "no partial unit"
  # queue-manage does not take a unit that is not in place yet.
  queue_manage --repository extras-devel
  assert_absent "$STAGING/pool/main/h/hello-buildme/$DEB"
  buildme --foreground
  assert_output "QUEUED: finished the hand-over of attempt 1"
  assert_no_output "BUILDING"
  check_published 1
}

test_a_worker_killed_after_the_unit_is_in_the_queue_is_not_built_again()
{
  setup
  BUILDME_FAILPOINT=worker:unit-committed buildme --foreground
  [ "$(build_field 1 "$ARCH" Handover)" = pending ] || fail "hand-over $(build_field 1 "$ARCH" Handover)"
  assert_file "$QUEUE/job-1-$ARCH-1/$DEB"
  # The digests intake took travel with the unit, and agree with the files.
  assert_same "$STATE/jobs/1/source.digests" "$QUEUE/job-1-$ARCH-1/source.digests"
  local orig=hello-buildme_1.0.orig.tar.gz
  grep -q "^$orig $(stat -c %s "$QUEUE/job-1-$ARCH-1/$orig") [0-9a-f]* [0-9a-f]* $(sha256sum <"$QUEUE/job-1-$ARCH-1/$orig" | cut -d' ' -f1) " \
    "$QUEUE/job-1-$ARCH-1/source.digests" || fail "source.digests does not list $orig as it is"
  # The history was not told yet: the next tick puts it right.
  buildme show 1
  assert_output ": running"
  queue_manage --repository extras-devel
  assert_status 0
  buildme --foreground
  assert_no_output "BUILDING"
  check_published 1
}

test_queue_manage_killed_between_a_unit_s_source_and_its_packages_publishes_both_next_time()
{
  setup
  buildme --foreground
  assert_file "$QUEUE/job-1-$ARCH-1/$DEB"
  BUILDME_FAILPOINT=queue-manage:unit-source-taken queue_manage --repository extras-devel
  [ "$STATUS" -eq 137 ] || fail "queue-manage was not killed at the failpoint (status $STATUS)"
  assert_absent "$STAGING/dists/fremantle/Release"
  assert_file "$QUEUE/job-1-$ARCH-1/$DEB"
  check_published 1
}

test_a_retry_after_a_lost_hand_over_never_meets_its_own_earlier_result()
{
  setup
  BUILDME_FAILPOINT=worker:unit-assembled buildme --foreground
  # The operator cancels and retries while the attempt's copy is still there.
  buildme cancel 1
  assert_status 0
  buildme retry 1
  assert_status 0
  buildme --foreground
  assert_no_output "not overwritten"
  # Attempts go on counting across a retry: attempt 2 has a unit of its own.
  check_published 2
}

run_tests
