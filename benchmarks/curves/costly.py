"""Good configurations cost more: examples/wide_mlp/train.py, 20 epochs.

A three-hidden-layer MLP on an 8-class problem of 48 clusters, batches of 256: width drives the
validation accuracy (about 54 % at width 32, 68 % at 128, 74-78 % from 300 up, at a good learning
rate) and the cost of an epoch (the two hidden-to-hidden layers grow as width², over a floor of
per-batch overhead), so the best configurations are the slow ones.

Calibrated on earlier recordings of this task: with two hidden layers the best 10 % of
configurations cost 5.5x the worst half per epoch (batches of 128, learning rate 1e-4 to 0.1),
then 6.5x (batches of 256: a lower per-batch floor) and 5.2x (learning rate 3e-4 to 0.03): widths
from about 300 up all end near the same accuracy, so the best 10 % have widths of 250-1000 (median
about 450), where two hidden layers do not cost enough more than the floor. A third layer doubles
the width² part: the committed table's best 10 % (widths 260-990, median about 580) cost 15x the
worst half (median width about 50) per epoch.
Run in-process like digits.py (torch, one thread); a diverged network scores about chance, 0.125.
"""

from __future__ import annotations

from typing import Any

from programs import Curve, argv, load_program, timed

from tunestream.space import ContinuousParam, IntegerParam, SearchSpace

NAME = "costly"
DESCRIPTION = (
    "examples/wide_mlp/train.py: a 3-hidden-layer MLP (torch, CPU, one thread, Adam, batches of 256) on "
    "make_classification(10000 rows, 30 features, 8 classes x 6 clusters), 7,500 rows to train on; "
    "validation accuracy on 2,500 held-out rows after each of 20 epochs. Width drives both the accuracy "
    "and the seconds per epoch."
)
SPACE = SearchSpace(
    (
        IntegerParam("width", 16, 1024, "Logarithmic"),
        ContinuousParam("learning_rate", 3e-4, 3e-2, "Logarithmic"),
        ContinuousParam("weight_decay", 1e-7, 1e-2, "Logarithmic"),
    )
)
METRIC = "validation:accuracy"
MAXIMIZE = True
RESOURCE = "epoch"
STEPS = 20
CHANCE = 0.125
THREADS = "in-process in a worker process, torch.set_num_threads(1), OMP/OPENBLAS/MKL_NUM_THREADS=1"
PACKAGES = ("numpy", "scikit-learn", "torch")
STATIC = {"epochs": str(STEPS), "hidden_layers": "3", "batch_size": "256", "threads": "1"}

_data: Any = None


def prepare() -> None:
    """Once per worker, untimed: load the data and train a throwaway model briefly (library warm-up)."""
    global _data
    program = load_program("wide_mlp")
    _data = program.load_data()
    program.train(program.parse_args(["--epochs", "1", "--threads", "1"]), _data, lambda *_: None)


def run(hyperparameters: dict[str, str]) -> Curve:
    if _data is None:
        prepare()
    program = load_program("wide_mlp")
    args = program.parse_args(argv({**hyperparameters, **STATIC}))
    return timed(lambda record: program.train(args, _data, lambda _epoch, _loss, acc: record(acc)), STEPS, CHANCE)
