"""What the backends whose programs run on a cluster's machines (slurm, ray) share: the program writes
its output into two files of the job's folder, on a filesystem the machines share, which the
launcher tails line by line; its state is looked at until it ends, soon after the submission and
then less often; and a cluster that cannot be asked for CLUSTER_PATIENCE_S gives the attempt up as
interrupted (retried per RetryStrategy)."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from tunestream.events.v1 import TrainingJobSpec
from tunestream.launcher.backend import Attempt, Exit, LineSink, RunOptions
from tunestream.launcher.layout import JobLayout, failure_reason

log = logging.getLogger(__name__)

# How often the output files are looked at for new lines.
OUTPUT_POLL_S = 0.05
# A line with no newline is forwarded once it is this long.
MAX_PARTIAL_BYTES = 1 << 20
# The first look at a job's state comes this soon after submission; the gap doubles up to the backend's.
STATE_POLL_FIRST_S = 0.1
# How long the cluster may be unreachable before the attempt is given up as interrupted.
CLUSTER_PATIENCE_S = 120.0


class ClusterUnreachable(Exception):
    """The cluster could not be asked about the job just now."""


async def follow_file(path: Path, stream: str, line: LineSink, ended: asyncio.Event) -> None:
    """Every line written to `path` (which may not exist yet), until `ended` is set and all that was
    written before it has been read; a last line without its newline is forwarded too."""
    offset, partial = 0, b""
    while True:
        # Looked at before the file: what the program wrote before it ended is read on this pass.
        done = ended.is_set()
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            size = 0
        if size > offset:
            chunk = await asyncio.to_thread(_read_from, path, offset)
            offset += len(chunk)
            *lines, partial = (partial + chunk).split(b"\n")
            for raw in lines:
                await line(stream, raw.decode(errors="replace").rstrip("\r"))
            if len(partial) > MAX_PARTIAL_BYTES:
                await line(stream, partial.decode(errors="replace"))
                partial = b""
            continue
        if done:
            break
        await asyncio.sleep(OUTPUT_POLL_S)
    if partial:
        await line(stream, partial.decode(errors="replace").rstrip("\r"))


def _read_from(path: Path, offset: int) -> bytes:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read(4 << 20)


class RemoteProgram:
    """A program that runs as a job of a cluster. A backend fills in `launch`, `look`, `signal`,
    `cleanup`, and names the cluster (`cluster_name`) for the failure reasons."""

    cluster_name = "the cluster"

    def __init__(
        self,
        spec: TrainingJobSpec,
        attempt: Attempt,
        layout: JobLayout,
        options: RunOptions,
        folder: Path,
        poll_s: float,
    ) -> None:
        self.spec = spec
        self.attempt = attempt
        self.layout = layout
        self._options = options
        # The job's own files (its output, tunestream's wrapper) within the job's folder.
        self.folder = folder
        self._poll_s = poll_s
        self._ended = asyncio.Event()

    @property
    def name(self) -> str:
        return self.spec.training_job_name

    @property
    def stdout_file(self) -> Path:
        return self.folder / "stdout"

    @property
    def stderr_file(self) -> Path:
        return self.folder / "stderr"

    async def look(self) -> Exit | None:
        """How the job ended, or None while it runs (or waits). ClusterUnreachable if it cannot be asked."""
        raise NotImplementedError

    async def pump(self, line: LineSink) -> None:
        await asyncio.gather(
            follow_file(self.stdout_file, "stdout", line, self._ended),
            follow_file(self.stderr_file, "stderr", line, self._ended),
        )

    async def wait_exit(self) -> Exit:
        try:
            return await self._follow()
        finally:
            self._ended.set()

    async def _follow(self) -> Exit:
        delay = STATE_POLL_FIRST_S
        loop = asyncio.get_running_loop()
        unreachable_since: float | None = None
        while True:
            try:
                ended = await self.look()
                unreachable_since = None
            except ClusterUnreachable as exc:
                now = loop.time()
                unreachable_since = unreachable_since or now
                if now - unreachable_since > CLUSTER_PATIENCE_S:
                    silent = f"{self.cluster_name} did not answer for {CLUSTER_PATIENCE_S:g} s"
                    return Exit(-1, interrupted=f"InternalServerError: {silent}: {exc}")
                log.warning("training job %s: %s", self.name, exc)
                ended = None
            if ended is not None:
                return ended
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._poll_s)

    def failure_reason(self, exit_code: int, stderr_tail: list[str]) -> str:
        return failure_reason(self.layout, exit_code, stderr_tail)
