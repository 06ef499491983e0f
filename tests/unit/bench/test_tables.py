"""The committed curve tables (benchmarks/tables/, recorded by benchmarks/curves/record.py) and the
table format's save/load round trip."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pytest

from tunestream.bench.tables import CurveRow, CurveTable, load, save
from tunestream.space import CategoricalParam, ContinuousParam, IntegerParam, SearchSpace

ROOT = Path(__file__).resolve().parents[3]
TABLES = ROOT / "benchmarks" / "tables"
TASKS = ("mlp", "xgboost", "digits", "costly")


@functools.cache
def committed(task: str) -> CurveTable:
    return load(TABLES / f"{task}.json.gz")


@pytest.mark.parametrize("task", TASKS)
def test_committed_table_is_complete(task: str) -> None:
    table = committed(task)
    assert table.task == task
    assert len(table.rows) >= 300
    steps = table.max_resource
    assert steps > 1
    for i, row in enumerate(table.rows):
        assert len(row.values) == steps, f"row {i}: {len(row.values)} of {steps} {table.resource}s"
        assert len(row.seconds) == steps
        assert all(math.isfinite(v) for v in row.values), f"row {i} has a NaN or infinite value"
        assert all(s > 0 for s in row.seconds), f"row {i} has a {table.resource} of no seconds"
        assert table.space.parse_if_inside(row.hyperparameters) is not None, f"row {i} lies outside the space"
    finals = table.finals()
    assert np.ptp(finals) > 0, "every configuration ends at the same value"
    # Random draws of a continuous space: no two rows are the same configuration.
    assert len({tuple(sorted(r.hyperparameters.items())) for r in table.rows}) == len(table.rows)
    assert table.recorded_with.get("command")


def test_costly_task_makes_good_configurations_expensive() -> None:
    table = committed("costly")
    order = np.argsort(table.finals())[:: 1 if not table.maximize else -1]  # best first
    per_epoch = np.array([np.median(r.seconds) for r in table.rows])
    top = per_epoch[order[: len(order) // 10]]
    bottom = per_epoch[order[len(order) // 2 :]]
    assert np.median(top) / np.median(bottom) >= 5


def test_save_load_round_trip(tmp_path: Path) -> None:
    space = SearchSpace(
        (
            IntegerParam("units", 10, 1000, "Logarithmic"),
            ContinuousParam("learning_rate", 1e-4, 0.1, "Logarithmic"),
            ContinuousParam("dropout", 0.0, 0.5, "Linear"),
            CategoricalParam("optimizer", ("adam", "sgd")),
        )
    )
    rows = [
        CurveRow(
            {"units": "10", "learning_rate": "0.001", "dropout": "0.1", "optimizer": "adam"}, (0.5, 0.75), (0.1, 0.2)
        ),
        CurveRow(
            {"units": "500", "learning_rate": "0.05", "dropout": "0.4", "optimizer": "sgd"}, (0.6, 0.9), (1.5, 1.25)
        ),
    ]
    table = CurveTable("tiny", "two rows", space, "validation:accuracy", True, "epoch", rows, {"seed": 1})
    path = tmp_path / "tables" / "tiny.json.gz"
    save(table, path)
    again = load(path)
    assert (again.task, again.description, again.metric, again.maximize, again.resource) == (
        "tiny",
        "two rows",
        "validation:accuracy",
        True,
        "epoch",
    )
    assert again.space == space
    assert again.rows == rows
    assert again.recorded_with == {"seed": 1}
    assert again.max_resource == 2
    assert again.nearest(space.parse(rows[1].hyperparameters)) == 1
    assert again.finals().tolist() == [0.75, 0.9]
