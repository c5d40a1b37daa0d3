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

# What queue-manage counts of hello-buildme 1.0-1 in the pool folder DIR:
# its source (the .dsc, the orig and debian tarballs) and its .debs (with
# hello-buildme-dbgsym where debhelper builds one), each once.
hello_count()
{
  local debs
  debs=$(find "$1" -maxdepth 1 -name '*_1.0-1_*.deb' | wc -l)
  [ "$debs" -gt 0 ] || fail "no .deb of hello-buildme in $1"
  echo "1 source and $debs binary package$([ "$debs" -eq 1 ] || echo s) ($((debs + 3)) files)"
}

test_a_real_apt_client_installs_the_built_package_from_the_signed_repository()
{
  setup_repos
  upload 1.0-1
  buildme --foreground
  assert_status 0
  queue_manage --repository extras-devel
  assert_status 0
  assert_output "STAGED: extras-devel/dists/fremantle regenerated and signed, flagged for repo-publish"
  assert_no_output "PUBLISHED"
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
    if [ ! -e "$STAGING/dists/fremantle/$path" ] && grep -q " $path.gz$" "$release"; then
      # Contents: listed plain, published .gz only, as Debian's archive does.
      [ "$(gzip -dc "$STAGING/dists/fremantle/$path.gz" | sha256sum | cut -d' ' -f1)" = "$sum" ] ||
        fail "$path.gz does not unpack to what Release lists for $path"
      continue
    fi
    assert_file "$STAGING/dists/fremantle/$path"
    [ "$(sha256sum <"$STAGING/dists/fremantle/$path" | cut -d' ' -f1)" = "$sum" ] || fail "$path: SHA256 differs from Release"
    assert_file "$STAGING/dists/fremantle/$(dirname "$path")/by-hash/SHA256/$sum"
  done < <(awk '/^SHA256:/{on=1; next} /^[A-Z]/{on=0} on' "$release")
  xz -dc "$STAGING/dists/fremantle/main/binary-$ARCH/Packages.xz" | cmp -s - "$STAGING/dists/fremantle/main/binary-$ARCH/Packages" || fail "Packages.xz is not Packages"
  gzip -dc "$STAGING/dists/fremantle/main/binary-$ARCH/Packages.gz" | cmp -s - "$STAGING/dists/fremantle/main/binary-$ARCH/Packages" || fail "Packages.gz is not Packages"

  # Contents: the same files and packages as apt-ftparchive lists from the
  # same pool (its "contents" command names packages without their section,
  # and lists a shared file's packages in the order it met them), and
  # Contents-all holds the arch:all package only.
  local contents=$STAGING/dists/fremantle/main/Contents-$ARCH.gz
  assert_file "$contents"
  grep -q " main/Contents-$ARCH.gz$" "$release" || fail "Release does not list Contents-$ARCH.gz"
  normal_contents() { awk '{ n = split($NF, p, ","); s = ""; for (i = 1; i <= n; i++) { sub(/.*\//, "", p[i]); s = s (i > 1 ? "," : "") p[i] } $NF = s; print }' | sort; }
  (cd "$STAGING" && apt-ftparchive contents pool >"$T/ftp-contents" 2>/dev/null) || fail "apt-ftparchive contents failed"
  [ "$(normal_contents <"$T/ftp-contents")" = "$(gzip -dc "$contents" | normal_contents)" ] || {
    fail "Contents-$ARCH differs from apt-ftparchive's"
    diff <(normal_contents <"$T/ftp-contents") <(gzip -dc "$contents" | normal_contents) | head -20 >&2
  }
  grep -q "^usr/bin/hello-buildme[[:space:]]*[a-z]*/hello-buildme$" <(gzip -dc "$contents") ||
    fail "Contents-$ARCH does not name usr/bin/hello-buildme with its section: $(gzip -dc "$contents" | head -3)"
  [ "$(gzip -dc "$STAGING/dists/fremantle/main/Contents-all.gz" | awk '{print $NF}' | sort -u)" = "misc/libbeta2" ] ||
    fail "Contents-all: $(gzip -dc "$STAGING/dists/fremantle/main/Contents-all.gz" | head -3)"
}

test_apt_file_finds_a_file_of_a_package_through_the_published_contents()
{
  require_tools apt-file
  setup_repos
  upload 1.0-1
  buildme --foreground
  queue_manage --repository extras-devel
  assert_status 0
  # A client with apt-file's own index targets (its apt.conf.d file), against
  # the signed repository: apt fetches Contents-ARCH.gz as Release lists it.
  apt_root "$STAGING" libc6
  cp /etc/apt/apt.conf.d/50apt-file.conf "$APT_ROOT/etc/apt/apt.conf.d/"
  apt_get update
  assert_status 0
  assert_output "fremantle/main $ARCH Contents (deb)"
  grep -E "^(W|E):" <<<"$OUT" && fail "apt-get update warned"
  local found
  found=$(apt-file -o Dir="$APT_ROOT" -o Dir::Etc::Parts="$APT_ROOT/etc/apt/apt.conf.d" \
    -o Dir::Etc::SourceParts="$APT_ROOT/etc/apt/sources.list.d" search /usr/bin/hello-buildme 2>&1)
  [ "$found" = "hello-buildme: /usr/bin/hello-buildme" ] || fail "apt-file search said: $found"
  # With contents = no, none is written and Release lists none.
  sed -i 's/^\[repository extras-devel\]$/&\ncontents = no/' "$T/buildme.conf"
  upload 1.0-2
  buildme --foreground
  queue_manage --repository extras-devel
  assert_status 0
  assert_absent "$STAGING/dists/fremantle/main/Contents-$ARCH.gz"
  grep -q "Contents-" "$STAGING/dists/fremantle/Release" && fail "Release still lists Contents"
  true
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
  # Rewritten in place, same name, same size class: the stat differs. Each
  # run checks a sixteenth of the pool in turn: within 16 runs it is seen.
  cat "$T"/b/*.deb >"$STAGING/pool/main/c/changing/changing_1.0-1_$ARCH.deb"
  rm -f "$STAGING/.fremantle.changed"
  local run
  for run in $(seq 16); do
    queue_manage --repository extras-devel
    assert_status 0
    grep -q "changed in the pool: its index entry was read again" <<<"$OUT" && break
  done
  assert_output "changed in the pool: its index entry was read again"
  grep -q "^Description: second text" <(packages) || fail "the rewrite was not noticed in 16 runs"
  grep -q "^SHA256: $(sha256sum <"$T"/b/*.deb | cut -d' ' -f1)" <(packages) || fail "stale SHA256"
  assert_file "$STAGING/.fremantle.changed"
  # queue-manage regenerate checks every pool file at once.
  cat "$T"/a/*.deb >"$STAGING/pool/main/c/changing/changing_1.0-1_$ARCH.deb"
  queue_manage regenerate --repository extras-devel
  assert_status 0
  assert_output "changed in the pool: its index entry was read again"
  grep -q "^Description: first text" <(packages) || fail "regenerate did not notice the rewrite"
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
  # Each package and file once.
  assert_output "PROMOTED: hello-buildme 1.0-1 from extras-devel to extras-testing (fremantle): $(hello_count "$STAGING/pool/main/h/hello-buildme")"
  assert_output "STAGED: extras-testing/dists/fremantle regenerated and signed, flagged for repo-publish"
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
  assert_output "STAGED: extras-devel/dists/fremantle regenerated and signed, flagged for repo-publish"
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

# The source files of hello-buildme 1.0-1 in its pool folder.
HELLO_FILES="hello-buildme_1.0-1.dsc hello-buildme_1.0.orig.tar.gz hello-buildme_1.0-1.debian.tar.xz"

test_remove_takes_a_package_out_for_apt_at_once_and_its_files_after_delete_after()
{
  setup_repos "delete_after = 1h"
  upload 1.0-1
  buildme --foreground
  queue_manage --repository extras-devel
  assert_status 0
  local pool=$STAGING/pool/main/h/hello-buildme dists=$STAGING/dists/fremantle f
  local files count
  files="$HELLO_FILES $(cd "$pool" && echo *_1.0-1_*.deb)"
  count=$(hello_count "$pool")
  apt_root "$STAGING" libc6
  echo "deb-src [signed-by=$T/key.gpg] file:$STAGING fremantle main" >>"$APT_ROOT/etc/apt/sources.list"
  apt_get update
  apt_get install -s hello-buildme
  assert_status 0
  rm "$STAGING/.fremantle.changed"

  # --dry-run says what would go, and changes nothing.
  local release_before
  release_before=$(stat -c %Y.%i "$dists/Release")
  queue_manage remove hello-buildme --repository extras-devel --dry-run
  assert_status 0
  assert_output "WOULD REMOVE: hello-buildme 1.0-1 from extras-devel (fremantle): $count"
  assert_output "pool/main/h/hello-buildme/hello-buildme_1.0-1_$ARCH.deb"
  assert_output "nothing changed (--dry-run)"
  assert_absent "$STAGING/.fremantle.changed"
  [ "$release_before" = "$(stat -c %Y.%i "$dists/Release")" ] || fail "--dry-run rewrote Release"

  queue_manage remove hello-buildme 1.0-1 --repository extras-devel
  assert_status 0
  assert_output "REMOVED: hello-buildme 1.0-1 from extras-devel (fremantle): $count, out of the indices now; the first queue-manage run after delete_after (60 min) deletes the pool files no other package uses"
  assert_output "STAGED: extras-devel/dists/fremantle regenerated and signed, flagged for repo-publish"
  assert_file "$STAGING/.fremantle.changed"
  ! grep -q "^Package: hello-buildme$" <(packages) || fail "still in Packages"
  ! grep -q "^Package: hello-buildme$" "$dists/main/source/Sources" || fail "still in Sources"
  gpgv --keyring "$T/key.gpg" "$dists/InRelease" 2>/dev/null || fail "gpgv rejects InRelease"
  gpgv --keyring "$T/key.gpg" "$dists/Release.gpg" "$dists/Release" 2>/dev/null || fail "gpgv rejects Release.gpg"
  queue_manage list --repository extras-devel
  [ "$(wc -l <<<"$OUT")" -eq 1 ] || fail "list shows more than its header"

  # A real client no longer sees it, binary or source.
  apt_get update
  assert_status 0
  grep -E "^(W|E):" <<<"$OUT" && fail "apt-get update warned"
  apt_get install -s hello-buildme
  [ "$STATUS" -ne 0 ] || fail "apt still installs hello-buildme"
  assert_output "Unable to locate package hello-buildme"
  apt_get --print-uris source hello-buildme
  [ "$STATUS" -ne 0 ] || fail "apt still finds the source"

  # The pool files stay for delete_after (a client holding the old indices
  # still finds them), then the next run deletes them: here delete_after
  # becomes 1 s, and 2 s pass.
  queue_manage --repository extras-devel
  for f in $files; do assert_file "$pool/$f"; done
  sed -i 's/^delete_after = 1h$/delete_after = 1/' "$T/buildme.conf"
  sleep 2
  queue_manage --repository extras-devel --verbose
  assert_status 0
  for f in $files; do assert_absent "$pool/$f"; done
  assert_output "$(wc -w <<<"$files") pool files deleted"
}

test_remove_names_what_is_there_and_takes_nothing_out_on_error()
{
  setup_repos
  upload 1.0-1
  buildme --foreground
  queue_manage --repository extras-devel
  rm "$STAGING/.fremantle.changed"
  local before
  before=$(packages)
  queue_manage remove hello-buildme 9.9 --repository extras-devel
  assert_status 1
  assert_output "extras-devel (fremantle) has no hello-buildme 9.9; it has 1.0-1 in fremantle; nothing was removed"
  queue_manage remove nosuch --repository extras-devel
  assert_status 1
  assert_output "has no source package nosuch; its sources are hello-buildme"
  queue_manage remove hello-buildme --repository extras-devel --dist diablo
  assert_status 2
  assert_output "[repository extras-devel] has no distribution diablo (its distributions: fremantle)"
  queue_manage remove 'Bad;Name' --repository extras-devel
  assert_status 2
  assert_output "upper-case"
  queue_manage remove hello-buildme 'not a version' --repository extras-devel
  assert_status 2
  assert_output "VERSION:"
  queue_manage remove --repository extras-devel
  assert_status 2
  assert_output "remove takes SOURCE [VERSION]"
  queue_manage regenerate --repository extras-devel --dry-run
  assert_status 2
  assert_output "--dry-run is for a run (no command) and for remove"
  [ "$before" = "$(packages)" ] || fail "Packages changed"
  assert_absent "$STAGING/.fremantle.changed"
  grep -q "^Package: hello-buildme$" <(packages) || fail "hello-buildme is gone"
}

test_remove_waits_for_the_running_queue_manage()
{
  setup_repos
  make_deb waited 1.0-1 "$ARCH" "$T/d" >/dev/null
  cp "$T"/d/*.deb "$QUEUE/"
  queue_manage --repository extras-devel
  # Another queue-manage holds the lock from $T/locked until $T/released.
  flock "$STATE/repo/extras-devel.lock" sh -c "touch '$T/locked'; sleep 2; touch '$T/released'" &
  local holder=$! waited=0
  while [ ! -e "$T/locked" ] && [ $waited -lt 300 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  assert_file "$T/locked"
  queue_manage remove waited --repository extras-devel
  assert_status 0
  assert_output "another queue-manage is working on extras-devel; waiting for it"
  assert_file "$T/released"
  wait $holder
  ! grep -q "^Package: waited$" <(packages) || fail "still in Packages"
}

test_list_shows_what_a_source_has_there_and_only_that_distribution()
{
  setup_repos
  make_deb libother1 2.0-1 "$ARCH" "$T/d" "a library" other >/dev/null
  cp "$T"/d/*.deb "$QUEUE/"
  upload 1.0-1
  buildme --foreground
  queue_manage --repository extras-devel
  queue_manage list --repository extras-devel
  assert_status 0
  assert_output "DIST         COMPONENT  PACKAGE"
  assert_output "libother1"
  assert_output "hello-buildme_1.0-1.dsc"
  queue_manage list --repository extras-devel hello-buildme
  assert_status 0
  assert_output "pool/main/h/hello-buildme/hello-buildme_1.0-1.dsc"
  assert_output "pool/main/h/hello-buildme/hello-buildme_1.0-1_$ARCH.deb"
  assert_no_output "libother1"
  queue_manage list --repository extras-devel --dist fremantle other 2.0-1
  assert_status 0
  assert_output "libother1"
  assert_no_output "hello-buildme"
  queue_manage list --repository extras-devel other 9
  assert_status 1
  assert_output "has no other 9; it has 2.0-1 in fremantle"
  queue_manage list --repository extras-devel --dist diablo
  assert_status 2
  assert_output "has no distribution diablo (its distributions: fremantle)"
  # A repository queue-manage never ran for: an empty table.
  queue_manage list --repository extras-testing
  assert_status 0
  [ "$OUT" = "$(head -1 <<<"$OUT")" ] && grep -q "^DIST " <<<"$OUT" || fail "not an empty table: $OUT"
  assert_absent "$STATE/repo/extras-testing.sqlite"
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
  assert_output "queue-manage remove SOURCE [VERSION] --repository NAME [--dist DIST] [--dry-run]"
  sed -i "s/^sign_with = .*/sign_with = 0000000000000000000000000000000000000000/" "$T/buildme.conf"
  queue_manage --repository extras-devel
  assert_status 1
  assert_output "0000000000000000000000000000000000000000"
}

run_tests
