"""CheckpointConfig: /opt/ml/checkpoints mirrored to S3 while a training job runs.

Before an attempt starts, whatever an earlier attempt left under the job's checkpoint prefix is
downloaded, so a retried job resumes. While it runs, files that changed since the last push are
uploaded every few seconds and once more when it ends. Each training job gets its own prefix,
<S3Uri>/<training job name>/, since the training jobs of one tuning job share one CheckpointConfig.

A training job that resumes another one (promotion Hyperband's `resume_from`) starts from the other
job's checkpoint: while its own prefix is empty, its first attempt downloads the other's prefix.
A retried attempt finds its own prefix filled and continues from there.
"""

from __future__ import annotations

from pathlib import Path

from tunestream.objstore.base import ObjectStore, join_s3_uri


class CheckpointSync:
    def __init__(
        self,
        store: ObjectStore,
        s3_uri: str,
        training_job_name: str,
        local_dir: Path,
        resume_from: str | None = None,
    ) -> None:
        self._store = store
        self.prefix = join_s3_uri(s3_uri, training_job_name)
        self.resume_prefix = join_s3_uri(s3_uri, resume_from) if resume_from else None
        self._local = local_dir
        self._pushed: dict[Path, tuple[int, int]] = {}

    def restore(self) -> int:
        """Download the prefix (or, while it is empty, the resumed job's) into the local folder;
        returns the number of files."""
        self._local.mkdir(parents=True, exist_ok=True)
        count = self._store.download_prefix(self.prefix, self._local)
        if count == 0 and self.resume_prefix is not None:
            # Nothing pushed as our own yet: what came from the resumed job is pushed under our
            # prefix like any new file, so this job's prefix holds its whole checkpoint.
            return self._store.download_prefix(self.resume_prefix, self._local)
        # What came from S3 needs no upload unless it changes.
        self._pushed = {path: self._signature(path) for path in self._files()}
        return count

    def push(self) -> int:
        """Upload new or changed files; returns how many were uploaded."""
        uploaded = 0
        for path in self._files():
            signature = self._signature(path)
            if self._pushed.get(path) == signature:
                continue
            self._store.put_file(join_s3_uri(self.prefix, path.relative_to(self._local).as_posix()), path)
            self._pushed[path] = signature
            uploaded += 1
        return uploaded

    def _files(self) -> list[Path]:
        if not self._local.is_dir():
            return []
        return sorted(p for p in self._local.rglob("*") if p.is_file() and not p.is_symlink())

    @staticmethod
    def _signature(path: Path) -> tuple[int, int]:
        stat = path.stat()
        return stat.st_size, stat.st_mtime_ns
