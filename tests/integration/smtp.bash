# A real SMTP server for a test (aiosmtpd: STARTTLS required, AUTH), and the
# [mail] section that sends to it. Sourced after lib.bash; a suite's teardown
# calls stop_smtp.
#
#   start_smtp           starts it on a free port (again on the same port)
#   mail_section         the [mail] lines for buildme.conf
#   mails_with S R       how many received mails have S in them and go to R

require_tools openssl
if ! /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
  echo "FAIL: this suite needs a real SMTP server: apt-get install python3-aiosmtpd" >&2
  exit 1
fi
SMTP_PID=

# start_smtp: aiosmtpd with STARTTLS required and AUTH, on a free port.
start_smtp()
{
  mkdir -p "$T/smtp"
  if [ ! -f "$T/smtp/cert.pem" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
      -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
      -keyout "$T/smtp/key.pem" -out "$T/smtp/cert.pem" 2>/dev/null || fail "openssl failed"
    SMTP_PORT=$((20000 + RANDOM % 40000))
  fi
  rm -f "$T/smtp/ready"
  /usr/bin/python3 "$BUILDME_SOURCE/tests/unit/smtp_server.py" --port "$SMTP_PORT" \
    --folder "$T/smtp" --mode starttls --cert "$T/smtp/cert.pem" --key "$T/smtp/key.pem" \
    --user buildme --password 's3cret!' >>"$T/smtp/server.log" 2>&1 &
  SMTP_PID=$!
  local waited
  for waited in $(seq 1 100); do
    [ -f "$T/smtp/ready" ] && return 0
    sleep 0.1
  done
  fail "the SMTP server did not start: $(cat "$T/smtp/server.log")"
}

stop_smtp() { kill "$SMTP_PID" 2>/dev/null; wait "$SMTP_PID" 2>/dev/null; SMTP_PID=; }

# mails_with SUBJECT_PART RECIPIENT: how many received mails match both.
mails_with()
{
  local count=0 file
  for file in "$T"/smtp/received/*.eml; do
    [ -f "$file" ] || continue
    grep -qE "^RCPT TO: <?$2>?\$" "$file" && grep -qF "$1" "$file" && count=$((count + 1))
  done
  echo $count
}

mail_section()
{
  printf 's3cret!\n' >"$T/smtp-password"
  cat <<CONF

[mail]
smtp_url = smtp://127.0.0.1:$SMTP_PORT
starttls = required
username = buildme
password_file = $T/smtp-password
ca_file = $T/smtp/cert.pem
from = buildme <buildme@example.org>
list = builds@example.org
log_url = https://builder.example.org/logs/%(product)s/%(job)s/%(arch)s/build.log
timeout = 10
CONF
}
