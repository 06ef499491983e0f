"""A three-layer MLP (PyTorch, CPU) on a generated 5,000-point binary classification task: the
Hyperband blog's experiment, written as a SageMaker training program. Prints
`epoch=<k> loss=<l> validation:accuracy=<v>` after every epoch, so Hyperband and the median rule
can stop it early.

Hyperparameters: units (per hidden layer), learning_rate (Adam), l2 (weight decay), batch_size, epochs.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--data_seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x, y = make_classification(
        n_samples=5000, n_features=20, n_informative=10, n_redundant=5, random_state=args.data_seed
    )
    x_train, x_valid, y_train, y_valid = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    scaler = StandardScaler().fit(x_train)
    xt = torch.tensor(scaler.transform(x_train), dtype=torch.float32)
    yt = torch.tensor(y_train, dtype=torch.float32)
    xv = torch.tensor(scaler.transform(x_valid), dtype=torch.float32)
    yv = torch.tensor(y_valid, dtype=torch.float32)
    layers: list[nn.Module] = []
    width = xt.shape[1]
    for _ in range(3):
        layers += [nn.Linear(width, args.units), nn.ReLU()]
        width = args.units
    model = nn.Sequential(*layers, nn.Linear(width, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate, weight_decay=args.l2)
    loss_fn = nn.BCEWithLogitsLoss()
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(xt))
        total = 0.0
        for start in range(0, len(xt), args.batch_size):
            batch = order[start : start + args.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(xt[batch]).squeeze(1), yt[batch])
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        model.eval()
        with torch.no_grad():
            accuracy = float(((model(xv).squeeze(1) > 0).float() == yv).float().mean())
        print(f"epoch={epoch} loss={total / len(xt):.5f} validation:accuracy={accuracy:.5f}", flush=True)
    model_dir = Path(os.environ.get("SM_MODEL_DIR", "model"))
    model_dir.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "mean": scaler.mean_, "scale": scaler.scale_}, model_dir / "model.pt")


if __name__ == "__main__":
    main()
