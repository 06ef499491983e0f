"""What the example training programs share to pause and resume (promotion Hyperband's contract,
docs/training-programs.md): where the checkpoint lives and how far this run trains.

Imported by the programs from their parent folder (each adds it to sys.path), so each stays a file
that `python examples/<task>/train.py` runs as is.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def last_step(steps: int) -> int:
    """The step this run trains to: the program's own (epochs, rounds), or promotion Hyperband's
    TUNESTREAM_RESOURCE_LIMIT when that is lower."""
    limit = os.environ.get("TUNESTREAM_RESOURCE_LIMIT")
    return min(steps, int(limit)) if limit else steps


def checkpoint_file(name: str) -> Path | None:
    """`name` under SM_CHECKPOINT_DIR (CheckpointConfig), or None when the job has no checkpoints."""
    folder = os.environ.get("SM_CHECKPOINT_DIR")
    return Path(folder) / name if folder else None


def replace_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Writes through `write(partial_path)` and renames: a stop mid-write never leaves a torn file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    write(partial)
    os.replace(partial, path)
