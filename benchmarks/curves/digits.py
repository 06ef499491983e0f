"""A small CNN on scikit-learn's bundled 8x8 digits: examples/digits_cnn/train.py, 25 epochs.

The program's `train()` runs in-process (in record.py's worker process, torch.set_num_threads(1))
with a callback after each epoch's validation; an epoch's seconds run from the previous callback (the
first from the call to `train`, which otherwise only builds the network: the data are loaded once per
worker, before any timing). A diverged network (NaN loss) predicts class 0 (its NaN logits are
zeroed) and scores about chance, 0.1; a NaN accuracy would be recorded as 0.1 too.
"""

from __future__ import annotations

from typing import Any

from programs import Curve, argv, load_program, timed

from tunestream.space import ContinuousParam, IntegerParam, SearchSpace

NAME = "digits"
DESCRIPTION = (
    "examples/digits_cnn/train.py: a 2-conv-layer CNN (torch, CPU, one thread) trained with SGD and "
    "momentum on scikit-learn's 8x8 digits, 1,347 images to train on; validation accuracy on 450 "
    "held-out images after each of 25 epochs."
)
SPACE = SearchSpace(
    (
        IntegerParam("width", 4, 64, "Logarithmic"),
        IntegerParam("batch_size", 8, 256, "Logarithmic"),
        ContinuousParam("learning_rate", 1e-3, 0.5, "Logarithmic"),
        ContinuousParam("momentum", 0.0, 0.99, "ReverseLogarithmic"),
        ContinuousParam("weight_decay", 1e-6, 1e-2, "Logarithmic"),
    )
)
METRIC = "validation:accuracy"
MAXIMIZE = True
RESOURCE = "epoch"
STEPS = 25
CHANCE = 0.1
THREADS = "in-process in a worker process, torch.set_num_threads(1), OMP/OPENBLAS/MKL_NUM_THREADS=1"
PACKAGES = ("numpy", "scikit-learn", "torch")
STATIC = {"epochs": str(STEPS), "threads": "1"}

_data: Any = None


def prepare() -> None:
    """Once per worker, untimed: load the data and train a throwaway model briefly (library warm-up)."""
    global _data
    program = load_program("digits_cnn")
    _data = program.load_data()
    program.train(program.parse_args(["--epochs", "1", "--threads", "1"]), _data, lambda *_: None)


def run(hyperparameters: dict[str, str]) -> Curve:
    if _data is None:
        prepare()
    program = load_program("digits_cnn")
    args = program.parse_args(argv({**hyperparameters, **STATIC}))
    return timed(lambda record: program.train(args, _data, lambda _epoch, _loss, acc: record(acc)), STEPS, CHANCE)
