"""A channel of S3DataType ManifestFile: its S3Uri names a manifest, a JSON list whose first item is
`{"prefix": "s3://bucket/some/prefix/"}` and whose other items are keys relative to that prefix.
In File mode SageMaker downloads those objects into the channel's folder under their relative
keys; so does the launcher, each host its share of them with ShardedByS3Key."""

from __future__ import annotations

import json
from pathlib import PurePosixPath

from tunestream.launcher.backend import LaunchFailed


class ManifestError(LaunchFailed):
    """The manifest is the job's own mistake: the training job fails with this reason, no retry."""


def manifest_entries(uri: str, data: bytes) -> list[tuple[str, str]]:
    """(object URI, relative path) of every object the manifest at `uri` lists, in its order."""
    where = f"ClientError: the manifest {uri}"
    try:
        items = json.loads(data)
    except ValueError as exc:
        raise ManifestError(f"{where} is not JSON: {exc}") from exc
    if not isinstance(items, list) or not items or not isinstance(items[0], dict) or "prefix" not in items[0]:
        raise ManifestError(f'{where} must be a JSON list starting with {{"prefix": "s3://bucket/prefix/"}}')
    prefix = items[0]["prefix"]
    if not isinstance(prefix, str) or not prefix.startswith("s3://"):
        raise ManifestError(f"{where}: its prefix must be an s3:// URI, not {prefix!r}")
    entries = []
    for i, key in enumerate(items[1:], start=1):
        path = PurePosixPath(key) if isinstance(key, str) else None
        if path is None or not key or path.is_absolute() or ".." in path.parts:
            raise ManifestError(f"{where}: item {i} must be a key relative to the prefix, not {key!r}")
        entries.append((prefix + key if prefix.endswith("/") else f"{prefix}/{key}", str(path)))
    return entries
