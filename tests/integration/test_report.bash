#!/bin/bash
# The status site from a real pipeline run on the local builder: a good
# upload built, a build that fails (its changelog, maintainer field and log
# carrying <script>), a rejected upload, one still queued (no builder for its
# arch) and one still arriving. The site is read as a reader would: every
# page written and valid HTML (tidy and html5lib), every relative link
# resolves, the JSON valid against docs/report-schema.json, hostile strings
# escaped, and headless Chromium loads the front page and a job page with no
# console message and takes a screenshot of each.
source "$(dirname "$0")/lib.bash"
require_tools dpkg-buildpackage tidy chromium timeout
for module in jsonschema html5lib; do
  if ! /usr/bin/python3 -c "import $module" 2>/dev/null; then
    echo "FAIL: this suite needs python3-$module for /usr/bin/python3 (run scripts/install-deps)" >&2
    exit 1
  fi
done
REPORT=$BUILDME_BIN/buildme-report/buildme-report
if [ ! -x "$REPORT" ]; then
  echo "FAIL: $REPORT is not built (run scripts/build)" >&2
  exit 1
fi

ARCH=$(dpkg --print-architecture)
SITE=

# Chromium's processes run with their folder in $T; any left over are ended
# by pid, never by name.
teardown()
{
  local proc pid
  for proc in /proc/[0-9]*; do
    pid=${proc#/proc/}
    case $(readlink "$proc/cwd" 2>/dev/null) in "$T" | "$T"/*) ;; *) continue ;; esac
    tr '\0' ' ' <"$proc/cmdline" 2>/dev/null | grep -q chromium && kill "$pid" 2>/dev/null
  done
}

configure()
{
  SITE=$T/site
  sed -i 's/^products = fremantle$/products = fremantle diablo/' "$T/buildme.conf"
  mkdir -p "$T/incoming/diablo"
  cat >>"$T/buildme.conf" <<CONF
[product fremantle]
arches = $ARCH

[product diablo]
arches = armel

[builder here]
host = local
slots = 2
arches = $ARCH

[report]
dir = $SITE
url = https://builder.example.org/
title = Example extras autobuilder
CONF
}

# hostile_source OUTDIR: hello-buildme 2.0-1, whose build fails with a
# compiler error quoting <script>, whose changelog and Changed-By carry
# <script> too.
hostile_source()
{
  local out=$1 tree=$T/hostile/hello-buildme-2.0
  mkdir -p "$out" "$T/hostile"
  cp -a "$BUILDME_SOURCE/example/hello-buildme" "$tree"
  echo '#error "<script>alert(\"log\")</script>"' >>"$tree/hello.c"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@1700000000 \
    --exclude=debian -C "$T/hostile" -czf "$T/hostile/hello-buildme_2.0.orig.tar.gz" hello-buildme-2.0
  cat >"$tree/debian/changelog" <<'CHANGELOG'
hello-buildme (2.0-1) unstable; urgency=medium

  * <script>alert("changelog")</script> & <b>bold</b> claims.

 -- Mallory <script>alert(1)</script> <mallory@example.org>  Sat, 21 Nov 2026 12:00:00 +0000
CHANGELOG
  (cd "$tree" && dpkg-buildpackage -S -us -uc -d -nc >"$T/hostile/log" 2>&1) || {
    fail "cannot make the hostile source: $(cat "$T/hostile/log")"
    return 1
  }
  cp "$T"/hostile/hello-buildme_2.0* "$out/"
}

# chrome NAME URL WIDTH: a screenshot ($T/NAME.png) and the DOM ($T/NAME.dom)
# of URL in a window WIDTH pixels wide; fails on any console message.
chrome()
{
  local name=$1 url=$2 width=$3
  local options=(--headless --no-sandbox --disable-gpu --user-data-dir="$T/chrome"
    --enable-logging=stderr --v=0 --window-size="$width,1400" --hide-scrollbars)
  (cd "$T" && timeout -k 5 120 chromium "${options[@]}" --screenshot="$T/$name.png" "$url") \
    >"$T/$name.log" 2>&1 || fail "chromium could not take a screenshot of $url: $(tail -5 "$T/$name.log")"
  (cd "$T" && timeout -k 5 120 chromium "${options[@]}" --dump-dom "$url") \
    >"$T/$name.dom" 2>>"$T/$name.log" || fail "chromium could not load $url: $(tail -5 "$T/$name.log")"
  [ -s "$T/$name.png" ] || fail "no screenshot of $url"
  grep -q ':CONSOLE' "$T/$name.log" && fail "console messages on $url: $(grep ':CONSOLE' "$T/$name.log")"
  return 0
}

test_the_site_of_a_real_run_is_complete_valid_escaped_and_loads_in_a_browser()
{
  configure
  # Tick 1: a good upload and a failing one for fremantle, one for diablo
  # (armel: no builder builds it).
  upload 1.0-1
  hostile_source "$T/hostile-upload" || return
  cp -p "$T"/hostile-upload/* "$INCOMING/"
  cp -p "$(source_upload 1.0-4)"/* "$T/incoming/diablo/"
  age 3600 "$INCOMING"/* "$T"/incoming/diablo/*
  buildme --foreground
  assert_status 0
  assert_output "ACCEPTED: hello-buildme 1.0-1 queued as job"
  assert_output "ACCEPTED: hello-buildme 2.0-1 queued as job"
  assert_output "WAITING: no builder for armel"

  # Tick 2: a damaged upload is rejected; a .changes whose files are not
  # there yet waits.
  local three five
  three=$(source_upload 1.0-3)
  cp -p "$three"/hello-buildme_1.0-3* "$INCOMING/"
  echo damaged >>"$INCOMING/hello-buildme_1.0-3.debian.tar.xz"
  age 3600 "$INCOMING"/*
  five=$(source_upload 1.0-5)
  cp "$five"/hello-buildme_1.0-5_source.changes "$INCOMING/"
  buildme --foreground
  assert_status 0
  assert_output "REJECTED: hello-buildme_1.0-3.debian.tar.xz"

  # The tick wrote the site; buildme-report by hand finds nothing to write
  # for the jobs that did not change.
  assert_file "$SITE/index.html"
  OUT=$("$REPORT" --config "$T/buildme.conf" --verbose 2>&1)
  STATUS=$?
  assert_status 0
  printf '%s\n' "$OUT" | sed 's/^/    | /' >&2

  local good failed queued
  good=$(job_dir_of 1.0-1 | xargs basename)
  failed=$(job_dir_of 2.0-1 | xargs basename)
  queued=$(job_dir_of 1.0-4 | xargs basename)
  [ -n "$good" ] && [ -n "$failed" ] && [ -n "$queued" ] || { fail "jobs missing: '$good' '$failed' '$queued'"; return; }
  grep -q "^State: built" "$STATE/jobs/$good/job.info" || fail "job $good is not built"
  grep -q "^State: failed" "$STATE/jobs/$failed/job.info" || fail "job $failed did not fail"

  # Every page.
  local page
  for page in index.html index.json stuck.html stuck.json feed.atom style.css \
    "jobs/$good.html" "jobs/$good.json" "jobs/$failed.html" "jobs/$queued.html" \
    sources/hello-buildme.html sources/hello-buildme.json builders/here.html builders/here.json \
    "logs/fremantle/$good/$ARCH/build.log" "logs/fremantle/$failed/$ARCH/build.log"; do
    assert_file "$SITE/$page"
  done
  assert_same "$SITE/logs/fremantle/$failed/$ARCH/build.log" "$T/results/fremantle/$failed/$ARCH/build.log"

  # What the front page says of each.
  assert_contains "$SITE/index.html" "no-builder</span> no builder for armel"
  assert_contains "$SITE/index.html" "grace-period</span> still arriving"
  assert_contains "$SITE/index.html" "hello-buildme_1.0-5_source.changes"
  assert_contains "$SITE/index.html" "<span class=\"state s-success\">success</span>"
  assert_contains "$SITE/index.html" "<span class=\"state s-build-failed\">build-failed</span>"
  grep -l "1.0-3" "$SITE"/jobs/*.html && fail "the rejected upload has a job page"
  assert_contains "$SITE/index.html" "<td>hello-buildme_1.0-3_source.changes</td>"
  assert_contains "$SITE/index.html" "hello-buildme_1.0-3.debian.tar.xz is "

  # Hostile strings: text, never markup.
  local file
  for file in "$SITE"/*.html "$SITE"/*/*.html "$SITE/feed.atom"; do
    grep -qi "<script" "$file" && fail "$file carries a <script> element"
  done
  assert_contains "$SITE/jobs/$failed.html" "&lt;script&gt;alert(&quot;changelog&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"
  assert_contains "$SITE/jobs/$failed.html" "Mallory &lt;script&gt;alert(1)&lt;/script&gt;"
  assert_contains "$SITE/jobs/$failed.html" "#error &quot;&lt;script&gt;alert(\\&quot;log\\&quot;)&lt;/script&gt;&quot;"
  assert_contains "$SITE/jobs/$failed.json" '\u003cscript>alert(\"changelog\")'

  # Links, JSON against the schema, HTML5 (html5lib, strict).
  OUT=$(/usr/bin/python3 "$BUILDME_SOURCE/tests/integration/check-site" "$SITE" "$BUILDME_SOURCE/docs/report-schema.json" 2>&1)
  STATUS=$?
  printf '%s\n' "$OUT" | sed 's/^/    | /' >&2
  assert_status 0
  # And tidy: warnings are errors too.
  for file in "$SITE"/*.html "$SITE"/*/*.html; do
    OUT=$(tidy -quiet -errors "$file" 2>&1)
    [ $? -eq 0 ] || fail "tidy finds fault with $file: $OUT"
  done

  # A browser: a wide front page and a job page on a phone.
  chrome front "file://$SITE/index.html" 1280
  chrome job "file://$SITE/jobs/$failed.html" 412
  grep -q "Recent results" "$T/front.dom" || fail "the front page did not render: $(head -c 300 "$T/front.dom")"
  grep -q "Mallory &lt;script&gt;" "$T/job.dom" || fail "the job page did not render its uploader as text"
  if [ -n "${REPORT_SCREENSHOTS:-}" ]; then
    mkdir -p "$REPORT_SCREENSHOTS" && cp "$T/front.png" "$T/job.png" "$REPORT_SCREENSHOTS/"
  fi
}

test_a_report_that_cannot_be_written_never_fails_the_tick()
{
  configure
  echo "a file where the site's folder should be" >"$T/site"
  upload 1.0-1
  age_all
  buildme --foreground
  assert_status 0
  assert_output "ACCEPTED: hello-buildme 1.0-1 queued as job 1"
  assert_output "status site not written"
  grep -q "^State: built" "$STATE/jobs/1/job.info" || fail "the build did not end built"
  OUT=$("$REPORT" --config "$T/buildme.conf" 2>&1)
  STATUS=$?
  assert_status 1
  assert_output "buildme-report: error:"
}

run_tests
