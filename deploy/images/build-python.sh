#!/usr/bin/env bash
# Builds tunestream/python:3.11, a plain Python image (Debian's python3 with pip, bash and coreutils),
# into the engine of deploy/docker.sh, without any registry: the root filesystem is unpacked here from
# Debian's packages (apt-get download, with their dependencies) and loaded with `docker import`.
#
# It is what SageMaker SDK v3's source-code mode needs of an image (ModelTrainer with SourceCode runs
# its own driver, /bin/bash and python3 with pip, through ContainerEntrypoint), and a base for
# training images where no registry can be reached. No ENTRYPOINT; CMD python3.
#
# The image carries a label with a hash of its inputs (the package files, this script); when the
# engine already has that, nothing is done.
#
# Engine: $TUNESTREAM_DOCKER_HOST if set, else deploy/docker.sh's (started if needed).
# Usage: deploy/images/build-python.sh [--force]
set -euo pipefail
SERVICE=python-image
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=engine.sh
source "$(dirname "${BASH_SOURCE[0]}")/engine.sh"

IMAGE="${TUNESTREAM_PYTHON_IMAGE:-tunestream/python:3.11}"
DEBS_DIR="$CACHE_DIR/python-image-debs"
# What the image is for; apt resolves the rest. Perl and debconf come in as dependencies of
# packaging tools and are left out: nothing in the image runs them.
ROOTS=(python3-minimal python3 python3-pip bash coreutils ca-certificates)
LEFT_OUT='^(perl|perl-base|perl-modules-[0-9.]+|libperl[0-9.]+|debconf|cdebconf|dpkg|install-info)$'
IMAGE_PATH='/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

packages() {
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
    --no-enhances "${ROOTS[@]}" | grep '^[a-z0-9]' | sort -u | grep -Ev "$LEFT_OUT"
}

# The packages' .deb files, cached; downloaded again only when the resolved set changes.
ensure_debs() {
  local list tmp
  list="$(packages)" || die "apt-cache could not resolve ${ROOTS[*]}"
  if [[ -f "$DEBS_DIR/packages" && "$(cat "$DEBS_DIR/packages")" == "$list" ]]; then
    return 0
  fi
  log "apt-get download of $(wc -l <<<"$list") packages for $IMAGE (first run only)"
  tmp="$(mktemp -d "$CACHE_DIR/python-debs.XXXXXX")"
  # Sandbox user root: the _apt user could not write into our temp dir.
  # shellcheck disable=SC2086  # one package name per word
  if ! (cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download $list >"$tmp/download.log" 2>&1); then
    is_root && apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
    # shellcheck disable=SC2086
    (cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download $list >"$tmp/download.log" 2>&1) ||
      { tail -n 5 "$tmp/download.log" >&2; rm -rf "$tmp"; die "could not download the packages of $IMAGE"; }
  fi
  printf '%s' "$list" >"$tmp/packages"
  rm -f "$tmp/download.log"
  rm -rf "$DEBS_DIR"
  mv "$tmp" "$DEBS_DIR"
}

make_rootfs() {
  local root=$1 deb
  mkdir -p "$root"
  for deb in "$DEBS_DIR"/*.deb; do
    dpkg-deb -x "$deb" "$root"
  done
  # Documentation and translations: a third of the size, read by nobody in a training job.
  rm -rf "$root"/usr/share/{doc,man,info,locale,lintian}
  mkdir -p "$root"/{tmp,opt/ml,proc,sys,dev,root}
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' \
    >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
}

main() {
  local force=0 start=$SECONDS hash tmp
  [[ "${1:-}" == --force ]] && force=1
  connect_engine
  lock_service python-image
  ensure_debs
  hash="$( (ls "$DEBS_DIR"/*.deb | xargs -n1 basename; cat "${BASH_SOURCE[0]}") | sha256sum | cut -c1-64)"
  if image_is_current "$IMAGE" "$hash" && [[ "$force" == 0 ]]; then
    log "$IMAGE is up to date"
    return 0
  fi
  tmp="$(mktemp -d "$CACHE_DIR/python-rootfs.XXXXXX")"
  # shellcheck disable=SC2064  # expand now: tmp is local
  trap "rm -rf '$tmp'" EXIT
  make_rootfs "$tmp/rootfs"
  import_rootfs "$tmp/rootfs" "$IMAGE" "$hash" \
    --change "ENV PATH=$IMAGE_PATH" \
    --change 'ENV LANG=C.UTF-8' \
    --change 'WORKDIR /opt/ml' \
    --change 'CMD ["python3"]'
  dk run --rm --network none "$IMAGE" python3 -c 'import ssl, sqlite3, json' ||
    die "$IMAGE was built, but its python3 does not run"
  log "built $IMAGE in $((SECONDS - start))s"
}

main "$@"
