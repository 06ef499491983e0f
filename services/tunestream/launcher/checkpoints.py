"""CheckpointConfig: /opt/ml/checkpoints mirrored to S3 while a training job runs.

Before an attempt starts, whatever an earlier attempt left under the job's checkpoint prefix is
downloaded, so a retried job resumes. While it runs, files that changed since the last push are
uploaded every few seconds and once more when it ends. Each training job gets its own prefix,
<S3Uri>/<training job name>/, since the training jobs of one tuning job share one CheckpointConfig.

A training job that resumes another one (promotion Hyperband's `resume_from`) starts from the other
job's checkpoint: while its own prefix is empty, its first attempt downloads the other's prefix.
A retried attempt finds its own prefix filled and continues from there.

The collector numbers a metric's values by their order (one line per epoch gives epoch numbers), so
an attempt that continues from a checkpoint of its own must count on from the step that checkpoint
holds, not from where the attempt before it started. Each push therefore records, next to the
checkpoint, the objective's step the launcher had read when it took the files:
<S3Uri>/.tunestream/<training job name>.steps (outside every job's prefix, since training job names
never start with a dot, so no program ever sees it in its checkpoint folder).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tunestream.definitions import MetricDefinition
from tunestream.metric_values import MetricExtractor
from tunestream.objstore.base import ObjectStore, join_s3_uri

log = logging.getLogger(__name__)

STEPS_FOLDER = ".tunestream"


@dataclass(frozen=True)
class Restored:
    files: int
    # The objective's step the restored files hold: set only when they are this job's own and an
    # earlier attempt recorded it (a resumed job's first attempt counts from its spec's step_offset).
    step: int | None = None


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
        self.steps_uri = join_s3_uri(s3_uri, STEPS_FOLDER, f"{training_job_name}.steps")
        self._local = local_dir
        self._pushed: dict[Path, tuple[int, int]] = {}

    def restore(self) -> Restored:
        """Download the prefix (or, while it is empty, the resumed job's) into the local folder."""
        self._local.mkdir(parents=True, exist_ok=True)
        # With the slash: job "a-1" must not download "a-10"'s files.
        count = self._store.download_prefix(self.prefix + "/", self._local)
        if count == 0 and self.resume_prefix is not None:
            # Nothing pushed as our own yet: what came from the resumed job is pushed under our
            # prefix like any new file, so this job's prefix holds its whole checkpoint.
            return Restored(self._store.download_prefix(self.resume_prefix + "/", self._local))
        # What came from S3 needs no upload unless it changes.
        self._pushed = {path: self._signature(path) for path in self._files()}
        return Restored(count, self._recorded_step() if count else None)

    def push(self, step: int | None = None) -> int:
        """Upload new or changed files and, when any changed, the objective's `step` they hold;
        returns how many files were uploaded."""
        uploaded = 0
        for path in self._files():
            signature = self._signature(path)
            if self._pushed.get(path) == signature:
                continue
            self._store.put_file(join_s3_uri(self.prefix, path.relative_to(self._local).as_posix()), path)
            self._pushed[path] = signature
            uploaded += 1
        # After the files: a push cut short between the two leaves the step behind the files (the
        # retry's steps run low), never ahead of them.
        if uploaded and step is not None:
            self._store.put_bytes(self.steps_uri, json.dumps({"step": step}).encode(), "application/json")
        return uploaded

    def _recorded_step(self) -> int | None:
        try:
            recorded = json.loads(self._store.get_bytes(self.steps_uri))
        except Exception:  # none recorded (pushed before steps were, or the push stopped between)
            return None
        step = recorded.get("step") if isinstance(recorded, dict) else None
        return step if isinstance(step, int) and step >= 0 else None

    def signatures(self) -> dict[Path, tuple[int, int]]:
        """Size and modification time of each local file, to tell whether they changed."""
        found = {}
        for path in self._files():
            with contextlib.suppress(FileNotFoundError):  # replaced between listing and stat
                found[path] = self._signature(path)
        return found

    def _files(self) -> list[Path]:
        if not self._local.is_dir():
            return []
        return sorted(p for p in self._local.rglob("*") if p.is_file() and not p.is_symlink())

    @staticmethod
    def _signature(path: Path) -> tuple[int, int]:
        stat = path.stat()
        return stat.st_size, stat.st_mtime_ns


class AttemptCheckpoints:
    """One attempt's checkpoints: restored before the program starts, pushed while it runs and once
    more when it ends, each push with the objective's step its files hold (counted from the
    attempt's output lines as the collector counts them)."""

    def __init__(
        self,
        sync: CheckpointSync,
        training_job_name: str,
        objective: Sequence[MetricDefinition],
        step_offset: int,
        interval_s: float,
    ) -> None:
        self.sync = sync
        self.training_job_name = training_job_name
        # Where this attempt's objective values count from: the spec's, or the step of a checkpoint
        # of its own that it restores.
        self.step_offset = step_offset
        self._interval_s = interval_s
        self._steps = MetricExtractor(list(objective)) if objective else None
        self._stepped = asyncio.Event()
        # The files as they were when the last objective line was read (or when restored).
        self._at_line: dict[Path, tuple[int, int]] = {}

    def restore(self) -> Restored:
        restored = self.sync.restore()
        if restored.step is not None:
            self.step_offset = restored.step
        if self._steps is not None:
            self._steps.step_offset = self.step_offset
        self._at_line = self.sync.signatures()
        return restored

    def observe(self, text: str) -> None:
        """One forwarded output line."""
        if self._steps is not None and self._steps.feed(text):
            self._at_line = self.sync.signatures()
            self._stepped.set()

    def step(self) -> int | None:
        """The objective's last step this attempt has read (its offset before any), None uncounted."""
        if self._steps is None:
            return None
        return self._steps.counts.get(self._steps.definitions[0].Name, self.step_offset)

    def push(self) -> int:
        return self.sync.push(self.step())

    def push_last(self, ended_by_itself: bool) -> int:
        """The push once the program has ended. One that was stopped or killed may have written its
        next checkpoint and died before printing that step's line: its files are then a step ahead
        of the lines read, and a retry restoring them would number every later value one step low.
        Such files stay local; S3 keeps the last push, taken right after a line, and the retry trains
        those epochs again. A program that ended by itself printed after its last checkpoint."""
        if not ended_by_itself and self._steps is not None and self.sync.signatures() != self._at_line:
            log.info(
                "training job %s: checkpoint files changed after the last objective line (step %s); "
                "the last push is kept",
                self.training_job_name,
                self.step(),
            )
            return 0
        return self.push()

    async def periodically(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            if self._steps is not None:
                # Pushed just after an objective line: a program checkpoints before printing (the
                # contract), so right after line k it is training step k + 1 and its files hold step
                # k. Taken at any other moment they could hold one more step than the lines read.
                self._stepped.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stepped.wait(), self._interval_s)
            step = self.step()
            try:
                await asyncio.to_thread(self.sync.push, step)
            except Exception as exc:  # the next push tries again; the job goes on
                log.warning("training job %s: checkpoint push failed: %s", self.training_job_name, exc)
