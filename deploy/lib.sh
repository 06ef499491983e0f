# shellcheck shell=bash
# Shared helpers for deploy/*.sh. Sourced, never executed.
#
# Every server script keeps all of its state under $STACK_DIR so that
# `rm -rf .stack` is a complete reset and nothing leaks into the host.

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$DEPLOY_DIR/.." && pwd)"
STACK_DIR="${TUNESTREAM_STACK_DIR:-$REPO_ROOT/.stack}"
mkdir -p "$STACK_DIR"
# Absolute, because servers run with other working directories and pid
# ownership checks compare against their command lines.
STACK_DIR="$(cd "$STACK_DIR" && pwd)"
CACHE_DIR="$STACK_DIR/cache"
LOG_DIR="$STACK_DIR/logs"
PID_DIR="$STACK_DIR/pids"
mkdir -p "$CACHE_DIR" "$LOG_DIR" "$PID_DIR"
# Keeps the state folder out of git without touching the repo's .gitignore.
[[ -f "$STACK_DIR/.gitignore" ]] || printf '*\n' >"$STACK_DIR/.gitignore"

# CI has no stdin and no terminal: never let a package manager prompt.
export DEBIAN_FRONTEND=noninteractive

log() { printf '[%s] %s\n' "${SERVICE:-stack}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# apt-get update is slow, so do it once per process and only when something
# is actually missing. The lock timeout matters because services start in
# parallel and may both need packages.
_APT_UPDATED=0
apt_install() {
  is_root || die "need root to apt-get install $*; install it by hand"
  if [[ "$_APT_UPDATED" -eq 0 ]]; then
    log "apt-get update"
    apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
    _APT_UPDATED=1
  fi
  log "apt-get install $*"
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$@" >&2
}

# One process at a time per service, so that two concurrent `up`s (or an `up`
# racing a `down`) cannot both decide to start a server. The lock lives on
# fd 9, which every server must be started with closed (`9>&-`): a daemon
# inheriting it would hold the lock for its whole life.
lock_service() {
  exec 9>"$PID_DIR/$1.lock"
  flock -w 300 9 || die "timed out waiting for lock $PID_DIR/$1.lock"
}

# A port counts as busy when something accepts connections on it; bash's
# /dev/tcp avoids depending on ss/netstat/nc being installed.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# First port >= $1 for which all of $2 consecutive ports are free.
free_port() {
  local port=$1 span=${2:-1} i busy
  while ((port + span - 1 < 65536)); do
    busy=0
    for ((i = 0; i < span; i++)); do
      if port_in_use $((port + i)); then busy=1; break; fi
    done
    ((busy == 0)) && { echo "$port"; return 0; }
    port=$((port + span))
  done
  return 1
}

# Prints the requested port, or a free one near it when the requested one is
# taken by something that is not ours (we only call this when our server is
# not running).
pick_port() {
  local name=$1 want=$2 span=${3:-1} got
  got="$(free_port "$want" "$span")" || die "no free port for $name near $want"
  [[ "$got" == "$want" ]] || log "port $want for $name is busy (not ours); using $got"
  echo "$got"
}

pid_file() { echo "$PID_DIR/$1.pid"; }

# Prints the pid recorded for $1 if that process is alive *and* its command
# line contains $2 (a path inside $STACK_DIR). The second check stops us from
# adopting, or killing, an unrelated process that reused a stale pid.
running_pid() {
  local file pid
  file="$(pid_file "$1")"
  [[ -f "$file" ]] || return 1
  pid="$(<"$file")"
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"; then
    echo "$pid"
    return 0
  fi
  rm -f "$file"
  return 1
}

# Starts "$@" detached from our session (setsid: a Ctrl-C or the end of a CI
# step's process group must not take the server down with it), appending
# stdout+stderr to $2 and recording the real server pid in the pid file. The
# inner shell writes its own pid and then execs, so the pid is the server's
# even if setsid had to fork.
start_daemon() {
  local name=$1 logfile=$2
  shift 2
  local file
  file="$(pid_file "$name")"
  rm -f "$file"
  # shellcheck disable=SC2016  # $$ and $@ are for the inner shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$file" "$@" </dev/null >>"$logfile" 2>&1 9>&- &
  local i
  for i in $(seq 1 50); do
    [[ -s "$file" ]] && return 0
    sleep 0.1
  done
  die "$name did not record its pid in $file"
}

# SIGTERM, wait up to $3 seconds, then SIGKILL. Only ever signals the pid we
# recorded, after running_pid has confirmed it is ours.
stop_daemon() {
  local name=$1 match=$2 grace=${3:-20} pid i
  if ! pid="$(running_pid "$name" "$match")"; then
    log "not running"
    return 0
  fi
  log "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 5; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after ${grace}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$(pid_file "$name")"
  log "stopped"
}

show_log_tail() {
  local logfile=$1
  {
    echo "----- last 30 lines of $logfile -----"
    tail -n 30 "$logfile" 2>/dev/null || echo "(no log)"
    echo "-----"
  } >&2
}

# wait_for NAME TIMEOUT LOGFILE PID CMD...: polls CMD every half second until
# it succeeds. Gives up early if PID (when non-empty) dies, so a crash is
# reported immediately rather than after the full timeout.
wait_for() {
  local name=$1 timeout=$2 logfile=$3 pid=$4
  shift 4
  local deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      log "ERROR: $name exited during startup"
      show_log_tail "$logfile"
      return 1
    fi
    sleep 0.5
  done
  log "ERROR: $name not healthy after ${timeout}s"
  show_log_tail "$logfile"
  return 1
}

# The address each running server actually listens on, for `status` and
# stack.env (ports can differ from the defaults when those were busy).
save_addr() { echo "$2" >"$PID_DIR/$1.addr"; }
read_addr() { cat "$PID_DIR/$1.addr" 2>/dev/null || echo "-"; }
clear_addr() { rm -f "$PID_DIR/$1.addr"; }

print_status() { printf '%-9s %-8s pid=%-8s %s\n' "$1" "$2" "$3" "$4"; }

# venv_install NAME VENV LOGFILE PIP_ARGS...: a fresh virtual environment at VENV with PIP_ARGS
# installed, pip's output in LOGFILE. A CI run once lost the SageMaker SDK's install to a failure that
# the same install on another machine minutes later did not meet, and every test of the SDK failed with
# it; so an install gets three tries, half a minute apart, on top of pip's own retries per request.
# After a failed try: the log's tail and the free disk, so that the next such failure says why.
# No wheel cache: these environments are built once, and a CI machine has run out of disk before.
# VENV_INSTALL_PAUSE_S overrides the pause between tries (tests/deploy/test_venv_install.py: 0).
venv_install() {
  local name=$1 venv=$2 logfile=$3
  shift 3
  local try
  : >"$logfile"
  for try in 1 2 3; do
    rm -rf "$venv"
    if { python3 -m venv "$venv" &&
      "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-cache-dir \
        --retries 10 --timeout 60 "$@"; } >>"$logfile" 2>&1; then
      return 0
    fi
    log "installing $name failed (try $try of 3)"
    show_log_tail "$logfile"
    df -h "$venv/.." 2>/dev/null | tail -n 1 | awk '{print "disk free: " $4 " of " $2}' >&2
    ((try < 3)) && sleep "${VENV_INSTALL_PAUSE_S:-30}"
  done
  rm -rf "$venv"
  return 1
}

# Standard entry point for the per-server scripts.
dispatch() {
  case "${1:-}" in
    up) do_up ;;
    down) do_down ;;
    status) do_status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
  esac
}
