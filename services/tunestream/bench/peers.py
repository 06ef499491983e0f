"""Peers on the bench: other tuners' search strategies as bench Methods, each decided by its own code.

Every adapter drives the peer through the peer's public ask/tell (or scheduler) API and only
translates: our search space into the peer's, its proposals into `Start`s, our epochs into its
reports, its verdicts into stop/continue. Nothing of a peer's algorithm is re-implemented here.
The one exception is `OneEpochTopK`, a baseline from a paper that has no library of its own.

- Optuna 5.0: TPESampler / GPSampler (seeded, defaults otherwise) x HyperbandPruner /
  MedianPruner, via `study.ask`, `trial.report`, `trial.should_prune`, `study.tell`. Note that
  GPSampler models COMPLETE trials only: behind a pruner it does not learn from pruned trials and
  keeps proposing close to configurations it has just pruned (Optuna's behaviour, kept).
- Syne Tune 0.16: its schedulers driven directly (`suggest`, `on_trial_add`, `on_trial_result`,
  `on_trial_remove`, `on_trial_complete`), the same calls its Tuner makes, without the Tuner or a
  backend (so nothing is written to disk): ASHA, asynchronous Hyperband (ASHA with brackets),
  BOHB, ASHA with BORE, the median stopping rule over random search, and the single-fidelity
  Random, BORE, TPE and REA. Left out: BoTorch (about a second a proposal on two cores, and 0.16
  pairs its GP's inputs in proposal order with objectives in completion order, which differ with
  parallel workers; `syne_tune_method(..., torch_rng=True)` would run it) and CQR (it imports
  huggingface_hub, which only syne-tune's `extra` extra brings; 0.16 has no `basic` extra).
- DEHB 0.1.2: `ask`/`tell`; DEHB retrains every configuration from scratch at each fidelity.
- One epoch, then the top k fully (Egele et al., arXiv 2307.15422), on tunestream's RandomSearch.

Determinism: each adapter is deterministic under its seed. Several peers draw from numpy's (and
torch's) *global* generators (Syne Tune 0.16's random sampling calls `Domain.sample()` without a
random state, ASHA picks brackets with `np.random.choice`, BORE's DE optimizer and BoTorch use
them too), so every call into a peer runs with that adapter's own copy of the global generators
swapped in (`_PrivateGlobalRng`), seeded from the adapter's seed; outside code never sees them move.

Scaling: Logarithmic maps to each peer's log scale. ReverseLogarithmic (continuous only, range
inside [0, 1)) maps to Syne Tune's own `reverseloguniform`; Optuna and ConfigSpace have no such
scale, so for them the peer tunes `1 - x` on a log scale over [1 - high, 1 - low] and the adapter
hands the job `x = 1 - value`, the same distribution tunestream's own ReverseLogarithmic uses.
An integer range with ReverseLogarithmic scaling is tuned linearly, as `tunestream.space` does.
"""

from __future__ import annotations

import logging
import math
import tempfile
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from tunestream.bench.methods import MethodFactory, Start, Task, Values
from tunestream.space import CategoricalParam, ContinuousParam, IntegerParam, Param, SearchSpace
from tunestream.strategies.random import RandomSearch

if TYPE_CHECKING:
    import optuna

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
METRIC = "objective"  # the name every peer knows the objective by
RESOURCE = "epoch"  # the name Syne Tune's schedulers read the resource from (`time_attr`)


def _reverse_log(p: Param) -> bool:
    return isinstance(p, ContinuousParam) and p.scaling == "ReverseLogarithmic"


def _from_peer(space: SearchSpace, raw: dict[str, Any], reverse_log_done_by_peer: bool) -> Values:
    """Typed values for a Start from a peer's configuration (numpy scalars, strings, 1 - x)."""
    values: Values = {}
    for p in space.params:
        v = raw[p.name]
        if isinstance(p, CategoricalParam):
            values[p.name] = str(v)
        elif isinstance(p, IntegerParam):
            values[p.name] = int(min(max(round(float(v)), p.low), p.high))
        else:
            x = float(v)
            if _reverse_log(p) and not reverse_log_done_by_peer:
                x = 1.0 - x
            values[p.name] = min(max(x, p.low), p.high)
    return values


class _PrivateGlobalRng:
    """An adapter's own state of numpy's (and optionally torch's) global generators: `active()`
    swaps it in for the duration of a call into the peer and puts the caller's state back."""

    def __init__(self, seed: int, torch_too: bool) -> None:
        self._np_state = np.random.RandomState(seed % 2**32).get_state()
        self._torch_state: Any = None
        if torch_too:
            import torch

            self._torch_state = torch.Generator().manual_seed(seed).get_state()

    @contextmanager
    def active(self) -> Iterator[None]:
        outer_np = np.random.get_state()
        np.random.set_state(self._np_state)
        outer_torch = None
        if self._torch_state is not None:
            import torch

            outer_torch = torch.random.get_rng_state()
            torch.random.set_rng_state(self._torch_state)
        try:
            with warnings.catch_warnings():
                # Peers warn on every call about their own dependencies' deprecations.
                warnings.simplefilter("ignore")
                yield
        finally:
            self._np_state = np.random.get_state()
            np.random.set_state(outer_np)
            if outer_torch is not None:
                import torch

                self._torch_state = torch.random.get_rng_state()
                torch.random.set_rng_state(outer_torch)


def _bad(value: float | None) -> bool:
    return value is None or math.isnan(value)


# --------------------------------------------------------------------------------------- Optuna


def optuna_distributions(space: SearchSpace) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    dists: dict[str, Any] = {}
    for p in space.params:
        if isinstance(p, CategoricalParam):
            dists[p.name] = CategoricalDistribution(list(p.choices))
        elif isinstance(p, IntegerParam):
            dists[p.name] = IntDistribution(p.low, p.high, log=p.scaling == "Logarithmic")
        elif p.scaling == "ReverseLogarithmic":
            dists[p.name] = FloatDistribution(1.0 - p.high, 1.0 - p.low, log=True)
        else:
            dists[p.name] = FloatDistribution(p.low, p.high, log=p.scaling == "Logarithmic")
    return dists


class OptunaMethod:
    """One Optuna study in memory; each training job is one trial, its epochs the trial's steps."""

    def __init__(
        self,
        name: str,
        task: Task,
        seed: int,
        sampler: Callable[[int], optuna.samplers.BaseSampler],
        pruner: Callable[[Task], optuna.pruners.BasePruner],
        torch_rng: bool = False,
    ) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        self.name = name
        self._task = task
        self._rng = _PrivateGlobalRng(seed, torch_rng)
        self._distributions = optuna_distributions(task.space)
        with self._rng.active():
            # A fixed study name: HyperbandPruner assigns brackets by crc32(study name, trial number),
            # and the default name is a random uuid.
            self._study = optuna.create_study(
                study_name=f"bench-{task.name}-{seed}",
                sampler=sampler(seed),
                pruner=pruner(task),
                direction="maximize" if task.maximize else "minimize",
            )
        self._trials: dict[str, optuna.trial.Trial] = {}
        self._told: set[str] = set()
        # Without a pruner intermediate values change nothing Optuna decides, and storing each one
        # copies the trial (quadratic in the steps: minutes per run at 150 boosting rounds).
        self._reports = not isinstance(self._study.pruner, optuna.pruners.NopPruner)

    def ask(self, now: float) -> Start | None:
        with self._rng.active():
            trial = self._study.ask(self._distributions)
        trial_id = f"optuna-{trial.number}"
        self._trials[trial_id] = trial
        return Start(trial_id, _from_peer(self._task.space, trial.params, reverse_log_done_by_peer=False))

    def report(self, trial_id: str, epoch: int, value: float, now: float) -> bool:
        from optuna.trial import TrialState

        if not self._reports:
            return True
        trial = self._trials[trial_id]
        with self._rng.active():
            trial.report(value, epoch)
            if not trial.should_prune():
                return True
            self._study.tell(trial, state=TrialState.PRUNED)
        self._told.add(trial_id)
        return False

    def finish(self, trial_id: str, last_value: float | None, stopped: bool, now: float) -> None:
        from optuna.trial import TrialState

        trial = self._trials.pop(trial_id)
        if trial_id in self._told:
            self._told.discard(trial_id)
            return
        with self._rng.active():
            if _bad(last_value):
                self._study.tell(trial, state=TrialState.FAIL)
            else:
                self._study.tell(trial, last_value)


def _tpe(seed: int) -> optuna.samplers.BaseSampler:
    import optuna

    return optuna.samplers.TPESampler(seed=seed)


def _gp(seed: int) -> optuna.samplers.BaseSampler:
    import optuna

    return optuna.samplers.GPSampler(seed=seed)


def _hyperband(task: Task) -> optuna.pruners.BasePruner:
    import optuna

    return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=task.max_resource, reduction_factor=3)


def _median(task: Task) -> optuna.pruners.BasePruner:
    import optuna

    # Optuna's defaults: n_startup_trials=5, n_warmup_steps=0, interval_steps=1, n_min_trials=1.
    return optuna.pruners.MedianPruner()


def _no_pruner(task: Task) -> optuna.pruners.BasePruner:
    import optuna

    return optuna.pruners.NopPruner()


def optuna_method(
    name: str,
    sampler: Callable[[int], optuna.samplers.BaseSampler],
    pruner: Callable[[Task], optuna.pruners.BasePruner],
    torch_rng: bool = False,
) -> MethodFactory:
    def make(task: Task, seed: int, workers: int) -> OptunaMethod:
        return OptunaMethod(name, task, seed, sampler, pruner, torch_rng)

    return make


# ------------------------------------------------------------------------------------ Syne Tune


def syne_tune_config_space(space: SearchSpace) -> dict[str, Any]:
    from syne_tune.config_space import choice, lograndint, loguniform, randint, reverseloguniform, uniform

    config: dict[str, Any] = {}
    for p in space.params:
        if isinstance(p, CategoricalParam):
            config[p.name] = choice(list(p.choices))
        elif isinstance(p, IntegerParam):
            config[p.name] = (lograndint if p.scaling == "Logarithmic" else randint)(p.low, p.high)
        elif p.scaling == "Logarithmic":
            config[p.name] = loguniform(p.low, p.high)
        elif p.scaling == "ReverseLogarithmic":
            config[p.name] = reverseloguniform(p.low, p.high)
        else:
            config[p.name] = uniform(p.low, p.high)
    return config


class SyneTuneMethod:
    """One Syne Tune scheduler, called the way its Tuner calls it: `suggest` then `on_trial_add`
    for a new trial, `on_trial_result` after every epoch (STOP or PAUSE -> `on_trial_remove` and
    the job stops), `on_trial_complete` with the last result when a job ends by itself. A STOP at
    the last epoch (ASHA says STOP at max_t) ends a job that was ending anyway: not a stop."""

    def __init__(
        self,
        name: str,
        task: Task,
        seed: int,
        scheduler: Callable[[dict[str, Any], Task, int], Any],
        torch_rng: bool = False,
    ) -> None:
        # Its baselines warn on every construction (e.g. about points_to_evaluate=None) and its
        # searchers on every model that fails to fit; the bench reads outcomes, not logs.
        logging.getLogger("syne_tune").setLevel(logging.ERROR)
        self.name = name
        self._task = task
        self._rng = _PrivateGlobalRng(seed, torch_rng)
        with self._rng.active():
            self._scheduler = scheduler(syne_tune_config_space(task.space), task, seed)
        self._trials: dict[str, Any] = {}  # our trial id -> syne_tune Trial
        self._last: dict[str, dict[str, Any]] = {}
        self._removed: set[str] = set()

    def ask(self, now: float) -> Start | None:
        from syne_tune.backend.trial_status import Trial

        with self._rng.active():
            suggestion = self._scheduler.suggest()
        if suggestion is None:
            return None
        if not suggestion.spawn_new_trial_id or suggestion.checkpoint_trial_id is not None:
            raise NotImplementedError(f"{self.name}: resuming or warm-starting trials is not mapped")
        number = len(self._trials)  # Syne Tune's searchers expect trial ids 0, 1, 2, ... in order
        trial = Trial(trial_id=number, config=suggestion.config, creation_time=EPOCH + timedelta(seconds=now))
        with self._rng.active():
            self._scheduler.on_trial_add(trial)
        trial_id = f"synetune-{number}"
        self._trials[trial_id] = trial
        return Start(trial_id, _from_peer(self._task.space, suggestion.config, reverse_log_done_by_peer=True))

    def report(self, trial_id: str, epoch: int, value: float, now: float) -> bool:
        from syne_tune.optimizer.scheduler import SchedulerDecision

        trial = self._trials[trial_id]
        result = {METRIC: value, RESOURCE: epoch}
        self._last[trial_id] = result
        with self._rng.active():
            decision = self._scheduler.on_trial_result(trial, result)
            if decision == SchedulerDecision.CONTINUE:
                return True
            self._scheduler.on_trial_remove(trial)
        self._removed.add(trial_id)
        return epoch >= self._task.max_resource

    def finish(self, trial_id: str, last_value: float | None, stopped: bool, now: float) -> None:
        trial = self._trials[trial_id]
        last = self._last.pop(trial_id, None)
        if trial_id in self._removed:
            self._removed.discard(trial_id)
            return
        with self._rng.active():
            if last is None:
                self._scheduler.on_trial_error(trial)
            else:
                self._scheduler.on_trial_complete(trial, last)


def _do_minimize(task: Task) -> bool:
    return not task.maximize


def _successive_halving(task: Task, seed: int) -> dict[str, Any]:
    """The arguments every Syne Tune successive-halving scheduler here gets: rungs from 1 epoch up to
    the task's resource with reduction factor 3, as tunestream's Hyperband and Optuna's pruner."""
    return {
        "metric": METRIC,
        "time_attr": RESOURCE,
        "max_t": task.max_resource,
        "do_minimize": _do_minimize(task),
        "random_seed": seed,
        "grace_period": 1,
        "reduction_factor": 3,
    }


def _st_asha(config: dict[str, Any], task: Task, seed: int) -> Any:
    from syne_tune.optimizer.baselines import ASHA

    return ASHA(config, **_successive_halving(task, seed))


def _st_hyperband(config: dict[str, Any], task: Task, seed: int) -> Any:
    """Syne Tune's asynchronous Hyperband: ASHA with a bracket for each grace period 1, 3, 9, ... up to
    max_t (floor(log3 max_t) + 1 brackets); ASHA draws each trial's bracket (more rungs, likelier)."""
    from syne_tune.optimizer.baselines import ASHA

    brackets = 1
    while 3**brackets <= task.max_resource:
        brackets += 1
    return ASHA(config, **_successive_halving(task, seed), brackets=brackets)


def _st_bohb(config: dict[str, Any], task: Task, seed: int) -> Any:
    from syne_tune.optimizer.baselines import BOHB

    return BOHB(config, **_successive_halving(task, seed))


def _st_asha_bore(config: dict[str, Any], task: Task, seed: int) -> Any:
    from syne_tune.optimizer.baselines import ASHABORE

    return ASHABORE(config, **_successive_halving(task, seed))


def _st_median(config: dict[str, Any], task: Task, seed: int) -> Any:
    from syne_tune.optimizer.baselines import RandomSearch as SyneTuneRandom
    from syne_tune.optimizer.schedulers.median_stopping_rule import MedianStoppingRule

    inner = SyneTuneRandom(config, metrics=[METRIC], do_minimize=_do_minimize(task), random_seed=seed)
    # Its defaults otherwise: running_average=True, grace_time=1, grace_population=5, rank_cutoff=0.5.
    return MedianStoppingRule(
        inner, time_attr=RESOURCE, metric=METRIC, random_seed=seed, do_minimize=_do_minimize(task)
    )


def _st_random(config: dict[str, Any], task: Task, seed: int) -> Any:
    from syne_tune.optimizer.baselines import RandomSearch as SyneTuneRandom

    return SyneTuneRandom(config, metrics=[METRIC], do_minimize=_do_minimize(task), random_seed=seed)


def _st_bore(config: dict[str, Any], task: Task, seed: int) -> Any:
    from syne_tune.optimizer.baselines import BORE

    return BORE(config, metric=METRIC, do_minimize=_do_minimize(task), random_seed=seed)


def _st_tpe(config: dict[str, Any], task: Task, seed: int) -> Any:
    from syne_tune.optimizer.baselines import TPE

    return TPE(config, metric=METRIC, do_minimize=_do_minimize(task), random_seed=seed)


def _st_rea(config: dict[str, Any], task: Task, seed: int) -> Any:
    from syne_tune.optimizer.baselines import REA

    return REA(config, metric=METRIC, do_minimize=_do_minimize(task), random_seed=seed)


def syne_tune_method(
    name: str, scheduler: Callable[[dict[str, Any], Task, int], Any], torch_rng: bool = False
) -> MethodFactory:
    def make(task: Task, seed: int, workers: int) -> SyneTuneMethod:
        return SyneTuneMethod(name, task, seed, scheduler, torch_rng)

    return make


# ----------------------------------------------------------------------------------------- DEHB

_dehb_dir: tempfile.TemporaryDirectory[str] | None = None


def _dehb_output_dir() -> str:
    """A fresh folder for one DEHB instance's log file, under one temporary folder removed at exit."""
    global _dehb_dir
    if _dehb_dir is None:
        _dehb_dir = tempfile.TemporaryDirectory(prefix="tunestream-bench-dehb-")
    return tempfile.mkdtemp(dir=_dehb_dir.name)


def dehb_config_space(space: SearchSpace, seed: int) -> Any:
    from ConfigSpace import (
        CategoricalHyperparameter,
        ConfigurationSpace,
        UniformFloatHyperparameter,
        UniformIntegerHyperparameter,
    )

    cs = ConfigurationSpace(seed=seed)
    for p in space.params:
        if isinstance(p, CategoricalParam):
            cs.add(CategoricalHyperparameter(p.name, list(p.choices)))
        elif isinstance(p, IntegerParam):
            cs.add(UniformIntegerHyperparameter(p.name, p.low, p.high, log=p.scaling == "Logarithmic"))
        elif p.scaling == "ReverseLogarithmic":
            cs.add(UniformFloatHyperparameter(p.name, 1.0 - p.high, 1.0 - p.low, log=True))
        else:
            cs.add(UniformFloatHyperparameter(p.name, p.low, p.high, log=p.scaling == "Logarithmic"))
    return cs


class DEHBMethod:
    """DEHB through ask/tell. Each ask is a training job from scratch for round(fidelity) epochs
    (DEHB retrains at every fidelity: it never continues a lower-fidelity run). It is told the
    last objective (negated when maximizing: DEHB minimises) and the job's simulated seconds.

    `n_workers` is 1 whatever W is: in DEHB 0.1.2 it only sizes the Dask cluster `run()` uses
    (n_workers > 1 starts that many worker processes in the constructor); `ask()` never waits (it
    opens a new bracket when every active one waits for results), so the simulator's W workers
    alone bound how many of its jobs run at once, as they would under DEHB's own `run()`.
    Its files (a log; no state: save_freq="end" saves only at the end of `run()`, never called)
    go to a temporary folder."""

    def __init__(self, name: str, task: Task, seed: int, workers: int) -> None:
        from dehb import DEHB

        self.name = name
        self._task = task
        self._sign = -1.0 if task.maximize else 1.0
        self._rng = _PrivateGlobalRng(seed, torch_too=False)
        with self._rng.active():
            cs = dehb_config_space(task.space, seed % 2**32)
            self._dehb = DEHB(
                cs=cs,
                dimensions=len(task.space.params),
                min_fidelity=1,
                max_fidelity=task.max_resource,
                eta=3,
                n_workers=1,
                seed=seed % 2**32,
                output_path=_dehb_output_dir(),
                save_freq="end",
                log_level="ERROR",
            )
        self._jobs: dict[str, tuple[dict[str, Any], float]] = {}  # trial id -> (job_info, start time)

    def ask(self, now: float) -> Start | None:
        with self._rng.active():
            job = self._dehb.ask()
        trial_id = f"dehb-{len(self._jobs)}"
        self._jobs[trial_id] = (job, now)
        values = _from_peer(self._task.space, dict(job["config"]), reverse_log_done_by_peer=False)
        return Start(trial_id, values, epochs=max(1, round(float(job["fidelity"]))))

    def report(self, trial_id: str, epoch: int, value: float, now: float) -> bool:
        return True

    def finish(self, trial_id: str, last_value: float | None, stopped: bool, now: float) -> None:
        job, started = self._jobs[trial_id]
        fitness = math.inf if last_value is None or math.isnan(last_value) else self._sign * last_value
        with self._rng.active():
            self._dehb.tell(job, {"fitness": fitness, "cost": now - started})


def _dehb(task: Task, seed: int, workers: int) -> DEHBMethod:
    return DEHBMethod("DEHB", task, seed, workers)


# ------------------------------------------------------------------------ one epoch, then top k


class OneEpochTopK:
    """Egele et al. (arXiv 2307.15422): train configurations for one epoch, keep the top k, train
    those fully. Made anytime by repeating rounds until the horizon: round r is draws r*N .. r*N+N-1
    of tunestream's RandomSearch, each trained for 1 epoch (Start(epochs=1)); once all N of a round
    have ended, its top k continue from their checkpoint to the full resource (Start(resume=...)).
    Continuations go first whenever one is due; otherwise the next draw starts (the next round's,
    if this round's draws are all out), so no worker waits for a round to end.

    N=20, k=2 by default: a round costs about 20 + 2 * (R - 1) epochs for R epochs a full job, e.g.
    36 epochs (four full trainings) at R = 9, about one Hyperband bracket's budget; keeping 10% after
    one epoch is as selective as two rungs of successive halving at eta = 3 (1/9); and k = 2, not 1,
    hedges against one rank swap after the first epoch (dominant curves cross rarely, the paper's
    observation, but not never)."""

    def __init__(self, task: Task, seed: int, workers: int, n: int = 20, k: int = 2) -> None:
        self.name = f"One epoch, top {k} of {n}"
        self._task = task
        self._n = n
        self._k = k
        self._random = RandomSearch(task.space, seed, max_jobs=1_000_000)
        self._draws = 0
        self._values: dict[str, Values] = {}
        self._round_results: dict[int, list[tuple[int, str, float | None]]] = {}
        self._due: deque[str] = deque()  # 1-epoch trials to continue to the full resource

    def ask(self, now: float) -> Start | None:
        if self._due:
            first = self._due.popleft()
            return Start(f"{first}-full", self._values[first], resume=first)
        index = self._draws
        self._draws += 1
        trial_id = f"1ep-{index}"
        self._values[trial_id] = self._random.propose(index, []).values
        return Start(trial_id, self._values[trial_id], epochs=1)

    def report(self, trial_id: str, epoch: int, value: float, now: float) -> bool:
        return True

    def finish(self, trial_id: str, last_value: float | None, stopped: bool, now: float) -> None:
        if trial_id.endswith("-full") or self._task.max_resource <= 1:
            return
        index = int(trial_id.removeprefix("1ep-"))
        results = self._round_results.setdefault(index // self._n, [])
        results.append((index, trial_id, last_value))
        if len(results) < self._n:
            return
        del self._round_results[index // self._n]
        sign = -1.0 if self._task.maximize else 1.0

        def rank(item: tuple[int, str, float | None]) -> tuple[bool, float, int]:
            i, _, value = item
            return (_bad(value), 0.0 if value is None or math.isnan(value) else sign * value, i)

        self._due.extend(trial for _, trial, _ in sorted(results, key=rank)[: self._k])


def _one_epoch(task: Task, seed: int, workers: int) -> OneEpochTopK:
    return OneEpochTopK(task, seed, workers)


PEERS: dict[str, MethodFactory] = {
    "Optuna TPE": optuna_method("Optuna TPE", _tpe, _no_pruner),
    "Optuna GP": optuna_method("Optuna GP", _gp, _no_pruner, torch_rng=True),
    "Optuna TPE + Hyperband": optuna_method("Optuna TPE + Hyperband", _tpe, _hyperband),
    "Optuna TPE + Median": optuna_method("Optuna TPE + Median", _tpe, _median),
    "Optuna GP + Hyperband": optuna_method("Optuna GP + Hyperband", _gp, _hyperband),
    "Optuna GP + Median": optuna_method("Optuna GP + Median", _gp, _median),
    "Syne Tune ASHA": syne_tune_method("Syne Tune ASHA", _st_asha),
    "Syne Tune async Hyperband": syne_tune_method("Syne Tune async Hyperband", _st_hyperband),
    "Syne Tune BOHB": syne_tune_method("Syne Tune BOHB", _st_bohb),
    "Syne Tune ASHA-BORE": syne_tune_method("Syne Tune ASHA-BORE", _st_asha_bore),
    "Syne Tune Median": syne_tune_method("Syne Tune Median", _st_median),
    "Syne Tune Random": syne_tune_method("Syne Tune Random", _st_random),
    "Syne Tune BORE": syne_tune_method("Syne Tune BORE", _st_bore),
    "Syne Tune TPE": syne_tune_method("Syne Tune TPE", _st_tpe),
    "Syne Tune REA": syne_tune_method("Syne Tune REA", _st_rea),
    "DEHB": _dehb,
    "One epoch, top 2 of 20": _one_epoch,
}

# The peers that train some jobs for less than the full resource (stop them, or start them short).
MULTI_FIDELITY: frozenset[str] = frozenset(
    {
        "Optuna TPE + Hyperband",
        "Optuna TPE + Median",
        "Optuna GP + Hyperband",
        "Optuna GP + Median",
        "Syne Tune ASHA",
        "Syne Tune async Hyperband",
        "Syne Tune BOHB",
        "Syne Tune ASHA-BORE",
        "Syne Tune Median",
        "DEHB",
        "One epoch, top 2 of 20",
    }
)
