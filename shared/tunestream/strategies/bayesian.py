"""Bayesian optimisation with BoTorch: a GP over the search space and a noise-aware acquisition.

Encoding (one column per tuned parameter, see `Encoder`):
- continuous: its unit value (after Linear / Logarithmic / ReverseLogarithmic scaling; Auto is
  resolved by the search space), so log-scaled ranges are modelled on the log scale;
- integer: the unit value of the integer; the acquisition is optimised over exactly those values
  (BoTorch's mixed alternating optimiser), so rounding happens inside the acquisition, not after.
  Ranges of more than MAX_DISCRETE_VALUES integers are relaxed to continuous and rounded;
- categorical: the choice's position, modelled with a categorical kernel (MixedSingleTaskGP) and
  optimised over the choices.

The first `initial_design_size` training jobs come from a scrambled Sobol sequence seeded by
RandomSeed. After that each proposal fits a GP (outcome standardised, the objective negated when
minimising) to every training job that reported the objective, and maximises qLogNoisyExpectedImprovement
with the running training jobs as pending points, so parallel proposals spread out. Training jobs
without an objective (failed, silent) are left out of the model. Torch is seeded with (RandomSeed,
index), and each GP fit starts from the hyperparameters of the previous one (few iterations then):
the same seed and the same sequence of proposals give the same proposals. A restarted suggester
starts its first fit cold, so proposals after a restart can differ in the last digits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunestream.space import CategoricalParam, IntegerParam, SearchSpace
from tunestream.strategies.registry import (
    StrategyDefinition,
    StrategyInputs,
    StrategyParts,
    auto_stopper,
    parents_always,
)
from tunestream.trials import Proposal, TrainingJobRecord

MAX_DISCRETE_VALUES = 1000


def initial_design_size(dims: int, max_jobs: int) -> int:
    """Sobol points before the model takes over: 2 per dimension, between 5 and 20, at most half the budget."""
    return max(1, min(max(5, 2 * dims), 20, max(max_jobs // 2, 1)))


@dataclass(frozen=True)
class Encoder:
    """Maps parameter values to the model's columns and back."""

    space: SearchSpace

    def encode(self, values: dict[str, int | float | str]) -> list[float]:
        row = []
        for p in self.space.params:
            v = values[p.name]
            if isinstance(p, CategoricalParam):
                row.append(float(p.choices.index(str(v))))
            else:
                row.append(p.to_unit(v))  # type: ignore[arg-type]
        return row

    def decode(self, row: Sequence[float]) -> dict[str, int | float | str]:
        values: dict[str, int | float | str] = {}
        for p, x in zip(self.space.params, row, strict=True):
            if isinstance(p, CategoricalParam):
                values[p.name] = p.choices[min(max(round(x), 0), len(p.choices) - 1)]
            else:
                values[p.name] = p.from_unit(float(x))
        return values

    def bounds(self) -> list[tuple[float, float]]:
        """Per column; a discrete column spans exactly its first and last allowed value."""
        discrete = self.discrete_dims()
        bounds = []
        for i, p in enumerate(self.space.params):
            if isinstance(p, CategoricalParam):
                bounds.append((0.0, float(len(p.choices) - 1)))
            elif i in discrete:
                bounds.append((discrete[i][0], discrete[i][-1]))
            else:
                bounds.append((0.0, 1.0))
        return bounds

    def categorical_dims(self) -> dict[int, list[float]]:
        return {
            i: [float(k) for k in range(len(p.choices))]
            for i, p in enumerate(self.space.params)
            if isinstance(p, CategoricalParam)
        }

    def discrete_dims(self) -> dict[int, list[float]]:
        return {
            i: [p.to_unit(v) for v in p.values()]
            for i, p in enumerate(self.space.params)
            if isinstance(p, IntegerParam) and p.high - p.low + 1 <= MAX_DISCRETE_VALUES
        }

    def from_sobol(self, u: Sequence[float]) -> dict[str, int | float | str]:
        return self.space.from_unit(list(u))


class BayesianSearch:
    """SearchStrategy: Sobol initial design, then GP + qLogNoisyExpectedImprovement with pending points."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        max_jobs: int,
        maximize: bool,
        *,
        raw_samples: int = 256,
        num_restarts: int = 4,
        fit_maxiter: int = 75,
    ) -> None:
        self._space = space
        self._encoder = Encoder(space)
        self._seed = seed
        self._max_jobs = max_jobs
        self._maximize = maximize
        self._n_initial = initial_design_size(len(space.params), max_jobs)
        self._raw_samples = raw_samples
        self._num_restarts = num_restarts
        self._fit_maxiter = fit_maxiter
        # GP hyperparameters of the previous fit: the next fit starts there and needs few iterations.
        self._warm: dict[str, Any] | None = None

    def max_training_jobs(self) -> int:
        return self._max_jobs

    def propose(self, index: int, history: Sequence[TrainingJobRecord]) -> Proposal:
        observed = [h for h in history if h.objective is not None and math.isfinite(h.objective)]
        # Warm-start observations (negative indices) shorten the initial design.
        warm = sum(1 for h in history if h.index < 0)
        if index < self._n_initial - warm or len(observed) < 2:
            return self._sobol(index, len(observed))
        return self._model_based(index, history, observed)

    def _sobol(self, index: int, n_observed: int) -> Proposal:
        import torch

        engine = torch.quasirandom.SobolEngine(len(self._space.params), scramble=True, seed=self._seed)
        point = engine.draw(index + 1, dtype=torch.float64)[index].tolist()
        return Proposal(
            index=index,
            values=self._encoder.from_sobol(point),
            reason=f"initial design: Sobol point {index + 1} (seed {self._seed}), {n_observed} observations",
            details={"phase": "initial design", "observations": n_observed},
        )

    def _model_based(
        self, index: int, history: Sequence[TrainingJobRecord], observed: Sequence[TrainingJobRecord]
    ) -> Proposal:
        import torch

        started = time.perf_counter()
        torch.manual_seed(int(np.random.SeedSequence([self._seed, index]).generate_state(1)[0]))
        x = torch.tensor([self._encoder.encode(h.values) for h in observed], dtype=torch.float64)
        sign = 1.0 if self._maximize else -1.0
        y = torch.tensor([[sign * float(h.objective or 0.0)] for h in observed], dtype=torch.float64)
        running = [h for h in history if h.objective is None and not h.status.finished]
        pending_rows = [self._encoder.encode(h.values) for h in running]
        pending = torch.tensor(pending_rows, dtype=torch.float64) if pending_rows else None
        model = self._fit(x, y)
        fitted = time.perf_counter()
        acquisition = self._acquisition(model, x, pending)
        candidate, value = self._optimize(acquisition)
        mean, std = self._predict(model, candidate)
        values = self._encoder.decode(candidate[0].tolist())
        return Proposal(
            index=index,
            values=values,
            reason=(
                f"model: GP on {len(observed)} observations, {len(pending_rows)} pending; "
                f"log EI {value:.4g}, predicted {sign * mean:.6g} ± {std:.3g}"
            ),
            details={
                "phase": "model",
                "observations": len(observed),
                "pending": len(pending_rows),
                "log_ei": round(value, 6),
                "predicted_mean": sign * mean,
                "predicted_std": std,
                "fit_s": round(fitted - started, 4),
                "suggest_s": round(time.perf_counter() - started, 4),
            },
        )

    def _fit(self, x: Any, y: Any) -> Any:
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import MixedSingleTaskGP, SingleTaskGP
        from botorch.models.transforms.outcome import Standardize
        from gpytorch.mlls import ExactMarginalLogLikelihood

        cat_dims = sorted(self._encoder.categorical_dims())
        if cat_dims:
            model = MixedSingleTaskGP(x, y, cat_dims=cat_dims, outcome_transform=Standardize(m=1))
        else:
            model = SingleTaskGP(x, y, outcome_transform=Standardize(m=1))
        maxiter = self._fit_maxiter
        if self._warm is not None:
            model.load_state_dict(self._warm, strict=False)
            maxiter = max(self._fit_maxiter // 3, 10)
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": maxiter}})
        # Only kernel, mean and noise hyperparameters carry over; the outcome transform is refitted to y.
        self._warm = {
            k: v.detach().clone()
            for k, v in model.state_dict().items()
            if not k.startswith("outcome_transform") and not k.startswith("input_transform")
        }
        return model

    def _acquisition(self, model: Any, x: Any, pending: Any) -> Any:
        from botorch.acquisition.logei import qLogNoisyExpectedImprovement

        return qLogNoisyExpectedImprovement(model=model, X_baseline=x, X_pending=pending, prune_baseline=True)

    def _optimize(self, acquisition: Any) -> tuple[Any, float]:
        import torch
        from botorch.optim import optimize_acqf
        from botorch.optim.optimize_mixed import optimize_acqf_mixed_alternating

        bounds = torch.tensor(self._encoder.bounds(), dtype=torch.float64).T
        discrete, categorical = self._encoder.discrete_dims(), self._encoder.categorical_dims()
        if discrete or categorical:
            candidate, value = optimize_acqf_mixed_alternating(
                acquisition,
                bounds=bounds,
                discrete_dims=discrete or None,
                cat_dims=categorical or None,
                q=1,
                raw_samples=self._raw_samples,
                num_restarts=self._num_restarts,
                options={"maxiter_alternating": 8, "maxiter_continuous": 50},
            )
        else:
            candidate, value = optimize_acqf(
                acquisition, bounds=bounds, q=1, raw_samples=self._raw_samples, num_restarts=self._num_restarts
            )
        return candidate.detach(), float(value.max() if value is not None else float("nan"))

    @staticmethod
    def _predict(model: Any, candidate: Any) -> tuple[float, float]:
        import torch

        with torch.no_grad():
            posterior = model.posterior(candidate)
        return float(posterior.mean.squeeze()), float(posterior.variance.clamp_min(0).sqrt().squeeze())


def _build(inputs: StrategyInputs) -> StrategyParts:
    proposer = BayesianSearch(inputs.space, inputs.seed, inputs.max_jobs, maximize=inputs.maximize)
    return StrategyParts(proposer, auto_stopper(inputs))


STRATEGY = StrategyDefinition(
    name="Bayesian",
    build=_build,
    uses_parents=parents_always,
    timing_details=("fit_s", "suggest_s"),
    proposes_ahead=True,
    summary="a GP over the search space with a noise-aware acquisition and running jobs as pending points",
)
