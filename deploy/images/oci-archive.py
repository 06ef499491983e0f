#!/usr/bin/env python3
"""Writes an OCI image archive (a tar of an OCI image layout) from a root filesystem folder, with no
registry and no image builder: one layer, one config, one manifest. `ctr images import` takes it,
which is how deploy/k8s.sh puts images on its node, where nothing can be pulled.

    oci-archive.py ROOTFS NAME OUT.tar [--entrypoint JSON] [--cmd JSON] [--env K=V ...]
        [--workdir DIR] [--label K=V ...]

NAME is the image's full reference (docker.io/tunestream/test-trainer:1): the kubelet asks
containerd for the normalised name of what a pod spec says. Standard library only, so it runs
before any virtual environment exists.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path


def layer(rootfs: Path) -> tuple[bytes, str]:
    """The root filesystem as a gzipped tar owned by root, and the digest of the uncompressed tar."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(rootfs.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(rootfs)))
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 0
            if info.isreg():
                with path.open("rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    data = raw.getvalue()
    # mtime 0 in the gzip header too: the same folder gives the same image.
    return gzip.compress(data, mtime=0), "sha256:" + hashlib.sha256(data).hexdigest()


def blob(tar: tarfile.TarFile, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest}")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
    return {"digest": f"sha256:{digest}", "size": len(data)}


def pairs(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"expected KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rootfs", type=Path)
    parser.add_argument("name")
    parser.add_argument("out", type=Path)
    parser.add_argument("--entrypoint", type=json.loads, default=None)
    parser.add_argument("--cmd", type=json.loads, default=None)
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--workdir", default="/")
    parser.add_argument("--label", action="append", default=[])
    args = parser.parse_args()

    compressed, diff_id = layer(args.rootfs)
    config: dict[str, object] = {
        "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine),
        "os": "linux",
        "config": {
            "Env": args.env,
            "Entrypoint": args.entrypoint,
            "Cmd": args.cmd,
            "WorkingDir": args.workdir,
            "Labels": pairs(args.label),
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    tmp = args.out.with_name(args.out.name + ".tmp")
    with tarfile.open(tmp, "w") as tar:
        layer_desc = blob(tar, compressed)
        config_desc = blob(tar, json.dumps(config, sort_keys=True).encode())
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_desc},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer_desc}],
        }
        manifest_desc = blob(tar, json.dumps(manifest, sort_keys=True).encode())
        index = {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    **manifest_desc,
                    "annotations": {
                        "io.containerd.image.name": args.name,
                        "org.opencontainers.image.ref.name": args.name.rsplit(":", 1)[-1],
                    },
                }
            ],
        }
        for name, data in (("oci-layout", {"imageLayoutVersion": "1.0.0"}), ("index.json", index)):
            encoded = json.dumps(data).encode()
            info = tarfile.TarInfo(name)
            info.size = len(encoded)
            tar.addfile(info, io.BytesIO(encoded))
    tmp.replace(args.out)


if __name__ == "__main__":
    main()
