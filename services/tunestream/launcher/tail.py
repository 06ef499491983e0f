"""Following a program's output files line by line, for backends whose programs run on other machines
and write their output into the job's folder on a shared filesystem (slurm, ray)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tunestream.launcher.backend import LineSink

# How often the output files are looked at for new lines.
OUTPUT_POLL_S = 0.05
# A line with no newline is forwarded once it is this long.
MAX_PARTIAL_BYTES = 1 << 20


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
