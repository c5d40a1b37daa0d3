#!/bin/bash
# repo-publish (rsync to live, locally and over SSH) and upload-drop.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/repo.bash"
source "$(dirname "$0")/sshd.bash"
require_tools rsync

ARCH=$(dpkg --print-architecture)
PUBLISH=$BUILDME_BIN/repo-publish/repo-publish
DROP=$BUILDME_BIN/upload-drop/upload-drop
teardown() { drop_key; stop_all_sshd; }

# A signed staging repository with one package, and a live target.
setup_repo()
{
  new_key
  repository_section extras-devel "$@" >>"$T/buildme.conf"
  sed -i 's|^repo_queue = .*|repo_queue = '"$T"'/queue/%(product)s|' "$T/buildme.conf"
  QUEUE=$T/queue/fremantle
  STAGING=$T/staging/extras-devel
  mkdir -p "$QUEUE"
  make_deb published 1.0-1 "$ARCH" "$QUEUE" >/dev/null
  queue_manage --repository extras-devel
  assert_file "$STAGING/.fremantle.changed"
}

publish() { OUT=$("$PUBLISH" --config "$T/buildme.conf" "$@" 2>&1); STATUS=$?; printf '%s\n' "$OUT" | sed 's/^/    | /' >&2; }

# The live copy holds exactly the staging tree, hidden files excepted.
assert_live_matches()
{
  local live=$1
  diff <(cd "$STAGING" && find . -path '*/.*' -prune -o -type f -print | sort) \
       <(cd "$live" && find . -type f | sort) >/dev/null || fail "live differs from staging"
  [ -z "$(cd "$live" && find . -mindepth 1 -name '.*')" ] || fail "hidden files were published"
}

test_a_changed_repository_is_published_to_a_local_target()
{
  setup_repo "live = $T/live"
  publish
  assert_status 0
  assert_output "PUBLISHED: extras-devel (fremantle) to $T/live"
  assert_live_matches "$T/live"
  assert_absent "$STAGING/.fremantle.changed"
  assert_absent "$STAGING/.fremantle.publishing"
  gpgv --keyring "$T/key.gpg" "$T/live/dists/fremantle/InRelease" 2>/dev/null || fail "live InRelease does not verify"
  # Nothing changed: nothing to do.
  publish
  assert_status 0
  assert_no_output "PUBLISHED"
}

test_a_repository_is_published_over_ssh_with_a_checked_host_key()
{
  start_sshd live || return
  setup_repo "live = root@127.0.0.1:$T/live-ssh" "live_port = ${SSHD_PORT[live]}" \
    "live_identity = $T/client_key" "live_known_hosts = $T/live/known_hosts"
  publish
  assert_status 0
  assert_live_matches "$T/live-ssh"
  # A host key that does not match is refused; the flag stays.
  touch "$STAGING/.fremantle.changed"
  ssh-keygen -q -t ed25519 -N '' -f "$T/other"
  echo "[127.0.0.1]:${SSHD_PORT[live]} $(cut -d' ' -f1-2 "$T/other.pub")" >"$T/live/known_hosts"
  publish
  assert_status 1
  assert_output "rsync to root@127.0.0.1:$T/live-ssh failed in stage 1"
  assert_file "$STAGING/.fremantle.changed"
}

# A fake rsync first on PATH, that runs the real one after doing $1.
fake_rsync()
{
  mkdir -p "$T/bin"
  cat >"$T/bin/rsync" <<SCRIPT
#!/bin/bash
echo "\$*" >>"$T/rsync.calls"
$1
exec /usr/bin/rsync "\$@"
SCRIPT
  chmod +x "$T/bin/rsync"
}

test_the_pool_goes_first_and_the_indices_last_with_deletions_last()
{
  setup_repo "live = $T/live"
  fake_rsync ":"
  PATH=$T/bin:$PATH publish
  assert_status 0
  [ "$(wc -l <"$T/rsync.calls")" -eq 2 ] || fail "expected two rsync stages"
  local first second
  first=$(sed -n 1p "$T/rsync.calls")
  second=$(sed -n 2p "$T/rsync.calls")
  grep -q -- "--exclude=/dists/\*/InRelease" <<<"$first" || fail "stage 1 sends indices: $first"
  grep -q -- "--delete" <<<"$first" && fail "stage 1 deletes: $first"
  grep -q -- "--delay-updates --delete --delete-after" <<<"$second" || fail "stage 2: $second"
}

test_a_flag_touched_during_the_sync_means_another_sync()
{
  setup_repo "live = $T/live"
  fake_rsync "touch $T/staging/extras-devel/.fremantle.changed"
  PATH=$T/bin:$PATH publish
  assert_status 0
  assert_output "changed again during the sync"
  assert_file "$STAGING/.fremantle.changed"
  publish
  assert_status 0
  assert_absent "$STAGING/.fremantle.changed"
}

test_rsync_failing_midway_keeps_the_flag_and_the_old_indices()
{
  setup_repo "live = $T/live"
  publish
  local old_release
  old_release=$(cat "$T/live/dists/fremantle/Release")
  make_deb second 1.0-1 "$ARCH" "$QUEUE" >/dev/null
  queue_manage --repository extras-devel
  # The second stage (the indices) fails.
  fake_rsync 'if grep -q -- --delay-updates <<<"$*"; then exit 23; fi'
  PATH=$T/bin:$PATH publish
  assert_status 1
  assert_output "failed in stage 2 of 2 (exit 23)"
  assert_file "$STAGING/.fremantle.changed"
  assert_absent "$STAGING/.fremantle.publishing"
  assert_file "$T/live/pool/main/s/second/second_1.0-1_$ARCH.deb"
  [ "$(cat "$T/live/dists/fremantle/Release")" = "$old_release" ] || fail "live indices changed"
  publish
  assert_status 0
  grep -q "^Package: second$" "$T/live/dists/fremantle/main/binary-$ARCH/Packages" || fail "second not live"
}

test_loop_mode_publishes_and_stops_on_sigterm()
{
  setup_repo "live = $T/live"
  "$PUBLISH" --config "$T/buildme.conf" --loop --interval 1 >"$T/loop.out" 2>&1 &
  local pid=$! waited
  for waited in $(seq 1 50); do
    [ -f "$T/live/dists/fremantle/InRelease" ] && break
    sleep 0.1
  done
  assert_file "$T/live/dists/fremantle/InRelease"
  kill -TERM $pid
  wait $pid || fail "loop did not exit cleanly"
}

test_upload_drop_puts_an_upload_in_place_with_owner_and_mode()
{
  sed -i 's/^\[buildme\]$/[buildme]\nupload_owner = nobody\nupload_group = nogroup\nupload_mode = 0640/' "$T/buildme.conf"
  local dir
  dir=$(source_upload 1.0-1)
  OUT=$("$DROP" --config "$T/buildme.conf" --product fremantle "$dir"/* 2>&1); STATUS=$?
  assert_status 0
  assert_output "dropped into $INCOMING"
  local f
  for f in "$dir"/*; do
    assert_same "$f" "$INCOMING/$(basename "$f")"
    [ "$(stat -c '%U:%G %a' "$INCOMING/$(basename "$f")")" = "nobody:nogroup 640" ] || fail "owner/mode of $(basename "$f"): $(stat -c '%U:%G %a' "$INCOMING/$(basename "$f")")"
  done
  [ -z "$(find "$INCOMING" -name '.*')" ] || fail "temporary files left"
  # The .changes came last.
  local newest
  newest=$(ls -t --time-style=full-iso "$INCOMING" | head -1)
  [[ $newest == *.changes ]] || fail "newest file is $newest"
  BUILDME_EXTRA=--intake-only buildme
  assert_output "ACCEPTED: hello-buildme 1.0-1 queued as job 1"
}

test_a_killed_upload_drop_is_finished_by_dropping_again()
{
  local dir dead
  dir=$(source_upload 1.0-1)
  # What a drop killed half-way leaves: one file renamed in, a hidden copy of
  # another under its dead pid; and a live drop's copy, which is not ours.
  sleep 0 &
  dead=$!
  wait "$dead"
  cp -p "$dir/hello-buildme_1.0.orig.tar.gz" "$INCOMING/"
  cp "$dir/hello-buildme_1.0-1.dsc" "$INCOMING/.upload-drop.$dead.hello-buildme_1.0-1.dsc"
  echo busy >"$INCOMING/.upload-drop.$$.other.dsc"
  OUT=$("$DROP" --config "$T/buildme.conf" --product fremantle "$dir"/* 2>&1); STATUS=$?
  assert_status 0
  assert_absent "$INCOMING/.upload-drop.$dead.hello-buildme_1.0-1.dsc"
  assert_file "$INCOMING/.upload-drop.$$.other.dsc"
  rm "$INCOMING/.upload-drop.$$.other.dsc"
  BUILDME_EXTRA=--intake-only buildme
  assert_output "ACCEPTED: hello-buildme 1.0-1 queued as job 1"
}

test_upload_drop_refuses_and_drops_nothing()
{
  local dir
  dir=$(source_upload 1.0-1)
  # Other bytes under a name already there: refused, nothing dropped.
  { cat "$dir/hello-buildme_1.0-1.dsc"; echo; } >"$INCOMING/hello-buildme_1.0-1.dsc"
  OUT=$("$DROP" --config "$T/buildme.conf" --product fremantle "$dir"/* 2>&1); STATUS=$?
  assert_status 1
  assert_output "already holds a different hello-buildme_1.0-1.dsc"
  [ "$(ls -A "$INCOMING")" = "hello-buildme_1.0-1.dsc" ] || fail "something was dropped: $(ls -A "$INCOMING")"
  rm "$INCOMING"/*
  OUT=$("$DROP" --config "$T/buildme.conf" --product fremantle "$dir/hello-buildme_1.0.orig.tar.gz" 2>&1); STATUS=$?
  assert_status 1
  assert_output "needs its .dsc or .changes"
  cp "$dir/hello-buildme_1.0-1.dsc" "$T/.hidden.dsc"
  OUT=$("$DROP" --config "$T/buildme.conf" --product fremantle "$T/.hidden.dsc" 2>&1); STATUS=$?
  assert_status 1
  cp "$dir/hello-buildme_1.0-1.dsc" "$T/"$'evil\n.dsc'
  OUT=$("$DROP" --config "$T/buildme.conf" --product fremantle "$T/"$'evil\n.dsc' 2>&1); STATUS=$?
  assert_status 1
  ln -s "$dir/hello-buildme_1.0-1.dsc" "$T/link.dsc"
  OUT=$("$DROP" --config "$T/buildme.conf" --product fremantle "$T/link.dsc" 2>&1); STATUS=$?
  assert_status 1
  assert_output "not a regular file"
  OUT=$("$DROP" --config "$T/buildme.conf" --product nowhere "$dir"/* 2>&1); STATUS=$?
  assert_status 2
  [ -z "$(ls -A "$INCOMING")" ] || fail "something was dropped: $(ls -A "$INCOMING")"
}

run_tests
