"""The bench's example programs pause and resume (promotion Hyperband's contract): a run paused at a
step and resumed from its checkpoint reports exactly the curve of an uninterrupted run."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def program(folder: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{folder}", EXAMPLES / folder / "train.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def curve(train: Callable[..., Any], *args: Any) -> list[tuple[int, ...]]:
    seen: list[tuple[int, ...]] = []
    train(*args[:2], lambda *point: seen.append(point), *args[2:])
    return seen


@pytest.mark.parametrize(
    ("folder", "argv", "name", "steps"),
    [
        ("xgboost_synthetic", ["--num_round", "12"], "xgb.ubj", 12),
        ("digits_cnn", ["--epochs", "4", "--width", "4"], "digits.pt", 4),
        ("wide_mlp", ["--epochs", "4", "--width", "16"], "wide.pt", 4),
    ],
)
def test_paused_and_resumed_runs_repeat_an_uninterrupted_one(
    folder: str, argv: list[str], name: str, steps: int, tmp_path: Path
) -> None:
    module = program(folder)
    args, data = module.parse_args(argv), module.load_data()
    straight = curve(module.train, args, data)
    assert [point[0] for point in straight] == list(range(1, steps + 1))
    checkpoint = tmp_path / name
    pieces = [curve(module.train, args, data, checkpoint, limit) for limit in (1, 3, steps)]
    assert [[point[0] for point in piece] for piece in pieces] == [[1], [2, 3], list(range(4, steps + 1))]
    assert [point for piece in pieces for point in piece] == straight
    assert curve(module.train, args, data, checkpoint, steps) == []  # nothing left to train
