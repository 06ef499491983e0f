"""A three-layer MLP on a generated 5,000-point binary classification task (the Hyperband blog's
experiment), written as a SageMaker training program. Prints `epoch=<k> validation:accuracy=<v>`
after every epoch, so Hyperband and the median rule can stop it early.

Hyperparameters: units (per hidden layer), learning_rate (Adam), l2 (weight decay), batch_size, epochs.
"""

from __future__ import annotations

import argparse
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--data_seed", type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    x, y = make_classification(
        n_samples=5000, n_features=20, n_informative=10, n_redundant=5, random_state=args.data_seed
    )
    x_train, x_valid, y_train, y_valid = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    scaler = StandardScaler().fit(x_train)
    x_train, x_valid = scaler.transform(x_train), scaler.transform(x_valid)
    model = MLPClassifier(
        hidden_layer_sizes=(args.units,) * 3,
        learning_rate_init=args.learning_rate,
        alpha=args.l2,
        batch_size=args.batch_size,
        solver="adam",
        random_state=0,
    )
    classes = np.unique(y_train)
    warnings.simplefilter("ignore", ConvergenceWarning)
    for epoch in range(1, args.epochs + 1):
        model.partial_fit(x_train, y_train, classes=classes)
        accuracy = float(model.score(x_valid, y_valid))
        print(f"epoch={epoch} loss={model.loss_:.5f} validation:accuracy={accuracy:.5f}", flush=True)
    model_dir = Path(os.environ.get("SM_MODEL_DIR", "model"))
    model_dir.mkdir(parents=True, exist_ok=True)
    with open(model_dir / "model.pkl", "wb") as f:
        pickle.dump({"scaler": scaler, "model": model}, f)


if __name__ == "__main__":
    main()
