"""A training script for SageMaker SDK v3's source-code mode (examples/sagemaker_sdk/source_code_v3.py):
standard library only, so it runs on a plain Python image (deploy/images/build-python.sh).

Fits y = a*x + b to noisy points by gradient descent with the given learning rate and epochs, prints
`epoch=<k> valid:mse=<value>` per epoch, and writes the parameters to SM_MODEL_DIR. The SDK's driver
passes the hyperparameters as `--name value`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learning_rate", type=float, default=0.05)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--noise", type=float, default=0.1)
    args, _ = parser.parse_known_args()
    rng = random.Random(7)
    points = [(x, 3.0 * x - 1.0 + rng.gauss(0, args.noise)) for x in (rng.uniform(-1, 1) for _ in range(200))]
    train, valid = points[:150], points[150:]
    a = b = 0.0
    for epoch in range(1, args.epochs + 1):
        grad_a = sum(2 * (a * x + b - y) * x for x, y in train) / len(train)
        grad_b = sum(2 * (a * x + b - y) for x, y in train) / len(train)
        a, b = a - args.learning_rate * grad_a, b - args.learning_rate * grad_b
        mse = sum((a * x + b - y) ** 2 for x, y in valid) / len(valid)
        print(f"epoch={epoch} valid:mse={mse:.6f}", flush=True)
    model_dir = Path(os.environ.get("SM_MODEL_DIR", "model"))
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "model.json").write_text(json.dumps({"a": a, "b": b}))


if __name__ == "__main__":
    main()
