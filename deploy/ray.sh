#!/usr/bin/env bash
# A private Ray cluster on this host for the ray launcher backend and its tests: a head node that
# runs no jobs (no CPUs, no GPUs: it holds the GCS and the dashboard, whose Jobs API the launcher
# calls) and two worker nodes, w1 and w2, each with TUNESTREAM_RAY_CPUS CPUs and
# TUNESTREAM_RAY_GPUS GPUs (declared, as Ray allows: enough to schedule num_gpus, not to run CUDA).
#
#   deploy/ray.sh up|down|status
#   deploy/ray.sh install       only install Ray (make test does, and the ray tests start the cluster)
#   deploy/ray.sh kill NODE     SIGKILL a worker node and everything it runs (a dead machine)
#   deploy/ray.sh start NODE    start that worker node again
#
# Ray (ray[default], pinned) lives in a virtual environment of its own ($STACK_DIR/ray-venv): the
# launcher only speaks HTTP to the Jobs API and needs no Ray. Each node is one `ray start --block`
# in a session of its own, so the node is its process group (and what its raylet started).
# After `up`, $STACK_DIR/ray.env holds TUNESTREAM_RAY_ADDRESS.
set -euo pipefail
SERVICE=ray
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PIN="ray[default]==2.60.0"
WORKERS=(w1 w2)
CPUS="${TUNESTREAM_RAY_CPUS:-2}"
GPUS="${TUNESTREAM_RAY_GPUS:-2}"
START_TIMEOUT="${TUNESTREAM_RAY_START_TIMEOUT:-120}"
# Bytes of object store per node: tunestream passes no objects through Ray, and a container's
# /dev/shm is often small.
OBJECT_STORE="${TUNESTREAM_RAY_OBJECT_STORE_BYTES:-100000000}"
VENV="$STACK_DIR/ray-venv"
ENV_FILE="$STACK_DIR/ray.env"
export RAY_USAGE_STATS_ENABLED=0

ensure_installed() {
  if [[ -f "$VENV/.installed" && "$(cat "$VENV/.installed")" == "$PIN" ]]; then
    return 0
  fi
  log "installing $PIN into $VENV (log: $LOG_DIR/ray-install.log)"
  venv_install "$PIN" "$VENV" "$LOG_DIR/ray-install.log" "$PIN" ||
    die "pip install $PIN failed (log: $LOG_DIR/ray-install.log)"
  printf '%s' "$PIN" >"$VENV/.installed"
}

# Workers join through the host's own address (Ray's nodes on loopback do not find each other).
node_ip() {
  local ip
  ip="$(hostname -I 2>/dev/null | awk '{print $1}')"
  echo "${ip:-127.0.0.1}"
}

# The GCS port must lie outside Ray's worker port range (10002-19999).
gcs_addr() { echo "$(node_ip):$(cat "$PID_DIR/ray-gcs.port")"; }
dashboard_url() { echo "http://127.0.0.1:$(cat "$PID_DIR/ray-dashboard.port")"; }

jobs_api_up() { curl -sf "$(dashboard_url)/api/version" >/dev/null; }

alive_nodes() {
  curl -sf "$(dashboard_url)/api/v0/nodes" 2>/dev/null | python3 -c '
import json, sys
nodes = json.load(sys.stdin)["data"]["result"]["result"]
print(sum(1 for n in nodes if n.get("state") == "ALIVE"))' 2>/dev/null || echo 0
}

start_head() {
  local gcs dash
  gcs="$(pick_port ray-gcs 6390)"
  dash="$(pick_port ray-dashboard 8265)"
  echo "$gcs" >"$PID_DIR/ray-gcs.port"
  echo "$dash" >"$PID_DIR/ray-dashboard.port"
  start_daemon ray-head "$LOG_DIR/ray-head.log" "$VENV/bin/ray" start --head --block --disable-usage-stats \
    --node-ip-address="$(node_ip)" --port="$gcs" --dashboard-host=127.0.0.1 --dashboard-port="$dash" \
    --num-cpus=0 --num-gpus=0 --resources='{"tunestream_head": 1}' --object-store-memory="$OBJECT_STORE"
  wait_for ray-head "$START_TIMEOUT" "$LOG_DIR/ray-head.log" "$(cat "$(pid_file ray-head)")" jobs_api_up
}

start_worker() {
  local node=$1 i base
  if running_pid "ray-$node" "$VENV" >/dev/null; then
    return 0
  fi
  # Ports of a node's agents, which default to the same numbers on every node of one host.
  for i in "${!WORKERS[@]}"; do [[ "${WORKERS[$i]}" == "$node" ]] && base=$((52400 + 10 * i)); done
  [[ -n "${base:-}" ]] || die "no worker node $node (nodes: ${WORKERS[*]})"
  start_daemon "ray-$node" "$LOG_DIR/ray-$node.log" "$VENV/bin/ray" start --block --disable-usage-stats \
    --address="$(gcs_addr)" --node-ip-address="$(node_ip)" --num-cpus="$CPUS" --num-gpus="$GPUS" \
    --resources="{\"tunestream_node_$node\": 1}" --dashboard-agent-listen-port="$((base))" \
    --dashboard-agent-grpc-port="$((base + 1))" --metrics-export-port="$((base + 2))" \
    --runtime-env-agent-port="$((base + 3))" --node-manager-port="$((base + 4))" \
    --object-manager-port="$((base + 5))" --object-store-memory="$OBJECT_STORE"
}

# A worker whose `ray start` gave up ("The current node timed out during startup", seen on a loaded
# host while its raylet registered) is started again until the deadline.
wait_for_nodes() {
  local want=$1 node=${2:-} deadline=$((SECONDS + START_TIMEOUT))
  until (($(alive_nodes) >= want)); do
    if ((SECONDS >= deadline)); then
      # Nothing half-started is left behind: a head and a worker left running hold the ports that
      # the next `up` (another checkout's too) binds, and it then fails the same way.
      local n
      for n in "${WORKERS[@]}" head; do kill_node "$n"; done
      die "fewer than $want Ray nodes alive after ${START_TIMEOUT}s (logs: $LOG_DIR/ray-*.log)"
    fi
    if [[ -n "$node" ]] && ! running_pid "ray-$node" "$VENV" >/dev/null; then
      log "worker node $node exited before it joined; starting it again"
      start_worker "$node"
    fi
    sleep 1
  done
}

# Every process of a node: its process group (the `ray start --block` session) and everything the
# group's processes started, which includes the job supervisors and the programs they run in sessions
# of their own.
node_processes() {
  local pgid=$1
  ps -eo pid=,ppid=,pgid= | awk -v g="$pgid" '
    { parent[$1] = $2; group[$1] = $3 }
    END {
      for (p in group) if (group[p] == g) keep[p] = 1
      changed = 1
      while (changed) { changed = 0; for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } }
      for (p in keep) print p
    }'
}

kill_node() {
  local node=$1 pid
  pid="$(running_pid "ray-$node" "$VENV")" || return 0
  # shellcheck disable=SC2046  # one pid per word
  kill -KILL $(node_processes "$pid") 2>/dev/null || true
  rm -f "$(pid_file "ray-$node")"
}

write_env() {
  {
    echo "# Written by deploy/ray.sh up; removed by down."
    echo "TUNESTREAM_RAY_ADDRESS=$(dashboard_url)"
  } >"$ENV_FILE"
}

do_up() {
  lock_service ray
  ensure_installed
  if ! running_pid ray-head "$VENV" >/dev/null; then
    start_head
  fi
  local node i=1
  # One at a time: nodes that start together can race for the same free port.
  for node in "${WORKERS[@]}"; do
    start_worker "$node"
    i=$((i + 1))
    wait_for_nodes "$i" "$node"
  done
  write_env
  log "up: head + ${#WORKERS[*]} workers with $CPUS CPUs and $GPUS GPUs each; Jobs API at $(dashboard_url)"
}

do_down() {
  lock_service ray
  local node
  for node in "${WORKERS[@]}" head; do
    kill_node "$node"
  done
  rm -f "$ENV_FILE" "$PID_DIR/ray-gcs.port" "$PID_DIR/ray-dashboard.port"
  log "stopped"
}

do_status() {
  local pid
  if pid="$(running_pid ray-head "$VENV")"; then
    print_status ray running "$pid" "$(dashboard_url) ($(alive_nodes) nodes alive)"
  else
    print_status ray stopped - -
  fi
}

case "${1:-}" in
  install)
    ensure_installed
    ;;
  kill)
    node="${2:?usage: $0 kill NODE}"
    [[ "$node" != head ]] || die "the head holds the cluster; kill a worker (${WORKERS[*]})"
    running_pid "ray-$node" "$VENV" >/dev/null || die "ray node $node is not running"
    log "SIGKILL to ray node $node and everything it runs"
    kill_node "$node"
    ;;
  start)
    node="${2:?usage: $0 start NODE}"
    before="$(alive_nodes)"
    if ! running_pid "ray-$node" "$VENV" >/dev/null; then
      start_worker "$node"
      wait_for_nodes $((before + 1))
    fi
    log "node $node is up"
    ;;
  *) dispatch "$@" ;;
esac
