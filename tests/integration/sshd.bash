# A real OpenSSH server on 127.0.0.1 for a test: its own config, a generated
# host key, one authorized client key, an unprivileged port. Sourced by the
# suites that build over SSH, after lib.bash.
#
#   start_sshd NAME      starts server NAME; sets SSHD_PORT[NAME], writes
#                        $T/NAME/known_hosts and $T/client_key (shared)
#   stop_sshd NAME       kills the server and every connection it serves

declare -A SSHD_PORT SSHD_SID

require_tools ssh-keygen
if [ ! -x /usr/sbin/sshd ]; then
  echo "FAIL: this suite needs /usr/sbin/sshd (apt-get install openssh-server)" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "FAIL: this suite starts sshd and logs in as root: run it as root" >&2
  exit 1
fi

client_key()
{
  if [ ! -f "$T/client_key" ]; then
    ssh-keygen -q -t ed25519 -N '' -C buildme-test -f "$T/client_key"
    cp "$T/client_key.pub" "$T/authorized_keys"
    chmod 600 "$T/authorized_keys"
  fi
}

start_sshd()
{
  local name=$1 dir=$T/$1 port try
  client_key
  mkdir -p "$dir" /run/sshd
  ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$dir/host_key"
  for try in 1 2 3 4 5 6 7 8 9 10; do
    port=$((20000 + RANDOM % 40000))
    cat >"$dir/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_key
AuthorizedKeysFile $T/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $dir/sshd.pid
Subsystem sftp internal-sftp
LogLevel VERBOSE
# Hermetic sessions: Debian's bash sources ~/.bashrc for a command run over
# ssh only while it is a top-level shell (SHLVL < 2 after its own increment);
# SHLVL=1 here makes it 2, so the user's startup files never run in a test.
SetEnv SHLVL=1
CONF
    setsid /usr/sbin/sshd -D -e -f "$dir/sshd_config" 2>>"$dir/sshd.log" &
    local pid=$!
    local waited
    for waited in $(seq 1 50); do
      if ! kill -0 $pid 2>/dev/null; then
        break # it failed to bind: try another port
      fi
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        SSHD_PORT[$name]=$port
        SSHD_SID[$name]=$pid
        echo "[127.0.0.1]:$port $(cut -d' ' -f1-2 "$dir/host_key.pub")" >"$dir/known_hosts"
        return 0
      fi
      sleep 0.1
    done
    kill $pid 2>/dev/null
  done
  echo "FAIL: sshd $name did not start: $(tail -5 "$dir/sshd.log")" >&2
  return 1
}

# descendants PID: every process below PID.
descendants()
{
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    echo "$child"
    descendants "$child"
  done
}

stop_sshd()
{
  local name=$1 pid
  [ -n "${SSHD_SID[$name]:-}" ] || return 0
  pid=${SSHD_SID[$name]}
  # The server, its connections and everything they run, as when a builder
  # host goes down (each connection is its own session, so kill the tree).
  kill -STOP "$pid" 2>/dev/null
  kill -KILL $(descendants "$pid") "$pid" 2>/dev/null
  unset "SSHD_SID[$name]"
}

stop_all_sshd()
{
  local name
  for name in "${!SSHD_SID[@]}"; do
    stop_sshd "$name"
  done
}

# builder_section NAME [ARCHES] [EXTRA LINES...]: a [builder] for server NAME.
builder_section()
{
  local name=$1 arches=${2:-$(dpkg --print-architecture)}
  shift 2 || shift $#
  printf '\n[builder %s]\nhost = 127.0.0.1\nport = %s\nusers = root\narches = %s\nidentity = %s\nknown_hosts = %s\nwork_dir = %s\n' \
    "$name" "${SSHD_PORT[$name]}" "$arches" "$T/client_key" "$T/$name/known_hosts" "$T/work-$name"
  local line
  for line in "$@"; do
    printf '%s\n' "$line"
  done
}
