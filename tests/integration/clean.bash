# Shared by the suites that build in a clean environment (build_in = chroot)
# with the real sbuild: the base environment that
# tests/integration/make-test-base made once for the run ($BUILDME_TEST_BASE),
# and a config whose builder has it ready. Sourced after lib.bash (and
# sshd.bash, for an SSH builder).

require_tools sbuild mmdebstrap newuidmap dpkg-source

ARCH=$(dpkg --print-architecture)
BASE=${BUILDME_TEST_BASE:-$BUILDME_SOURCE/build/test-base/bookworm.tar}
if [ ! -s "$BASE" ]; then
  echo "FAIL: no base environment at $BASE (ctest makes it first: 'fixture: base environment';" \
    "by hand: tests/integration/make-test-base $BASE)" >&2
  exit 1
fi

# configure [SSHD]: builder "here" (local), or the builder reached through
# the test's sshd SSHD; the base as buildme would have made it: a ready
# record and the tarball in the builder's env_dir (a link to the shared one).
configure()
{
  local builder=${1:-here}
  # The builds run as root mapped to a subordinate id, which must be able to
  # reach the test's folders.
  chmod 0755 "$T"
  cat >>"$T/buildme.conf" <<CONF
base_mirror = ${BUILDME_TEST_MIRROR:-http://deb.debian.org/debian}
base_suite = bookworm
settle_time = 0
CONF
  if [ "$builder" = here ]; then
    printf '\n[builder here]\nhost = local\nenv_dir = %s\n' "$T/envs" >>"$T/buildme.conf"
  else
    builder_section "$builder" "$ARCH" "env_dir = $T/envs" >>"$T/buildme.conf"
  fi
  mkdir -p "$T/envs" "$STATE/envs/$builder"
  ln -s "$BASE" "$T/envs/fremantle_$ARCH.tar"
  cat >"$STATE/envs/$builder/fremantle_$ARCH.info" <<INFO
Builder: $builder
Product: fremantle
Arch: $ARCH
State: ready
Path: $T/envs/fremantle_$ARCH.tar
Made-At: $(date +%s)
INFO
}

