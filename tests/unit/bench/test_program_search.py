"""benchmarks/program_search.py: methods run on the real training program, with the table's answer
for the same configurations beside it. The full comparison runs by hand (docs/strategies.md)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.support import scripts
from tunestream.bench import tables

ROOT = Path(__file__).resolve().parents[3]


def load_script():  # type: ignore[no-untyped-def]
    return scripts.load_script("benchmarks/program_search.py")


@pytest.fixture(scope="module")
def script():  # type: ignore[no-untyped-def]
    pytest.importorskip("xgboost")
    module = load_script()
    module._worker_start("xgboost_rounds")
    return module


def test_the_program_reproduces_its_table(script) -> None:  # type: ignore[no-untyped-def]
    # What the script compares only means something if the table holds what the program gives.
    table = tables.load(ROOT / "benchmarks" / "tables" / "xgboost.json.gz")
    program = script.importlib.import_module("xgboost_rounds")
    for row in table.rows[:2]:
        assert program.run(row.hyperparameters).values[-1] == pytest.approx(row.final, abs=1e-5)


def test_one_run_notes_program_and_table_answers(script) -> None:  # type: ignore[no-untyped-def]
    table = tables.load(ROOT / "benchmarks" / "tables" / "xgboost.json.gz")
    run = script.one_run("xgboost", "tunestream Random", 3, 3)
    assert len(run["program"]) == len(run["table"]) == len(run["fitted"]) == len(run["rows"]) == 3
    assert all(math.isfinite(v) and 0 < v < 0.7 for v in run["program"])
    assert run["table"] == [table.rows[r].final for r in run["rows"]]
    assert all(min(r.final for r in table.rows) <= v <= max(r.final for r in table.rows) for v in run["fitted"])
    # Same seed, same configurations, same values: the run is deterministic.
    assert script.one_run("xgboost", "tunestream Random", 3, 3) == run


def test_best_after() -> None:
    script = load_script()
    assert script.best_after([0.5, 0.3, 0.4], 2, maximize=False) == 0.3
    assert script.best_after([0.5, 0.3, 0.9], 2, maximize=True) == 0.5
