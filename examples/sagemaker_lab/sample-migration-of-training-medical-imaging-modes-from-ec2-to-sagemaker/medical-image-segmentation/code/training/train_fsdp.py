"""A small but real 2-D segmentation trainer in numpy, standing in for the lab's FSDP/MONAI script.

The AMT lab ("Lab: Hyperparameter Tuning") tunes `train_fsdp.py`, a PyTorch FSDP SegResNet trainer
for medical images. This file keeps its interface so the lab runs unchanged on a laptop:

- hyperparameters arrive as SageMaker script mode passes them, `--name value` arguments:
  `lr`, `batch_size`, `dropout`, `init_filters`, `epochs`, `val_interval` (and `model_name`,
  accepted and recorded);
- every `val_interval` epochs it prints `val:dice=0.xxxx` and `train:loss=0.xxxx`, which the lab's
  MetricDefinitions read;
- data: the `training` channel (`SM_CHANNEL_TRAINING`) if it holds an `.npz` file with `images`
  (N, H, W) and `masks` (N, H, W) arrays, otherwise synthetic images generated from a fixed seed:
  bright Gaussian blobs (the "organs") on a noisy, unevenly lit background, and their masks;
- the trained weights and the run's summary go to `SM_MODEL_DIR` (`model.npz`, `summary.json`).

The model is a tiny fully convolutional net: 3x3 conv (1 -> init_filters) + ReLU + dropout,
3x3 conv (init_filters -> init_filters / 2) + ReLU, 1x1 conv -> sigmoid, trained with Adam on
binary cross-entropy plus soft Dice. Its quality depends on every tuned hyperparameter: the
learning rate (1e-5 barely moves the weights in 10 epochs, 1e-3 trains well), the batch size (more
updates per epoch with small batches), dropout (noisier training), and init_filters (capacity).
Runs take a few seconds on one CPU core; everything is seeded, so a configuration gives the same
result every time.
"""

from __future__ import annotations

import os

# One core per training job: the lab runs four at once; set before numpy loads its BLAS.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

IMAGE_SIZE = 24
TRAIN_IMAGES = 40
VAL_IMAGES = 16
DATA_SEED = 1234


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model_name", default="SegResNet")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--val_interval", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch_size", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--init_filters", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    # SageMaker passes every hyperparameter; ones this script does not know are reported, not fatal.
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        print(f"ignoring unknown arguments: {' '.join(unknown)}", flush=True)
    return args


# ---------------------------------------------------------------- data


def synthetic_dataset(count: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Images with 1-3 blobs of varying size and brightness, lighting gradient and noise; masks."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    images = np.empty((count, size, size))
    masks = np.empty((count, size, size))
    for i in range(count):
        image = np.zeros((size, size))
        mask = np.zeros((size, size), dtype=bool)
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(4, size - 4, size=2)
            radius = rng.uniform(2.5, 6.0)
            d2 = (yy - cy) ** 2 + (xx - cx) ** 2
            image += rng.uniform(0.7, 1.2) * np.exp(-d2 / (2 * (radius * 0.8) ** 2))
            mask |= d2 <= radius**2
        gy, gx = rng.normal(0, 0.4, size=2)
        lighting = (gy * (yy / size - 0.5) + gx * (xx / size - 0.5)) * 0.8
        images[i] = image + lighting + rng.normal(0, 0.35, size=(size, size))
        masks[i] = mask
    return images, masks


def load_data(channel: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    if channel and Path(channel).is_dir():
        for path in sorted(Path(channel).rglob("*.npz")):
            with np.load(path) as data:
                images, masks = np.asarray(data["images"], float), np.asarray(data["masks"], float)
            split = max(1, len(images) // 4)
            return images[split:], masks[split:], images[:split], masks[:split], str(path)
    rng = np.random.default_rng(DATA_SEED)
    images, masks = synthetic_dataset(TRAIN_IMAGES + VAL_IMAGES, IMAGE_SIZE, rng)
    return (
        images[:TRAIN_IMAGES],
        masks[:TRAIN_IMAGES],
        images[TRAIN_IMAGES:],
        masks[TRAIN_IMAGES:],
        f"synthetic (seed {DATA_SEED})",
    )


# ---------------------------------------------------------------- model


def im2col(x: np.ndarray) -> np.ndarray:
    """(B, C, H, W) -> (B*H*W, C*9): the 3x3 neighbourhoods, zero padded ('same' convolution)."""
    b, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))  # B, C, H, W, 3, 3
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(b * h * w, c * 9)


def col2im(cols: np.ndarray, shape: tuple[int, int, int, int]) -> np.ndarray:
    """The adjoint of im2col: scatter-add (B*H*W, C*9) gradients back to (B, C, H, W)."""
    b, c, h, w = shape
    grads = cols.reshape(b, h, w, c, 3, 3)
    padded = np.zeros((b, c, h + 2, w + 2))
    for ki in range(3):
        for kj in range(3):
            padded[:, :, ki : ki + h, kj : kj + w] += grads[:, :, :, :, ki, kj].transpose(0, 3, 1, 2)
    return padded[:, :, 1:-1, 1:-1]


class TinySegNet:
    def __init__(self, filters: int, dropout: float, rng: np.random.Generator) -> None:
        hidden = max(filters // 2, 1)
        self.dropout = dropout
        self.params = {
            "w1": rng.normal(0, np.sqrt(2 / 9), size=(9, filters)),
            "b1": np.zeros(filters),
            "w2": rng.normal(0, np.sqrt(2 / (9 * filters)), size=(9 * filters, hidden)),
            "b2": np.zeros(hidden),
            "w3": rng.normal(0, np.sqrt(1 / hidden), size=(hidden, 1)),
            "b3": np.zeros(1),
        }
        self.filters, self.hidden = filters, hidden

    def forward(self, x: np.ndarray, rng: np.random.Generator | None = None) -> tuple[np.ndarray, dict]:
        """x: (B, H, W) -> probabilities (B, H, W); rng given = training (dropout on)."""
        p = self.params
        b, h, w = x.shape
        cols1 = im2col(x[:, None])
        z1 = cols1 @ p["w1"] + p["b1"]
        a1 = np.maximum(z1, 0)
        keep = None
        if rng is not None and self.dropout > 0:
            keep = (rng.random(a1.shape) >= self.dropout) / (1 - self.dropout)
            a1 = a1 * keep
        a1_img = a1.reshape(b, h, w, self.filters).transpose(0, 3, 1, 2)
        cols2 = im2col(a1_img)
        z2 = cols2 @ p["w2"] + p["b2"]
        a2 = np.maximum(z2, 0)
        z3 = a2 @ p["w3"] + p["b3"]
        prob = 1 / (1 + np.exp(-np.clip(z3, -30, 30)))
        cache = {"cols1": cols1, "z1": z1, "keep": keep, "cols2": cols2, "z2": z2, "a2": a2, "shape": (b, h, w)}
        return prob.reshape(b, h, w), cache

    def backward(self, dz3: np.ndarray, cache: dict) -> dict[str, np.ndarray]:
        p = self.params
        b, h, w = cache["shape"]
        dz3 = dz3.reshape(-1, 1)
        grads = {"w3": cache["a2"].T @ dz3, "b3": dz3.sum(0)}
        dz2 = (dz3 @ p["w3"].T) * (cache["z2"] > 0)
        grads["w2"] = cache["cols2"].T @ dz2
        grads["b2"] = dz2.sum(0)
        da1_img = col2im(dz2 @ p["w2"].T, (b, self.filters, h, w))
        da1 = da1_img.transpose(0, 2, 3, 1).reshape(-1, self.filters)
        if cache["keep"] is not None:
            da1 = da1 * cache["keep"]
        dz1 = da1 * (cache["z1"] > 0)
        grads["w1"] = cache["cols1"].T @ dz1
        grads["b1"] = dz1.sum(0)
        return grads


class Adam:
    def __init__(self, params: dict[str, np.ndarray], lr: float) -> None:
        self.lr, self.t = lr, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        for k, g in grads.items():
            self.m[k] = 0.9 * self.m[k] + 0.1 * g
            self.v[k] = 0.999 * self.v[k] + 0.001 * g * g
            m_hat = self.m[k] / (1 - 0.9**self.t)
            v_hat = self.v[k] / (1 - 0.999**self.t)
            params[k] -= self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)


def loss_and_grad(prob: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Binary cross-entropy + soft Dice (per image, averaged); gradient w.r.t. the logits."""
    eps = 1e-6
    n = prob.size
    bce = -np.mean(target * np.log(prob + eps) + (1 - target) * np.log(1 - prob + eps))
    d_bce = (prob - target) / n
    inter = (prob * target).sum(axis=(1, 2))
    total = prob.sum(axis=(1, 2)) + target.sum(axis=(1, 2))
    soft_dice = (2 * inter + 1) / (total + 1)
    dice_loss = 1 - soft_dice.mean()
    # d(soft_dice)/d(prob) per image, then through the sigmoid.
    d_dice_d_prob = (2 * target * (total + 1)[:, None, None] - (2 * inter + 1)[:, None, None]) / (
        (total + 1)[:, None, None] ** 2
    )
    d_prob = -d_dice_d_prob / len(prob)
    d_logits = d_bce + d_prob * prob * (1 - prob)
    return float(bce + dice_loss), d_logits


def dice_score(prob: np.ndarray, target: np.ndarray) -> float:
    """Mean Dice of the thresholded prediction over images (MONAI's DiceMetric, mean reduction)."""
    pred = prob > 0.5
    truth = target > 0.5
    inter = (pred & truth).sum(axis=(1, 2))
    total = pred.sum(axis=(1, 2)) + truth.sum(axis=(1, 2))
    scores = np.where(total > 0, 2 * inter / np.maximum(total, 1), 1.0)
    return float(scores.mean())


# ---------------------------------------------------------------- main


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not 0 <= args.dropout < 1:
        raise SystemExit(f"--dropout must be in [0, 1), got {args.dropout}")
    if args.batch_size < 1 or args.init_filters < 1 or args.val_interval < 1:
        raise SystemExit("--batch_size, --init_filters and --val_interval must be positive")
    started = time.monotonic()
    x_train, y_train, x_val, y_val, source = load_data(os.environ.get("SM_CHANNEL_TRAINING"))
    print(
        f"model={args.model_name} lr={args.lr:g} batch_size={args.batch_size} dropout={args.dropout:g} "
        f"init_filters={args.init_filters} epochs={args.epochs} data={source} "
        f"train={len(x_train)} val={len(x_val)}",
        flush=True,
    )
    rng = np.random.default_rng(args.seed)
    model = TinySegNet(args.init_filters, args.dropout, np.random.default_rng(args.seed + 1))
    optimizer = Adam(model.params, args.lr)
    history = []
    dice = 0.0
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(x_train))
        losses = []
        for start in range(0, len(order), args.batch_size):
            batch = order[start : start + args.batch_size]
            prob, cache = model.forward(x_train[batch], rng)
            loss, d_logits = loss_and_grad(prob, y_train[batch])
            optimizer.step(model.params, model.backward(d_logits, cache))
            losses.append(loss)
        train_loss = float(np.mean(losses))
        if epoch % args.val_interval == 0 or epoch == args.epochs:
            prob, _ = model.forward(x_val)
            dice = dice_score(prob, y_val)
            history.append({"epoch": epoch, "train_loss": train_loss, "val_dice": dice})
            print(f"epoch={epoch} train:loss={train_loss:.4f} val:dice={dice:.4f}", flush=True)
        else:
            print(f"epoch={epoch} train:loss={train_loss:.4f}", flush=True)

    model_dir = Path(os.environ.get("SM_MODEL_DIR", "model"))
    model_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(model_dir / "model.npz", **model.params)
    summary = {"hyperparameters": vars(args), "val_dice": dice, "history": history, "data": source}
    (model_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"done in {time.monotonic() - started:.1f}s; final dice {dice:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
