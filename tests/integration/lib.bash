# Shared by the integration suites: a fresh archive folder per test, real
# source packages from example/make-source, and assertions on disk.
#
# A suite defines functions named test_* and ends with `run_tests`. Each test
# runs in its own folder ($T) with a config ($T/buildme.conf) whose product
# "fremantle" takes uploads in $T/incoming/fremantle.

set -uo pipefail

BUILDME_SOURCE=${BUILDME_SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILDME_BIN=${BUILDME_BIN:-$BUILDME_SOURCE/build/tools}
BUILDME=$BUILDME_BIN/buildme/buildme

# Sources are made once per suite run and copied into each test.
SOURCE_CACHE=$(mktemp -d /tmp/buildme-sources-XXXXXX)
trap 'rm -rf "$SOURCE_CACHE"' EXIT

require_tools()
{
  local tool
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null; then
      echo "FAIL: this suite needs '$tool' (run scripts/install-deps)" >&2
      exit 1
    fi
  done
}
require_tools dpkg-source dpkg-buildpackage flock
if [ ! -x "$BUILDME" ]; then
  echo "FAIL: $BUILDME is not built (run scripts/build)" >&2
  exit 1
fi

# runs_under DIR WORD: true when a process whose current folder is DIR or
# below it has WORD in its command line. Tests look for their own processes
# this way, never by name machine-wide: another test run on the same machine
# may be running the same commands.
runs_under()
{
  local dir=$1 word=$2 proc cwd
  while read -r proc cwd; do
    case $cwd in "$dir" | "$dir"/*) ;; *) continue ;; esac
    tr '\0' ' ' <"$proc/cmdline" 2>/dev/null | grep -qF -- "$word" && return 0
  done < <(find /proc -mindepth 2 -maxdepth 2 -name cwd -printf '%h %l\n' 2>/dev/null)
  return 1
}

# The example is built without debhelper (example/rules-without-debhelper),
# unless a suite sets EXAMPLE_DEBHELPER=yes: the same package, in half the
# build time, and the suites build it hundreds of times a run.
EXAMPLE_DEBHELPER=${EXAMPLE_DEBHELPER:-no}

# source_upload VERSION [--dsc-only]: prints the folder that holds the
# upload's files (orig, .dsc, .debian.tar.xz and, without --dsc-only,
# _source.changes and .buildinfo).
source_upload()
{
  local version=$1 mode=${2:-} options=()
  local dir="$SOURCE_CACHE/$version$mode"
  [ "$EXAMPLE_DEBHELPER" = yes ] || options+=(--without-debhelper)
  [ -z "$mode" ] || options+=("$mode")
  if [ ! -d "$dir" ]; then
    "$BUILDME_SOURCE/example/make-source" "${options[@]}" "$version" "$dir" >&2 || {
      echo "FAIL: example/make-source $version failed" >&2
      return 1
    }
  fi
  echo "$dir"
}

# upload VERSION [--dsc-only]: copies that upload into the incoming folder.
upload()
{
  local dir
  dir=$(source_upload "$@") || return 1
  cp -p "$dir"/* "$INCOMING/"
}

# age SECONDS FILE...: makes files look that many seconds old.
age()
{
  local seconds=$1
  shift
  touch -d "@$(($(date +%s) - seconds))" "$@"
}

# All of incoming looks old enough to be taken (past settle time and grace).
age_all() { age "${1:-3600}" "$INCOMING"/*; }

new_archive()
{
  T=$(mktemp -d /tmp/buildme-it-XXXXXX)
  INCOMING=$T/incoming/fremantle
  STATE=$T/state
  mkdir -p "$INCOMING"
  cat >"$T/buildme.conf" <<CONF
[buildme]
products = fremantle
incoming_dir = $T/incoming/%(product)s
result_dir = $T/results/%(product)s
repo_queue = $T/repo/incoming/extras-devel/%(product)s
state_dir = $STATE
grace_period = ${GRACE:-600}
CONF
}

# buildme ARGS...: runs the real program against this test's config (with
# $BUILDME_EXTRA, which the intake suites set to --intake-only); output in
# $OUT, exit status in $STATUS.
buildme()
{
  OUT=$("$BUILDME" --config "$T/buildme.conf" ${BUILDME_EXTRA:-} "$@" 2>&1)
  STATUS=$?
  printf '%s\n' "$OUT" | sed 's/^/    | /' >&2
}

FAILURES=0
fail()
{
  echo "    FAIL: $*" >&2
  FAILURES=$((FAILURES + 1))
}
assert_status() { [ "$STATUS" -eq "$1" ] || fail "exit status $STATUS, expected $1"; }
assert_file() { [ -f "$1" ] && [ ! -L "$1" ] || fail "expected file $1"; }
assert_symlink() { [ -L "$1" ] || fail "expected symlink $1"; }
assert_absent() { [ ! -e "$1" ] && [ ! -L "$1" ] || fail "expected no $1"; }
assert_output() { grep -qF -- "$1" <<<"$OUT" || fail "output lacks: $1"; }
assert_no_output() { ! grep -qF -- "$1" <<<"$OUT" || fail "output has: $1"; }
assert_contains() { grep -qF -- "$2" "$1" 2>/dev/null || fail "$1 lacks: $2"; }
assert_same() { cmp -s "$1" "$2" || fail "$1 differs from $2"; }
assert_count()
{
  local expected=$1 dir=$2 pattern=$3 count
  count=$(find "$dir" -maxdepth 1 -name "$pattern" | wc -l)
  [ "$count" -eq "$expected" ] || fail "$count files match $dir/$pattern, expected $expected"
}
# The number of job folders.
job_count() { find "$STATE/jobs" -mindepth 1 -maxdepth 1 -name '[0-9]*' 2>/dev/null | wc -l; }
job_dir_of() { grep -lx "Source: hello-buildme" "$STATE"/jobs/*/job.info 2>/dev/null | xargs -r grep -l "^Version: $1\$" | xargs -r dirname; }

run_tests()
{
  local names passed=0 failed=0 name before
  names=$(declare -F | awk '{print $3}' | grep '^test_' || true)
  # ONLY and EXCEPT (extended grep patterns) pick the tests of one part of
  # a suite that ctest runs in parts (tests/CMakeLists.txt).
  if [ -n "${ONLY:-}" ]; then
    names=$(grep -E -- "$ONLY" <<<"$names" || true)
  fi
  if [ -n "${EXCEPT:-}" ]; then
    names=$(grep -Ev -- "$EXCEPT" <<<"$names" || true)
  fi
  if [ -z "$names" ]; then
    echo "FAIL: no tests found" >&2
    exit 1
  fi
  local started
  for name in $names; do
    new_archive
    before=$FAILURES
    started=$SECONDS
    echo "--- $name" >&2
    cd "$T" || exit 1
    "$name"
    cd / || exit 1
    if declare -F teardown >/dev/null; then
      teardown
    fi
    if [ "$FAILURES" -eq "$before" ]; then
      passed=$((passed + 1))
      echo "ok   $name ($((SECONDS - started)) s)"
      rm -rf "$T"
    else
      failed=$((failed + 1))
      echo "FAIL $name (kept $T; $((SECONDS - started)) s)"
    fi
  done
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
