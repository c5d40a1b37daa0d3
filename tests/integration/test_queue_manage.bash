#!/bin/bash
# queue-manage: a signed APT repository from the build results, checked with
# a real apt client, gpgv and apt-ftparchive.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/repo.bash"

ARCH=$(dpkg --print-architecture)
teardown() { drop_key; }

setup_repos()
{
  new_key
  sed -i 's|^repo_queue = .*|repo_queue = '"$T"'/repo/incoming/%(repository)s/%(product)s|' "$T/buildme.conf"
  repository_section extras-devel "promote_to = extras-testing" "$@" >>"$T/buildme.conf"
  repository_section extras-testing >>"$T/buildme.conf"
  QUEUE=$T/repo/incoming/extras-devel/fremantle
  STAGING=$T/staging/extras-devel
  mkdir -p "$QUEUE"
}

packages() { cat "$STAGING/dists/fremantle/main/binary-$ARCH/Packages"; }

test_a_real_apt_client_installs_the_built_package_from_the_signed_repository()
{
  setup_repos
  upload 1.0-1
  buildme --foreground
  assert_status 0
  queue_manage --repository extras-devel
  assert_status 0
  assert_output "PUBLISHED: extras-devel/dists/fremantle regenerated and signed"
  local dists=$STAGING/dists/fremantle
  gpgv --keyring "$T/key.gpg" "$dists/InRelease" 2>/dev/null || fail "gpgv rejects InRelease"
  gpgv --keyring "$T/key.gpg" "$dists/Release.gpg" "$dists/Release" 2>/dev/null || fail "gpgv rejects Release.gpg"
  assert_file "$STAGING/.fremantle.changed"
  assert_file "$STAGING/pool/main/h/hello-buildme/hello-buildme_1.0-1_$ARCH.deb"
  assert_file "$STAGING/pool/main/h/hello-buildme/hello-buildme_1.0-1.dsc"
  [ -z "$(find "$QUEUE" -maxdepth 1 -type f)" ] || fail "queue not emptied: $(ls "$QUEUE")"

  apt_root "$STAGING" libc6
  apt_get update
  assert_status 0
  grep -E "^(W|E|N):" <<<"$OUT" && fail "apt-get update warned"
  apt_get install -y hello-buildme
  assert_status 0
  grep -E '^(W|E):' <<<"$OUT" && fail "apt-get install warned"
  [ -x "$APT_ROOT/usr/bin/hello-buildme" ] || { fail "not installed"; return; }
  [ "$("$APT_ROOT/usr/bin/hello-buildme")" = "Hello from a package built by buildme." ] || fail "the installed program does not run"
  grep -qi "warning" "$APT_ROOT/var/log/dpkg.log" && fail "dpkg warned"
  # The source is there for apt-get source too.
  echo "deb-src [signed-by=$T/key.gpg] file:$STAGING fremantle main" >>"$APT_ROOT/etc/apt/sources.list"
  apt_get update
  apt_get --print-uris source hello-buildme
  assert_output "hello-buildme_1.0-1.dsc"
}

test_indices_match_apt_ftparchive_on_the_same_files()
{
  setup_repos
  local d=$T/debs
  make_deb alpha 1.0-1 "$ARCH" "$d" >/dev/null
  make_deb libbeta2 2.0-1 all "$d" "a library" beta >/dev/null
  make_deb gamma 1:3.0~rc1-1 "$ARCH" "$d" >/dev/null
  cp "$d"/*.deb "$QUEUE/"
  upload 1.0-1
  buildme --foreground
  queue_manage --repository extras-devel
  assert_status 0
  assert_file "$STAGING/pool/main/b/beta/libbeta2_2.0-1_all.deb"
  # apt-ftparchive over the same pool: the same stanzas, whatever the order.
  (cd "$STAGING" && apt-ftparchive packages pool >"$T/ftp-packages" 2>/dev/null) || fail "apt-ftparchive packages failed"
  (cd "$STAGING" && apt-ftparchive sources pool >"$T/ftp-sources" 2>/dev/null) || fail "apt-ftparchive sources failed"
  sort_stanzas() { awk 'BEGIN{RS=""; ORS="\n\n"} {print}' "$1" | awk 'BEGIN{RS=""} {gsub(/\n/,"\001"); print}' | sort; }
  [ "$(sort_stanzas "$T/ftp-packages")" = "$(sort_stanzas <(packages))" ] || {
    fail "Packages differs from apt-ftparchive's"
    diff <(sort_stanzas "$T/ftp-packages" | tr '\001' '\n') <(sort_stanzas <(packages) | tr '\001' '\n') | head -20 >&2
  }
  [ "$(sort_stanzas "$T/ftp-sources")" = "$(sort_stanzas "$STAGING/dists/fremantle/main/source/Sources")" ] || {
    fail "Sources differs from apt-ftparchive's"
    diff "$T/ftp-sources" "$STAGING/dists/fremantle/main/source/Sources" | head -20 >&2
  }
  # Architecture: all packages are in every arch's index; Release lists every
  # index with all four sums, and by-hash holds each.
  grep -q "^Package: libbeta2$" <(packages) || fail "arch:all package not in binary-$ARCH"
  local release=$STAGING/dists/fremantle/Release
  for field in MD5Sum SHA1 SHA256 SHA512 Date Valid-Until Architectures Components "Acquire-By-Hash: yes"; do
    grep -q "^$field" "$release" || fail "Release lacks $field"
  done
  local sum size path
  while read -r sum size path; do
    assert_file "$STAGING/dists/fremantle/$path"
    [ "$(sha256sum <"$STAGING/dists/fremantle/$path" | cut -d' ' -f1)" = "$sum" ] || fail "$path: SHA256 differs from Release"
    assert_file "$STAGING/dists/fremantle/$(dirname "$path")/by-hash/SHA256/$sum"
  done < <(awk '/^SHA256:/{on=1; next} /^[A-Z]/{on=0} on' "$release")
  xz -dc "$STAGING/dists/fremantle/main/binary-$ARCH/Packages.xz" | cmp -s - "$STAGING/dists/fremantle/main/binary-$ARCH/Packages" || fail "Packages.xz is not Packages"
  gzip -dc "$STAGING/dists/fremantle/main/binary-$ARCH/Packages.gz" | cmp -s - "$STAGING/dists/fremantle/main/binary-$ARCH/Packages" || fail "Packages.gz is not Packages"
}

test_keep_versions_orders_epochs_and_tildes_as_dpkg_does()
{
  setup_repos "keep_versions = 2" "delete_after = 2"
  local d=$T/debs v
  for v in 1.0-1 2.0~rc1-1 1:0.5-1 2.0-1 1.9-1; do
    make_deb tricky "$v" "$ARCH" "$d/$v" >/dev/null
    cp "$d/$v"/*.deb "$QUEUE/"
  done
  queue_manage --repository extras-devel --verbose
  assert_status 0
  # dpkg order: 1.0-1 < 1.9-1 < 2.0~rc1-1 < 2.0-1 < 1:0.5-1
  local kept
  kept=$(packages | sed -n 's/^Version: //p' | sort | tr '\n' ' ')
  [ "$kept" = "1:0.5-1 2.0-1 " ] || fail "kept: $kept"
  # The old files stay in the pool for delete_after, then go.
  assert_file "$STAGING/pool/main/t/tricky/tricky_2.0~rc1-1_$ARCH.deb"
  sleep 3
  queue_manage --repository extras-devel --verbose
  assert_absent "$STAGING/pool/main/t/tricky/tricky_2.0~rc1-1_$ARCH.deb"
  assert_absent "$STAGING/pool/main/t/tricky/tricky_1.0-1_$ARCH.deb"
  assert_file "$STAGING/pool/main/t/tricky/tricky_0.5-1_$ARCH.deb"
  assert_file "$STAGING/pool/main/t/tricky/tricky_2.0-1_$ARCH.deb"
}

test_a_deb_rewritten_in_the_pool_is_noticed()
{
  setup_repos
  make_deb changing 1.0-1 "$ARCH" "$T/a" "first text" >/dev/null
  make_deb changing 1.0-1 "$ARCH" "$T/b" "second text, longer than the first" >/dev/null
  cp "$T"/a/*.deb "$QUEUE/"
  queue_manage --repository extras-devel
  grep -q "^Description: first text" <(packages) || fail "first version not indexed"
  # Rewritten in place, same name, same size class: the stat differs.
  cat "$T"/b/*.deb >"$STAGING/pool/main/c/changing/changing_1.0-1_$ARCH.deb"
  rm -f "$STAGING/.fremantle.changed"
  queue_manage --repository extras-devel
  assert_output "changed in the pool: its index entry was read again"
  grep -q "^Description: second text" <(packages) || fail "the rewrite was not noticed"
  grep -q "^SHA256: $(sha256sum <"$T"/b/*.deb | cut -d' ' -f1)" <(packages) || fail "stale SHA256"
  assert_file "$STAGING/.fremantle.changed"
}

test_a_corrupt_deb_is_set_aside_and_the_rest_go_on()
{
  setup_repos
  make_deb good 1.0-1 "$ARCH" "$T/d" >/dev/null
  cp "$T"/d/*.deb "$QUEUE/"
  head -c 300 "$T/d/good_1.0-1_$ARCH.deb" >"$QUEUE/broken_1.0-1_$ARCH.deb"
  echo "not a deb at all" >"$QUEUE/text_1.0_$ARCH.deb"
  queue_manage --repository extras-devel
  assert_status 0
  assert_output "REFUSED"
  assert_file "$QUEUE/rejected/broken_1.0-1_$ARCH.deb"
  assert_file "$QUEUE/rejected/broken_1.0-1_$ARCH.deb.reason"
  assert_file "$QUEUE/rejected/text_1.0_$ARCH.deb.reason"
  assert_contains "$QUEUE/rejected/broken_1.0-1_$ARCH.deb.reason" "cannot read broken_1.0-1_$ARCH.deb"
  grep -q "^Package: good$" <(packages) || fail "the good package was not indexed"
}

test_a_pool_file_with_other_content_is_never_overwritten()
{
  setup_repos
  make_deb clash 1.0-1 "$ARCH" "$T/a" "first" >/dev/null
  make_deb clash 1.0-1 "$ARCH" "$T/b" "second build of the same version" >/dev/null
  cp "$T"/a/*.deb "$QUEUE/"
  queue_manage --repository extras-devel
  cp "$T"/b/*.deb "$QUEUE/"
  queue_manage --repository extras-devel
  assert_output "is already in the pool with different content; it is never overwritten"
  assert_same "$STAGING/pool/main/c/clash/clash_1.0-1_$ARCH.deb" "$T/a/clash_1.0-1_$ARCH.deb"
  assert_same "$QUEUE/rejected/clash_1.0-1_$ARCH.deb" "$T/b/clash_1.0-1_$ARCH.deb"
  # The same file again is no conflict: it is simply taken away.
  cp "$T"/a/*.deb "$QUEUE/"
  queue_manage --repository extras-devel
  assert_absent "$QUEUE/clash_1.0-1_$ARCH.deb"
  assert_absent "$QUEUE/rejected/clash_1.0-1_$ARCH.deb.1"
}

test_promotion_copies_source_and_binaries_with_hard_links()
{
  setup_repos
  upload 1.0-1
  buildme --foreground
  queue_manage --repository extras-devel
  "$BUILDME_BIN/queue-manage/queue-manage" --config "$T/buildme.conf" promote hello-buildme 1.0-1 --from extras-devel --to extras-testing >"$T/out" 2>&1
  STATUS=$?
  OUT=$(cat "$T/out")
  assert_status 0
  assert_output "PROMOTED: hello-buildme 1.0-1"
  local testing=$T/staging/extras-testing
  local deb=pool/main/h/hello-buildme/hello-buildme_1.0-1_$ARCH.deb
  [ "$(stat -c %i "$STAGING/$deb")" = "$(stat -c %i "$testing/$deb")" ] || fail "not a hard link"
  assert_file "$testing/pool/main/h/hello-buildme/hello-buildme_1.0.orig.tar.gz"
  grep -q "^Package: hello-buildme$" "$testing/dists/fremantle/main/binary-$ARCH/Packages" || fail "not in testing's Packages"
  grep -q "^Package: hello-buildme$" "$testing/dists/fremantle/main/source/Sources" || fail "not in testing's Sources"
  gpgv --keyring "$T/key.gpg" "$testing/dists/fremantle/InRelease" 2>/dev/null || fail "testing's InRelease does not verify"
  grep -q "^Package: hello-buildme$" <(packages) || fail "promotion removed it from devel"
  assert_file "$testing/.fremantle.changed"
  "$BUILDME_BIN/queue-manage/queue-manage" --config "$T/buildme.conf" promote hello-buildme 9.9 --from extras-devel --to extras-testing >"$T/out" 2>&1
  [ $? -eq 1 ] || fail "promoting a missing version should fail"
  grep -q "has no hello-buildme 9.9" "$T/out" || fail "message: $(cat "$T/out")"
}

test_the_changed_flag_is_touched_only_when_a_distribution_changed()
{
  setup_repos
  make_deb flagged 1.0-1 "$ARCH" "$T/d" >/dev/null
  cp "$T"/d/*.deb "$QUEUE/"
  queue_manage --repository extras-devel
  assert_file "$STAGING/.fremantle.changed"
  rm "$STAGING/.fremantle.changed"
  local release_before
  release_before=$(stat -c %Y.%i "$STAGING/dists/fremantle/Release")
  queue_manage --repository extras-devel
  assert_status 0
  assert_absent "$STAGING/.fremantle.changed"
  [ "$release_before" = "$(stat -c %Y.%i "$STAGING/dists/fremantle/Release")" ] || fail "Release rewritten with no change"
}

test_a_distribution_that_could_not_be_regenerated_is_regenerated_by_the_next_run()
{
  setup_repos
  make_deb first 1.0-1 "$ARCH" "$T/d" >/dev/null
  cp "$T"/d/*.deb "$QUEUE/"
  queue_manage --repository extras-devel
  assert_status 0
  # Something in the way of the new Release (a folder where its temporary
  # file goes): the run takes the package into the pool, then fails.
  mkdir -p "$STAGING/dists/fremantle/.Release.new/blocker"
  make_deb second 1.0-1 "$ARCH" "$T/e" >/dev/null
  cp "$T"/e/*.deb "$QUEUE/"
  queue_manage --repository extras-devel
  assert_status 1
  assert_output "the next run tries again"
  assert_file "$STAGING/pool/main/s/second/second_1.0-1_${ARCH}.deb"
  ! grep -q "^Package: second" <(packages) || fail "second is in the index already"
  # Cleared: the next run, with an empty queue, regenerates and signs.
  rm -rf "$STAGING/dists/fremantle/.Release.new"
  rm -f "$STAGING/.fremantle.changed"
  queue_manage --repository extras-devel
  assert_status 0
  assert_output "PUBLISHED"
  grep -q "^Package: second" <(packages) || fail "second is not in the index"
  assert_file "$STAGING/.fremantle.changed"
  gpgv --keyring "$T/key.gpg" "$STAGING/dists/fremantle/InRelease" 2>/dev/null || fail "InRelease does not verify"
  # And then nothing is left to do.
  rm "$STAGING/.fremantle.changed"
  queue_manage --repository extras-devel
  assert_status 0
  assert_absent "$STAGING/.fremantle.changed"
}

test_a_queue_of_refused_files_changes_nothing()
{
  setup_repos
  make_deb first 1.0-1 "$ARCH" "$T/d" >/dev/null
  cp "$T"/d/*.deb "$QUEUE/"
  queue_manage --repository extras-devel
  rm "$STAGING/.fremantle.changed"
  echo "not a deb" >"$QUEUE/broken_1.0-1_${ARCH}.deb"
  queue_manage --repository extras-devel
  assert_output "REFUSED"
  assert_absent "$STAGING/.fremantle.changed"
  queue_manage --repository extras-devel
  assert_absent "$STAGING/.fremantle.changed"
}

test_a_second_queue_manage_exits_at_once()
{
  setup_repos
  mkdir -p "$STATE/repo"
  flock "$STATE/repo/extras-devel.lock" sleep 3 &
  local holder=$!
  sleep 0.3
  make_deb waiting 1.0-1 "$ARCH" "$T/d" >/dev/null
  cp "$T"/d/*.deb "$QUEUE/"
  local start=$SECONDS
  queue_manage --repository extras-devel
  assert_status 0
  [ $((SECONDS - start)) -lt 2 ] || fail "it waited"
  assert_file "$QUEUE/waiting_1.0-1_$ARCH.deb"
  wait $holder
}

test_bad_usage_and_config_are_explained()
{
  setup_repos
  queue_manage
  assert_status 2
  assert_output "--repository NAME is required"
  queue_manage --repository nowhere
  assert_status 2
  assert_output "no [repository nowhere]"
  OUT=$("$BUILDME_BIN/queue-manage/queue-manage" --help); STATUS=$?
  assert_status 0
  assert_output "Usage: queue-manage"
  sed -i "s/^sign_with = .*/sign_with = 0000000000000000000000000000000000000000/" "$T/buildme.conf"
  queue_manage --repository extras-devel
  assert_status 1
  assert_output "0000000000000000000000000000000000000000"
}

run_tests
