#!/usr/bin/env bash
# Starts/stops the five tunestream services in the background (`tunestream service all`),
# logging to .stack/logs/services.log. Used by `make demo`; in production run each service apart.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
stack_dir=${TUNESTREAM_STACK_DIR:-$root/.stack}
pid_file=$stack_dir/pids/services.pid
log_file=$stack_dir/logs/services.log
tunestream=${TUNESTREAM_BIN:-$root/.venv/bin/tunestream}

running() { [[ -f $pid_file ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; }

api_url() {
  local port=${TUNESTREAM_API_PORT:-8080}
  echo "http://127.0.0.1:$port"
}

start() {
  mkdir -p "$stack_dir/pids" "$stack_dir/logs"
  if running; then echo "services: already running (pid $(cat "$pid_file"))"; return 0; fi
  # Something else answering on the api port would pass the health check below in our place.
  if curl -fsS "$(api_url)/healthz" >/dev/null 2>&1; then
    echo "services: $(api_url) already answers, but not from a process this script started; stop it or set TUNESTREAM_API_PORT" >&2
    exit 1
  fi
  # nohup execs the command, so $! is the service process itself (setsid may fork and hide it).
  cd "$root"
  nohup "$tunestream" service all >>"$log_file" 2>&1 &
  echo $! >"$pid_file"
  local deadline=$((SECONDS + 60))
  until curl -fsS "$(api_url)/healthz" >/dev/null 2>&1; do
    if ! running; then echo "services: exited during start; last lines of $log_file:" >&2; tail -n 30 "$log_file" >&2; exit 1; fi
    if ((SECONDS > deadline)); then echo "services: api not healthy after 60s; see $log_file" >&2; tail -n 30 "$log_file" >&2; exit 1; fi
    sleep 0.5
  done
  if ! running; then echo "services: exited right after start; see $log_file" >&2; tail -n 30 "$log_file" >&2; exit 1; fi
  echo "services: running (pid $(cat "$pid_file")), api at $(api_url), log $log_file"
}

stop() {
  if ! running; then rm -f "$pid_file"; echo "services: not running"; return 0; fi
  local pid; pid=$(cat "$pid_file")
  kill -TERM "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then pkill -KILL -P "$pid" || true; kill -KILL "$pid" || true; fi
  rm -f "$pid_file"
  echo "services: stopped"
}

status() { if running; then echo "services: running (pid $(cat "$pid_file"))"; else echo "services: stopped"; fi; }

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
