"""The fitted answer: forests over a curve table's rows, and the simulator and bench driven by it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.ensemble import ExtraTreesRegressor

from tests.support import scripts
from tests.unit.bench.test_simulator import SPACE, TABLE
from tunestream.bench.methods import Start
from tunestream.bench.simulator import nearest_row, simulate
from tunestream.bench.suggester_methods import METHODS
from tunestream.bench.surrogate import FittedCurves

FITTED = FittedCurves(TABLE)


def test_flat_forest_predicts_what_sklearn_predicts() -> None:
    model = ExtraTreesRegressor(64, random_state=0).fit(TABLE.unit_points(), [r.values for r in TABLE.rows])
    for u in np.random.default_rng(3).random((40, 3)):
        point = np.array(SPACE.to_unit(SPACE.from_unit(u.tolist())))
        assert np.allclose(FITTED.curve(SPACE.from_unit(u.tolist())).values, model.predict(point[None])[0], atol=1e-12)


def test_a_recorded_configuration_gets_its_own_row_back() -> None:
    for row in TABLE.rows[:30]:
        curve = FITTED.curve(SPACE.parse(row.hyperparameters))
        assert np.allclose(curve.values, row.values, atol=1e-9)
        assert np.allclose(curve.seconds, row.seconds, rtol=1e-9)


def test_nearby_configurations_get_different_curves_where_the_nearest_row_does_not() -> None:
    base = SPACE.parse(TABLE.rows[0].hyperparameters)
    # Nudge lr by 2 % of its range in the unit cube, towards the middle: close enough that the
    # nearest row stays the same row, far enough that some tree cuts between the two.
    u = SPACE.to_unit(base)
    u[1] += 0.02 if u[1] < 0.5 else -0.02
    nudged = SPACE.from_unit(u)
    nearest = nearest_row(TABLE)
    assert nearest(nudged) is nearest(base)
    assert FITTED.curve(nudged).values != FITTED.curve(base).values


def test_predictions_stay_within_the_rows_and_the_curve_has_every_step() -> None:
    values = np.array([r.values for r in TABLE.rows])
    seconds = np.array([r.seconds for r in TABLE.rows])
    for u in np.random.default_rng(4).random((40, 3)):
        curve = FITTED.curve(SPACE.from_unit(u.tolist()))
        assert len(curve.values) == len(curve.seconds) == TABLE.max_resource
        assert np.all(np.array(curve.values) >= values.min(axis=0) - 1e-12)
        assert np.all(np.array(curve.values) <= values.max(axis=0) + 1e-12)
        assert np.all(np.array(curve.seconds) >= seconds.min() * (1 - 1e-9))
        assert np.all(np.array(curve.seconds) <= seconds.max() * (1 + 1e-9))


def test_targets_come_from_the_fitted_distribution_and_grow_harder() -> None:
    t10, t5, t2 = FITTED.targets((0.10, 0.05, 0.02))
    assert t10 <= t5 <= t2  # maximised: a smaller share is a higher value
    finals = FITTED.sample_finals()
    assert np.mean(finals >= t5) >= 0.05 > np.mean(finals > t5)
    assert FittedCurves(TABLE).targets((0.05,)) == (t5,)  # deterministic under its seed


def test_simulator_trains_a_proposal_as_the_answer_says() -> None:
    # A fixed answer (every configuration trains as row 7) reaches exactly row 7's values.
    row = TABLE.rows[7]

    class One:
        name = "one"

        def __init__(self) -> None:
            self.started = False

        def ask(self, now: float) -> Start | None:
            if self.started:
                return None
            self.started = True
            return Start("t0", SPACE.parse(TABLE.rows[0].hyperparameters))

        def report(self, trial_id: str, epoch: int, value: float, now: float) -> bool:
            return True

        def finish(self, trial_id: str, value: float | None, stopped: bool, now: float) -> None:
            pass

    out = simulate(
        TABLE,
        lambda task, seed, workers: One(),
        0,
        1,
        targets=(),
        horizon_s=1e9,
        stop_at_targets=False,
        answer=lambda v: row,
    )
    assert out.by_jobs == [row.final]
    assert out.end_time == sum(row.seconds)


def test_bayesian_and_random_run_on_the_fitted_answer_deterministically() -> None:
    for name in ("tunestream Random", "tunestream Bayesian"):
        runs = [
            simulate(
                TABLE,
                METHODS[name],
                1,
                2,
                targets=(),
                horizon_s=1e9,
                stop_at_targets=False,
                max_jobs=12,
                answer=FITTED.curve,
            )
            for _ in range(2)
        ]
        assert runs[0].by_jobs == runs[1].by_jobs and len(runs[0].by_jobs) == 12


def test_bench_cli_keeps_fitted_and_capped_cells_apart(tmp_path: Path) -> None:
    cli = scripts.load_script("benchmarks/search_bench.py")
    common = [
        "--tasks",
        "costly",
        "--workers",
        "2",
        "--seeds",
        "2",
        "--methods",
        "tunestream Random",
        "--processes",
        "1",
    ]
    assert cli.main([*common, "--full-jobs", "20", "--out", str(tmp_path)]) == 0
    assert cli.main([*common, "--answer", "fitted", "--max-jobs", "10", "--out", str(tmp_path)]) == 0
    cells = sorted(p.name for p in (tmp_path / "cells").iterdir())
    assert cells == ["costly-W2-zero-fitted-jobs10-tunestream-Random.json", "costly-W2-zero-tunestream-Random.json"]
    capped = json.loads((tmp_path / "cells" / cells[0]).read_text())
    nearest = json.loads((tmp_path / "cells" / cells[1]).read_text())
    assert all(len(b) == 10 for b in capped["by_jobs"])  # on to the cap, past the targets
    assert capped["targets"] != nearest["targets"]
    assert (tmp_path / "summary-zero-fitted-jobs10.json").is_file()


def test_cross_validation_scores_both_answers() -> None:
    fit = scripts.load_script("benchmarks/surrogate_fit.py")
    scores = fit.cross_validate(TABLE, folds=3)
    assert set(scores) == {"nearest", "fitted"}
    for answer in scores.values():
        assert 0.5 < answer["spearman_final"] <= 1 and answer["rmse_final"] > 0
    # The synthetic curves are smooth in the configuration: fitting beats the nearest row.
    assert scores["fitted"]["rmse_final"] < scores["nearest"]["rmse_final"]
