"""The MLP example that the seed benchmark tunes: its numpy backend learns, prints one metric line per
epoch, caches its data set and saves a model."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROGRAM = Path(__file__).resolve().parents[2] / "examples" / "mlp" / "train.py"
LINE = re.compile(r"^epoch=(\d+) loss=([0-9.]+) validation:accuracy=([0-9.]+)$")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mlp-data")


def run(tmp_path: Path, cache: Path, *args: str, **extra_env: str) -> list[tuple[int, float, float]]:
    env = {**os.environ, "MLP_DATA_CACHE": str(cache), "SM_MODEL_DIR": str(tmp_path / "model"), **extra_env}
    out = subprocess.run(
        [sys.executable, str(PROGRAM), *args], env=env, capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stderr == ""
    return [(int(m[1]), float(m[2]), float(m[3])) for m in map(LINE.match, out.stdout.splitlines()) if m]


def test_numpy_backend_learns_and_reports_every_epoch(tmp_path: Path, cache: Path) -> None:
    args = ("--epochs", "3", "--units", "32", "--batch_size", "32", "--learning_rate", "0.003", "--l2", "1e-5")
    lines = run(tmp_path, cache, *args)
    assert [epoch for epoch, _, _ in lines] == [1, 2, 3]
    assert lines[-1][1] < lines[0][1]  # the training loss falls
    assert lines[-1][2] > 0.9
    assert (tmp_path / "model" / "model.npz").is_file()
    assert len(list(cache.glob("*.npz"))) == 1
    # The second run reads the cached data set and, seeded, repeats the first one exactly.
    assert run(tmp_path, cache, *args) == lines


def test_a_diverging_configuration_still_reports_finite_numbers(tmp_path: Path, cache: Path) -> None:
    lines = run(tmp_path, cache, "--epochs", "2", "--units", "50", "--learning_rate", "0.1", "--l2", "2")
    assert len(lines) == 2 and all(0 <= accuracy <= 1 for _, _, accuracy in lines)


def test_paused_at_its_resource_limit_and_resumed_from_the_checkpoint_it_repeats_an_uninterrupted_run(
    tmp_path: Path, cache: Path
) -> None:
    args = ("--epochs", "4", "--units", "16", "--batch_size", "64")
    straight = run(tmp_path, cache, *args)
    checkpoints = str(tmp_path / "checkpoints")
    first = run(tmp_path, cache, *args, SM_CHECKPOINT_DIR=checkpoints, TUNESTREAM_RESOURCE_LIMIT="1")
    second = run(tmp_path, cache, *args, SM_CHECKPOINT_DIR=checkpoints, TUNESTREAM_RESOURCE_LIMIT="3")
    rest = run(tmp_path, cache, *args, SM_CHECKPOINT_DIR=checkpoints)
    assert [e for e, _, _ in first] == [1] and [e for e, _, _ in second] == [2, 3] and [e for e, _, _ in rest] == [4]
    assert first + second + rest == straight
