"""A three-layer MLP on a generated 5,000-point binary classification task: the Hyperband blog's
experiment, written as a SageMaker training program. Prints
`epoch=<k> loss=<l> validation:accuracy=<v>` after every epoch, so Hyperband and the median rule
can stop it early.

Hyperparameters: units (per hidden layer), learning_rate (Adam), l2 (weight decay), batch_size, epochs;
backend: `numpy` (default) or `torch`, the same network, initialisation, loss and optimiser.

The numpy backend exists because a tuner is judged here on how it spends epochs: with PyTorch and
scikit-learn, importing them took 4-5 s per training job on a 2-core machine against 0.1-0.5 s per
epoch, so every training job, stopped early or not, cost mostly its start. The data set is made once
with scikit-learn and cached (`MLP_DATA_CACHE`, default a folder in the temporary directory), so a
numpy training job imports nothing heavier than numpy.

Checkpoints (numpy backend): after every epoch the whole training state (weights, Adam's moments,
the shuffling generator) is written to SM_CHECKPOINT_DIR, and a run that finds one there continues
from it, so a resumed run reports exactly the curve of an uninterrupted one. With
TUNESTREAM_RESOURCE_LIMIT set (promotion Hyperband) the run stops after that epoch, checkpointed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pause_resume import checkpoint_file, last_step, replace_atomically

DATA_VERSION = 1  # bump when the generation below changes


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--data_seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--backend", choices=("numpy", "torch"), default="numpy")
    # torch backend only: "auto" trains on the first GPU the job was given (CUDA_VISIBLE_DEVICES), if any.
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    return parser.parse_args()


def pick_device(requested: str) -> str:
    """The torch device to train on; "cuda" without a usable GPU is an error, not a silent CPU run."""
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise SystemExit(
            f"--device cuda, but torch sees no GPU (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r})"
        )
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def load_data(seed: int) -> dict[str, np.ndarray]:
    """Standardised train/validation split of make_classification(5000, 20, 10 informative, 5 redundant)."""
    cache = Path(os.environ.get("MLP_DATA_CACHE") or Path(tempfile.gettempdir()) / "tunestream-mlp-data")
    path = cache / f"classification-v{DATA_VERSION}-seed{seed}.npz"
    if path.is_file():
        with np.load(path) as stored:
            return dict(stored)
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = make_classification(n_samples=5000, n_features=20, n_informative=10, n_redundant=5, random_state=seed)
    x_train, x_valid, y_train, y_valid = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    scaler = StandardScaler().fit(x_train)
    data = {
        "x_train": scaler.transform(x_train).astype(np.float32),
        "y_train": y_train.astype(np.float32),
        "x_valid": scaler.transform(x_valid).astype(np.float32),
        "y_valid": y_valid.astype(np.float32),
        "mean": scaler.mean_,
        "scale": scaler.scale_,
    }
    cache.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: two training jobs starting at once must not read a half-written file.
    partial = cache / f".{path.name}.{os.getpid()}.npz"
    np.savez(partial, **data)
    os.replace(partial, path)
    return data


def report(epoch: int, loss: float, accuracy: float) -> None:
    print(f"epoch={epoch} loss={loss:.5f} validation:accuracy={accuracy:.5f}", flush=True)


def save_checkpoint(
    path: Path, epoch: int, rng: np.random.Generator, arrays: dict[str, list[np.ndarray]], t: int
) -> None:
    stored = {f"{name}_{i}": a for name, group in arrays.items() for i, a in enumerate(group)}

    def write(partial: Path) -> None:
        with partial.open("wb") as f:  # a file object: np.savez would add .npz to a path
            np.savez(f, epoch=epoch, t=t, rng=json.dumps(rng.bit_generator.state), **stored)

    replace_atomically(path, write)


def load_checkpoint(
    path: Path | None, rng: np.random.Generator, arrays: dict[str, list[np.ndarray]]
) -> tuple[int, int]:
    """Restores the arrays and the generator in place; returns (epochs done, Adam's step count)."""
    if path is None or not path.is_file():
        return 0, 0
    with np.load(path) as stored:
        for name, group in arrays.items():
            for i, a in enumerate(group):
                a[...] = stored[f"{name}_{i}"]
        rng.bit_generator.state = json.loads(str(stored["rng"]))
        return int(stored["epoch"]), int(stored["t"])


def train_numpy(args: argparse.Namespace, data: dict[str, np.ndarray], model_dir: Path) -> None:
    rng = np.random.default_rng(0)
    x, y, xv, yv = data["x_train"], data["y_train"], data["x_valid"], data["y_valid"]
    widths = [x.shape[1], args.units, args.units, args.units, 1]
    params: list[np.ndarray] = []
    for fan_in, fan_out in itertools.pairwise(widths):
        bound = 1 / np.sqrt(fan_in)  # PyTorch's nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        params += [
            rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32),
            rng.uniform(-bound, bound, fan_out).astype(np.float32),
        ]
    # Adam with L2 added to the gradient (torch.optim.Adam's weight_decay), default betas and eps.
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    scratch = [np.empty_like(p) for p in params]
    checkpoint = checkpoint_file("mlp_state.npz")
    done, t = load_checkpoint(checkpoint, rng, {"param": params, "m": m, "v": v})

    def forward(inputs: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        activations = [inputs]
        h = inputs
        for layer in range(3):
            h = np.maximum(h @ params[2 * layer] + params[2 * layer + 1], 0)
            activations.append(h)
        return (h @ params[6] + params[7])[:, 0], activations

    for epoch in range(done + 1, last_step(args.epochs) + 1):
        order = rng.permutation(len(x))
        total = 0.0
        for start in range(0, len(x), args.batch_size):
            batch = order[start : start + args.batch_size]
            logits, activations = forward(x[batch])
            target = y[batch]
            # Binary cross-entropy on logits, averaged over the batch; softplus written stably.
            total += float(np.sum(np.logaddexp(0, logits) - target * logits))
            sigmoid = 0.5 * (1 + np.tanh(0.5 * logits))  # no overflow for large |logits|, unlike 1/(1+exp)
            delta = ((sigmoid - target) / len(batch))[:, None].astype(np.float32)
            grads: list[np.ndarray] = [np.empty(0)] * len(params)
            for layer in range(3, -1, -1):
                grads[2 * layer] = activations[layer].T @ delta
                grads[2 * layer + 1] = delta.sum(axis=0)
                if layer:
                    delta = (delta @ params[2 * layer].T) * (activations[layer] > 0)
            t += 1
            step = np.float32(args.learning_rate / (1 - beta1**t))
            correction2 = np.float32(np.sqrt(1 - beta2**t))
            # In place, into preallocated buffers: with 1000 units and batches of 10 the update is most
            # of the time, and fresh multi-megabyte temporaries per step made it twice as slow.
            for p, g, m_i, v_i, tmp in zip(params, grads, m, v, scratch, strict=True):
                np.multiply(p, np.float32(args.l2), out=tmp)
                g += tmp
                m_i *= np.float32(beta1)
                np.multiply(g, np.float32(1 - beta1), out=tmp)
                m_i += tmp
                v_i *= np.float32(beta2)
                np.multiply(g, g, out=tmp)
                tmp *= np.float32(1 - beta2)
                v_i += tmp
                np.sqrt(v_i, out=tmp)
                tmp /= correction2
                tmp += np.float32(eps)
                np.divide(m_i, tmp, out=tmp)
                tmp *= step
                p -= tmp
        logits, _ = forward(xv)
        if checkpoint is not None:  # before the report: a job stopped after it resumes from here
            save_checkpoint(checkpoint, epoch, rng, {"param": params, "m": m, "v": v}, t)
        report(epoch, total / len(x), float(np.mean((logits > 0) == (yv > 0.5))))
    np.savez(model_dir / "model.npz", *params, mean=data["mean"], scale=data["scale"])


def train_torch(args: argparse.Namespace, data: dict[str, np.ndarray], model_dir: Path) -> None:
    import torch
    from torch import nn

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = pick_device(args.device)
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "-"
    # One line saying where the job trained, for the log (and deploy/gpu_run.py).
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    print(f"device={device} gpu={gpu!r} cuda_visible_devices={visible!r}", flush=True)
    xt, yt = torch.from_numpy(data["x_train"]).to(device), torch.from_numpy(data["y_train"]).to(device)
    xv, yv = torch.from_numpy(data["x_valid"]).to(device), torch.from_numpy(data["y_valid"]).to(device)
    layers: list[nn.Module] = []
    width = xt.shape[1]
    for _ in range(3):
        layers += [nn.Linear(width, args.units), nn.ReLU()]
        width = args.units
    model = nn.Sequential(*layers, nn.Linear(width, 1)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate, weight_decay=args.l2)
    loss_fn = nn.BCEWithLogitsLoss()
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(xt), device=device)
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
        report(epoch, total / len(xt), accuracy)
    state = {k: v.cpu() for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "mean": data["mean"], "scale": data["scale"]}, model_dir / "model.pt")


def main() -> None:
    args = parse_args()
    data = load_data(args.data_seed)
    model_dir = Path(os.environ.get("SM_MODEL_DIR", "model"))
    model_dir.mkdir(parents=True, exist_ok=True)
    (train_numpy if args.backend == "numpy" else train_torch)(args, data, model_dir)


if __name__ == "__main__":
    main()
