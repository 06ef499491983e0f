#!/usr/bin/env python3
"""Data-parallel training on several instances with torch.distributed (gloo, CPU), written as a
SageMaker training program for a tuning job with `ResourceConfig.InstanceCount` above 1.

Every host (algo-1 ... algo-N) runs this program. They meet through torch's `env://` rendezvous
(MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, which tunestream sets for each host), wrap a small
network in DistributedDataParallel, and train on their own share of the data, so every step
averages the gradients of all hosts. Each host then validates the same synchronised weights and
prints `epoch=<k> loss=<l> validation:accuracy=<v>`; tunestream reads the metric lines of every host,
and the objective is the value reported last across all of them, as on SageMaker. algo-1 saves the
model (hosts share the model folder, as SageMaker aggregates it).

Data: scikit-learn's bundled 8x8 digits; the last 360 images (in a fixed shuffle) validate. The
1,437 training images come from the `train` channel when the job has one (CSV files: label, then
64 pixels; give the channel `S3DataDistributionType` ShardedByS3Key and each host gets its share of
the files: `--write-shards DIR` writes such files), otherwise every host takes every WORLD_SIZE-th
training image from its RANK on. Run alone (no WORLD_SIZE), it trains on one process.

Hyperparameters: learning_rate, hidden, momentum, batch_size, epochs, seed.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

VALIDATION = 360
DATA_SEED = 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learning_rate", type=float, default=0.05)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write-shards", type=Path, help="write the training images as CSV files here and exit")
    parser.add_argument("--shards", type=int, default=4)
    return parser.parse_known_args(argv)[0]


def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    order = np.random.default_rng(DATA_SEED).permutation(len(y))
    x, y = x[order], y[order]
    return x[:-VALIDATION], y[:-VALIDATION], x[-VALIDATION:], y[-VALIDATION:]


def write_shards(folder: Path, count: int) -> None:
    x, y, _, _ = digits()
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(count):
        rows = np.column_stack([y[k::count], x[k::count]])
        np.savetxt(folder / f"part-{k:03d}.csv", rows, delimiter=",", fmt="%.6g")


def training_rows(rank: int, world: int) -> tuple[np.ndarray, np.ndarray, str]:
    channel = os.environ.get("SM_CHANNEL_TRAIN")
    files = sorted(Path(channel).glob("*.csv")) if channel else []
    if files:
        rows = np.concatenate([np.loadtxt(f, delimiter=",", ndmin=2) for f in files])
        return rows[:, 1:].astype(np.float32), rows[:, 0].astype(np.int64), f"{len(files)} files of the train channel"
    x, y, _, _ = digits()
    return x[rank::world], y[rank::world], f"training images {rank}::{world}"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.write_shards:
        write_shards(args.write_shards, args.shards)
        return 0
    torch.set_num_threads(1)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    host = os.environ.get("SM_CURRENT_HOST", "algo-1")
    if world > 1:
        if os.environ.get("MASTER_ADDR", "").startswith("127."):
            os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # hosts that are processes on one machine
        # A host that never comes fails the job within two minutes instead of the default half hour.
        dist.init_process_group("gloo", init_method="env://", timeout=datetime.timedelta(seconds=120))
    x, y, source = training_rows(rank, world)
    _, _, x_val, y_val = digits()
    print(f"{host}: rank {rank} of {world}, {len(y)} training images ({source})", flush=True)

    torch.manual_seed(args.seed)  # the same initial weights on every host
    model: nn.Module = nn.Sequential(nn.Linear(64, args.hidden), nn.ReLU(), nn.Linear(args.hidden, 10))
    if world > 1:
        model = DistributedDataParallel(model)
    optimiser = torch.optim.SGD(model.parameters(), lr=args.learning_rate, momentum=args.momentum)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    xv, yv = torch.from_numpy(x_val), torch.from_numpy(y_val)
    steps = torch.tensor(max(len(y) // args.batch_size, 1))
    if world > 1:
        # Every host must take the same number of steps, or the gradient all-reduce waits forever.
        dist.all_reduce(steps, op=dist.ReduceOp.MIN)
    rng = np.random.default_rng(args.seed + rank)
    for epoch in range(1, args.epochs + 1):
        order = torch.from_numpy(rng.permutation(len(y)))
        total = 0.0
        model.train()
        for step in range(int(steps)):
            batch = order[step * args.batch_size : (step + 1) * args.batch_size]
            optimiser.zero_grad()
            loss = loss_fn(model(xt[batch]), yt[batch])
            loss.backward()
            optimiser.step()
            total += float(loss.detach())
        model.eval()
        with torch.no_grad():
            accuracy = float((model(xv).argmax(1) == yv).float().mean())
        if not np.isfinite(total):
            print(f"{host}: the loss diverged at epoch {epoch}", file=sys.stderr)
            return 1
        print(f"epoch={epoch} loss={total / int(steps):.4f} validation:accuracy={accuracy:.4f}", flush=True)
    if rank == 0 and os.environ.get("SM_MODEL_DIR"):
        net = model.module if isinstance(model, DistributedDataParallel) else model
        torch.save(net.state_dict(), Path(os.environ["SM_MODEL_DIR"]) / "model.pt")
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # torch's gloo threads can still be torn down at interpreter exit after destroy_process_group,
    # and then abort (SIGABRT, "terminate called without an active exception") about once in a
    # hundred exits of a finished job: leave without the interpreter's teardown instead.
    os._exit(code)
