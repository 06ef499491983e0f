"""Maximising an acquisition function over a mixed space: sample widely, then climb locally.

The space is the Bayesian encoder's: continuous columns in [0, 1], discrete columns restricted to
sorted allowed values (the unit values of a range's integers), categorical columns holding a
choice's position. A BoTorch optimiser either relaxes discrete columns or walks them one small
step at a time, which left tunestream's Bayesian a unit or two away from the best integer; this
search treats each kind on its own terms:

1. candidates: a random sample of the whole space, plus perturbations of the best observed points
   (a good optimum of the acquisition usually lies near the incumbent, where uniform samples are
   too sparse in more than a few dimensions);
2. the `starts` best candidates each climb: L-BFGS-B over the continuous columns with the others
   fixed, then for every discrete column the allowed values 1, 2, 3, 5, 8, ... positions away,
   then every choice of every categorical column; the climb repeats while any move helps.

The acquisition is called on a batch `(n, d) -> (n,)` and must be differentiable in the
continuous columns. Randomness comes only from the generator passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Acquisition = Callable[[Any], Any]  # torch (n, d) float64 -> torch (n,)

# Positions away from the current one that a discrete column tries: dense nearby, sparse far away.
DISCRETE_STEPS = (1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610)
IMPROVEMENT_TOL = 1e-9


@dataclass(frozen=True)
class Columns:
    """Which encoded column is which kind."""

    dims: int
    discrete: Mapping[int, Sequence[float]]  # column -> its allowed values, ascending
    categorical: Mapping[int, int]  # column -> number of choices

    @property
    def continuous(self) -> list[int]:
        return [i for i in range(self.dims) if i not in self.discrete and i not in self.categorical]


@dataclass(frozen=True)
class SearchResult:
    point: np.ndarray
    value: float


def maximize(
    acquisition: Acquisition,
    columns: Columns,
    incumbents: np.ndarray,
    rng: np.random.Generator,
    *,
    raw_samples: int = 1024,
    perturbations: int = 64,
    starts: int = 8,
    max_rounds: int = 10,
    lbfgs_iterations: int = 100,
) -> SearchResult:
    """The best point found for `acquisition`; `incumbents` (k, d): the best observations, best first."""
    candidates = np.concatenate([sample(columns, raw_samples, rng), perturb(columns, incumbents, perturbations, rng)])
    values = evaluate(acquisition, candidates)
    order = np.argsort(-values, kind="stable")[:starts]
    points, values = candidates[order].copy(), values[order]
    for _ in range(max_rounds):
        before = values.copy()
        if columns.continuous:
            points, values = _climb_continuous(acquisition, columns, points, values, lbfgs_iterations)
        for column, allowed in columns.discrete.items():
            points, values = _climb_discrete(acquisition, column, np.asarray(allowed, dtype=float), points, values)
        for column, choices in columns.categorical.items():
            points, values = _try_choices(acquisition, column, choices, points, values)
        mixed = bool(columns.discrete or columns.categorical)
        if not mixed or np.all(values - before <= IMPROVEMENT_TOL * (1.0 + np.abs(before))):
            break
    best = int(np.argmax(values))
    return SearchResult(points[best], float(values[best]))


def sample(columns: Columns, n: int, rng: np.random.Generator) -> np.ndarray:
    points = rng.random((n, columns.dims))
    for column, allowed in columns.discrete.items():
        points[:, column] = np.asarray(allowed, dtype=float)[rng.integers(0, len(allowed), n)]
    for column, choices in columns.categorical.items():
        points[:, column] = rng.integers(0, choices, n)
    return points


def perturb(
    columns: Columns, incumbents: np.ndarray, per_point: int, rng: np.random.Generator, scale: float = 0.05
) -> np.ndarray:
    """The incumbents themselves, then `per_point` neighbours of each."""
    if len(incumbents) == 0:
        return np.empty((0, columns.dims))
    base = np.repeat(incumbents, per_point, axis=0)
    moved = np.clip(base + scale * rng.standard_normal(base.shape), 0.0, 1.0)
    for column, allowed in columns.discrete.items():
        grid = np.asarray(allowed, dtype=float)
        span = max(grid[-1] - grid[0], 1e-12)
        raw = base[:, column] + scale * span * rng.standard_normal(len(base))
        moved[:, column] = grid[_nearest(grid, raw)]
    for column, choices in columns.categorical.items():
        flip = rng.random(len(base)) < 0.2
        moved[:, column] = np.where(flip, rng.integers(0, choices, len(base)), base[:, column])
    return np.concatenate([incumbents, moved])


def evaluate(acquisition: Acquisition, points: np.ndarray, batch: int = 2048) -> np.ndarray:
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(points), batch):
            x = torch.as_tensor(points[i : i + batch], dtype=torch.float64)
            out.append(acquisition(x).detach().cpu().numpy().reshape(-1))
    values = np.concatenate(out) if out else np.empty(0)
    return np.where(np.isfinite(values), values, -np.inf)


def _nearest(grid: np.ndarray, x: np.ndarray) -> np.ndarray:
    i = np.clip(np.searchsorted(grid, x), 1, len(grid) - 1)
    return np.where(np.abs(x - grid[i - 1]) <= np.abs(grid[i] - x), i - 1, i)


def _climb_continuous(
    acquisition: Acquisition, columns: Columns, points: np.ndarray, values: np.ndarray, iterations: int
) -> tuple[np.ndarray, np.ndarray]:
    """L-BFGS-B on every start at once: the starts are independent, so the summed objective separates."""
    import torch
    from scipy.optimize import minimize

    cont = columns.continuous
    fixed = torch.as_tensor(points, dtype=torch.float64)

    def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
        x = fixed.clone()
        free = torch.as_tensor(flat.reshape(len(points), len(cont)), dtype=torch.float64).requires_grad_(True)
        x[:, cont] = free
        total = acquisition(x).sum()
        (grad,) = torch.autograd.grad(total, free)
        return -float(total.detach()), -grad.numpy().reshape(-1)

    result = minimize(
        objective,
        points[:, cont].reshape(-1),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, 1.0)] * (len(points) * len(cont)),
        options={"maxiter": iterations},
    )
    moved = points.copy()
    moved[:, cont] = np.clip(result.x.reshape(len(points), len(cont)), 0.0, 1.0)
    new_values = evaluate(acquisition, moved)
    better = new_values > values
    return np.where(better[:, None], moved, points), np.where(better, new_values, values)


def _climb_discrete(
    acquisition: Acquisition, column: int, grid: np.ndarray, points: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    here = _nearest(grid, points[:, column])
    offsets = np.array([s * sign for s in DISCRETE_STEPS if s < len(grid) for sign in (-1, 1)])
    if len(offsets) == 0:
        return points, values
    positions = here[:, None] + offsets[None, :]
    valid = (positions >= 0) & (positions < len(grid))
    trial = np.repeat(points[:, None, :], len(offsets), axis=1)
    trial[:, :, column] = grid[np.clip(positions, 0, len(grid) - 1)]
    scores = evaluate(acquisition, trial.reshape(-1, points.shape[1])).reshape(len(points), len(offsets))
    scores = np.where(valid, scores, -np.inf)
    return _keep_best(trial, scores, points, values)


def _try_choices(
    acquisition: Acquisition, column: int, choices: int, points: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    trial = np.repeat(points[:, None, :], choices, axis=1)
    trial[:, :, column] = np.arange(choices)[None, :]
    scores = evaluate(acquisition, trial.reshape(-1, points.shape[1])).reshape(len(points), choices)
    return _keep_best(trial, scores, points, values)


def _keep_best(
    trial: np.ndarray, scores: np.ndarray, points: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    pick = np.argmax(scores, axis=1)
    best = scores[np.arange(len(points)), pick]
    better = best > values
    chosen = trial[np.arange(len(points)), pick]
    return np.where(better[:, None], chosen, points), np.where(better, best, values)
