"""Bayesian optimisation with BoTorch: a GP over the search space, expected improvement, a local search.

Encoding (one column per tuned parameter, see `Encoder`):
- continuous: its unit value (after Linear / Logarithmic / ReverseLogarithmic scaling; Auto is
  resolved by the search space), so log-scaled ranges are modelled on the log scale;
- integer: the unit value of the integer; the acquisition is searched over exactly those values,
  so rounding happens inside the search, not after. Ranges of more than MAX_DISCRETE_VALUES
  integers are relaxed to continuous and rounded;
- categorical: the choice's position. The GP sees it one-hot, so any two different choices are
  equally far apart (a Hamming distance, as in Optuna's GPSampler), and the model stays a single
  Matérn kernel that fits in a fraction of the time a separate categorical kernel took.

Proposals come from a scrambled Sobol sequence seeded by RandomSeed until `initial_design_size`
training jobs have reported the objective (warm-start results count). Counting results, not
proposals, matters with parallel workers: at W = 8 the model used to take over at the 7th proposal
with two results, the first to end, which are the cheapest configurations, and its next proposals
clustered around the better of those two. After that each proposal fits a GP from scratch to every
training job that reported the objective: Matérn 5/2 with one lengthscale per column and BoTorch's
dimension-scaled priors, outcome standardised, the objective negated when minimising. Its noise variance may go down to
the first of NOISE_FLOORS (relative to the standardised variance) under a wide prior (NOISE_PRIOR):
BoTorch's defaults (a floor of 1e-4, a prior near 2 %) blurred every difference smaller than a few
percent of the objective's spread, which kept it from the last digits of an optimum that a
deterministic objective does have, while a noisy objective still gets the noise its data show.
Observations that lie very close together can make so small a floor numerically singular; the
model is then fitted again with the next floor.

Running training jobs become pending points: the model is conditioned on its own prediction for
each (the "kriging believer"), which lowers the expected improvement around them so that
parallel proposals spread out. The acquisition is the analytic log expected improvement over the
best predicted mean among the observations (so one lucky noisy observation does not set the bar),
maximised by `acquisition_search`: a wide sample plus neighbours of the best observations, then a
local climb per column kind. Training jobs without an objective (failed, silent) are left out of
the model. All randomness is seeded with (RandomSeed, index): the same seed and history give the
same proposal.

Cost-aware (the default; StrategyConfig.BayesianStrategyConfig.CostAware "Disabled" turns it off):
a second GP predicts a configuration's log seconds from the training jobs that ran to their end,
and the acquisition subtracts it, weighted from 1 after the initial design down to 0 at the last
training job (`cost_weight`). It became the default because on the search bench it reached the
targets as fast as plain expected improvement or faster on every task (4.8x on the seed task at
W = 2, whose plain Bayesian spent its time on slow configurations; docs/strategies.md).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunestream.space import CategoricalParam, IntegerParam, SearchSpace
from tunestream.strategies import acquisition_search
from tunestream.strategies.registry import (
    StrategyDefinition,
    StrategyInputs,
    StrategyParts,
    auto_stopper,
    parents_always,
)
from tunestream.trials import Proposal, TrainingJobRecord, TrainingJobStatus

Values = dict[str, int | float | str]

MAX_DISCRETE_VALUES = 1000
# Smallest noise variance the GP may infer, relative to the standardised objective's variance, tried in
# order: the next one when the model cannot be fitted or conditioned with the one before. At 1e-6 the
# Mixed bench function's last proposals circled 2e-3 (in log10 lr) off its optimum: values 1e-5 apart
# were within the noise of an objective spread over 4 units; 1e-10 fails to fit there.
NOISE_FLOORS = (1e-8, 1e-6)
# LogNormal (mu, sigma) over that variance: centred at 3e-4 and wide enough (sigma 3) for the data to
# decide. BoTorch's default, LogNormal(-4, 1), holds the noise near 2 % of the variance whatever the
# data say, which cost precision on deterministic objectives (Branin, Hartmann6) in the bench.
NOISE_PRIOR = (-8.0, 3.0)


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

    def categorical_dims(self) -> dict[int, list[float]]:
        return {i: [float(k) for k in range(n)] for i, n in self.choice_counts.items()}

    @functools.cached_property
    def choice_counts(self) -> dict[int, int]:
        """Column -> number of choices, for the categorical columns. Cached: `features` runs on every
        acquisition evaluation of the search."""
        return {i: len(p.choices) for i, p in enumerate(self.space.params) if isinstance(p, CategoricalParam)}

    def discrete_dims(self) -> dict[int, list[float]]:
        return {
            i: [p.to_unit(v) for v in p.values()]
            for i, p in enumerate(self.space.params)
            if isinstance(p, IntegerParam) and p.high - p.low + 1 <= MAX_DISCRETE_VALUES
        }

    def from_sobol(self, u: Sequence[float]) -> dict[str, int | float | str]:
        return self.space.from_unit(list(u))

    def columns(self) -> acquisition_search.Columns:
        return acquisition_search.Columns(
            dims=len(self.space.params),
            discrete=self.discrete_dims(),
            categorical=self.choice_counts,
        )

    def features(self, x: Any) -> Any:
        """The GP's inputs for encoded rows (torch, (..., d)): categorical columns one-hot."""
        import torch

        categorical = self.choice_counts
        if not categorical:
            return x
        parts = []
        for i in range(x.shape[-1]):
            if i in categorical:
                n = categorical[i]
                index = x[..., i].round().long().clamp(0, n - 1)
                parts.append(torch.nn.functional.one_hot(index, n).to(x))
            else:
                parts.append(x[..., i : i + 1])
        return torch.cat(parts, dim=-1)


class BayesianSearch:
    """SearchStrategy: Sobol initial design, then GP + log expected improvement with pending points."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        max_jobs: int,
        maximize: bool,
        *,
        raw_samples: int = 1024,
        starts: int = 8,
        incumbents: int = 5,
        cost_aware: bool = False,
    ) -> None:
        self._space = space
        self._encoder = Encoder(space)
        self._columns = self._encoder.columns()
        self._seed = seed
        self._max_jobs = max_jobs
        self._maximize = maximize
        self._n_initial = initial_design_size(len(space.params), max_jobs)
        self._raw_samples = raw_samples
        self._starts = starts
        self._incumbents = incumbents
        self._cost_aware = cost_aware

    def max_training_jobs(self) -> int:
        return self._max_jobs

    def propose(self, index: int, history: Sequence[TrainingJobRecord]) -> Proposal:
        observed = [h for h in history if h.objective is not None and math.isfinite(h.objective)]
        # Warm-start observations (negative indices) are results too: they shorten the initial design.
        if len(observed) < max(self._n_initial, 2):
            return self._sobol(index, len(observed))
        return self._model_based(index, history, observed)

    def propose_over_resource(
        self,
        index: int,
        observed: Sequence[tuple[Values, float, float]],
        pending: Sequence[Values],
        step_costs: Sequence[tuple[Values, float]] = (),
        weight: float = 1.0,
    ) -> Proposal:
        """A proposal from one GP over (configuration, resource) fitted to `observed`: (values, the
        resource as a share in [0, 1], 1 being MaxResource, the objective there). Expected
        improvement is taken at the full resource over the best predicted final value among the
        observed configurations, with `pending` believed there (promotion.RungModel). With
        `step_costs` (values, seconds per step), it is divided by the predicted cost to the power
        `weight`, as cost-aware Bayesian's is."""
        import torch

        started = time.perf_counter()
        state = np.random.SeedSequence([self._seed, index]).generate_state(2)
        torch.manual_seed(int(state[0]))
        sign = 1.0 if self._maximize else -1.0
        x = torch.tensor([[*self._encoder.encode(v), share] for v, share, _ in observed], dtype=torch.float64)
        y = torch.tensor([[sign * objective] for _, _, objective in observed], dtype=torch.float64)
        configs = sorted({tuple(self._encoder.encode(v)) for v, _, _ in observed})
        full = torch.tensor([[*c, 1.0] for c in configs], dtype=torch.float64)
        pending_rows = [[*self._encoder.encode(v), 1.0] for v in pending]
        model, at_full, floor = self._model(x, y, pending_rows, full)
        fitted = time.perf_counter()

        def at_full_resource(rows: Any) -> Any:
            return at_full(torch.cat([rows, torch.ones(*rows.shape[:-1], 1, dtype=rows.dtype)], dim=-1))

        acquisition = at_full_resource
        cost = self._fit_cost(step_costs) if weight > 0 else None
        if cost is not None:
            acquisition = cost.per_cost(at_full_resource, weight)

        with torch.no_grad():
            final = model.posterior(self._encoder.features(full)).mean
        best_first = np.array(configs)[torch.argsort(final.squeeze(-1), descending=True)[: self._incumbents].numpy()]
        found = self._search_acquisition(acquisition, best_first, int(state[1]))
        mean, std = self._predict(model, np.append(found.point, 1.0))
        cost_details = cost_summary(cost, found.point, weight, "predicted_step_s")
        return Proposal(
            index=index,
            values=self._encoder.decode(found.point.tolist()),
            reason=(
                f"model: GP over configuration and resource on {len(observed)} observations of "
                f"{len(configs)} configurations, {len(pending_rows)} pending; log EI {found.value:.4g} "
                f"at the full resource, predicted {sign * mean:.6g} ± {std:.3g}"
            ),
            details=model_details(
                observations=len(observed),
                configurations=len(configs),
                pending=len(pending_rows),
                found=found,
                predicted_mean=sign * mean,
                predicted_std=std,
                noise_floor=floor,
                cost_details=cost_details,
                started=started,
                fitted=fitted,
            ),
        )

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
        state = np.random.SeedSequence([self._seed, index]).generate_state(2)
        torch.manual_seed(int(state[0]))
        x = torch.tensor([self._encoder.encode(h.values) for h in observed], dtype=torch.float64)
        sign = 1.0 if self._maximize else -1.0
        y = torch.tensor([[sign * float(h.objective or 0.0)] for h in observed], dtype=torch.float64)
        running = [h for h in history if h.objective is None and not h.status.finished]
        pending_rows = [self._encoder.encode(h.values) for h in running]
        model, acquisition, floor = self._model(x, y, pending_rows)
        cost = self._cost_model(observed) if self._cost_aware else None
        weight = cost_weight(index, self._n_initial, self._max_jobs)
        if cost is not None:
            acquisition = cost.per_cost(acquisition, weight)
        fitted = time.perf_counter()
        best_first = x[torch.argsort(y.squeeze(-1), descending=True)[: self._incumbents]].numpy()
        found = self._search_acquisition(acquisition, best_first, int(state[1]))
        mean, std = self._predict(model, found.point)
        values = self._encoder.decode(found.point.tolist())
        cost_details = cost_summary(cost, found.point, weight, "predicted_cost_s")
        return Proposal(
            index=index,
            values=values,
            reason=(
                f"model: GP on {len(observed)} observations, {len(pending_rows)} pending; "
                f"log EI {found.value:.4g}, predicted {sign * mean:.6g} ± {std:.3g}"
            ),
            details=model_details(
                observations=len(observed),
                pending=len(pending_rows),
                found=found,
                predicted_mean=sign * mean,
                predicted_std=std,
                noise_floor=floor,
                cost_details=cost_details,
                started=started,
                fitted=fitted,
            ),
        )

    def _search_acquisition(
        self, acquisition: Any, best_first: np.ndarray, seed: int
    ) -> acquisition_search.SearchResult:
        return acquisition_search.maximize(
            acquisition,
            self._columns,
            best_first,
            np.random.default_rng(seed),
            raw_samples=self._raw_samples,
            starts=self._starts,
        )

    def _cost_model(self, observed: Sequence[TrainingJobRecord]) -> CostModel | None:
        return self._fit_cost([(h.values, c) for h in observed if (c := slot_seconds(h)) is not None])

    def _fit_cost(self, costs: Sequence[tuple[Values, float]]) -> CostModel | None:
        """A GP on the log of `costs` (values, seconds); None with fewer than MIN_COST_JOBS, when
        they are all alike, or when it cannot be fitted: the proposal is then plain expected
        improvement."""
        if len(costs) < MIN_COST_JOBS:
            return None
        from botorch.exceptions.errors import ModelFittingError
        from linear_operator.utils.errors import NotPSDError

        seconds = np.array([max(c, MIN_COST_S) for _, c in costs])
        if np.ptp(np.log(seconds)) < 1e-9:
            return None
        try:
            return CostModel.fit(self._encoder, np.array([self._encoder.encode(v) for v, _ in costs]), seconds)
        except (ModelFittingError, NotPSDError):
            return None

    def _model(
        self, x: Any, y: Any, pending_rows: Sequence[Sequence[float]], incumbent_x: Any = None
    ) -> tuple[Any, Any, float]:
        """The fitted GP, its acquisition and the noise floor it took: the first that fits and conditions.
        The incumbent is the best predicted mean at `incumbent_x` (default: the observed rows)."""
        import torch
        from botorch.exceptions.errors import ModelFittingError
        from linear_operator.utils.errors import NotPSDError

        at = x if incumbent_x is None else incumbent_x
        for floor in NOISE_FLOORS[:-1]:
            try:
                model = self._fit(x, y, floor)
                acquisition = self._acquisition(model, at, pending_rows)
                acquisition(at[:1])  # a singular covariance shows on the first evaluation
                return model, acquisition, floor
            except (ModelFittingError, NotPSDError, torch.linalg.LinAlgError):
                continue
        model = self._fit(x, y, NOISE_FLOORS[-1])
        return model, self._acquisition(model, at, pending_rows), NOISE_FLOORS[-1]

    def _fit(self, x: Any, y: Any, noise_floor: float) -> Any:
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from botorch.models.transforms.outcome import Standardize
        from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
        from gpytorch.constraints import GreaterThan
        from gpytorch.likelihoods import GaussianLikelihood
        from gpytorch.mlls import ExactMarginalLogLikelihood
        from gpytorch.priors import LogNormalPrior

        features = self._encoder.features(x)
        covariance = get_covar_module_with_dim_scaled_prior(ard_num_dims=features.shape[-1], use_rbf_kernel=False)
        likelihood = GaussianLikelihood(
            noise_prior=LogNormalPrior(*NOISE_PRIOR), noise_constraint=GreaterThan(noise_floor)
        )
        model = SingleTaskGP(
            features, y, covar_module=covariance, likelihood=likelihood, outcome_transform=Standardize(m=1)
        )
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        return model

    def _acquisition(self, model: Any, x: Any, pending_rows: Sequence[Sequence[float]]) -> Any:
        import torch
        from botorch.acquisition.analytic import LogExpectedImprovement

        with torch.no_grad():
            incumbent = model.posterior(self._encoder.features(x)).mean.max()
            if pending_rows:
                pending = self._encoder.features(torch.tensor(pending_rows, dtype=torch.float64))
                believed = model.posterior(pending).mean
                model = model.condition_on_observations(pending, believed)
        log_ei = LogExpectedImprovement(model, best_f=incumbent)

        def acquisition(rows: Any) -> Any:
            return log_ei(self._encoder.features(rows).unsqueeze(-2))

        return acquisition

    def _predict(self, model: Any, point: np.ndarray) -> tuple[float, float]:
        import torch

        with torch.no_grad():
            posterior = model.posterior(self._encoder.features(torch.tensor(point[None, :], dtype=torch.float64)))
        return float(posterior.mean.squeeze()), float(posterior.variance.clamp_min(0).sqrt().squeeze())


MIN_COST_JOBS = 3
# Seconds below which a training job's cost is not told apart (a report's clock resolution, and
# the log of zero).
MIN_COST_S = 1e-3


def slot_seconds(record: TrainingJobRecord) -> float | None:
    """What a training job that ran to its end cost: its worker slot's time, proposal to result.
    None for a training job stopped early or without both times (its cost is not its config's)."""
    if record.status is not TrainingJobStatus.COMPLETED or record.proposed_at is None or record.ended_at is None:
        return None
    return max(record.ended_at - record.proposed_at, MIN_COST_S)


def cost_weight(index: int, n_initial: int, max_jobs: int) -> float:
    """How much the predicted cost counts in proposal `index`: 1 (expected improvement per second)
    right after the initial design, falling linearly to 0 (plain expected improvement) at the last
    training job. Per second throughout, the bench's MLP task reached its 5 % target sooner than
    Random when it did, but in 70 % of runs within 40 training jobs against Bayesian's 100 %: cheap
    configurations crowded out the good ones (docs/strategies.md). Cooling as CArBO (Lee et al.,
    2020) does, over the budget of training jobs, spends the cheap ones first."""
    span = max_jobs - n_initial
    if span <= 0:
        return 0.0
    return float(min(max((max_jobs - index) / span, 0.0), 1.0))


def model_details(
    *,
    observations: int,
    pending: int,
    found: acquisition_search.SearchResult,
    predicted_mean: float,
    predicted_std: float,
    noise_floor: float,
    cost_details: dict[str, float | int | str],
    started: float,
    fitted: float,
    configurations: int | None = None,
) -> dict[str, float | int | str]:
    """A model-based proposal's details: what the GP saw and predicts, its cost model's summary,
    and the wall-clock seconds of its fit and of the whole proposal (replay ignores those two)."""
    details: dict[str, float | int | str] = {"phase": "model", "observations": observations}
    if configurations is not None:
        details["configurations"] = configurations
    return {
        **details,
        "pending": pending,
        "log_ei": round(found.value, 6),
        "predicted_mean": predicted_mean,
        "predicted_std": predicted_std,
        "noise_floor": noise_floor,
        **cost_details,
        "fit_s": round(fitted - started, 4),
        "suggest_s": round(time.perf_counter() - started, 4),
    }


def cost_summary(
    cost: CostModel | None, point: np.ndarray, weight: float, seconds_key: str
) -> dict[str, float | int | str]:
    """A proposal's details about its cost model: what it predicts for `point` (as `seconds_key`),
    from how many training jobs, and its weight; nothing without one."""
    if cost is None:
        return {}
    return {seconds_key: round(cost.seconds(point), 6), "cost_jobs": cost.jobs, "cost_weight": round(weight, 6)}


@dataclass(frozen=True)
class CostModel:
    """A GP on log seconds per training job: cost-aware proposals maximise log EI - log predicted cost,
    expected improvement per second (Snoek et al., 2012)."""

    encoder: Encoder
    model: Any
    jobs: int

    @classmethod
    def fit(cls, encoder: Encoder, rows: np.ndarray, seconds: np.ndarray) -> CostModel:
        import torch
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from botorch.models.transforms.outcome import Standardize
        from gpytorch.mlls import ExactMarginalLogLikelihood

        x = encoder.features(torch.tensor(rows, dtype=torch.float64))
        y = torch.tensor(np.log(seconds)[:, None], dtype=torch.float64)
        model = SingleTaskGP(x, y, outcome_transform=Standardize(m=1))
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        return cls(encoder, model, len(seconds))

    def log_seconds(self, rows: Any) -> Any:
        return self.model.posterior(self.encoder.features(rows)).mean.squeeze(-1)

    def seconds(self, point: np.ndarray) -> float:
        import torch

        with torch.no_grad():
            return float(torch.exp(self.log_seconds(torch.tensor(point[None, :], dtype=torch.float64))).squeeze())

    def per_cost(self, acquisition: Any, weight: float) -> Any:
        def per_second(rows: Any) -> Any:
            return acquisition(rows) - weight * self.log_seconds(rows)

        return per_second


def cost_aware(inputs: StrategyInputs) -> bool:
    """On unless the job says CostAware "Disabled"."""
    config = inputs.config.StrategyConfig
    given = config.BayesianStrategyConfig if config else None
    return given is None or given.CostAware != "Disabled"


def _build(inputs: StrategyInputs) -> StrategyParts:
    proposer = BayesianSearch(
        inputs.space, inputs.seed, inputs.max_jobs, maximize=inputs.maximize, cost_aware=cost_aware(inputs)
    )
    return StrategyParts(proposer, auto_stopper(inputs))


STRATEGY = StrategyDefinition(
    name="Bayesian",
    build=_build,
    uses_parents=parents_always,
    timing_details=("fit_s", "suggest_s"),
    proposes_ahead=True,
    strategy_config="BayesianStrategyConfig",
    summary="a GP over the search space, expected improvement with running jobs as pending points, a local search",
)
