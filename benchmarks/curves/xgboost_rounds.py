"""XGBoost with boosting rounds as the resource: examples/xgboost_synthetic/train.py, 150 rounds.

The program's `train()` runs in-process (in record.py's worker process, one thread: nthread=1) with
a training callback that timestamps every round after XGBoost has evaluated it; a round's seconds
run from the previous round's callback (the first from the call to `train`, whose only other work is
setting the parameters: the data are loaded once per worker, before any timing).
"""

from __future__ import annotations

from typing import Any

from programs import Curve, argv, load_program, timed

from tunestream.space import ContinuousParam, IntegerParam, SearchSpace

NAME = "xgboost"
DESCRIPTION = (
    "examples/xgboost_synthetic/train.py: XGBoost (hist, nthread=1) on make_classification(12000 rows, "
    "40 features, 4 clusters per class, 3 % flipped labels), 9,000 rows to train on; validation logloss "
    "on 3,000 held-out rows after each of 150 boosting rounds, minimised."
)
SPACE = SearchSpace(
    (
        IntegerParam("max_depth", 2, 10, "Linear"),
        ContinuousParam("eta", 0.01, 0.5, "Logarithmic"),
        ContinuousParam("min_child_weight", 0.1, 100.0, "Logarithmic"),
        ContinuousParam("subsample", 0.5, 1.0, "Linear"),
        ContinuousParam("colsample_bytree", 0.3, 1.0, "Linear"),
        ContinuousParam("lambda", 1e-3, 100.0, "Logarithmic"),
        ContinuousParam("alpha", 1e-3, 10.0, "Logarithmic"),
    )
)
METRIC = "validation:logloss"
MAXIMIZE = False
RESOURCE = "boosting round"
STEPS = 150
CHANCE = 0.693147  # log 2: the logloss of predicting 0.5 everywhere
THREADS = "in-process in a worker process, xgboost nthread=1, OMP/OPENBLAS/MKL_NUM_THREADS=1"
PACKAGES = ("numpy", "scikit-learn", "xgboost")
STATIC = {"num_round": str(STEPS), "nthread": "1"}

_data: Any = None


def prepare() -> None:
    """Once per worker, untimed: load the data and train a throwaway model briefly (library warm-up)."""
    global _data
    program = load_program("xgboost_synthetic")
    _data = program.load_data()
    program.train(program.parse_args(["--num_round", "2", "--nthread", "1"]), _data, lambda *_: None)


def run(hyperparameters: dict[str, str]) -> Curve:
    if _data is None:
        prepare()
    program = load_program("xgboost_synthetic")
    args = program.parse_args(argv({**hyperparameters, **STATIC}))
    return timed(lambda record: program.train(args, _data, lambda _round, value: record(value)), STEPS, CHANCE)
