#!/bin/bash
# docs/admin-guide.md is executable: run-admin-guide follows it as written,
# as root, with the real accounts, folders, key, config and crontab it
# describes, then an uploader uploads with the guide's dput.cf, the crontab's
# lines run as cron would until the upload is live, and a real apt client
# installs it from the live folder with the guide's client lines. All of it
# in a private copy of this machine (a mount and PID namespace with overlays
# over the folders the guide writes), so that the machine is left unchanged
# and two runs at once both pass.
source "$(dirname "$0")/lib.bash"
require_tools unshare mount runuser adduser dput curl gpg rsync apt-get
if [ "$(id -u)" -ne 0 ]; then
  echo "FAIL: this suite follows the admin guide as root (accounts, /etc, /srv): run it as root" >&2
  exit 1
fi

# What following the guide would change on this machine, were it not done in
# a private copy of it.
machine_state()
{
  local path
  sha256sum /etc/passwd /etc/group /etc/shadow /etc/gshadow 2>&1
  for path in /etc/buildme.conf /etc/buildme /etc/cron.d/buildme /etc/logrotate.d/buildme \
    /var/lib/buildme /var/log/buildme /srv/incoming /srv/builder /srv/repo /srv/www \
    /usr/local/bin/buildme /usr/local/bin/queue-manage /usr/share/keyrings/extras-devel.asc \
    /etc/apt/sources.list.d/extras-devel.list /home/jane; do
    if [ -e "$path" ] || [ -L "$path" ]; then
      echo "present: $path"
    fi
  done
  getent passwd builder repository jane
  getent group buildme uploaders
}

test_the_admin_guide_works_as_written_from_an_empty_machine_to_an_apt_install()
{
  local before after
  before=$(machine_state)
  mkdir "$T/layers"
  unshare --mount --pid --fork --mount-proc --propagation private \
    bash "$BUILDME_SOURCE/tests/integration/run-admin-guide" "$T/layers" ||
    fail "following docs/admin-guide.md failed (above)"
  after=$(machine_state)
  [ "$before" = "$after" ] ||
    fail "the machine changed: $(diff <(echo "$before") <(echo "$after"))"
}

run_tests
