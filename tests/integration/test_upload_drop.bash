#!/bin/bash
# upload-drop with real source packages: an upload must come whole.
source "$(dirname "$0")/lib.bash"

DROP=$BUILDME_BIN/upload-drop/upload-drop

drop() { OUT=$("$DROP" --config "$T/buildme.conf" --product fremantle "$@" 2>&1); STATUS=$?; printf '%s\n' "$OUT" | sed 's/^/    | /' >&2; }

test_a_lone_changes_without_its_files_is_refused_and_nothing_dropped()
{
  local dir
  dir=$(source_upload 1.0-1)
  drop "$dir/hello-buildme_1.0-1_source.changes"
  assert_status 1
  assert_output "hello-buildme_1.0-1_source.changes lists hello-buildme_1.0-1.dsc, which was not given; nothing was dropped"
  [ -z "$(ls -A "$INCOMING")" ] || fail "something was dropped: $(ls -A "$INCOMING")"
}

test_a_dsc_without_its_tarballs_is_refused()
{
  local dir
  dir=$(source_upload 1.0-1 --dsc-only)
  drop "$dir/hello-buildme_1.0-1.dsc" "$dir/hello-buildme_1.0.orig.tar.gz"
  assert_status 1
  assert_output "hello-buildme_1.0-1.dsc lists hello-buildme_1.0-1.debian.tar.xz, which was not given"
  [ -z "$(ls -A "$INCOMING")" ] || fail "something was dropped: $(ls -A "$INCOMING")"
}

test_files_already_in_incoming_need_not_be_given_again()
{
  local dir
  dir=$(source_upload 1.0-1)
  # The orig tarball scp'd earlier; the rest dropped now.
  cp -p "$dir/hello-buildme_1.0.orig.tar.gz" "$INCOMING/"
  drop "$dir/hello-buildme_1.0-1.dsc" "$dir/hello-buildme_1.0-1.debian.tar.xz" \
    "$dir/hello-buildme_1.0-1_source.changes" "$dir"/*.buildinfo
  assert_status 0
  BUILDME_EXTRA=--intake-only buildme
  assert_output "ACCEPTED: hello-buildme 1.0-1 queued as job 1"
}

run_tests
