#!/usr/bin/env python3
"""Gradient-boosted trees on a generated 12,000-row binary classification task, written as a
SageMaker training program: hyperparameters arrive as `--name value` arguments (SageMaker XGBoost's
names: eta, max_depth, min_child_weight, subsample, colsample_bytree, lambda, alpha, num_round),
and every boosting round prints `[<round>] validation:logloss=<value>`.

The data: make_classification(12,000 rows, 40 features: 15 informative, 10 redundant, 4 clusters per
class, 3 % flipped labels), 9,000 rows to train on and 3,000 to validate. Trees are built with the
`hist` method on one thread (`--nthread`).

`train()` is importable: benchmarks/curves/xgboost_rounds.py calls it in-process with a callback
after each round to record the curve and the wall time of every round.

Checkpoints: with SM_CHECKPOINT_DIR the booster is saved there every 10 rounds and at the end, and a
run that finds one continues boosting from it; TUNESTREAM_RESOURCE_LIMIT (promotion Hyperband) ends
this run at that round. A resumed run with subsample and colsample_bytree at 1 repeats an
uninterrupted run exactly; below 1 its later rounds sample other rows and columns (XGBoost
reseeds its sampler when training continues).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pause_resume import checkpoint_file, last_step, replace_atomically

DATA_SEED = 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--eta", type=float, default=0.3)
    parser.add_argument("--max_depth", type=int, default=6)
    parser.add_argument("--min_child_weight", type=float, default=1.0)
    parser.add_argument("--subsample", type=float, default=1.0)
    parser.add_argument("--colsample_bytree", type=float, default=1.0)
    parser.add_argument("--lambda", dest="reg_lambda", type=float, default=1.0)
    parser.add_argument("--alpha", type=float, default=0.0)
    parser.add_argument("--num_round", type=int, default=150)
    parser.add_argument("--nthread", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    # SageMaker's SDKs add hyperparameters of their own (the tuner's _tuning_objective_metric,
    # sagemaker_* with cls metadata): a program that refused unknown ones would fail every job.
    known, _ = parser.parse_known_args(argv)
    return known


def load_data(seed: int = DATA_SEED) -> dict[str, xgb.DMatrix]:
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    x, y = make_classification(
        n_samples=12000,
        n_features=40,
        n_informative=15,
        n_redundant=10,
        n_clusters_per_class=4,
        class_sep=0.8,
        flip_y=0.03,
        random_state=seed,
    )
    x_train, x_valid, y_train, y_valid = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    return {
        "train": xgb.DMatrix(x_train.astype(np.float32), label=y_train),
        "validation": xgb.DMatrix(x_valid.astype(np.float32), label=y_valid),
    }


class AfterRound(xgb.callback.TrainingCallback):
    """Hands each round's validation logloss to `on_round(round, value)` (rounds counted from 1, and
    on from `done` in a run that continues a saved booster: XGBoost counts each run's from 0)."""

    def __init__(self, on_round: Callable[[int, float], None], done: int = 0) -> None:
        super().__init__()
        self._on_round = on_round
        self._done = done

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict[str, Any]) -> bool:
        self._on_round(self._done + epoch + 1, float(evals_log["validation"]["logloss"][-1]))
        return False


class SaveEvery(xgb.callback.TrainingCallback):
    """Saves the booster to `path` after every `rounds`-th round (rounds counted from 1)."""

    def __init__(self, path: Path, rounds: int = 10) -> None:
        super().__init__()
        self._path, self._rounds = path, rounds

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict[str, Any]) -> bool:
        if model.num_boosted_rounds() % self._rounds == 0:
            save(model, self._path)
        return False


def save(booster: xgb.Booster, path: Path) -> None:
    replace_atomically(path, lambda partial: partial.write_bytes(booster.save_raw("ubj")))


def train(
    args: argparse.Namespace,
    data: dict[str, xgb.DMatrix],
    on_round: Callable[[int, float], None],
    checkpoint: Path | None = None,
    last_round: int | None = None,
) -> xgb.Booster:
    """Boosts args.num_round rounds (or up to `last_round`), continuing from `checkpoint` when it holds a booster."""
    params = {
        "objective": "binary:logistic",
        "eval_metric": "logloss",
        "tree_method": "hist",
        "eta": args.eta,
        "max_depth": args.max_depth,
        "min_child_weight": args.min_child_weight,
        "subsample": args.subsample,
        "colsample_bytree": args.colsample_bytree,
        "lambda": args.reg_lambda,
        "alpha": args.alpha,
        "nthread": args.nthread,
        "seed": args.seed,
    }
    start = None
    if checkpoint is not None and checkpoint.is_file():
        start = xgb.Booster(params, model_file=str(checkpoint))
    done = start.num_boosted_rounds() if start is not None else 0
    # Saved before the round is reported: a job stopped after the line resumes from it.
    callbacks: list[xgb.callback.TrainingCallback] = [SaveEvery(checkpoint)] if checkpoint is not None else []
    booster = xgb.train(
        params,
        data["train"],
        num_boost_round=max((last_round or args.num_round) - done, 0),
        evals=[(data["validation"], "validation")],
        callbacks=[*callbacks, AfterRound(on_round, done)],
        verbose_eval=False,
        xgb_model=start,
    )
    if checkpoint is not None:
        save(booster, checkpoint)
    return booster


def main() -> None:
    args = parse_args()
    data = load_data()
    booster = train(
        args,
        data,
        lambda k, v: print(f"[{k}] validation:logloss={v:.6f}", flush=True),
        checkpoint_file("xgboost-checkpoint.ubj"),
        last_step(args.num_round),
    )
    model_dir = Path(os.environ.get("SM_MODEL_DIR", "model"))
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(model_dir / "xgboost-model.json")


if __name__ == "__main__":
    main()
