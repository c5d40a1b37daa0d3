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

# rsync takes a file of the same size and the same second as unchanged: a
# Release's size depends only on the files it lists, so a Release written in
# the second of the live one was never sent (the live copy kept the old one).
test_a_release_of_the_same_size_and_second_as_the_live_one_is_sent()
{
  setup_repo "live = $T/live"
  publish
  assert_status 0
  local dists=$STAGING/dists/fremantle live=$T/live/dists/fremantle second
  second=$(stat -c %Y "$live/Release")
  sleep 1 # another Date
  queue_manage regenerate --repository extras-devel
  assert_status 0
  cmp -s "$dists/Release" "$live/Release" && fail "regenerate wrote the same Release"
  [ "$(stat -c %s "$dists/Release")" = "$(stat -c %s "$live/Release")" ] ||
    fail "the two Release files differ in size: this test needs them equal"
  # The live copy's second, another nanosecond.
  touch -d "@$second.123456789" "$dists/Release" "$dists/InRelease" "$dists/Release.gpg"
  publish
  assert_status 0
  assert_same "$dists/Release" "$live/Release"
  assert_same "$dists/InRelease" "$live/InRelease"
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
  # Contents is an index too: Release lists its digests.
  grep -q -- "--exclude=/dists/\*\*/Contents-\*" <<<"$first" || fail "stage 1 sends Contents: $first"
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

# The live tree, as one digest: nothing in it changed when this holds.
live_digest()
{
  (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum
}

# The live repository checks out with gpgv and a real apt client.
assert_live_verifies()
{
  local dists=$T/live/dists/fremantle
  gpgv --keyring "$T/key.gpg" "$dists/InRelease" 2>/dev/null || fail "gpgv rejects live InRelease"
  gpgv --keyring "$T/key.gpg" "$dists/Release.gpg" "$dists/Release" 2>/dev/null || fail "gpgv rejects live Release.gpg"
  rm -rf "$APT_ROOT/var/lib/apt/lists"
  mkdir -p "$APT_ROOT/var/lib/apt/lists/partial"
  apt_get update
  assert_status 0
  grep -E "^(W|E):" <<<"$OUT" && fail "apt-get update on the live copy complained"
}

test_queue_manage_killed_at_each_rename_of_its_commit_publishes_nothing_until_it_runs_again()
{
  setup_repo "live = $T/live"
  publish
  assert_status 0
  apt_root "$T/live" libc6
  assert_live_verifies
  local marker=$STATE/repo/extras-devel.fremantle.pending
  # What queue-manage renames into dists/fremantle, each in turn.
  local names name n=0 before
  # (A run that adds $ARCH packages leaves Sources and Contents-all as they
  # are: it does not rename them.)
  names=$(cd "$STAGING/dists/fremantle" && find . -type f -not -path '*/by-hash/*' \
    -not -path './main/source/*' -not -name 'Contents-all*' -printf '%P\n' | sort)
  [ "$(wc -l <<<"$names")" -ge 7 ] || fail "expected the indices and three Release files: $names"
  for name in $names; do
    n=$((n + 1))
    echo "    - killed after renaming $name" >&2
    before=$(live_digest "$T/live")
    # One run that is not published yet (its flag stays), then one killed.
    make_deb "first$n" 1.0-1 "$ARCH" "$QUEUE" >/dev/null
    local sources=$STAGING/dists/fremantle/main/source/Sources sources_inode
    sources_inode=$(stat -c %i "$sources")
    queue_manage --repository extras-devel
    assert_status 0
    [ "$(stat -c %i "$sources")" = "$sources_inode" ] || fail "a run that added a .deb wrote Sources again"
    make_deb "second$n" 1.0-1 "$ARCH" "$QUEUE" >/dev/null
    BUILDME_FAILPOINT="queue-manage:renamed:$name" queue_manage --repository extras-devel
    [ "$STATUS" -eq 137 ] || { fail "queue-manage did not stop after renaming $name (status $STATUS)"; return; }
    assert_file "$marker"
    publish
    assert_status 1
    assert_output "extras-devel/dists/fremantle is half-written"
    assert_output "run queue-manage --repository extras-devel"
    # (Live is byte for byte what the last round verified with apt.)
    [ "$(live_digest "$T/live")" = "$before" ] || fail "live changed after renaming $name"
    assert_file "$STAGING/.fremantle.changed"
    if [ "$name" != InRelease ]; then
      # Without the marker (deleted by hand) the check still finds the mix,
      # and says what mends it.
      rm "$marker"
      publish
      assert_status 1
      assert_output "staging does not check out, so nothing was pushed"
      assert_output "dists/fremantle/"
      assert_output "run queue-manage regenerate --repository extras-devel"
      [ "$(live_digest "$T/live")" = "$before" ] || fail "live changed after renaming $name"
      queue_manage regenerate --repository extras-devel
    else
      queue_manage --repository extras-devel
    fi
    assert_status 0
    assert_absent "$marker"
    publish
    assert_status 0
    assert_output "PUBLISHED: extras-devel (fremantle)"
    grep -q "^Package: second$n$" "$T/live/dists/fremantle/main/binary-$ARCH/Packages" || fail "second$n not live"
    assert_live_verifies
  done
  apt_get install -y "second$n"
  assert_status 0
  [ -f "$APT_ROOT/usr/share/doc/second$n/README" ] || fail "apt cannot install from the live copy"
}

test_staging_that_does_not_check_out_is_not_pushed()
{
  setup_repo "live = $T/live"
  local deb=$STAGING/pool/main/p/published/published_1.0-1_$ARCH.deb
  mv "$deb" "$T/aside.deb"
  publish
  assert_status 1
  assert_output "extras-devel: staging does not check out, so nothing was pushed: 1 problem: pool/main/p/published/published_1.0-1_$ARCH.deb: missing (named by dists/fremantle/main/binary-$ARCH/Packages)"
  assert_absent "$T/live/dists"
  assert_file "$STAGING/.fremantle.changed"
  assert_absent "$STAGING/.fremantle.publishing"
  # Back as it was, with other bytes: found out by its digest.
  head -c "$(stat -c %s "$T/aside.deb")" /dev/zero >"$deb"
  publish
  assert_status 1
  assert_output "pool/main/p/published/published_1.0-1_$ARCH.deb: SHA256 "
  mv "$T/aside.deb" "$deb"
  publish
  assert_status 0
  assert_live_matches "$T/live"
}

test_a_release_signed_by_another_key_is_not_pushed()
{
  setup_repo "live = $T/live"
  local dists=$STAGING/dists/fremantle other
  other=$(mktemp -d /tmp/bmg-XXXXXX)
  gpg --batch --homedir "$other" --passphrase '' --quick-gen-key 'other <other@example.org>' ed25519 sign never 2>/dev/null
  gpg --batch --homedir "$other" --yes --armor --detach-sign --output "$dists/Release.gpg" "$dists/Release"
  gpgconf --homedir "$other" --kill gpg-agent 2>/dev/null
  rm -rf "$other"
  publish
  assert_status 1
  assert_output "dists/fremantle/Release.gpg is signed by key"
  assert_output "not by the repository's key $FPR"
  assert_absent "$T/live/dists"
  # archive-key.asc is what the signatures are checked with.
  queue_manage regenerate --repository extras-devel
  rm "$STAGING/archive-key.asc"
  publish
  assert_status 1
  assert_output "archive-key.asc"
  assert_output "run queue-manage regenerate --repository extras-devel (it writes the public key it signs with)"
  queue_manage regenerate --repository extras-devel
  publish
  assert_status 0
}

test_a_live_copy_that_does_not_check_out_after_the_push_keeps_the_flag()
{
  setup_repo "live = $T/live"
  # An rsync that loses a pool file's bytes in the live copy.
  mkdir -p "$T/bin"
  cat >"$T/bin/rsync" <<SCRIPT
#!/bin/bash
/usr/bin/rsync "\$@" || exit
if grep -q -- --delay-updates <<<"\$*"; then : >"$T/live/pool/main/p/published/published_1.0-1_$ARCH.deb"; fi
SCRIPT
  chmod +x "$T/bin/rsync"
  PATH=$T/bin:$PATH publish
  assert_status 1
  assert_output "extras-devel: the live copy $T/live does not check out after the push"
  assert_output "pool/main/p/published/published_1.0-1_$ARCH.deb: 0 bytes, but dists/fremantle/main/binary-$ARCH/Packages lists"
  assert_file "$STAGING/.fremantle.changed"
  publish
  assert_status 0
  assert_live_matches "$T/live"
}

test_repo_publish_waits_for_a_queue_manage_that_is_writing_and_holds_it_off_while_pushing()
{
  setup_repo "live = $T/live"
  local lock=$STATE/repo/extras-devel.lock holder waiter tries
  # A queue-manage at work: its lock held until the fifo is written.
  mkfifo "$T/done"
  flock "$lock" cat "$T/done" >/dev/null &
  holder=$!
  for tries in $(seq 1 100); do flock -n "$lock" true || break; sleep 0.1; done
  flock -n "$lock" true && { fail "the lock was not taken"; return; }
  publish --lock-wait 0
  assert_status 1
  assert_output "extras-devel: queue-manage is writing it (it holds $lock); nothing of it was pushed, and the flags of fremantle stay for the next round"
  assert_absent "$T/live/dists"
  assert_file "$STAGING/.fremantle.changed"
  # Given time, it waits for queue-manage and then publishes.
  "$PUBLISH" --config "$T/buildme.conf" --lock-wait 600 >"$T/wait.out" 2>&1 &
  waiter=$!
  for tries in $(seq 1 100); do grep -q "waiting up to" "$T/wait.out" && break; sleep 0.1; done
  assert_contains "$T/wait.out" "queue-manage is writing extras-devel: waiting up to 600 s for it to finish"
  assert_absent "$T/live/dists"
  echo >"$T/done"
  wait "$holder"
  wait "$waiter"
  STATUS=$?
  assert_status 0
  assert_contains "$T/wait.out" "PUBLISHED: extras-devel (fremantle)"
  # While it pushes, a queue-manage leaves the queue for its next run.
  make_deb second 1.0-1 "$ARCH" "$QUEUE" >/dev/null
  touch "$STAGING/.fremantle.changed"
  fake_rsync "$BUILDME_BIN/queue-manage/queue-manage --config $T/buildme.conf --repository extras-devel --verbose >>$T/qm.out 2>&1"
  PATH=$T/bin:$PATH publish
  assert_status 0
  assert_contains "$T/qm.out" "another queue-manage, or repo-publish, is working on extras-devel"
  assert_file "$QUEUE/second_1.0-1_$ARCH.deb"
}

test_after_a_killed_repo_publish_the_next_one_says_no_false_change()
{
  setup_repo "live = $T/live"
  # Killed in its first rsync: the flag stays taken (.publishing).
  fake_rsync 'kill -9 $PPID; exit 1'
  PATH=$T/bin:$PATH publish
  [ "$STATUS" -eq 137 ] || fail "repo-publish was not killed (status $STATUS)"
  assert_file "$STAGING/.fremantle.publishing"
  assert_absent "$STAGING/.fremantle.changed"
  publish
  assert_status 0
  assert_output "PUBLISHED: extras-devel (fremantle)"
  assert_no_output "changed again"
  assert_absent "$STAGING/.fremantle.publishing"
  # Killed again, and queue-manage flags the distribution before the next
  # run: that run pushes both changes at once, and no third run is owed.
  make_deb second 1.0-1 "$ARCH" "$QUEUE" >/dev/null
  queue_manage --repository extras-devel
  PATH=$T/bin:$PATH publish
  [ "$STATUS" -eq 137 ] || fail "repo-publish was not killed (status $STATUS)"
  make_deb third 1.0-1 "$ARCH" "$QUEUE" >/dev/null
  queue_manage --repository extras-devel
  assert_file "$STAGING/.fremantle.publishing"
  assert_file "$STAGING/.fremantle.changed"
  publish
  assert_status 0
  assert_no_output "changed again"
  assert_absent "$STAGING/.fremantle.changed"
  assert_absent "$STAGING/.fremantle.publishing"
  grep -q "^Package: third$" "$T/live/dists/fremantle/main/binary-$ARCH/Packages" || fail "third not live"
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
