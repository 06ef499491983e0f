#!/usr/bin/env python3
"""An MLP whose width decides both how good it gets and what an epoch costs, written
as a SageMaker training program: hyperparameters arrive as `--name value` arguments and every epoch
prints `epoch=<k> loss=<l> validation:accuracy=<v>`.

The task is hard for narrow networks: make_classification(10,000 rows, 30 features: 20 informative,
5 redundant; 8 classes of 6 clusters each), standardised, 7,500 rows to train on and 2,500 to
validate. Three hidden layers of `width` units by default. With Adam at a good learning rate, 20
epochs and batches of 256, a width-32 network ends near 54 % validation accuracy, width 128 near
68 %, widths of 300 and more near 74-76 %; an epoch at width 450 costs about ten times one at width
32-64, at width 1000 about fifty times (the hidden-to-hidden layers grow as width², over a floor of
per-batch overhead): the search bench's "good configurations are expensive" task.

Hyperparameters: width, hidden_layers (default 3), learning_rate (Adam), weight_decay (L2 added to
the gradient), batch_size (default 256), epochs; `--threads` (torch threads, default 1). `train()` is importable:
benchmarks/curves/costly.py calls it in-process with a callback after each epoch.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pause_resume import checkpoint_file, last_step, load_torch_state, save_torch_state

DATA_SEED = 0
CLASSES = 8


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--hidden_layers", type=int, default=3)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--weight_decay", type=float, default=0.0)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args(argv)


def load_data(seed: int = DATA_SEED) -> dict[str, torch.Tensor]:
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = make_classification(
        n_samples=10000,
        n_features=30,
        n_informative=20,
        n_redundant=5,
        n_classes=CLASSES,
        n_clusters_per_class=6,
        class_sep=1.5,
        flip_y=0.01,
        random_state=seed,
    )
    x_train, x_valid, y_train, y_valid = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(x_train)
    return {
        "x_train": torch.from_numpy(scaler.transform(x_train).astype(np.float32)),
        "y_train": torch.from_numpy(y_train).long(),
        "x_valid": torch.from_numpy(scaler.transform(x_valid).astype(np.float32)),
        "y_valid": torch.from_numpy(y_valid).long(),
    }


def build_model(inputs: int, width: int, hidden_layers: int) -> nn.Module:
    layers: list[nn.Module] = []
    for _ in range(hidden_layers):
        layers += [nn.Linear(inputs, width), nn.ReLU()]
        inputs = width
    return nn.Sequential(*layers, nn.Linear(inputs, CLASSES))


def train(
    args: argparse.Namespace,
    data: dict[str, torch.Tensor],
    on_epoch: Callable[[int, float, float], None],
    checkpoint: Path | None = None,
    last_epoch: int | None = None,
) -> nn.Module:
    """Trains for args.epochs (or up to `last_epoch`); after each epoch calls on_epoch(epoch, mean
    training loss, validation accuracy). A diverged network (NaN loss) predicts class 0 everywhere:
    its accuracy is about chance. With `checkpoint`, the whole state (weights, optimiser, shuffling
    generator) is saved there after every epoch and a run that finds it continues from it: a
    resumed run reports exactly the curve of an uninterrupted one."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    x, y, xv, yv = data["x_train"], data["y_train"], data["x_valid"], data["y_valid"]
    model = build_model(x.shape[1], args.width, args.hidden_layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    done = load_torch_state(checkpoint, model, optimizer, generator)
    for epoch in range(done + 1, (last_epoch or args.epochs) + 1):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), args.batch_size):
            batch = order[start : start + args.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        model.eval()
        with torch.no_grad():
            logits = torch.nan_to_num(model(xv), nan=0.0)
            accuracy = float((logits.argmax(dim=1) == yv).float().mean())
        if checkpoint is not None:  # before the report: a job stopped after it resumes from here
            save_torch_state(checkpoint, epoch, model, optimizer, generator)
        on_epoch(epoch, total / len(x), accuracy)
    return model


def main() -> None:
    args = parse_args()
    data = load_data()

    def report(epoch: int, loss: float, accuracy: float) -> None:
        print(f"epoch={epoch} loss={loss:.5f} validation:accuracy={accuracy:.5f}", flush=True)

    model = train(args, data, report, checkpoint_file("wide_mlp_state.pt"), last_step(args.epochs))
    model_dir = Path(os.environ.get("SM_MODEL_DIR", "model"))
    model_dir.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), model_dir / "model.pt")


if __name__ == "__main__":
    main()
