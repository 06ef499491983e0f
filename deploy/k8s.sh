#!/usr/bin/env bash
# A private single-node Kubernetes on this host, for the kubernetes launcher
# backend and its tests: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, a containerd of its own with the CRI plugin, and a kubelet
# (node tunestream-node) that advertises TUNESTREAM_K8S_GPUS nvidia.com/gpu.
#
#   deploy/k8s.sh build            build the binaries (once per version; cached outside the checkout)
#   deploy/k8s.sh install          build, and apt-get what the node needs
#   deploy/k8s.sh up|down|status
#   deploy/k8s.sh kill kubelet     SIGKILL the kubelet; its containers go on, the node goes NotReady
#   deploy/k8s.sh start kubelet    start it again and wait for the node to be Ready
#   deploy/k8s.sh import OUT.tar   import an OCI archive into the node's containerd
#
# Kubernetes v1.34.4 and etcd v3.6.5 are built from the Go module proxy
# (deploy/k8s/kubernetes, deploy/k8s/etcd) into $TUNESTREAM_K8S_BIN_DIR, by default
# ~/.cache/tunestream/k8s-<version>, which survives a `rm -rf .stack`. Debian's
# containerd (1.6, with docker.io) and containernetworking-plugins are
# installed with apt-get when missing. Nothing can be pulled: the pod sandbox
# image and tunestream/test-trainer:1 are made here from busybox as OCI
# archives and imported; pods use them with imagePullPolicy Never.
#
# All other state lives under $STACK_DIR/k8s. After `up`, $STACK_DIR/k8s.env
# holds KUBECONFIG (one admin token, the API server's own CA) and the launcher
# settings that point a launcher at this cluster. The GPUs are only
# advertised (an extended resource on the node's status): enough to schedule
# nvidia.com/gpu limits, not to run CUDA.
#
# The host must allow a bridge (cni0, 10.244.0.0/24) and ip_forward; no NAT
# rules are added. The kubelet runs with cgroupfs and tolerates cgroup v1.
set -euo pipefail
SERVICE=k8s
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION=v1.34.4
ETCD_VERSION=v3.6.5
BIN_DIR="${TUNESTREAM_K8S_BIN_DIR:-$HOME/.cache/tunestream/k8s-$VERSION}"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubelet etcd)
NODE=tunestream-node
GPUS="${TUNESTREAM_K8S_GPUS:-2}"
START_TIMEOUT="${TUNESTREAM_K8S_START_TIMEOUT:-120}"
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16

K8S_DIR="$STACK_DIR/k8s"
PKI="$K8S_DIR/pki"
RUN_DIR="$K8S_DIR/run"
# containerd's socket path must fit in 107 bytes.
if ((${#RUN_DIR} + 30 > 100)); then
  RUN_DIR="/tmp/tunestream-k8s-$(echo "$STACK_DIR" | md5sum | cut -c1-10)"
fi
CTD_SOCK="$RUN_DIR/containerd.sock"
CTD_CONFIG="$K8S_DIR/containerd.toml"
KUBECONFIG_FILE="$K8S_DIR/kubeconfig"
KUBELET_CONFIG="$K8S_DIR/kubelet.yaml"
CERT_DIR="$K8S_DIR/apiserver"
ENV_FILE="$STACK_DIR/k8s.env"
PAUSE_IMAGE=docker.io/tunestream/pause:1
TRAINER_IMAGE="${TUNESTREAM_TRAINER_IMAGE:-tunestream/test-trainer:1}"

ctrk() { ctr --address "$CTD_SOCK" -n k8s.io "$@"; }

# --- binaries --------------------------------------------------------------------------------------

have_binaries() {
  local bin
  for bin in "${BINARIES[@]}"; do
    [[ -x "$BIN_DIR/$bin" ]] || return 1
  done
}

do_build() {
  have_binaries && { log "binaries of $VERSION in $BIN_DIR"; return 0; }
  command -v go >/dev/null || die "Go is needed to build Kubernetes $VERSION (not on PATH)"
  lock_service k8s-build
  have_binaries && return 0
  mkdir -p "$BIN_DIR"
  local start=$SECONDS tmp
  tmp="$(mktemp -d "$BIN_DIR/.build.XXXXXX")"
  log "building kube-apiserver, kube-controller-manager, kube-scheduler, kubelet $VERSION and etcd $ETCD_VERSION (minutes)"
  (cd "$DEPLOY_DIR/k8s/kubernetes" && go build -trimpath -ldflags "-s -w" -o "$tmp/" ./cmd/...) >&2
  (cd "$DEPLOY_DIR/k8s/etcd" && go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" .) >&2
  # Moved in last, so an interrupted build never looks complete.
  mv "$tmp"/* "$BIN_DIR/"
  rm -rf "$tmp"
  log "built in $((SECONDS - start))s into $BIN_DIR"
}

ensure_installed() {
  local missing=() bin
  for bin in containerd containerd-shim-runc-v2 runc ctr openssl curl; do
    command -v "$bin" >/dev/null || missing+=("$bin")
  done
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] ||
    missing+=(containernetworking-plugins)
  ((${#missing[@]} == 0)) && return 0
  log "missing ${missing[*]}"
  apt_install containerd runc containernetworking-plugins openssl curl
}

# --- configuration ---------------------------------------------------------------------------------

host_ip() {
  # The node's address: pod logs and exec go from the API server to the kubelet there, and pods
  # reach the host's servers (Kafka, S3) through it.
  local ip
  ip="$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -n 1)"
  [[ -n "$ip" ]] || ip="$(hostname -I 2>/dev/null | awk '{print $1}')"
  [[ -n "$ip" && "$ip" != 127.* ]] || die "no non-loopback IPv4 address for the node"
  echo "$ip"
}

write_pki() {
  mkdir -p "$PKI" "$CERT_DIR"
  chmod 700 "$PKI"
  if [[ ! -s "$PKI/sa.key" ]]; then
    openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
    openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  fi
  # The kubelet's API (logs, exec) answers only the API server: a client certificate of a CA of our own.
  if [[ ! -s "$PKI/kubelet-client.crt" ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/kubelet-ca.key" -out "$PKI/kubelet-ca.crt" \
      -days 3650 -subj "/CN=tunestream-kubelet-ca" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout "$PKI/kubelet-client.key" -out "$PKI/kubelet-client.csr" \
      -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" 2>/dev/null
    openssl x509 -req -in "$PKI/kubelet-client.csr" -CA "$PKI/kubelet-ca.crt" -CAkey "$PKI/kubelet-ca.key" \
      -CAcreateserial -out "$PKI/kubelet-client.crt" -days 3650 2>/dev/null
  fi
  if [[ ! -s "$PKI/tokens.csv" ]]; then
    echo "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'),tunestream-admin,tunestream-admin,\"system:masters\"" \
      >"$PKI/tokens.csv"
  fi
  chmod 600 "$PKI"/*
}

token() { cut -d, -f1 "$PKI/tokens.csv"; }

write_configs() {
  local ip=$1 etcd_port=$2 api_port=$3 kubelet_port=$4
  mkdir -p "$K8S_DIR"/{etcd,cni,kubelet,ipam,images,containerd} "$RUN_DIR"
  chmod 700 "$RUN_DIR"
  cat >"$CTD_CONFIG" <<EOF
# Generated by deploy/k8s.sh on every start; edits are overwritten.
version = 2
root = "$K8S_DIR/containerd/root"
state = "$RUN_DIR/containerd-state"

[grpc]
  address = "$CTD_SOCK"

[ttrpc]
  address = "$CTD_SOCK.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$K8S_DIR/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Without it every pod sandbox fails with "can't get final child's PID from pipe" here.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$K8S_DIR/cni"
EOF
  cat >"$K8S_DIR/cni/10-tunestream.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "tunestream",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "dataDir": "$K8S_DIR/ipam",
        "ranges": [[{"subnet": "$POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "loopback"}
  ]
}
EOF
  cat >"$KUBECONFIG_FILE" <<EOF
# Generated by deploy/k8s.sh; the token is this cluster's admin (system:masters).
apiVersion: v1
kind: Config
clusters:
- name: tunestream
  cluster:
    server: https://$ip:$api_port
    certificate-authority: $CERT_DIR/apiserver.crt
users:
- name: tunestream-admin
  user:
    token: $(token)
contexts:
- name: tunestream
  context:
    cluster: tunestream
    user: tunestream-admin
    namespace: default
current-context: tunestream
EOF
  chmod 600 "$KUBECONFIG_FILE"
  cat >"$KUBELET_CONFIG" <<EOF
# Generated by deploy/k8s.sh on every start; edits are overwritten.
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $ip
port: $kubelet_port
healthzBindAddress: 127.0.0.1
healthzPort: $((kubelet_port + 1))
readOnlyPort: 0
containerRuntimeEndpoint: unix://$CTD_SOCK
imageServiceEndpoint: unix://$CTD_SOCK
# The API server fetches pod logs here, with the client certificate only it holds.
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: false
  x509:
    clientCAFile: $PKI/kubelet-ca.crt
authorization:
  mode: AlwaysAllow
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
# A dead kubelet is noticed within seconds (with the controller manager's grace period below).
nodeLeaseDurationSeconds: 8
nodeStatusUpdateFrequency: 2s
nodeStatusReportFrequency: 10s
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%
  imagefs.available: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
EOF
}

# --- daemons ---------------------------------------------------------------------------------------

api_url() { read_addr kube-apiserver; }
api_get() { curl -sf --max-time 5 --cacert "$CERT_DIR/apiserver.crt" -H "Authorization: Bearer $(token)" "$(api_url)$1"; }
api_ok() { [[ "$(api_get /readyz)" == ok ]]; }
etcd_ok() { curl -sf --max-time 2 "http://$(read_addr etcd)/health" | grep -q '"health":"true"'; }
containerd_ok() { ctr --address "$CTD_SOCK" version; }

node_ready() {
  api_get "/api/v1/nodes/$NODE" | python3 -c '
import json, sys
node = json.load(sys.stdin)
ready = [c for c in node["status"].get("conditions", []) if c["type"] == "Ready"]
sys.exit(0 if ready and ready[0]["status"] == "True" else 1)' 2>/dev/null
}

default_service_account() { api_get /api/v1/namespaces/default/serviceaccounts/default >/dev/null; }

advertise_gpus() {
  # An extended resource on the node's status, as the Kubernetes docs advertise one; the kubelet
  # keeps it (no device plugin claims the name here).
  curl -sf --max-time 10 --cacert "$CERT_DIR/apiserver.crt" -H "Authorization: Bearer $(token)" \
    -X PATCH -H 'Content-Type: application/json-patch+json' \
    --data "[{\"op\": \"add\", \"path\": \"/status/capacity/nvidia.com~1gpu\", \"value\": \"$GPUS\"}]" \
    "$(api_url)/api/v1/nodes/$NODE/status" >/dev/null
}

node_gpus() {
  api_get "/api/v1/nodes/$NODE" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["status"].get("allocatable", {}).get("nvidia.com/gpu", "0"))' \
      2>/dev/null
}

start_one() {
  local name=$1 match=$2
  shift 2
  running_pid "$name" "$match" >/dev/null && return 0
  log "starting $name"
  start_daemon "$name" "$LOG_DIR/$name.log" "$@"
}

start_kubelet() {
  local ip
  ip="$(sed -n 's/^address: //p' "$KUBELET_CONFIG")"
  start_one kubelet "$KUBELET_CONFIG" "$BIN_DIR/kubelet" --config="$KUBELET_CONFIG" \
    --kubeconfig="$KUBECONFIG_FILE" --root-dir="$K8S_DIR/kubelet" --cert-dir="$K8S_DIR/kubelet/pki" \
    --hostname-override="$NODE" --node-ip="$ip" --v=1
}

wait_node() {
  local deadline=$((SECONDS + START_TIMEOUT)) pid
  until node_ready; do
    pid="$(running_pid kubelet "$KUBELET_CONFIG")" || { show_log_tail "$LOG_DIR/kubelet.log"; die "the kubelet exited"; }
    if ((SECONDS > deadline)); then
      show_log_tail "$LOG_DIR/kubelet.log"
      die "node $NODE was not Ready in ${START_TIMEOUT}s"
    fi
    sleep 0.5
  done
  advertise_gpus || die "could not advertise $GPUS GPUs on node $NODE"
  until [[ "$(node_gpus)" == "$GPUS" ]]; do
    ((SECONDS < deadline)) || die "node $NODE does not show its $GPUS GPUs"
    sleep 0.5
  done
}

import_archive() {
  local archive=$1
  ctrk images import --snapshotter native "$archive" >/dev/null
}

import_images() {
  local tmp busybox="$CACHE_DIR/busybox-static/busybox"
  TUNESTREAM_TRAINER_IMAGE="$TRAINER_IMAGE" "$DEPLOY_DIR/images/build-trainer.sh" --oci "$K8S_DIR/images/trainer.tar"
  # The pod sandbox: a shell that waits for its end (busybox, as the trainer's).
  tmp="$(mktemp -d "$CACHE_DIR/pause-rootfs.XXXXXX")"
  mkdir -p "$tmp/bin"
  cp "$busybox" "$tmp/bin/busybox"
  ln -s busybox "$tmp/bin/sh"
  ln -s busybox "$tmp/bin/sleep"
  python3 "$DEPLOY_DIR/images/oci-archive.py" "$tmp" "$PAUSE_IMAGE" "$K8S_DIR/images/pause.tar" \
    --entrypoint '["/bin/sh", "-c", "trap \"exit 0\" TERM INT; while :; do sleep 3600 & wait $!; done"]'
  rm -rf "$tmp"
  import_archive "$K8S_DIR/images/pause.tar"
  import_archive "$K8S_DIR/images/trainer.tar"
}

write_env() {
  {
    echo "# Written by deploy/k8s.sh up; removed by down."
    echo "KUBECONFIG=$KUBECONFIG_FILE"
    echo "TUNESTREAM_KUBE_CONFIG=$KUBECONFIG_FILE"
    echo "TUNESTREAM_KUBE_NAMESPACE=default"
    echo "TUNESTREAM_KUBE_IMAGE_PULL_POLICY=Never"
  } >"$ENV_FILE"
}

do_up() {
  lock_service k8s
  ensure_installed
  do_build
  local ip etcd_port api_port kubelet_port cm_port sched_port pid start=$SECONDS
  if running_pid kube-apiserver "$CERT_DIR" >/dev/null; then
    log "already running"
  else
    ip="$(host_ip)"
    # The bridge plugin routes pod traffic through the host.
    if [[ "$(cat /proc/sys/net/ipv4/ip_forward)" != 1 ]]; then
      is_root || die "net.ipv4.ip_forward is 0 and only root can set it"
      echo 1 >/proc/sys/net/ipv4/ip_forward
    fi
    etcd_port="$(pick_port etcd 2379 2)"
    api_port="$(pick_port kube-apiserver 6443)"
    kubelet_port="$(pick_port kubelet 10250 2)"
    cm_port="$(pick_port kube-controller-manager 10257)"
    sched_port="$(pick_port kube-scheduler 10259)"
    save_addr etcd "127.0.0.1:$etcd_port"
    save_addr kube-apiserver "https://$ip:$api_port"
    save_addr k8s-ports "$cm_port $sched_port"
    write_pki
    write_configs "$ip" "$etcd_port" "$api_port" "$kubelet_port"
  fi
  etcd_port="$(read_addr etcd | cut -d: -f2)"
  read -r cm_port sched_port <<<"$(read_addr k8s-ports)"
  ip="$(sed -n 's/^address: //p' "$KUBELET_CONFIG")"

  start_one etcd "$K8S_DIR/etcd" "$BIN_DIR/etcd" --name tunestream --data-dir "$K8S_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$((etcd_port + 1))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((etcd_port + 1))" \
    --initial-cluster "tunestream=http://127.0.0.1:$((etcd_port + 1))" --log-level warn
  wait_for etcd "$START_TIMEOUT" "$LOG_DIR/etcd.log" "$(cat "$(pid_file etcd)")" etcd_ok || die "etcd did not start"

  start_one kube-apiserver "$CERT_DIR" "$BIN_DIR/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" --bind-address 0.0.0.0 --advertise-address "$ip" \
    --secure-port "$(api_url | sed 's/.*://')" --cert-dir "$CERT_DIR" --token-auth-file "$PKI/tokens.csv" \
    --authorization-mode Node,RBAC --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" --allow-privileged=true \
    --kubelet-preferred-address-types InternalIP --kubelet-client-certificate "$PKI/kubelet-client.crt" \
    --kubelet-client-key "$PKI/kubelet-client.key" --v=1
  wait_for kube-apiserver "$START_TIMEOUT" "$LOG_DIR/kube-apiserver.log" "$(cat "$(pid_file kube-apiserver)")" api_ok ||
    die "kube-apiserver did not start"

  start_one kube-controller-manager "$KUBECONFIG_FILE" "$BIN_DIR/kube-controller-manager" \
    --kubeconfig "$KUBECONFIG_FILE" --authentication-kubeconfig "$KUBECONFIG_FILE" \
    --authorization-kubeconfig "$KUBECONFIG_FILE" --service-account-private-key-file "$PKI/sa.key" \
    --root-ca-file "$CERT_DIR/apiserver.crt" --leader-elect=false --bind-address 127.0.0.1 \
    --secure-port "$cm_port" --node-monitor-period 2s --node-monitor-grace-period 12s --v=1
  start_one kube-scheduler "$KUBECONFIG_FILE" "$BIN_DIR/kube-scheduler" \
    --kubeconfig "$KUBECONFIG_FILE" --authentication-kubeconfig "$KUBECONFIG_FILE" \
    --authorization-kubeconfig "$KUBECONFIG_FILE" --leader-elect=false --bind-address 127.0.0.1 \
    --secure-port "$sched_port" --v=1

  # Named k8s-containerd: deploy/docker.sh runs a containerd of its own under the name containerd.
  start_one k8s-containerd "$CTD_CONFIG" containerd --config "$CTD_CONFIG"
  wait_for containerd "$START_TIMEOUT" "$LOG_DIR/k8s-containerd.log" "$(cat "$(pid_file k8s-containerd)")" containerd_ok ||
    die "containerd did not start"
  import_images
  start_kubelet
  wait_node
  local deadline=$((SECONDS + START_TIMEOUT))
  until default_service_account; do
    ((SECONDS < deadline)) || die "the default service account was not created in ${START_TIMEOUT}s"
    sleep 0.5
  done
  write_env
  log "up in $((SECONDS - start))s: node $NODE with $GPUS GPUs at $(api_url); KUBECONFIG=$KUBECONFIG_FILE (in $ENV_FILE)"
}

# Every container of the node's containerd, killed: a kubelet that is gone leaves them running.
kill_containers() {
  local task
  containerd_ok >/dev/null 2>&1 || return 0
  for task in $(ctrk tasks ls -q 2>/dev/null); do
    ctrk tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true
  done
}

do_down() {
  lock_service k8s
  SERVICE=kubelet stop_daemon kubelet "$KUBELET_CONFIG" 10
  kill_containers
  local name
  for name in kube-scheduler kube-controller-manager; do
    SERVICE=$name stop_daemon "$name" "$KUBECONFIG_FILE" 10
  done
  SERVICE=kube-apiserver stop_daemon kube-apiserver "$CERT_DIR" 10
  SERVICE=etcd stop_daemon etcd "$K8S_DIR/etcd" 10
  SERVICE=k8s-containerd stop_daemon k8s-containerd "$CTD_CONFIG" 10
  # The pod network's bridge and the sandboxes' mounts go with the cluster.
  ip link delete cni0 >/dev/null 2>&1 || true
  local mnt
  for mnt in $(awk -v a="$K8S_DIR/" -v b="$RUN_DIR/" 'index($2, a) == 1 || index($2, b) == 1 { print $2 }' /proc/mounts | sort -r); do
    umount -l "$mnt" 2>/dev/null || true
  done
  rm -f "$ENV_FILE"
}

do_status() {
  local pid name
  for name in etcd kube-apiserver kube-controller-manager kube-scheduler k8s-containerd kubelet; do
    if pid="$(cat "$(pid_file "$name")" 2>/dev/null)" && kill -0 "$pid" 2>/dev/null; then
      print_status "$name" running "$pid" ""
    else
      print_status "$name" stopped - -
    fi
  done
}

case "${1:-}" in
  build) do_build ;;
  install)
    do_build
    ensure_installed
    ;;
  kill)
    [[ "${2:-}" == kubelet ]] || die "usage: $0 kill kubelet"
    pid="$(running_pid kubelet "$KUBELET_CONFIG")" || die "the kubelet is not running"
    log "SIGKILL to the kubelet (pid $pid); its containers go on running"
    kill -KILL "$pid"
    rm -f "$(pid_file kubelet)"
    ;;
  start)
    [[ "${2:-}" == kubelet ]] || die "usage: $0 start kubelet"
    start_kubelet
    wait_node
    log "node $NODE is Ready"
    ;;
  import)
    import_archive "${2:?usage: $0 import OUT.tar}"
    ;;
  *) dispatch "$@" ;;
esac
