# Shared by the repository suites: a real signing key, synthetic .debs made
# with dpkg-deb, and a private apt root for a real apt client. Sourced after
# lib.bash.

require_tools gpg gpgv dpkg-deb apt-get apt-ftparchive

# new_key [UID]: a passphrase-less signing key in $GNUPGHOME_DIR (short path:
# gpg-agent sockets have a length limit); sets FPR and writes the public key
# to $T/key.gpg.
new_key()
{
  GNUPGHOME_DIR=$(mktemp -d /tmp/bmg-XXXXXX)
  chmod 700 "$GNUPGHOME_DIR"
  gpg --batch --homedir "$GNUPGHOME_DIR" --passphrase '' \
    --quick-gen-key "${1:-buildme test <test@example.org>}" ed25519 sign never 2>/dev/null
  FPR=$(gpg --homedir "$GNUPGHOME_DIR" --with-colons --list-secret-keys | awk -F: '/^fpr/{print $10; exit}')
  gpg --homedir "$GNUPGHOME_DIR" --export >"$T/key.gpg"
  [ -n "$FPR" ] || fail "could not make a gpg key"
}

drop_key()
{
  if [ -n "${GNUPGHOME_DIR:-}" ]; then
    gpgconf --homedir "$GNUPGHOME_DIR" --kill gpg-agent 2>/dev/null
    rm -rf "$GNUPGHOME_DIR"
    GNUPGHOME_DIR=
  fi
}

# repository_section NAME [EXTRA LINES...]
repository_section()
{
  local name=$1
  shift
  printf '\n[repository %s]\nstaging_dir = %s\nproducts = fremantle\nsign_with = %s\ngnupg_home = %s\n' \
    "$name" "$T/staging/$name" "$FPR" "$GNUPGHOME_DIR"
  local line
  for line in "$@"; do
    printf '%s\n' "$line"
  done
}

# make_deb NAME VERSION ARCH OUTDIR [DESCRIPTION] [SOURCE]: a real .deb.
make_deb()
{
  local name=$1 version=$2 arch=$3 out=$4 description=${5:-test package} source=${6:-}
  local dir
  dir=$(mktemp -d)
  mkdir -p "$dir/DEBIAN" "$dir/usr/share/doc/$name"
  {
    echo "Package: $name"
    [ -n "$source" ] && echo "Source: $source"
    echo "Version: $version"
    echo "Architecture: $arch"
    echo "Maintainer: Test <test@example.org>"
    echo "Section: misc"
    echo "Priority: optional"
    echo "Description: $description"
    echo " A package made by buildme's tests."
  } >"$dir/DEBIAN/control"
  echo "$name $version" >"$dir/usr/share/doc/$name/README"
  mkdir -p "$out"
  local file="$out/${name}_${version#*:}_${arch}.deb"
  dpkg-deb --root-owner-group --build "$dir" "$file" >/dev/null || fail "dpkg-deb failed for $name $version"
  rm -rf "$dir"
  echo "$file"
}

QUEUE_OF() { echo "$T/repo/incoming/extras-devel/fremantle"; }

queue_manage()
{
  OUT=$("$BUILDME_BIN/queue-manage/queue-manage" --config "$T/buildme.conf" "$@" 2>&1)
  STATUS=$?
  printf '%s\n' "$OUT" | sed 's/^/    | /' >&2
}

# dependency_closure PACKAGE...: those installed packages and everything
# they depend on, by binary:Package name.
dependency_closure()
{
  local -A seen=()
  local todo=("$@") package deps dep
  while [ ${#todo[@]} -gt 0 ]; do
    package=${todo[0]}
    todo=("${todo[@]:1}")
    [ -n "${seen[$package]:-}" ] && continue
    dpkg-query -W "$package" >/dev/null 2>&1 || continue
    seen[$package]=1
    deps=$(dpkg-query -W -f='${Depends}, ${Pre-Depends}' "$package" 2>/dev/null |
      tr ',' '\n' | sed 's/([^)]*)//g; s/|.*//; s/:any//; s/[[:space:]]//g' | grep -v '^$')
    for dep in $deps; do
      todo+=("$dep")
    done
  done
  printf '%s\n' "${!seen[@]}"
}

# apt_root DIR DEPENDS...: a private apt root in $T/apt that trusts
# $T/key.gpg and reads the repository DIR. Its dpkg database holds only the
# given packages and what they depend on, copied from this system's, with no
# maintainer scripts or triggers: nothing it does can touch the real system.
apt_root()
{
  local repository=$1 package
  shift
  APT_ROOT=$T/apt
  mkdir -p "$APT_ROOT"/etc/apt/apt.conf.d "$APT_ROOT"/etc/apt/preferences.d \
    "$APT_ROOT"/var/lib/apt/lists/partial "$APT_ROOT"/var/cache/apt/archives/partial \
    "$APT_ROOT"/var/lib/dpkg/info "$APT_ROOT"/var/lib/dpkg/updates \
    "$APT_ROOT"/var/lib/dpkg/triggers "$APT_ROOT"/var/log "$APT_ROOT"/etc/apt/sources.list.d
  : >"$APT_ROOT/var/lib/dpkg/status"
  for package in $(dependency_closure "$@"); do
    dpkg-query -s "$package" >>"$APT_ROOT/var/lib/dpkg/status"
    echo >>"$APT_ROOT/var/lib/dpkg/status"
    : >"$APT_ROOT/var/lib/dpkg/info/$(dpkg-query -W -f='${binary:Package}' "$package").list"
  done
  echo "deb [signed-by=$T/key.gpg] file:$repository fremantle main" >"$APT_ROOT/etc/apt/sources.list"
}

apt_get()
{
  OUT=$(apt-get -o Dir="$APT_ROOT" -o Dir::State::status="$APT_ROOT/var/lib/dpkg/status" \
    -o Dir::Etc::Parts="$APT_ROOT/etc/apt/apt.conf.d" -o Dir::Etc::SourceParts="$APT_ROOT/etc/apt/sources.list.d" \
    -o Debug::NoLocking=1 \
    -o Dpkg::Options::=--root="$APT_ROOT" -o Dpkg::Options::=--log="$APT_ROOT/var/log/dpkg.log" \
    -o APT::Sandbox::User=root "$@" 2>&1)
  STATUS=$?
  printf '%s\n' "$OUT" | sed 's/^/    | /' >&2
}
