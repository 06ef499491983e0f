"""Where a run's time goes: the first able configuration, its own training, and whether it got there."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support import scripts
from tunestream.bench.methods import Start
from tunestream.bench.simulator import simulate
from tunestream.bench.tables import CurveRow, CurveTable
from tunestream.bench.time_split import Recorder, able_time, recording, split
from tunestream.space import ContinuousParam, SearchSpace

SPACE = SearchSpace([ContinuousParam("x", 0.0, 1.0)])
TABLE = CurveTable("t", "", SPACE, "acc", True, "epoch", rows=[CurveRow({"x": "0.5"}, (0.0, 0.5), (1.0, 1.0))])


def answer(values: Mapping[str, int | float | str]) -> CurveRow:
    # Above x = 0.9 a configuration reaches 1.0 at its second (last) epoch; an epoch costs 1 + 10 x
    # seconds, so the able configurations are the slow ones.
    x = float(values["x"])
    return CurveRow({"x": str(x)}, (0.0, 1.0 if x > 0.9 else 0.5), (1 + 10 * x, 1 + 10 * x))


@dataclass
class Scripted:
    """Starts the given training jobs in order, one per free worker, and never stops one."""

    script: Sequence[Start]
    name: str = "scripted"
    asked: int = 0

    def ask(self, now: float) -> Start | None:
        if self.asked >= len(self.script):
            return None
        self.asked += 1
        return self.script[self.asked - 1]

    def report(self, trial_id: str, epoch: int, value: float, now: float) -> bool:
        return True

    def finish(self, trial_id: str, last_value: float | None, stopped: bool, now: float) -> None:
        pass


def run(script: Sequence[Start], workers: int = 1) -> tuple[float, Recorder]:
    factory, recorders = recording(lambda task, seed, w: Scripted(script))
    outcome = simulate(TABLE, factory, 0, workers, targets=(1.0,), horizon_s=1000.0, answer=answer)
    return outcome.time_to_target[1.0], recorders[0]


def test_able_time_counts_only_the_epochs_a_job_may_end_at() -> None:
    row = CurveRow({"x": "0.5"}, (0.5, 0.8, 0.7, 0.9), (1.0, 2.0, 3.0, 4.0))
    assert able_time(row, 0.8, TABLE, [1, 2]) == 3.0
    # Its peak at epoch 2 is no use to a method whose jobs end at 1 and 3 only.
    assert able_time(row, 0.8, TABLE, [1, 3]) is None
    assert able_time(row, 0.6, TABLE, [3, 1]) == 6.0
    assert able_time(row, 0.95, TABLE, [4]) is None


def test_the_time_splits_into_finding_the_first_able_configuration_and_training_it() -> None:
    t, recorder = run([Start("a", {"x": 0.2}), Start("b", {"x": 0.95}), Start("c", {"x": 0.97})])
    assert t == 6.0 + 21.0
    s = split(recorder, TABLE, answer, 1.0, t)
    assert (s.time_to_target, s.first_able_at, s.its_training_s, s.first_able_reached) == (27.0, 6.0, 21.0, True)


def test_a_resumed_configuration_counts_as_the_one_it_continues() -> None:
    t, recorder = run([Start("a", {"x": 0.95}, epochs=1), Start("b", {}, resume="a")])
    s = split(recorder, TABLE, answer, 1.0, t)
    assert s.first_able_at == 0.0 and s.its_training_s == 21.0 and s.first_able_reached


def test_a_first_able_configuration_passed_over_at_a_rung_did_not_get_there() -> None:
    # "a" is able at the end, but the method pauses it after one epoch and never resumes it.
    t, recorder = run([Start("a", {"x": 0.95}, epochs=1), Start("b", {"x": 0.99})])
    s = split(recorder, TABLE, answer, 1.0, t)
    assert s.first_able_at == 0.0 and not s.first_able_reached and t == 10.5 + 2 * 10.9


def test_a_run_without_an_able_configuration_has_no_split() -> None:
    t, recorder = run([Start("a", {"x": 0.2})])
    s = split(recorder, TABLE, answer, 1.0, t)
    assert math.isinf(s.time_to_target) and math.isinf(s.first_able_at) and math.isnan(s.its_training_s)
    assert not s.first_able_reached


def test_the_script_splits_random_and_promotion_on_a_committed_table(tmp_path: Path) -> None:
    cli = scripts.load_script("benchmarks/time_split.py")
    argv = ["--tasks", "costly", "--workers", "2", "--seeds", "3", "--processes", "1", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    rows = json.loads((tmp_path / "time-split-fitted-0.05.json").read_text())["rows"]
    assert [r["method"] for r in rows] == ["tunestream Random", "tunestream Hyperband (promotion)"]
    for r in rows:
        assert r["runs"] == 3 and 0 <= r["first_able_at_s"] <= r["time_to_target_s"] < math.inf
        assert r["its_training_s"] > 0 and 0 < r["search_share"] <= 1
