#!/usr/bin/env bash
# Builds tunestream/test-trainer:1, a tiny SageMaker-style training image
# (static busybox + deploy/images/trainer/train), into the engine of
# deploy/docker.sh, without any registry: the root filesystem is made here
# from Debian's busybox-static package and loaded with `docker import`.
#
# The image carries a label with a hash of its inputs (busybox binary, train
# script, this script); when the engine already has that, nothing is done.
#
# Engine: $TUNESTREAM_DOCKER_HOST if set, else deploy/docker.sh's (started
# if needed). Usage: deploy/images/build-trainer.sh [--force]
#
# `--oci OUT.tar` writes the same image as an OCI archive instead, for engines
# that import archives (deploy/k8s.sh's containerd); no Docker engine needed.
set -euo pipefail
SERVICE=trainer-image
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=engine.sh
source "$(dirname "${BASH_SOURCE[0]}")/engine.sh"

IMAGE="${TUNESTREAM_TRAINER_IMAGE:-tunestream/test-trainer:1}"
TRAIN="$DEPLOY_DIR/images/trainer/train"
BUSYBOX_DIR="$CACHE_DIR/busybox-static"
BUSYBOX="$BUSYBOX_DIR/busybox"
IMAGE_PATH='/opt/program:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

# A static busybox, cached: from an installed busybox-static, else the .deb
# (apt-get download needs no root and installs nothing).
ensure_busybox() {
  [[ -x "$BUSYBOX" ]] && return 0
  mkdir -p "$BUSYBOX_DIR"
  local tmp
  tmp="$(mktemp -d "$BUSYBOX_DIR/dl.XXXXXX")"
  if dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'; then
    cp /bin/busybox "$tmp/busybox"
  else
    log "apt-get download busybox-static (first run only)"
    # Sandbox user root: the _apt user could not write into our temp dir.
    if ! (cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download busybox-static >&2); then
      is_root && apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
      (cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download busybox-static >&2) ||
        { rm -rf "$tmp"; die "could not download busybox-static"; }
    fi
    dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/pkg"
    cp "$tmp/pkg/bin/busybox" "$tmp/busybox"
  fi
  "$tmp/busybox" true || { rm -rf "$tmp"; die "$tmp/busybox does not run"; }
  # Rename last so an interrupted download never looks complete.
  mv "$tmp/busybox" "$BUSYBOX"
  rm -rf "$tmp"
}

make_rootfs() {
  local root=$1 applet
  mkdir -p "$root"/{bin,etc,tmp,opt/program,opt/ml,proc,sys,dev}
  chmod 1777 "$root/tmp"
  cp "$BUSYBOX" "$root/bin/busybox"
  for applet in $("$BUSYBOX" --list); do
    [[ "$applet" == busybox ]] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  install -m 755 "$TRAIN" "$root/opt/program/train"
}

# oci_archive OUT: the image as an OCI archive named docker.io/$IMAGE.
oci_archive() {
  local out=$1 tmp
  ensure_busybox
  tmp="$(mktemp -d "$CACHE_DIR/trainer-rootfs.XXXXXX")"
  # shellcheck disable=SC2064  # expand now: tmp is local
  trap "rm -rf '$tmp'" EXIT
  make_rootfs "$tmp/rootfs"
  python3 "$DEPLOY_DIR/images/oci-archive.py" "$tmp/rootfs" "docker.io/$IMAGE" "$out" \
    --env "PATH=$IMAGE_PATH" --workdir /opt/ml --entrypoint '["/opt/program/train"]' --cmd '["train"]'
  log "wrote $IMAGE as an OCI archive: $out"
}

main() {
  local force=0 start=$SECONDS hash tmp
  if [[ "${1:-}" == --oci ]]; then
    oci_archive "${2:?usage: $0 --oci OUT.tar}"
    return 0
  fi
  [[ "${1:-}" == --force ]] && force=1
  connect_engine
  lock_service trainer-image
  ensure_busybox
  hash="$(cat "$BUSYBOX" "$TRAIN" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-64)"
  if image_is_current "$IMAGE" "$hash" && [[ "$force" == 0 ]]; then
    log "$IMAGE is up to date"
    return 0
  fi
  tmp="$(mktemp -d "$CACHE_DIR/trainer-rootfs.XXXXXX")"
  # shellcheck disable=SC2064  # expand now: tmp is local
  trap "rm -rf '$tmp'" EXIT
  make_rootfs "$tmp/rootfs"
  import_rootfs "$tmp/rootfs" "$IMAGE" "$hash" \
    --change "ENV PATH=$IMAGE_PATH" \
    --change 'WORKDIR /opt/ml' \
    --change 'ENTRYPOINT ["/opt/program/train"]' \
    --change 'CMD ["train"]'
  log "built $IMAGE in $((SECONDS - start))s"
}

main "$@"
