#!/usr/bin/env python3
"""A small convolutional network on scikit-learn's bundled 8x8 digits images, written as a SageMaker
training program: hyperparameters arrive as `--name value` arguments and every epoch prints
`epoch=<k> loss=<l> validation:accuracy=<v>`.

Data: the 1,797 images of `load_digits`, pixels scaled to [0, 1]; 1,347 to train on and 450 to
validate (stratified). Network: conv 3x3 (width) - ReLU - max-pool 2 - conv 3x3 (2 x width) - ReLU -
max-pool 2 - linear to 10 classes. Optimiser: SGD with momentum and L2 weight decay.

Hyperparameters: width, learning_rate, momentum, weight_decay, batch_size, epochs; `--threads`
(torch threads, default 1). `train()` is importable: benchmarks/curves/digits.py calls it in-process
with a callback after each epoch to record the curve and the wall time of every epoch.
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


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--learning_rate", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight_decay", type=float, default=1e-4)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args(argv)


def load_data(seed: int = DATA_SEED) -> dict[str, torch.Tensor]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    x_train, x_valid, y_train, y_valid = train_test_split(
        x, digits.target, test_size=450, random_state=seed, stratify=digits.target
    )
    return {
        "x_train": torch.from_numpy(x_train),
        "y_train": torch.from_numpy(y_train).long(),
        "x_valid": torch.from_numpy(x_valid),
        "y_valid": torch.from_numpy(y_valid).long(),
    }


def build_model(width: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * width * 2 * 2, 10),
    )


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
    model = build_model(args.width)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=args.learning_rate, momentum=args.momentum, weight_decay=args.weight_decay
    )
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

    model = train(args, data, report, checkpoint_file("digits_state.pt"), last_step(args.epochs))
    model_dir = Path(os.environ.get("SM_MODEL_DIR", "model"))
    model_dir.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), model_dir / "model.pt")


if __name__ == "__main__":
    main()
