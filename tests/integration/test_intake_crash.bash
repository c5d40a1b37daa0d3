#!/bin/bash
# Two runs at once, and runs killed at any point: nothing lost, nothing
# processed twice, nothing half-moved once a run completes.
source "$(dirname "$0")/lib.bash"
# Intake alone: these suites start no builds.
BUILDME_EXTRA=--intake-only

# make_many N: N distinct uploads (versions 1.0-1 .. 1.0-N) sharing one
# orig, plus N/3 that will be rejected (their debian tarball is missing).
make_many()
{
  local n=$1 i
  for i in $(seq 1 "$n"); do
    upload "1.0-$i" --dsc-only
  done
  for i in $(seq 1 3 "$n"); do
    rm -f "$INCOMING/hello-buildme_1.0-$i.debian.tar.xz"
  done
  age_all
}

# Every upload ends in exactly one place: a job, rejected/, or incoming.
check_nothing_lost()
{
  local n=$1 i dsc places
  for i in $(seq 1 "$n"); do
    dsc=hello-buildme_1.0-$i.dsc
    places=0
    [ -e "$INCOMING/$dsc" ] && places=$((places + 1))
    [ -e "$INCOMING/rejected/$dsc" ] && places=$((places + 1))
    places=$((places + $(find "$STATE/jobs" -path "*/upload/$dsc" 2>/dev/null | wc -l)))
    [ "$places" -eq 1 ] || fail "$dsc is in $places places"
  done
}

check_all_done()
{
  local n=$1 i rejected=0 accepted
  for i in $(seq 1 3 "$n"); do rejected=$((rejected + 1)); done
  accepted=$((n - rejected))
  [ "$(job_count)" -eq "$accepted" ] || fail "$(job_count) jobs, expected $accepted"
  assert_count "$rejected" "$INCOMING/rejected" "hello-buildme_*.dsc"
  assert_count "$rejected" "$INCOMING/rejected" "*.reason"
  assert_count 0 "$INCOMING/rejected" "*.dsc.1"
  [ -z "$(ls -A "$STATE/txn")" ] || fail "journal left behind: $(ls -A "$STATE/txn")"
  [ -z "$(find "$STATE/jobs" -maxdepth 1 -name '.*')" ] || fail "partial job left behind"
  [ -z "$(find "$INCOMING" -maxdepth 1 -type f)" ] || fail "incoming not empty: $(ls "$INCOMING")"
  # Every accepted job is whole and verifies.
  local job
  for job in "$STATE"/jobs/[0-9]*; do
    "$BUILDME" check "$job/upload/$(sed -n 's/^Upload: //p' "$job/job.info")" >/dev/null ||
      fail "$job does not verify"
  done
}

test_a_second_run_exits_at_once_while_one_runs()
{
  upload 1.0-1 --dsc-only
  age_all
  mkdir -p "$STATE"
  flock "$STATE/buildme.lock" sleep 3 &
  local holder=$!
  sleep 0.3
  local start=$SECONDS
  buildme
  assert_status 0
  [ $((SECONDS - start)) -lt 2 ] || fail "buildme waited for the lock"
  assert_file "$INCOMING/hello-buildme_1.0-1.dsc"
  # With --wait it waits for the holder, then does the work.
  buildme --wait
  assert_status 0
  assert_output "ACCEPTED: hello-buildme 1.0-1 queued as job 1"
  wait $holder
}

test_two_runs_at_once_take_each_upload_once()
{
  make_many 12
  "$BUILDME" --config "$T/buildme.conf" --intake-only --wait >"$T/a.out" 2>&1 &
  local a=$!
  "$BUILDME" --config "$T/buildme.conf" --intake-only --wait >"$T/b.out" 2>&1 &
  local b=$!
  wait $a || fail "first run failed: $(cat "$T/a.out")"
  wait $b || fail "second run failed: $(cat "$T/b.out")"
  [ "$(cat "$T/a.out" "$T/b.out" | grep -c ACCEPTED)" -eq 8 ] || fail "not 8 accepts in all"
  check_nothing_lost 12
  check_all_done 12
}

test_a_run_killed_at_any_point_is_finished_by_the_next()
{
  local n=20
  make_many $n
  # Kill real runs at later and later moments until the work is done; after
  # each kill every upload is still in exactly one place. Kills that land
  # inside a move leave a journal, which the next run must finish.
  local delay=0.005 kills=0 inside=0 round
  while [ -n "$(find "$INCOMING" -maxdepth 1 -name '*.dsc')" ] && [ $kills -lt 60 ]; do
    "$BUILDME" --config "$T/buildme.conf" --intake-only >>"$T/killed.out" 2>&1 &
    local pid=$!
    sleep $delay
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    kills=$((kills + 1))
    if [ -n "$(find "$STATE/txn" -type f ! -name '.*' 2>/dev/null)" ]; then
      inside=$((inside + 1))
    fi
    check_nothing_lost $n
    delay=$(awk "BEGIN { print $delay + 0.007 }")
  done
  [ $inside -ge 1 ] || fail "no kill of $kills landed inside a move: recovery was not exercised"
  grep -q "(interrupted run)" "$T/killed.out" || fail "no run reported finishing an interrupted move"
  round=0
  while [ -n "$(find "$INCOMING" -maxdepth 1 -name '*.dsc')" ] || [ -n "$(ls -A "$STATE/txn" 2>/dev/null)" ]; do
    buildme
    assert_status 0
    round=$((round + 1))
    [ $round -lt 5 ] || { fail "runs do not finish the work"; break; }
  done
  echo "    $kills kills, $inside inside a move" >&2
  check_nothing_lost $n
  check_all_done $n
}

test_an_interrupted_reject_is_completed_from_its_journal()
{
  # The state a run killed between two moves of a reject leaves: the
  # journal is written and one file already moved.
  upload 1.0-1 --dsc-only
  mkdir -p "$STATE/txn" "$INCOMING/rejected"
  cat >"$STATE/txn/reject-1-1-1" <<JOURNAL
Action: reject
From: $INCOMING
Rejected-Dir: $INCOMING/rejected
Control: hello-buildme_1.0-1.dsc
Files:
 hello-buildme_1.0.orig.tar.gz
 hello-buildme_1.0-1.debian.tar.xz
Reason:
 something was wrong
JOURNAL
  mv "$INCOMING/hello-buildme_1.0.orig.tar.gz" "$INCOMING/rejected/"
  buildme
  assert_status 0
  assert_output "finished rejecting hello-buildme_1.0-1.dsc (interrupted run)"
  assert_file "$INCOMING/rejected/hello-buildme_1.0-1.dsc"
  assert_file "$INCOMING/rejected/hello-buildme_1.0-1.debian.tar.xz"
  assert_absent "$INCOMING/rejected/hello-buildme_1.0.orig.tar.gz.1"
  assert_contains "$INCOMING/rejected/hello-buildme_1.0-1.dsc.reason" "something was wrong"
  [ -z "$(ls -A "$STATE/txn")" ] || fail "journal left behind"
}

test_an_unreadable_journal_stops_intake_and_says_what_to_do()
{
  upload 1.0-1 --dsc-only
  age_all
  mkdir -p "$STATE/txn"
  printf 'garbage without colon\n' >"$STATE/txn/reject-bad"
  buildme
  assert_status 1
  assert_output "cannot replay $STATE/txn/reject-bad"
  assert_file "$INCOMING/hello-buildme_1.0-1.dsc"
}

run_tests
