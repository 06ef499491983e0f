"""ObjectStore over the MinIO SDK: speaks to MinIO, SeaweedFS's S3 API, or AWS S3 alike."""

from __future__ import annotations

import io
from pathlib import Path

from minio import Minio
from minio.error import S3Error

from tunestream.objstore.base import split_s3_uri


class S3ObjectStore:
    def __init__(self, endpoint: str, access_key: str, secret_key: str, *, secure: bool, region: str) -> None:
        self._client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region)
        self._buckets: set[str] = set()

    def ensure_bucket(self, bucket: str) -> None:
        if bucket in self._buckets:
            return
        try:
            if not self._client.bucket_exists(bucket):
                self._client.make_bucket(bucket)
        except S3Error as exc:
            # Another service may create it between the check and the create.
            if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        self._buckets.add(bucket)

    def bucket_exists(self, bucket: str) -> bool:
        return bool(self._client.bucket_exists(bucket))

    def put_bytes(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        bucket, key = split_s3_uri(uri)
        self.ensure_bucket(bucket)
        self._client.put_object(bucket, key, io.BytesIO(data), len(data), content_type=content_type)

    def put_file(self, uri: str, path: Path, content_type: str = "application/octet-stream") -> None:
        bucket, key = split_s3_uri(uri)
        self.ensure_bucket(bucket)
        self._client.fput_object(bucket, key, str(path), content_type=content_type)

    def get_bytes(self, uri: str) -> bytes:
        bucket, key = split_s3_uri(uri)
        response = self._client.get_object(bucket, key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def list_keys(self, uri_prefix: str) -> list[str]:
        bucket, prefix = split_s3_uri(uri_prefix)
        try:
            return [
                o.object_name for o in self._client.list_objects(bucket, prefix=prefix, recursive=True) if o.object_name
            ]
        except S3Error as exc:
            if exc.code == "NoSuchBucket":
                return []
            raise

    def download_object(self, uri: str, dest: Path) -> None:
        bucket, key = split_s3_uri(uri)
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._client.fget_object(bucket, key, str(dest))

    def download_prefix(self, uri_prefix: str, dest: Path, shard: tuple[int, int] | None = None) -> int:
        """Copy every object under the prefix into dest, keeping relative paths; returns the count.
        `shard` (k, n): only every n-th object from the k-th on, in key order (ShardedByS3Key)."""
        bucket, prefix = split_s3_uri(uri_prefix)
        count = 0
        keys = sorted(self.list_keys(uri_prefix))
        if shard is not None:
            keys = keys[shard[0] :: shard[1]]
        for key in keys:
            relative = key[len(prefix) :].lstrip("/") if prefix else key
            if not relative or relative.endswith("/"):
                relative = Path(key).name
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            self._client.fget_object(bucket, key, str(target))
            count += 1
        return count
