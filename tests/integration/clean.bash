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

# configure [SSHD [ENGINE]]: builder "here" (local), or the builder reached
# through the test's sshd SSHD ("here" for the local one with an ENGINE);
# the base as buildme would have made it: a ready record and the tarball in
# the builder's env_dir (a link to the shared one). ENGINE schroot gives the
# builder engine = schroot and a chroot name of the test's own; the test runs
# install_schroot once its config is whole.
configure()
{
  local builder=${1:-here} engine=${2:-unshare} engine_lines=()
  if [ "$engine" = schroot ]; then
    engine_lines=("engine = schroot" "schroot_name = $(schroot_prefix){product}-{arch}")
  fi
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
    printf '%s\n' "${engine_lines[@]}" >>"$T/buildme.conf"
  else
    builder_section "$builder" "$ARCH" "env_dir = $T/envs" "${engine_lines[@]}" >>"$T/buildme.conf"
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


# --- the schroot engine ------------------------------------------------------

# The prefix of this test's chroot names: its own folder's name, so that two
# runs at once never share one (schroot reads them from /etc/schroot).
schroot_prefix() { echo "bmt-${T##*/}-"; }

# install_schroot: root's one-time set-up of the test's schroot builder,
# with buildme's own 'env schroot --install' (chroot.d, fstab, setup.d).
install_schroot()
{
  if [ "$(id -u)" != 0 ] || ! command -v schroot >/dev/null; then
    fail "the schroot engine's tests need root and schroot (scripts/install-deps installs it)"
    return 1
  fi
  # The shared base is root's (schroot takes no other).
  [ "$(stat -L -c %u "$T/envs/fremantle_$ARCH.tar")" = 0 ] || {
    fail "the base $BASE is not owned by root"
    return 1
  }
  buildme env schroot --install
  assert_status 0
  assert_output "schroot knows the chroot $(schroot_prefix)fremantle-$ARCH"
}

# remove_schroot: the test's chroot.d and fstab files, in teardown. The
# setup.d scripts stay: the same for every run, they act only on chroots
# marked buildme.unpack=tmpfs.
remove_schroot()
{
  [ -n "${T:-}" ] || return 0
  rm -f /etc/schroot/chroot.d/"$(schroot_prefix)"* /etc/schroot/buildme/"$(schroot_prefix)"*
}
