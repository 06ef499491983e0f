"""Build the configured object store."""

from __future__ import annotations

from tunestream.config import Settings
from tunestream.objstore.s3 import S3ObjectStore


def make_object_store(settings: Settings) -> S3ObjectStore:
    return S3ObjectStore(
        settings.s3_endpoint,
        settings.s3_access_key,
        settings.s3_secret_key.get_secret_value(),
        secure=settings.s3_secure,
        region=settings.s3_region,
    )
