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
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

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
    return parser.parse_args(argv)


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
    """Hands each round's validation logloss to `on_round(round, value)` (rounds counted from 1)."""

    def __init__(self, on_round: Callable[[int, float], None]) -> None:
        super().__init__()
        self._on_round = on_round

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict[str, Any]) -> bool:
        self._on_round(epoch + 1, float(evals_log["validation"]["logloss"][-1]))
        return False


def train(
    args: argparse.Namespace, data: dict[str, xgb.DMatrix], on_round: Callable[[int, float], None]
) -> xgb.Booster:
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
    return xgb.train(
        params,
        data["train"],
        num_boost_round=args.num_round,
        evals=[(data["validation"], "validation")],
        callbacks=[AfterRound(on_round)],
        verbose_eval=False,
    )


def main() -> None:
    args = parse_args()
    data = load_data()
    booster = train(args, data, lambda k, v: print(f"[{k}] validation:logloss={v:.6f}", flush=True))
    model_dir = Path(os.environ.get("SM_MODEL_DIR", "model"))
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(model_dir / "xgboost-model.json")


if __name__ == "__main__":
    main()
