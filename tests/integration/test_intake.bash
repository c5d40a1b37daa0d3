#!/bin/bash
# buildme intake over real folders with real source packages.
source "$(dirname "$0")/lib.bash"
# Intake alone: these suites start no builds.
BUILDME_EXTRA=--intake-only

DSC=hello-buildme_1.0-1.dsc
ORIG=hello-buildme_1.0.orig.tar.gz
DEBIAN=hello-buildme_1.0-1.debian.tar.xz
CHANGES=hello-buildme_1.0-1_source.changes
BUILDINFO=hello-buildme_1.0-1_source.buildinfo

test_a_good_dsc_upload_becomes_a_queued_job()
{
  upload 1.0-1 --dsc-only
  age_all
  buildme
  assert_status 0
  assert_output ">>>> $INCOMING/$DSC"
  assert_output "ACCEPTED: hello-buildme 1.0-1 queued as job 1"
  local job=$STATE/jobs/1
  for f in $DSC $ORIG $DEBIAN; do
    assert_file "$job/upload/$f"
    assert_absent "$INCOMING/$f"
    assert_same "$job/upload/$f" "$(source_upload 1.0-1 --dsc-only)/$f"
  done
  assert_contains "$job/job.info" "State: queued"
  assert_contains "$job/job.info" "Uploader: Example Maintainer <maintainer@example.org>"
  assert_contains "$job/job.info" "Architecture: any"
  assert_absent "$INCOMING/rejected"
}

test_a_changes_upload_takes_every_file_it_lists()
{
  upload 1.0-1
  buildme
  assert_status 0
  assert_output ">>>> $INCOMING/$CHANGES"
  assert_output "ACCEPTED: hello-buildme 1.0-1 queued as job 1"
  for f in $CHANGES $DSC $ORIG $DEBIAN $BUILDINFO; do
    assert_file "$STATE/jobs/1/upload/$f"
  done
  [ -z "$(ls -A "$INCOMING")" ] || fail "incoming not empty: $(ls -A "$INCOMING")"
}

test_a_changes_without_the_orig_still_needs_the_orig_the_dsc_lists()
{
  # A .changes made with dpkg-genchanges -sd omits the orig tarball; the
  # .dsc still lists it, so buildme waits for it and then takes it.
  local dir
  dir=$(source_upload 1.0-2)
  cp -p "$dir"/hello-buildme_1.0-2* "$INCOMING/"
  sed -i "/$ORIG/d" "$INCOMING/hello-buildme_1.0-2_source.changes"
  buildme
  assert_output "WAITING: waiting for $ORIG"
  cp -p "$dir/$ORIG" "$INCOMING/"
  buildme
  assert_output "ACCEPTED: hello-buildme 1.0-2 queued as job 1"
  assert_file "$STATE/jobs/1/upload/$ORIG"
}

test_a_wrong_checksum_is_rejected_with_the_reason()
{
  upload 1.0-1 --dsc-only
  # Same size, one byte different.
  printf 'X' | dd of="$INCOMING/$DEBIAN" bs=1 seek=100 conv=notrunc status=none
  age_all
  buildme
  assert_status 0
  assert_output "REJECTED: "
  assert_output "checksum of $DEBIAN"
  for f in $DSC $ORIG $DEBIAN; do
    assert_file "$INCOMING/rejected/$f"
    assert_absent "$INCOMING/$f"
  done
  assert_contains "$INCOMING/rejected/$DSC.reason" "checksum of $DEBIAN"
  assert_contains "$INCOMING/rejected/$DSC.reason" "Product: fremantle"
  [ "$(job_count)" -eq 0 ] || fail "a job was made"
}

test_a_wrong_size_is_rejected()
{
  upload 1.0-1 --dsc-only
  echo junk >>"$INCOMING/$ORIG"
  age 60 "$INCOMING"/*
  buildme
  assert_output "REJECTED: $ORIG is 447 bytes but $DSC lists 442 bytes"
  assert_file "$INCOMING/rejected/$ORIG"
  assert_contains "$INCOMING/rejected/$DSC.reason" "$ORIG is 447 bytes"
}

test_a_short_file_waits_while_young_and_is_rejected_when_old()
{
  upload 1.0-1 --dsc-only
  truncate -s 100 "$INCOMING/$ORIG"
  age 60 "$INCOMING"/*
  buildme
  assert_output "WAITING: waiting for $ORIG (incomplete)"
  assert_file "$INCOMING/$DSC"
  age 700 "$INCOMING"/*
  buildme
  assert_output "REJECTED: $ORIG is 100 bytes but $DSC lists 442 bytes"
  assert_file "$INCOMING/rejected/$DSC"
}

test_a_missing_file_waits_within_the_grace_period()
{
  upload 1.0-1 --dsc-only
  rm "$INCOMING/$ORIG"
  age 300 "$INCOMING"/*
  buildme
  assert_status 0
  assert_output "WAITING: waiting for $ORIG"
  assert_file "$INCOMING/$DSC"
  assert_file "$INCOMING/$DEBIAN"
  assert_absent "$INCOMING/rejected"
  # The file arrives: accepted on the next tick.
  cp -p "$(source_upload 1.0-1 --dsc-only)/$ORIG" "$INCOMING/"
  age 300 "$INCOMING/$ORIG"
  buildme
  assert_output "ACCEPTED: hello-buildme 1.0-1 queued as job 1"
}

test_a_missing_file_after_the_grace_period_is_rejected()
{
  upload 1.0-1 --dsc-only
  rm "$INCOMING/$ORIG"
  age 601 "$INCOMING"/*
  buildme
  assert_output "REJECTED: $ORIG is missing (listed in $DSC; waited"
  assert_file "$INCOMING/rejected/$DSC"
  assert_file "$INCOMING/rejected/$DEBIAN"
  assert_contains "$INCOMING/rejected/$DSC.reason" "$ORIG is missing"
}

test_a_second_reject_of_the_same_name_keeps_both()
{
  # The crash on the Maemo page: "Destination path .../rejected/X.dsc
  # already exists". Here every reject of the same name gets a new name.
  local round
  for round in 1 2 3; do
    upload 1.0-1 --dsc-only
    rm "$INCOMING/$ORIG"
    echo "round $round" >>"$INCOMING/$DEBIAN"
    age_all
    buildme
    assert_status 0
    assert_output "REJECTED: "
  done
  assert_file "$INCOMING/rejected/$DSC"
  assert_file "$INCOMING/rejected/$DSC.1"
  assert_file "$INCOMING/rejected/$DSC.2"
  assert_file "$INCOMING/rejected/$DSC.reason"
  assert_file "$INCOMING/rejected/$DSC.1.reason"
  assert_file "$INCOMING/rejected/$DSC.2.reason"
  assert_contains "$INCOMING/rejected/$DEBIAN" "round 1"
  assert_contains "$INCOMING/rejected/$DEBIAN.1" "round 2"
  assert_contains "$INCOMING/rejected/$DEBIAN.2" "round 3"
  assert_contains "$INCOMING/rejected/$DSC.2.reason" "$DEBIAN (as $DEBIAN.2)"
}

test_a_reject_does_not_stop_the_run()
{
  # A bad upload and a good one: both handled in one run.
  upload 1.0-1 --dsc-only
  upload 1.0-3 --dsc-only
  rm "$INCOMING/hello-buildme_1.0-1.debian.tar.xz"
  age_all
  buildme
  assert_status 0
  assert_output "REJECTED: hello-buildme_1.0-1.debian.tar.xz is missing"
  assert_output "ACCEPTED: hello-buildme 1.0-3 queued as job 1"
}

test_a_duplicate_upload_is_rejected()
{
  upload 1.0-1 --dsc-only
  age_all
  buildme
  assert_output "ACCEPTED"
  upload 1.0-1 --dsc-only
  age_all
  buildme
  assert_output "REJECTED: hello-buildme 1.0-1 was already accepted for fremantle (job 1)"
  assert_file "$INCOMING/rejected/$DSC"
  [ "$(job_count)" -eq 1 ] || fail "expected one job"
}

test_two_dsc_sharing_an_orig_tarball_are_both_accepted()
{
  upload 1.0-1 --dsc-only
  upload 1.0-2 --dsc-only
  age_all
  buildme
  assert_status 0
  assert_output "ACCEPTED: hello-buildme 1.0-1 queued as job"
  assert_output "ACCEPTED: hello-buildme 1.0-2 queued as job"
  local one two
  one=$(job_dir_of 1.0-1)
  two=$(job_dir_of 1.0-2)
  assert_file "$one/upload/$ORIG"
  assert_file "$two/upload/$ORIG"
  assert_absent "$INCOMING/$ORIG"
}

test_a_rejected_upload_leaves_a_shared_orig_for_the_other()
{
  upload 1.0-1 --dsc-only
  upload 1.0-2 --dsc-only
  rm "$INCOMING/hello-buildme_1.0-2.debian.tar.xz"
  age 120 "$INCOMING"/*
  # 1.0-2 is missing a file but young: it waits; 1.0-1 must not take the
  # orig away from it.
  touch "$INCOMING/hello-buildme_1.0-2.dsc"
  age 10000 "$INCOMING/hello-buildme_1.0-1.dsc"
  buildme
  assert_output "ACCEPTED: hello-buildme 1.0-1"
  assert_output "WAITING: waiting for hello-buildme_1.0-2.debian.tar.xz"
  assert_file "$INCOMING/$ORIG"
  # Now 1.0-2 is rejected after its grace period: it takes the orig along,
  # since no other upload needs it any more.
  age 700 "$INCOMING"/*
  buildme
  assert_output "REJECTED: hello-buildme_1.0-2.debian.tar.xz is missing"
  assert_file "$INCOMING/rejected/$ORIG"
  assert_absent "$INCOMING/$ORIG"
}

test_a_shared_orig_stays_when_the_other_upload_is_rejected_first()
{
  upload 1.0-1 --dsc-only
  upload 1.0-2 --dsc-only
  echo broken >>"$INCOMING/hello-buildme_1.0-1.debian.tar.xz"
  age_all
  age 7200 "$INCOMING/hello-buildme_1.0-1.dsc"   # 1.0-1 is taken first
  buildme
  assert_output "REJECTED: hello-buildme_1.0-1.debian.tar.xz is"
  assert_output "ACCEPTED: hello-buildme 1.0-2"
  assert_contains "$INCOMING/rejected/hello-buildme_1.0-1.dsc.reason" "another upload there also lists them: $ORIG"
  assert_file "$(job_dir_of 1.0-2)/upload/$ORIG"
}

test_priority_txt_decides_the_order()
{
  upload 1.0-1 --dsc-only
  upload 1.0-2 --dsc-only
  upload 1.0-3 --dsc-only
  age 5000 "$INCOMING"/*
  age 9000 "$INCOMING/hello-buildme_1.0-1.dsc"
  age 8000 "$INCOMING/hello-buildme_1.0-2.dsc"
  age 7000 "$INCOMING/hello-buildme_1.0-3.dsc"
  printf '# urgent first\nhello-buildme_1.0-3.dsc\n\nno-such-file.dsc\n' >"$INCOMING/priority.txt"
  buildme
  assert_status 0
  grep -q "^Version: 1.0-3" "$STATE/jobs/1/job.info" || fail "job 1 is not 1.0-3"
  grep -q "^Priority: yes" "$STATE/jobs/1/job.info" || fail "job 1 not marked priority"
  grep -q "^Version: 1.0-1" "$STATE/jobs/2/job.info" || fail "job 2 is not the oldest, 1.0-1"
  grep -q "^Version: 1.0-2" "$STATE/jobs/3/job.info" || fail "job 3 is not 1.0-2"
  assert_file "$INCOMING/priority.txt"
}

test_a_lone_dsc_waits_until_it_has_settled()
{
  upload 1.0-1 --dsc-only
  buildme
  assert_output "WAITING: complete; a lone .dsc is taken once it has been still"
  assert_file "$INCOMING/$DSC"
}

test_a_file_no_upload_lists_is_set_aside_once_it_has_been_there_orphan_after()
{
  echo "orphan_after = 3" >>"$T/buildme.conf"
  # Made first: making a source package can take seconds.
  local dir
  dir=$(source_upload 1.0-2 --dsc-only)
  upload 1.0-1 --dsc-only
  echo stray >"$INCOMING/stray_1.0.tar.gz"
  echo partial >"$INCOMING/.upload-in-progress"
  mkdir "$INCOMING/notes"
  # Old by their mtime (as scp -p makes them), but they arrived just now.
  age_all
  # An upload still waiting for its .debian.tar.xz (within the grace
  # period): what it lists stays.
  cp "$dir/hello-buildme_1.0-2.dsc" "$INCOMING/"
  buildme
  assert_status 0
  assert_output "ACCEPTED: hello-buildme 1.0-1 queued as job 1"
  assert_no_output "ORPHAN"
  assert_file "$INCOMING/stray_1.0.tar.gz"

  sleep 4
  buildme
  assert_status 0
  assert_output "ORPHAN: no upload in $INCOMING lists stray_1.0.tar.gz"
  assert_absent "$INCOMING/stray_1.0.tar.gz"
  assert_file "$INCOMING/rejected/stray_1.0.tar.gz"
  assert_contains "$INCOMING/rejected/stray_1.0.tar.gz.reason" "Nothing was deleted"
  # What the waiting upload lists, hidden files and folders stay.
  assert_file "$INCOMING/hello-buildme_1.0-2.dsc"
  assert_file "$INCOMING/$ORIG"
  assert_file "$INCOMING/.upload-in-progress"
  [ -d "$INCOMING/notes" ] || fail "the folder notes/ was moved"

  # A second stray of the same name is set aside beside the first.
  echo "stray again" >"$INCOMING/stray_1.0.tar.gz"
  sleep 4
  buildme
  assert_file "$INCOMING/rejected/stray_1.0.tar.gz.1"
  assert_contains "$INCOMING/rejected/stray_1.0.tar.gz" "stray"
}

test_while_a_control_file_cannot_be_read_nothing_is_set_aside()
{
  echo "orphan_after = 1" >>"$T/buildme.conf"
  echo stray >"$INCOMING/stray_1.0.tar.gz"
  printf 'Format: 3.0 (quilt)\nSource: hello-bu' >"$INCOMING/hello-buildme_1.0-3.dsc"
  sleep 2
  buildme
  assert_output "WAITING"
  assert_no_output "ORPHAN"
  assert_file "$INCOMING/stray_1.0.tar.gz"
}

test_dry_run_moves_nothing()
{
  upload 1.0-1 --dsc-only
  upload 1.0-2 --dsc-only
  rm "$INCOMING/hello-buildme_1.0-2.debian.tar.xz"
  age_all
  local before
  before=$(ls -la --time-style=full-iso "$INCOMING")
  buildme --dry-run
  assert_status 0
  assert_output "ACCEPTED: hello-buildme 1.0-1: 3 files verified (dry run: nothing moved)"
  assert_output "REJECTED: hello-buildme_1.0-2.debian.tar.xz is missing"
  [ "$before" = "$(ls -la --time-style=full-iso "$INCOMING")" ] || fail "incoming changed"
  assert_absent "$STATE"
}

test_list_before_the_first_tick_prints_an_empty_table_and_filters_by_state_product_source()
{
  local header="  JOB  PRODUCT      SOURCE VERSION                   STATE      BUILDS"
  buildme list
  assert_status 0
  [ "$OUT" = "$header" ] || fail "not an empty table: $OUT"
  assert_absent "$STATE"
  upload 1.0-1 --dsc-only
  upload 1.0-2 --dsc-only
  age_all
  buildme
  assert_status 0
  sed -i 's/^State: queued$/State: failed/' "$STATE/jobs/1/job.info"
  buildme list
  assert_output "hello-buildme 1.0-1"
  assert_output "hello-buildme 1.0-2"
  buildme list --state failed
  assert_status 0
  assert_output "hello-buildme 1.0-1"
  assert_no_output "hello-buildme 1.0-2"
  buildme list --state queued,held
  assert_no_output "hello-buildme 1.0-1"
  assert_output "hello-buildme 1.0-2"
  buildme list --product fremantle --source hello-buildme --state failed,queued
  assert_output "hello-buildme 1.0-1"
  assert_output "hello-buildme 1.0-2"
  buildme list --source other
  assert_status 0
  [ "$OUT" = "$header" ] || fail "not an empty table: $OUT"
  buildme list --state bogus
  assert_status 2
  assert_output "--state: 'bogus' is not a job state; a job is one of queued, building, held, built, failed, cancelled"
  buildme list --product diablo
  assert_status 2
  assert_output "--product: no product diablo in $T/buildme.conf (products: fremantle)"
  buildme --state queued
  assert_status 2
  assert_output "--state, --product and --source are for list"
}

test_check_reports_good_and_bad_uploads()
{
  local dir
  dir=$(source_upload 1.0-1)
  cp -p "$dir"/* "$T/"
  OUT=$("$BUILDME" check "$T/$CHANGES" 2>&1); STATUS=$?
  assert_status 0
  assert_output "GOOD"
  echo x >>"$T/$ORIG"
  OUT=$("$BUILDME" check "$T/$DSC" 2>&1); STATUS=$?
  assert_status 1
  assert_output "BAD: $ORIG is 444 bytes but $DSC lists 442 bytes"
  OUT=$("$BUILDME" check 2>&1); STATUS=$?
  assert_status 2
  OUT=$("$BUILDME" check "$T/nothing.txt" 2>&1); STATUS=$?
  assert_status 2
  OUT=$("$BUILDME" check "$T/absent.dsc" 2>&1); STATUS=$?
  assert_status 1
}

test_a_bad_config_names_file_section_and_key()
{
  echo "grace_period = ten minutes" >>"$T/buildme.conf"
  buildme
  assert_status 2
  assert_output "$T/buildme.conf"
  assert_output "grace_period"
  buildme_missing=$("$BUILDME" --config "$T/none.conf" 2>&1); STATUS=$?
  OUT=$buildme_missing
  assert_status 2
  assert_output "$T/none.conf"
}

test_help_and_version()
{
  OUT=$("$BUILDME" --help); STATUS=$?
  assert_status 0
  assert_output "Usage: buildme"
  assert_output "--dry-run"
  assert_output "buildme list [--state STATE[,STATE...]] [--product NAME] [--source NAME]"
  OUT=$("$BUILDME" --version); STATUS=$?
  assert_output "buildme 0."
  OUT=$("$BUILDME" --bogus 2>&1); STATUS=$?
  assert_status 2
  assert_output "unknown option --bogus"
}

test_under_cron_the_lines_are_plain_and_go_to_the_log_file()
{
  echo "log_file = $T/buildme.log" >>"$T/buildme.conf"
  upload 1.0-1
  buildme </dev/null
  assert_status 0
  grep -q $'\033' <<<"$OUT" && fail "colour codes without a terminal"
  assert_contains "$T/buildme.log" ">>>> $INCOMING/$CHANGES"
  assert_contains "$T/buildme.log" "ACCEPTED: hello-buildme 1.0-1 queued as job 1"
  grep -q $'\033' "$T/buildme.log" && fail "colour codes in the log file"
  # On a terminal the verdict is coloured (script(1) gives buildme a pty).
  upload 1.0-3 --dsc-only
  age_all
  OUT=$(script -qec "$BUILDME --config $T/buildme.conf --intake-only" /dev/null)
  assert_output $'\033[1;32mACCEPTED'
  assert_contains "$T/buildme.log" "ACCEPTED: hello-buildme 1.0-3 queued as job 2"
}

run_tests
