"""What the example training programs share to pause and resume (promotion Hyperband's contract,
docs/training-programs.md): where the checkpoint lives and how far this run trains.

Imported by the programs from their parent folder (each adds it to sys.path), so each stays a file
that `python examples/<task>/train.py` runs as is.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


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


def load_torch_state(checkpoint: Path | None, model: Any, optimizer: Any, generator: Any) -> int:
    """Restores a PyTorch program's whole training state (weights, optimiser, shuffling generator)
    from `checkpoint` in place; returns the epochs it holds (0 when there is none)."""
    if checkpoint is None or not checkpoint.is_file():
        return 0
    import torch

    state = torch.load(checkpoint, weights_only=False)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    return int(state["epoch"])


def save_torch_state(checkpoint: Path, epoch: int, model: Any, optimizer: Any, generator: Any) -> None:
    """What load_torch_state restores, written atomically."""
    import torch

    state = {
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "generator": generator.get_state(),
    }
    replace_atomically(checkpoint, lambda path: torch.save(state, path))
