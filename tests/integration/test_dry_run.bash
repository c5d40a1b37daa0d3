#!/bin/bash
# buildme --dry-run finds what a real tick would fail on, against a real
# sshd, a real SMTP server and real folder permissions: one FAULT line for
# each, with its fix, and exit status 1; nothing moved.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/sshd.bash"
source "$(dirname "$0")/smtp.bash"
source "$(dirname "$0")/repo.bash"
require_tools setpriv

teardown()
{
  stop_all_sshd
  stop_smtp
  [ -z "${GNUPGHOME_DIR:-}" ] || drop_key
}

# A configuration that is right in every way: one SSH builder, the mail
# server up, an upload waiting.
good_setup()
{
  start_sshd b1 || return 1
  builder_section b1 >>"$T/buildme.conf"
  start_smtp
  mail_section >>"$T/buildme.conf"
  upload 1.0-1
  age_all
}

faults() { grep -c '^FAULT: ' <<<"$OUT"; }

test_a_configuration_that_works_passes_and_moves_nothing()
{
  good_setup || return
  buildme --dry-run
  assert_status 0
  assert_output "dry run: folders good, builders good, mail good"
  assert_no_output "FAULT"
  [ "$(ls "$INCOMING" | wc -l)" -gt 0 ] || fail "the upload was moved"
  assert_absent "$STATE/jobs/1"
  [ "$(ls "$T/smtp/received" 2>/dev/null | wc -l)" -eq 0 ] || fail "a mail was sent"
}

test_a_wrong_builder_port_is_a_fault()
{
  good_setup || return
  local closed=$((SSHD_PORT[b1] == 65535 ? 1025 : SSHD_PORT[b1] + 1))
  sed -i "s/^port = ${SSHD_PORT[b1]}\$/port = $closed/" "$T/buildme.conf"
  buildme --dry-run
  assert_status 1
  assert_output "FAULT: builder b1 (root@127.0.0.1:$closed)"
  assert_output "check host, port and users in [builder b1]"
  [ "$(faults)" -eq 1 ] || fail "$(faults) faults, expected 1"
}

test_a_missing_identity_or_known_hosts_file_is_a_fault_naming_the_file_and_the_fix()
{
  good_setup || return
  sed -i "s|^identity = .*|identity = $T/no-such-key|" "$T/buildme.conf"
  sed -i "s|^known_hosts = .*|known_hosts = $T/no-such-known-hosts|" "$T/buildme.conf"
  buildme --dry-run
  assert_status 1
  assert_output "identity $T/no-such-key cannot be read"
  assert_output "ssh-keygen -t ed25519 -N '' -f $T/no-such-key"
  assert_output "known_hosts $T/no-such-known-hosts cannot be read"
  assert_output "ssh-keyscan -p ${SSHD_PORT[b1]} 127.0.0.1 >>$T/no-such-known-hosts"
}

test_a_wrong_slot_user_is_a_fault()
{
  good_setup || return
  sed -i "s/^users = root\$/users = root nosuchuser-buildme/" "$T/buildme.conf"
  buildme --dry-run
  assert_status 1
  assert_output "FAULT: builder b1 (nosuchuser-buildme@127.0.0.1:${SSHD_PORT[b1]})"
  assert_no_output "FAULT: builder b1 (root@"
}

test_a_builder_without_its_build_tools_is_a_fault_naming_them()
{
  good_setup || return
  # A site's own build command that the builder does not have.
  sed -i "s|^\[builder b1\]\$|[builder b1]\nbuild_command = /opt/no-such-builder {dsc}|" "$T/buildme.conf"
  buildme --dry-run
  assert_status 1
  assert_output "missing /opt/no-such-builder; install them there"
}

test_the_mail_server_down_is_a_fault()
{
  good_setup || return
  stop_smtp
  buildme --dry-run
  assert_status 1
  assert_output "FAULT: [mail]: the mail server smtp://127.0.0.1:$SMTP_PORT does not take mail"
}

# As an account that is not root (root may write anywhere): the builder
# account of the admin guide, which cannot write a repo_queue that belongs to
# another account, nor a missing incoming folder.
test_folders_the_account_cannot_write_are_faults_with_their_fix()
{
  chmod 0755 "$T"
  mkdir -p "$T/repo" "$STATE"
  chown -R nobody: "$T/incoming" "$STATE"
  chmod 0755 "$T/repo" # root's, as the repository account's would be
  printf '\n[builder here]\nhost = local\n' >>"$T/buildme.conf"
  OUT=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$BUILDME" --config "$T/buildme.conf" --dry-run 2>&1)
  STATUS=$?
  printf '%s\n' "$OUT" | sed 's/^/    | /' >&2
  assert_status 1
  assert_output "FAULT: repo_queue $T/repo/incoming/extras-devel/fremantle (product fremantle): does not exist and nobody cannot create it in $T/repo"
  assert_no_output "FAULT: incoming_dir"
  assert_no_output "FAULT: state_dir"
  # A missing incoming folder: intake would stop.
  rmdir "$INCOMING"
  OUT=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$BUILDME" --config "$T/buildme.conf" --dry-run 2>&1)
  assert_output "FAULT: incoming_dir $INCOMING (product fremantle): does not exist; create it (mkdir -p $INCOMING)"
}

test_queue_manage_dry_run_checks_its_folders_and_its_key()
{
  new_key
  repository_section extras-devel >>"$T/buildme.conf"
  queue_manage --repository extras-devel --dry-run
  assert_status 0
  assert_output "dry run: extras-devel: folders and signing key good"
  assert_absent "$T/staging/extras-devel"
  # A key the home does not hold.
  sed -i "s/^sign_with = .*/sign_with = 0123456789ABCDEF0123456789ABCDEF01234567/" "$T/buildme.conf"
  queue_manage --repository extras-devel --dry-run
  assert_status 1
  assert_output "FAULT: sign_with (repository extras-devel): "
  assert_output "0123456789ABCDEF0123456789ABCDEF01234567"
}

test_queue_manage_dry_run_as_an_account_that_cannot_write_staging()
{
  new_key
  repository_section extras-devel >>"$T/buildme.conf"
  chmod 0755 "$T"
  mkdir -p "$T/staging" "$STATE"
  chown -R nobody: "$STATE"
  OUT=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$BUILDME_BIN/queue-manage/queue-manage" --config "$T/buildme.conf" --repository extras-devel --dry-run 2>&1)
  STATUS=$?
  printf '%s\n' "$OUT" | sed 's/^/    | /' >&2
  assert_status 1
  assert_output "FAULT: staging_dir $T/staging/extras-devel (repository extras-devel): does not exist and nobody cannot create it in $T/staging"
}

run_tests
