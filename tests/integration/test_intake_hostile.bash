#!/bin/bash
# Hostile uploads: names that try to leave the folder, symlinks, junk.
source "$(dirname "$0")/lib.bash"
# Intake alone: these suites start no builds.
BUILDME_EXTRA=--intake-only

DSC=hello-buildme_1.0-1.dsc
ORIG=hello-buildme_1.0.orig.tar.gz

# write_dsc NAME FILE...: a .dsc listing the given files (paths relative to
# $INCOMING, which may be hostile) with their true sizes and checksums.
write_dsc()
{
  local name=$1 f
  shift
  {
    echo "Format: 3.0 (quilt)"
    echo "Source: hello-buildme"
    echo "Binary: hello-buildme"
    echo "Architecture: any"
    echo "Version: 2.0-1"
    echo "Maintainer: Mallory <mallory@example.org>"
    echo "Checksums-Sha256:"
    for f in "$@"; do
      echo " $(sha256sum <"$INCOMING/$f" | cut -d' ' -f1) $(stat -c %s "$INCOMING/$f") $f"
    done
    echo "Files:"
    for f in "$@"; do
      echo " $(md5sum <"$INCOMING/$f" | cut -d' ' -f1) $(stat -c %s "$INCOMING/$f") $f"
    done
  } >"$INCOMING/$name"
}

test_a_name_with_dot_dot_never_leaves_the_folder()
{
  echo "secret" >"$T/incoming/secret"
  write_dsc evil_2.0-1.dsc ../secret
  age_all
  buildme
  assert_status 0
  assert_output "REJECTED: "
  assert_output "../secret"
  assert_file "$T/incoming/secret"
  assert_absent "$INCOMING/rejected/secret"
  assert_file "$INCOMING/rejected/evil_2.0-1.dsc"
  assert_file "$INCOMING/rejected/evil_2.0-1.dsc.reason"
  [ "$(job_count)" -eq 0 ] || fail "a job was made"
}

test_a_name_with_a_slash_is_rejected()
{
  mkdir -p "$INCOMING/sub"
  echo data >"$INCOMING/sub/file.tar.gz"
  write_dsc evil_2.0-1.dsc sub/file.tar.gz
  age_all
  buildme
  assert_output "REJECTED: "
  assert_output "sub/file.tar.gz"
  assert_file "$INCOMING/sub/file.tar.gz"
  assert_file "$INCOMING/rejected/evil_2.0-1.dsc"
}

test_an_absolute_name_is_rejected()
{
  echo data >"$T/abs.tar.gz"
  write_dsc evil_2.0-1.dsc "../../../abs.tar.gz"
  sed -i "s#\.\./\.\./\.\./abs.tar.gz#$T/abs.tar.gz#" "$INCOMING/evil_2.0-1.dsc"
  age_all
  buildme
  assert_output "REJECTED: "
  assert_file "$T/abs.tar.gz"
}

test_a_hidden_name_is_rejected()
{
  echo data >"$INCOMING/.hidden.tar.gz"
  write_dsc evil_2.0-1.dsc .hidden.tar.gz
  age_all
  buildme
  assert_output "REJECTED: "
  assert_output ".hidden.tar.gz"
}

test_a_symlinked_file_is_rejected_and_its_target_untouched()
{
  upload 1.0-1 --dsc-only
  mv "$INCOMING/$ORIG" "$T/real-orig.tar.gz"
  ln -s "$T/real-orig.tar.gz" "$INCOMING/$ORIG"
  age_all
  buildme
  assert_output "REJECTED: $ORIG is a symbolic link; upload the file itself"
  assert_symlink "$INCOMING/rejected/$ORIG"
  assert_file "$T/real-orig.tar.gz"
  assert_same "$T/real-orig.tar.gz" "$(source_upload 1.0-1 --dsc-only)/$ORIG"
}

test_a_symlinked_dsc_is_rejected()
{
  upload 1.0-1 --dsc-only
  mv "$INCOMING/$DSC" "$T/real.dsc"
  ln -s "$T/real.dsc" "$INCOMING/$DSC"
  age_all
  buildme
  assert_output "REJECTED: $DSC is a symbolic link"
  assert_symlink "$INCOMING/rejected/$DSC"
  assert_file "$T/real.dsc"
}

test_a_fifo_does_not_hang_buildme()
{
  upload 1.0-1 --dsc-only
  rm "$INCOMING/$ORIG"
  mkfifo "$INCOMING/$ORIG"
  age_all
  timeout 20 "$BUILDME" --config "$T/buildme.conf" --intake-only >"$T/out" 2>&1
  STATUS=$?
  OUT=$(cat "$T/out")
  [ $STATUS -ne 124 ] || fail "buildme hung on a FIFO"
  assert_output "REJECTED: $ORIG is not a regular file"
}

test_control_characters_in_a_file_name_cannot_reach_the_terminal()
{
  local name=$'evil\033[31m_1.dsc'
  upload 1.0-1 --dsc-only
  cp "$INCOMING/$DSC" "$INCOMING/$name"
  rm "$INCOMING/$DSC"
  age_all
  buildme
  assert_output 'evil\x1b[31m_1.dsc'
  grep -q $'\033\\[31m' <<<"$OUT" && fail "raw escape sequence printed"
  assert_output "REJECTED: "
  [ -e "$INCOMING/rejected/$name" ] || fail "the file was not moved to rejected/"
}

test_junk_and_binary_control_files_are_rejected_once_old()
{
  head -c 5000 /dev/urandom >"$INCOMING/junk_1.0-1.dsc"
  printf 'Source: x\0y\n' >"$INCOMING/nul_1.0-1.dsc"
  printf -- '-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nSource: a\n' >"$INCOMING/trunc_1.0-1.changes"
  age 30 "$INCOMING"/*
  buildme
  assert_output "WAITING: cannot read it yet (still arriving?)"
  age_all
  buildme
  assert_status 0
  assert_count 3 "$INCOMING/rejected" "*.reason"
  assert_file "$INCOMING/rejected/junk_1.0-1.dsc"
  assert_file "$INCOMING/rejected/nul_1.0-1.dsc"
  assert_file "$INCOMING/rejected/trunc_1.0-1.changes"
}

test_a_binary_changes_is_rejected_with_advice()
{
  local dir
  dir=$(source_upload 1.0-1)
  cp -p "$dir"/* "$INCOMING/"
  echo deb >"$INCOMING/hello-buildme_1.0-1_amd64.deb"
  local c=$INCOMING/hello-buildme_1.0-1_source.changes
  local md5 size
  md5=$(md5sum <"$INCOMING/hello-buildme_1.0-1_amd64.deb" | cut -d' ' -f1)
  size=$(stat -c %s "$INCOMING/hello-buildme_1.0-1_amd64.deb")
  sed -i "/^Files:/a\\ $md5 $size misc optional hello-buildme_1.0-1_amd64.deb" "$c"
  sed -i '/^Checksums-Sha1:/,/^Files:/{/^Checksums/d;/^ /d}' "$c"
  age_all
  buildme
  assert_output "includes binary packages (hello-buildme_1.0-1_amd64.deb)"
  assert_output "dpkg-buildpackage -S"
  assert_file "$INCOMING/rejected/hello-buildme_1.0-1_amd64.deb"
}

test_a_changes_that_can_never_be_valid_is_rejected_at_once_with_its_whole_upload()
{
  # A path in one listed name: no amount of waiting makes this .changes good.
  local dir
  dir=$(source_upload 1.0-1)
  cp -p "$dir"/* "$INCOMING/"
  local c=$INCOMING/hello-buildme_1.0-1_source.changes
  sed -i '/^Files:/a\ d41d8cd98f00b204e9800998ecf8427e 0 misc optional ../etc/passwd' "$c"
  sed -i '/^Checksums-Sha1:/,/^Files:/{/^Checksums/d;/^ /d}' "$c"
  buildme
  assert_output "REJECTED: "
  assert_no_output "WAITING"
  assert_file "$INCOMING/rejected/hello-buildme_1.0-1_source.changes"
  # Its .dsc and the files the .dsc lists went with it: one upload, one state.
  assert_file "$INCOMING/rejected/hello-buildme_1.0-1.dsc"
  assert_file "$INCOMING/rejected/hello-buildme_1.0.orig.tar.gz"
  assert_absent "$INCOMING/hello-buildme_1.0-1.dsc"
  age_all
  buildme
  [ "$(job_count)" -eq 0 ] || fail "a job was made"
}

test_a_changes_cut_short_still_waits_within_the_grace_period()
{
  local dir
  dir=$(source_upload 1.0-1)
  cp -p "$dir"/* "$INCOMING/"
  local c=$INCOMING/hello-buildme_1.0-1_source.changes
  head -c 300 "$c" >"$c.cut" && mv "$c.cut" "$c"
  buildme
  assert_output "WAITING: cannot read it yet (still arriving?)"
  assert_file "$c"
  # Nor is its .dsc taken as an upload of its own meanwhile.
  age 3600 "$INCOMING"/*.dsc "$INCOMING"/*.tar.*
  buildme
  assert_no_output "ACCEPTED"
  [ "$(job_count)" -eq 0 ] || fail "the .dsc of a .changes still arriving was taken alone"
}

test_a_rejected_folder_that_is_a_symlink_is_refused()
{
  mkdir "$T/elsewhere"
  ln -s "$T/elsewhere" "$INCOMING/rejected"
  upload 1.0-1 --dsc-only
  rm "$INCOMING/$ORIG"
  age_all
  buildme
  assert_status 1
  assert_output "rejected is not a folder"
  [ -z "$(ls -A "$T/elsewhere")" ] || fail "files went through the symlink"
  assert_file "$INCOMING/$DSC"
}

test_the_dsc_of_a_changes_must_match_its_source_and_version()
{
  local dir
  dir=$(source_upload 1.0-1)
  cp -p "$dir"/* "$INCOMING/"
  local c=$INCOMING/hello-buildme_1.0-1_source.changes
  sed -i 's/^Version: 1.0-1$/Version: 1.0-9/' "$c"
  age_all
  buildme
  assert_output "REJECTED: hello-buildme_1.0-1_source.changes is for version 1.0-9 but $DSC is version 1.0-1"
}

run_tests
