"""What tunestream needs of an object store, and s3:// URI helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


def split_s3_uri(uri: str) -> tuple[str, str]:
    """'s3://bucket/a/b' -> ('bucket', 'a/b')."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def join_s3_uri(uri: str, *parts: str) -> str:
    return "/".join([uri.rstrip("/"), *(p.strip("/") for p in parts)])


class ObjectStore(Protocol):
    def ensure_bucket(self, bucket: str) -> None: ...

    def put_bytes(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...

    def put_file(self, uri: str, path: Path, content_type: str = "application/octet-stream") -> None: ...

    def get_bytes(self, uri: str) -> bytes: ...

    def list_keys(self, uri_prefix: str) -> list[str]: ...

    def download_object(self, uri: str, dest: Path) -> None:
        """Copy one object into the file dest (its folder made)."""
        ...

    def download_prefix(self, uri_prefix: str, dest: Path, shard: tuple[int, int] | None = None) -> int:
        """Copy every object under the prefix into dest, keeping relative paths; returns the count.
        `shard` (k, n): only the k-th of n shares of the objects, by key order (ShardedByS3Key)."""
        ...
