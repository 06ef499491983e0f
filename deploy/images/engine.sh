# Sourced by the image builders after ../lib.sh: the Docker engine they build into, and the import of
# a root filesystem as an image labelled with the hash of its inputs, so that an unchanged build is
# skipped and a changed one replaces the old image.
IMAGE_INPUTS_LABEL=tunestream.inputs-sha256

# $TUNESTREAM_DOCKER_HOST if set, else deploy/docker.sh's engine (started if needed); dies if none answers.
connect_engine() {
  if [[ -z "${TUNESTREAM_DOCKER_HOST:-}" ]]; then
    "$DEPLOY_DIR/docker.sh" up
    TUNESTREAM_DOCKER_HOST="$(sed -n 's/^TUNESTREAM_DOCKER_HOST=//p' "$STACK_DIR/docker.env")"
  fi
  dk version >/dev/null 2>&1 || die "no Docker engine answers on $TUNESTREAM_DOCKER_HOST"
}

# The docker CLI on that engine, whatever DOCKER_HOST or context the caller's shell names.
dk() { env -u DOCKER_HOST -u DOCKER_CONTEXT docker -H "$TUNESTREAM_DOCKER_HOST" "$@"; }

# image_is_current IMAGE HASH: the engine's IMAGE was built from inputs with this hash.
image_is_current() {
  [[ "$(dk image inspect -f "{{index .Config.Labels \"$IMAGE_INPUTS_LABEL\"}}" "$1" 2>/dev/null || true)" == "$2" ]]
}

# import_rootfs ROOTFS IMAGE HASH [--change ...]: loads ROOTFS as IMAGE, labelled with HASH and with
# the given changes; the build it replaces is dropped unless a container still uses it.
import_rootfs() {
  local root=$1 image=$2 hash=$3 old
  shift 3
  old="$(dk image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
  log "importing $image"
  tar -C "$root" --numeric-owner --owner=0 --group=0 -c . |
    dk import --change "LABEL $IMAGE_INPUTS_LABEL=$hash" "$@" --message "deploy/images/$(basename "$0")" \
      - "$image" >/dev/null
  if [[ -n "$old" && "$old" != "$(dk image inspect -f '{{.Id}}' "$image")" ]]; then
    dk rmi "$old" >/dev/null 2>&1 || true
  fi
}
