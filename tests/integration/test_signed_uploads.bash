#!/bin/bash
# Signed uploads (upload_keyring, upload_acl) with the real programs: a key
# made with gpg, an upload signed as debsign signs it and sent with dput over
# a real sshd, built, and mailed to the key's owner through a real SMTP
# server; upload-drop, check and show at the same door.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/repo.bash"
source "$(dirname "$0")/sshd.bash"
source "$(dirname "$0")/smtp.bash"
require_tools gpg scp dput

DSC=hello-buildme_1.0-1.dsc
CHANGES=hello-buildme_1.0-1_source.changes
DROP=$BUILDME_BIN/upload-drop/upload-drop
ARCH=$(dpkg --print-architecture)
# Intake alone, but where a test builds.
BUILDME_EXTRA=--intake-only

teardown()
{
  drop_key
  stop_all_sshd
  stop_smtp
}

# signed_archive: the uploader Dana's key (new_key: FPR, $GNUPGHOME_DIR),
# whose public key is the product's upload keyring.
signed_archive()
{
  new_key "Dana Developer <dana@example.org>"
  echo "upload_keyring = $T/key.gpg" >>"$T/buildme.conf"
}

gpg_clearsign()
{
  gpg --batch --homedir "$GNUPGHOME_DIR" --clearsign --output "$1.signed" "$1" &&
    mv "$1.signed" "$1" || fail "gpg could not sign $1"
}

# sign_upload DIR: signs the .dsc, then the .changes, as debsign does: the
# .changes then lists the signed .dsc's size and digests.
sign_upload()
{
  local dir=$1 sum old_size new_size
  local -A before after
  for sum in md5sum sha1sum sha256sum; do before[$sum]=$($sum <"$dir/$DSC" | cut -d' ' -f1); done
  old_size=$(stat -c %s "$dir/$DSC")
  gpg_clearsign "$dir/$DSC"
  new_size=$(stat -c %s "$dir/$DSC")
  for sum in md5sum sha1sum sha256sum; do
    after[$sum]=$($sum <"$dir/$DSC" | cut -d' ' -f1)
    sed -i "s/ ${before[$sum]} $old_size / ${after[$sum]} $new_size /" "$dir/$CHANGES"
  done
  gpg_clearsign "$dir/$CHANGES"
}

# signed_copy: a signed copy of hello-buildme 1.0-1 in $T/upload.
signed_copy()
{
  mkdir -p "$T/upload"
  cp -p "$(source_upload 1.0-1)"/* "$T/upload/"
  sign_upload "$T/upload"
}

test_a_signed_dput_upload_over_sshd_is_built_and_mailed_to_the_key_owner()
{
  start_smtp || return
  signed_archive
  mail_section >>"$T/buildme.conf"
  start_sshd incoming || return
  signed_copy
  cat >"$T/dput.cf" <<CONF
[buildme]
method = scp
fqdn = 127.0.0.1
login = root
incoming = $INCOMING
allow_unsigned_uploads = 0
ssh_config_options = Port ${SSHD_PORT[incoming]}
  IdentityFile $T/client_key
  UserKnownHostsFile $T/incoming/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
CONF
  # dput checks the signatures itself, against the uploader's own keys.
  OUT=$(GNUPGHOME=$GNUPGHOME_DIR dput -c "$T/dput.cf" buildme "$T/upload/$CHANGES" 2>&1)
  STATUS=$?
  printf '%s\n' "$OUT" | sed 's/^/    | /' >&2
  assert_status 0
  assert_output "Checking signature on .changes"
  assert_file "$INCOMING/$CHANGES"

  BUILDME_EXTRA= buildme --foreground
  assert_status 0
  assert_output "ACCEPTED: hello-buildme 1.0-1 queued as job 1"
  assert_contains "$STATE/jobs/1/job.info" "Signed-By: $FPR"
  assert_contains "$STATE/jobs/1/job.info" "Uploader: Dana Developer <dana@example.org>"
  grep -q "^State: built" "$STATE/jobs/1/job.info" || fail "job 1 is not built"
  buildme show 1
  assert_output "Uploader: Dana Developer <dana@example.org>"
  assert_output "Signed:   by key $FPR"

  buildme # sends what is left in the outbox
  local built="[buildme] BUILT hello-buildme 1.0-1 (fremantle, $ARCH)"
  [ "$(mails_with "$built" dana@example.org)" = 1 ] || fail "the key's owner got $(mails_with "$built" dana@example.org) mails"
  [ "$(mails_with "$built" maintainer@example.org)" = 0 ] || fail "Changed-By was mailed"
  [ "$(mails_with "$built" builds@example.org)" = 1 ] || fail "the list got $(mails_with "$built" builds@example.org) mails"
}

test_an_unsigned_upload_is_rejected_and_only_the_list_hears()
{
  start_smtp || return
  signed_archive
  mail_section >>"$T/buildme.conf"
  upload 1.0-1
  buildme
  assert_status 0
  assert_output "REJECTED: $CHANGES is not signed"
  buildme # sends the outbox
  assert_file "$INCOMING/rejected/$CHANGES"
  assert_file "$INCOMING/rejected/$DSC"
  assert_contains "$INCOMING/rejected/$CHANGES.reason" "is not signed"
  [ "$(job_count)" -eq 0 ] || fail "a job was made"
  local rejected="[buildme] REJECTED $CHANGES"
  [ "$(mails_with "$rejected" builds@example.org)" = 1 ] || fail "the list was not told"
  [ "$(mails_with "$rejected" maintainer@example.org)" = 0 ] || fail "the unsigned Changed-By was mailed"
}

test_a_replayed_upload_and_a_key_without_rights_are_rejected_naming_key_and_rule()
{
  signed_archive
  echo "upload_acl = $T/uploaders.acl" >>"$T/buildme.conf"
  printf '# Dana: the hello team\n%s hello-*\n' "$FPR" >"$T/uploaders.acl"
  signed_copy
  cp -p "$T"/upload/* "$INCOMING/"
  buildme
  assert_output "ACCEPTED: hello-buildme 1.0-1 queued as job 1"
  # The same signed files again, after a new rights file that does not
  # list hello-buildme for the key: the rights refuse first.
  printf '%s bash\n' "$FPR" >"$T/uploaders.acl"
  cp -p "$T"/upload/* "$INCOMING/"
  buildme
  assert_output "may not upload source hello-buildme: upload_acl $T/uploaders.acl grants it only bash (rule: upload_acl)"
  # Rights back: now the replay record refuses it.
  printf '%s *\n' "$FPR" >"$T/uploaders.acl"
  cp -p "$T"/upload/* "$INCOMING/"
  buildme
  assert_output "this signature by key $FPR was used before, by the upload accepted as job 1"
  assert_file "$INCOMING/rejected/$CHANGES.1.reason"
  assert_contains "$INCOMING/rejected/$CHANGES.1.reason" "rule: no replays"
  [ "$(job_count)" -eq 1 ] || fail "$(job_count) jobs"
}

test_a_bad_upload_acl_line_stops_buildme_with_file_and_line()
{
  signed_archive
  echo "upload_acl = $T/uploaders.acl" >>"$T/buildme.conf"
  printf '%s hello-*\nDEADBEEF bash\n' "$FPR" >"$T/uploaders.acl"
  signed_copy
  cp -p "$T"/upload/* "$INCOMING/"
  buildme
  assert_status 2
  assert_output "$T/uploaders.acl:2: 'DEADBEEF' is not a key's full fingerprint"
  assert_file "$INCOMING/$CHANGES"
  assert_absent "$INCOMING/rejected"
}

test_upload_drop_places_a_signed_upload_and_refuses_an_unsigned_one()
{
  signed_archive
  OUT=$("$DROP" --config "$T/buildme.conf" --product fremantle "$(source_upload 1.0-1)"/* 2>&1)
  STATUS=$?
  assert_status 1
  assert_output "upload-drop: refused, nothing was dropped: $CHANGES is not signed"
  [ -z "$(ls -A "$INCOMING")" ] || fail "something was placed: $(ls -A "$INCOMING")"

  signed_copy
  OUT=$("$DROP" --config "$T/buildme.conf" --product fremantle "$T"/upload/* 2>&1)
  STATUS=$?
  assert_status 0
  assert_file "$INCOMING/$CHANGES"
  buildme
  assert_output "ACCEPTED: hello-buildme 1.0-1 queued as job 1"
}

test_check_prints_the_signature_verdict()
{
  signed_archive
  signed_copy
  buildme check "$T/upload/$CHANGES"
  assert_status 0
  assert_output "signature: GOOD (product fremantle): signed by key $FPR (Dana Developer <dana@example.org>)"
  cp -p "$(source_upload 1.0-1)"/* "$INCOMING/"
  buildme check "$INCOMING/$CHANGES"
  assert_status 1
  assert_output "signature: BAD (product fremantle): $CHANGES is not signed"
  # Without a keyring it says so.
  sed -i '/^upload_keyring/d' "$T/buildme.conf"
  buildme check "$INCOMING/$CHANGES"
  assert_status 0
  assert_output "signature: not checked: product fremantle has no upload_keyring"
}

run_tests
