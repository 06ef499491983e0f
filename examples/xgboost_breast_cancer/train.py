#!/usr/bin/env python3
"""Gradient-boosted trees on scikit-learn's bundled breast-cancer data, written as a SageMaker
training program: hyperparameters arrive as `--name value` arguments (also in
input/config/hyperparameters.json and SM_HP_*), the model goes to SM_MODEL_DIR, and each boosting
round prints `validation:auc=<value>` for the objective's MetricDefinitions regex.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import xgboost as xgb
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--eta", type=float, default=0.3)
    parser.add_argument("--alpha", type=float, default=0.0)
    parser.add_argument("--min_child_weight", type=float, default=1.0)
    parser.add_argument("--max_depth", type=int, default=6)
    parser.add_argument("--num_round", type=int, default=50)
    parser.add_argument("--objective", default="binary:logistic")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


class PrintValidationAuc(xgb.callback.TrainingCallback):
    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict) -> bool:  # type: ignore[type-arg]
        train_auc = evals_log["train"]["auc"][-1]
        valid_auc = evals_log["validation"]["auc"][-1]
        print(f"[{epoch}] train:auc={train_auc:.6f} validation:auc={valid_auc:.6f}", flush=True)
        return False


def main() -> None:
    args = parse_args()
    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_valid, y_train, y_valid = train_test_split(x, y, test_size=0.3, random_state=args.seed, stratify=y)
    train = xgb.DMatrix(x_train, label=y_train)
    valid = xgb.DMatrix(x_valid, label=y_valid)
    params = {
        "objective": args.objective,
        "eta": args.eta,
        "alpha": args.alpha,
        "min_child_weight": args.min_child_weight,
        "max_depth": args.max_depth,
        "eval_metric": "auc",
        "nthread": 1,
        "seed": args.seed,
    }
    booster = xgb.train(
        params,
        train,
        num_boost_round=args.num_round,
        evals=[(train, "train"), (valid, "validation")],
        callbacks=[PrintValidationAuc()],
        verbose_eval=False,
    )
    auc = roc_auc_score(y_valid, booster.predict(valid))
    model_dir = Path(os.environ.get("SM_MODEL_DIR", "model"))
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(model_dir / "xgboost-model.json")
    (model_dir / "metrics.json").write_text(json.dumps({"validation:auc": float(auc)}))
    print(f"final AUC on the validation set: {np.round(auc, 6)}")


if __name__ == "__main__":
    main()
