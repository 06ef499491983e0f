#!/usr/bin/env bash
# Local infrastructure for tunestream: Kafka, PostgreSQL and an S3 server on
# 127.0.0.1, installed on first use and kept under $TUNESTREAM_STACK_DIR
# (default <repo>/.stack).
#
#   deploy/stack.sh up     [kafka|postgres|s3 ...]  install if needed, start, wait for health
#   deploy/stack.sh down   [kafka|postgres|s3 ...]  stop what `up` started (data and cache stay)
#   deploy/stack.sh status [kafka|postgres|s3 ...]  one line per server
#   deploy/stack.sh clean                           down + delete data and logs, keep downloads
#
# After `up`, $STACK_DIR/stack.env holds the TUNESTREAM_* settings (KEY=value
# lines, for pydantic-settings' env_file or `set -a; . .stack/stack.env`).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL=(postgres s3 kafka)
ENV_FILE="$STACK_DIR/stack.env"

usage() {
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# Runs `<svc>.sh $1` for every service at once: the first run is dominated by
# independent downloads (apt, Maven, PyPI) and later runs by the Kafka JVM,
# so running them side by side roughly halves the wall time. Each script
# prefixes its own lines, so interleaved output stays readable.
run_all() {
  local action=$1 svc failed=()
  shift
  local -A pids=()
  for svc in "$@"; do
    "$DEPLOY_DIR/$svc.sh" "$action" &
    pids[$svc]=$!
  done
  for svc in "$@"; do
    wait "${pids[$svc]}" || failed+=("$svc")
  done
  if ((${#failed[@]})); then
    log "ERROR: $action failed for: ${failed[*]}"
    return 1
  fi
}

write_env() {
  local kafka pg s3 tmp
  kafka="$(read_addr kafka)" pg="$(read_addr postgres)" s3="$(read_addr s3)"
  tmp="$ENV_FILE.tmp"
  {
    echo "# Written by deploy/stack.sh up; removed by down."
    [[ "$kafka" == - ]] || echo "TUNESTREAM_KAFKA_BOOTSTRAP_SERVERS=$kafka"
    [[ "$pg" == - ]] || echo "TUNESTREAM_DATABASE_URL=postgresql+psycopg://tunestream:tunestream@$pg/tunestream"
    if [[ "$s3" != - ]]; then
      echo "TUNESTREAM_S3_ENDPOINT=$s3"
      echo "TUNESTREAM_S3_ACCESS_KEY=tunestream"
      echo "TUNESTREAM_S3_SECRET_KEY=tunestream-secret"
      echo "TUNESTREAM_S3_SECURE=false"
      echo "TUNESTREAM_S3_REGION=us-east-1"
    fi
  } >"$tmp"
  # Atomic, so a test reading the file never sees half of it.
  mv "$tmp" "$ENV_FILE"
}

# Sets SVCS to the named servers (validated) or all of them.
pick_services() {
  local svc
  for svc in "$@"; do
    [[ " ${ALL[*]} " == *" $svc "* ]] || { echo "unknown server: $svc" >&2; usage; }
  done
  if (($#)); then SVCS=("$@"); else SVCS=("${ALL[@]}"); fi
}

main() {
  local cmd=${1:-} start=$SECONDS rc=0 svc
  (($#)) && shift
  case "$cmd" in
    up)
      pick_services "$@"
      run_all up "${SVCS[@]}" || rc=$?
      write_env
      if ((rc)); then
        log "up failed after $((SECONDS - start))s; 'deploy/stack.sh down' stops whatever did start"
        exit "$rc"
      fi
      log "up in $((SECONDS - start))s; settings in $ENV_FILE"
      ;;
    down)
      pick_services "$@"
      run_all down "${SVCS[@]}" || rc=$?
      # Stale settings would point tests at servers that are gone.
      if (($# == 0)); then rm -f "$ENV_FILE"; else write_env; fi
      exit "$rc"
      ;;
    status)
      pick_services "$@"
      for svc in "${SVCS[@]}"; do "$DEPLOY_DIR/$svc.sh" status; done
      ;;
    clean)
      (($# == 0)) || usage
      run_all down "${ALL[@]}"
      rm -f "$ENV_FILE"
      log "removing data and logs under $STACK_DIR (keeping $CACHE_DIR)"
      rm -rf "$STACK_DIR/kafka" "$STACK_DIR/postgres" "$STACK_DIR/s3" "$LOG_DIR" "$PID_DIR"
      ;;
    *) usage ;;
  esac
}

main "$@"
