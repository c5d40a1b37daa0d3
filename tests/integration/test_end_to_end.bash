#!/bin/bash
# The whole archive, with real parts only: developers upload with scp (through
# sshd on loopback) and with upload-drop; buildme builds on a builder reached
# over SSH; queue-manage makes the signed repository; repo-publish pushes it
# live; a real apt client installs the package from live; a real SMTP server
# (STARTTLS, AUTH) receives the mails.
# The example as the demo builds it, with debhelper (the other suites build
# it without, for speed).
EXAMPLE_DEBHELPER=yes
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/repo.bash"
source "$(dirname "$0")/sshd.bash"
source "$(dirname "$0")/smtp.bash"
require_tools rsync scp

ARCH=$(dpkg --print-architecture)
teardown()
{
  drop_key
  stop_all_sshd
  stop_smtp
}

configure()
{
  new_key
  start_sshd builder || return 1
  builder_section builder >>"$T/buildme.conf"
  sed -i 's|^repo_queue = .*|repo_queue = '"$T"'/queue/%(repository)s/%(product)s|' "$T/buildme.conf"
  repository_section extras-devel "live = $T/live/extras-devel" >>"$T/buildme.conf"
  mail_section >>"$T/buildme.conf"
}

test_an_upload_goes_from_scp_to_an_apt_install_from_live_with_mail()
{
  start_smtp || return
  configure || return
  start_sshd garage || return
  local scp_options=(-q -P "${SSHD_PORT[garage]}" -i "$T/client_key"
    -o "UserKnownHostsFile=$T/garage/known_hosts" -o StrictHostKeyChecking=yes -o BatchMode=yes)

  # A developer uploads 1.0-1 with scp, the .changes last as dput does, and a
  # damaged 1.0-3.
  local one three
  one=$(source_upload 1.0-1)
  scp "${scp_options[@]}" "$one"/hello-buildme_1.0* "$one"/*.buildinfo "root@127.0.0.1:$INCOMING/" || fail "scp failed"
  scp "${scp_options[@]}" "$one"/*.changes "root@127.0.0.1:$INCOMING/" || fail "scp failed"
  three=$(source_upload 1.0-3)
  cp -p "$three"/hello-buildme_1.0-3* "$T/"
  echo "damaged" >>"$T/hello-buildme_1.0-3.debian.tar.xz"
  scp "${scp_options[@]}" "$T"/hello-buildme_1.0-3.d* "$T"/hello-buildme_1.0-3_source.buildinfo "root@127.0.0.1:$INCOMING/"
  scp "${scp_options[@]}" "$T"/hello-buildme_1.0-3_source.changes "root@127.0.0.1:$INCOMING/"

  buildme --foreground
  assert_status 0
  assert_output "ACCEPTED: hello-buildme 1.0-1 queued as job 1"
  assert_output "REJECTED: hello-buildme_1.0-3.debian.tar.xz is"
  assert_output "BUILDING: building on root@127.0.0.1:${SSHD_PORT[builder]}"

  # The web uploader hands in 1.0-2.
  local two
  two=$(source_upload 1.0-2)
  OUT=$("$BUILDME_BIN/upload-drop/upload-drop" --config "$T/buildme.conf" --product fremantle "$two"/* 2>&1)
  STATUS=$?
  assert_status 0
  buildme --foreground
  assert_status 0
  assert_output "ACCEPTED: hello-buildme 1.0-2 queued as job 2"

  queue_manage --repository extras-devel
  assert_status 0
  OUT=$("$BUILDME_BIN/repo-publish/repo-publish" --config "$T/buildme.conf" 2>&1)
  STATUS=$?
  assert_status 0
  assert_output "PUBLISHED: extras-devel (fremantle) to $T/live/extras-devel"

  apt_root "$T/live/extras-devel" libc6
  apt_get update
  assert_status 0
  grep -E '^(W|E):' <<<"$OUT" && fail "apt-get update warned"
  apt_get install -y hello-buildme
  assert_status 0
  assert_output "Unpacking hello-buildme (1.0-2)"
  [ "$("$APT_ROOT/usr/bin/hello-buildme" 2>&1)" = "Hello from a package built by buildme." ] || fail "the installed program does not run"

  # The mails: uploader and list hear of both builds and the reject.
  local built
  for version in 1.0-1 1.0-2; do
    built="[buildme] BUILT hello-buildme $version (fremantle, $ARCH)"
    [ "$(mails_with "$built" maintainer@example.org)" = 1 ] || fail "uploader mails for $built: $(mails_with "$built" maintainer@example.org)"
    [ "$(mails_with "$built" builds@example.org)" = 1 ] || fail "list mails for $built"
  done
  local rejected="[buildme] REJECTED hello-buildme 1.0-3 (fremantle)"
  [ "$(mails_with "$rejected" maintainer@example.org)" = 1 ] || fail "uploader mail for the reject"
  [ "$(mails_with "$rejected" builds@example.org)" = 1 ] || fail "list mail for the reject"
  # The body is quoted-printable: decode it before looking for the log link.
  grep -l "BUILT hello-buildme 1.0-1" "$T"/smtp/received/*.eml | head -1 |
    xargs /usr/bin/python3 -c 'import quopri, sys; sys.stdout.write(quopri.decodestring(open(sys.argv[1], "rb").read()).decode())' |
    grep -q "https://builder.example.org/logs/fremantle/1/$ARCH/build.log" || fail "no log link"
  grep -rq "s3cret" "$T"/smtp/received "$STATE"/mail 2>/dev/null && fail "the SMTP password leaked"
  grep -q "s3cret" <<<"$OUT" && fail "the SMTP password was printed"
  [ -z "$(ls -A "$STATE/mail/outbox" 2>/dev/null)" ] || fail "mail left in the outbox"
}

test_a_worker_killed_after_recording_its_result_still_mails_it_once()
{
  start_smtp || return
  configure || return
  upload 1.0-1
  BUILDME_FAILPOINT=worker:result-recorded buildme --foreground
  grep -q "^State: success" "$STATE/jobs/1/builds/$ARCH.info" || fail "the build did not end built"
  grep -q "^Announce: pending" "$STATE/jobs/1/builds/$ARCH.info" || fail "the result is not marked to announce (failpoint not reached?)"
  local built="[buildme] BUILT hello-buildme 1.0-1 (fremantle, $ARCH)"
  [ "$(mails_with "$built" maintainer@example.org)" = 0 ] || fail "mailed before the failpoint"
  buildme
  assert_status 0
  buildme
  assert_status 0
  [ "$(mails_with "$built" maintainer@example.org)" = 1 ] || fail "uploader got $(mails_with "$built" maintainer@example.org) mails"
  [ "$(mails_with "$built" builds@example.org)" = 1 ] || fail "list got $(mails_with "$built" builds@example.org) mails"
  grep -q "^Announce:" "$STATE/jobs/1/builds/$ARCH.info" && fail "still marked to announce"
  grep -q "^State: built" "$STATE/jobs/1/job.info" || fail "job $(sed -n 's/^State: //p' "$STATE/jobs/1/job.info")"
}

test_mail_waits_while_the_server_is_down_and_goes_once_when_it_is_up()
{
  start_smtp || return
  stop_smtp
  configure || return
  upload 1.0-1
  buildme --foreground
  assert_status 0
  assert_output "BUILDING"
  [ -n "$(ls -A "$STATE/mail/outbox")" ] || fail "nothing kept in the outbox"
  grep -q "^State: built" "$STATE/jobs/1/job.info" || fail "the build waited for mail"
  start_smtp
  buildme
  assert_status 0
  buildme
  local built="[buildme] BUILT hello-buildme 1.0-1 (fremantle, $ARCH)"
  [ "$(mails_with "$built" maintainer@example.org)" = 1 ] || fail "uploader got $(mails_with "$built" maintainer@example.org) mails"
  [ "$(mails_with "$built" builds@example.org)" = 1 ] || fail "list got $(mails_with "$built" builds@example.org) mails"
  [ -z "$(ls -A "$STATE/mail/outbox")" ] || fail "mail left in the outbox"
}

run_tests
