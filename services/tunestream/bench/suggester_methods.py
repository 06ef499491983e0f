"""tunestream's own strategies on the bench, decided by the suggester's own code.

Each simulated tuning job is a `TuningJobState` built from a real CreateHyperParameterTuningJob
request (the shapes a user writes), fed what the live suggester would be fed (proposals it made,
every objective value as MetricReported, each end as ObjectiveCollected) and asked for its
decisions the same way (`decide` for proposals, `on_objective` for early stops). Nothing of a
strategy is re-implemented here.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from tunestream.bench.methods import MethodFactory, Start, Task
from tunestream.definitions import CreateTuningJobRequest
from tunestream.events.v1 import ObjectiveCollectedData, TrainingJobProposed, TrainingJobStopRequested, TuningJobEnded
from tunestream.space import CategoricalParam, ContinuousParam, SearchSpace
from tunestream.strategies.base import propose_ahead
from tunestream.suggester.state import TuningJobState
from tunestream.trials import ObjectiveStatus, Proposal, TrainingJobStatus

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
# The bench's cap for every method (runner.MAX_JOBS): the simulator enforces it.
MAX_TRAINING_JOBS = 1000


def parameter_ranges(space: SearchSpace) -> dict[str, list[dict[str, Any]]]:
    ranges: dict[str, list[dict[str, Any]]] = {
        "IntegerParameterRanges": [],
        "ContinuousParameterRanges": [],
        "CategoricalParameterRanges": [],
    }
    for p in space.params:
        if isinstance(p, CategoricalParam):
            ranges["CategoricalParameterRanges"].append({"Name": p.name, "Values": list(p.choices)})
        else:
            key = "ContinuousParameterRanges" if isinstance(p, ContinuousParam) else "IntegerParameterRanges"
            ranges[key].append(
                {"Name": p.name, "MinValue": str(p.low), "MaxValue": str(p.high), "ScalingType": p.scaling}
            )
    return ranges


def tuning_request(
    task: Task, seed: int, workers: int, strategy: str, *, checkpoints: bool = False, **config: Any
) -> CreateTuningJobRequest:
    """The request a user would write for this task; `config` adds or overrides config members.
    `checkpoints`: the program checkpoints (CheckpointConfig), so training jobs can pause and resume."""
    job_config: dict[str, Any] = {
        "Strategy": strategy,
        "RandomSeed": seed,
        "HyperParameterTuningJobObjective": {
            "Type": "Maximize" if task.maximize else "Minimize",
            "MetricName": task.metric,
        },
        "ResourceLimits": {"MaxNumberOfTrainingJobs": MAX_TRAINING_JOBS, "MaxParallelTrainingJobs": workers},
        "ParameterRanges": parameter_ranges(task.space),
        **config,
    }
    return CreateTuningJobRequest.model_validate(
        {
            "HyperParameterTuningJobName": f"bench-{task.name}-{seed}",
            "HyperParameterTuningJobConfig": job_config,
            "TrainingJobDefinition": {
                "StaticHyperParameters": {"epochs": str(task.max_resource)},
                "AlgorithmSpecification": {
                    "Command": ["bench"],
                    "MetricDefinitions": [{"Name": task.metric, "Regex": "objective=([0-9.eE+-]+)"}],
                },
                "OutputDataConfig": {"S3OutputPath": "s3://bench/output"},
                "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
                **({"CheckpointConfig": {"S3Uri": "s3://bench/checkpoints"}} if checkpoints else {}),
            },
        }
    )


class SuggesterMethod:
    """One simulated tuning job run by the suggester's TuningJobState."""

    def __init__(
        self, name: str, request: CreateTuningJobRequest, seed: int, *, ahead: bool = True, blocking: bool = False
    ) -> None:
        self.name = name
        self._state = TuningJobState.create(request, seed, EPOCH)
        self._state.proposes_ahead = self._state.proposes_ahead and ahead
        self._queue: list[TrainingJobProposed] = []
        self._ended = False
        self._ahead: tuple[int, list[Any]] | None = None
        self.proposed_ahead = 0  # proposals emitted as computed ahead
        # As the suggester: a slot that frees before the proposal computed ahead is ready is filled
        # without it (TuningJobState.decide's model_busy), unless `blocking` (it then waits, as
        # before ProposesWhileBusy). The simulator times the computation (ahead_ready_at) where it
        # charges decision time; otherwise a computation is ready at once.
        self.proposes_while_busy = self._state.proposes_while_busy and not blocking
        self.ahead_ready_at = -math.inf
        self._computed: tuple[int, Proposal] | None = None
        self.model_busy = 0  # proposals made while the model's was being computed

    def _at(self, now: float) -> datetime:
        return EPOCH + timedelta(seconds=now)

    def ask(self, now: float) -> Start | None:
        if not self._queue and not self._ended:
            self.think(now)  # as the handler does: a proposal computed ahead lands before decide
            busy = self._computed is not None and self.ahead_ready_at > now
            if self._computed is not None and not busy:
                self._state.land_ahead(*self._computed)
                self._computed = None
            for event in self._state.decide(self._at(now), model_busy=busy):
                if isinstance(event, TrainingJobProposed):
                    self._queue.append(event)
                    self.proposed_ahead += bool(event.payload.details.get("proposed_ahead"))
                    self.model_busy += bool(event.payload.details.get("model_busy"))
                elif isinstance(event, TuningJobEnded):
                    self._ended = True
            request = self._state.ahead_request()
            self._ahead = None if busy else request
        if not self._queue:
            return None
        spec = self._queue.pop(0).payload.spec
        return Start(
            spec.training_job_name,
            self._state.space.parse(spec.tuned_hyperparameters),
            epochs=spec.resource_limit,
            resume=spec.resume_from,
        )

    def think(self, now: float) -> None:
        """Compute the proposal `decide` asked to have ready (the suggester's work between events:
        the simulator charges its time to the suggester, not to the job that was just started)."""
        if self._ahead is not None:
            index, history = self._ahead
            self._ahead = None
            prepared = propose_ahead(self._state.strategy, index, history)
            if prepared is None:
                return
            if self.proposes_while_busy:
                self._computed = (index, prepared)  # lands at the first ask at or after ahead_ready_at
            else:
                self._state.ahead[index] = prepared

    def report(self, trial_id: str, epoch: int, value: float, now: float) -> bool:
        if not self._state.add_metric(trial_id, epoch, value, self._at(now)):
            return True
        return not any(
            isinstance(e, TrainingJobStopRequested) and e.payload.training_job_name == trial_id
            for e in self._state.on_objective(trial_id)
        )

    def finish(self, trial_id: str, last_value: float | None, stopped: bool, now: float) -> None:
        self._state.add_result(
            ObjectiveCollectedData(
                training_job_name=trial_id,
                status=TrainingJobStatus.STOPPED if stopped else TrainingJobStatus.COMPLETED,
                failure_reason=None,
                objective_value=last_value,
                objective_status=ObjectiveStatus.SUCCEEDED if last_value is not None else ObjectiveStatus.FAILED,
                objective_reason=None,
            ),
            self._at(now),
        )


def suggester(name: str, strategy: str, *, ahead: bool = True, **config: Any) -> MethodFactory:
    def make(task: Task, seed: int, workers: int) -> SuggesterMethod:
        return SuggesterMethod(name, tuning_request(task, seed, workers, strategy, **config), seed, ahead=ahead)

    return make


def hyperband_config(task: Task) -> dict[str, Any]:
    return {"StrategyConfig": {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": task.max_resource}}}


def _hyperband(task: Task, seed: int, workers: int) -> SuggesterMethod:
    request = tuning_request(task, seed, workers, "Hyperband", **hyperband_config(task))
    return SuggesterMethod("tunestream Hyperband", request, seed)


def _promotion_hyperband(task: Task, seed: int, workers: int) -> SuggesterMethod:
    config = hyperband_config(task)
    # Random proposals (the default until the model's were measured with a start cost and proposed
    # ahead), ranked by value, pausing at the rungs only (the default until the new best's pause was
    # measured with the model's proposals).
    config["StrategyConfig"]["HyperbandStrategyConfig"].update(
        Promotion="Enabled", Proposals="Random", Ranking="Value", PauseAtNewBest="Disabled"
    )
    request = tuning_request(task, seed, workers, "Hyperband", checkpoints=True, **config)
    return SuggesterMethod("tunestream Hyperband (promotion)", request, seed)


def _promotion_model(
    name: str,
    *,
    ahead: bool,
    blocking: bool = False,
    proposals: str = "Model",
    pausing: str = "EveryRung",
    ranking: str = "Value",
    at_new_best: str = "Disabled",
) -> MethodFactory:
    def make(task: Task, seed: int, workers: int) -> SuggesterMethod:
        config = hyperband_config(task)
        config["StrategyConfig"]["HyperbandStrategyConfig"].update(
            Promotion="Enabled", Proposals=proposals, Pausing=pausing, Ranking=ranking, PauseAtNewBest=at_new_best
        )
        request = tuning_request(task, seed, workers, "Hyperband", checkpoints=True, **config)
        return SuggesterMethod(name, request, seed, ahead=ahead, blocking=blocking)

    return make


# The budget cost-aware Bayesian cools its cost weight over: a user's MaxNumberOfTrainingJobs, here
# the horizon of the bench's best-after-N-jobs figures (search_bench --max-jobs 40).
COST_AWARE_JOBS = 40
# Bayesian as it was before cost awareness became its default, and the ablations measured then.
PLAIN: dict[str, Any] = {"StrategyConfig": {"BayesianStrategyConfig": {"CostAware": "Disabled"}}}


def _bayesian(task: Task, seed: int, workers: int) -> SuggesterMethod:
    """What a user gets by asking for Bayesian: cost-aware, cooled over a budget of COST_AWARE_JOBS."""
    request = tuning_request(
        task,
        seed,
        workers,
        "Bayesian",
        ResourceLimits={"MaxNumberOfTrainingJobs": COST_AWARE_JOBS, "MaxParallelTrainingJobs": workers},
    )
    return SuggesterMethod("tunestream Bayesian", request, seed)


METHODS: dict[str, MethodFactory] = {
    "tunestream Random": suggester("tunestream Random", "Random"),
    "tunestream Random + Auto": suggester("tunestream Random + Auto", "Random", TrainingJobEarlyStoppingType="Auto"),
    "tunestream Hyperband": _hyperband,
    "tunestream Hyperband (promotion)": _promotion_hyperband,
    "tunestream Hyperband (promotion, model)": _promotion_model("tunestream Hyperband (promotion, model)", ahead=True),
    # The model's proposals as before ProposesWhileBusy: a freed slot waits for the one computed ahead.
    "tunestream Hyperband (promotion, model, blocking)": _promotion_model(
        "tunestream Hyperband (promotion, model, blocking)", ahead=True, blocking=True
    ),
    # Fitting when a slot frees, as before it proposed ahead (with measured decision time: the wait).
    "tunestream Hyperband (promotion, model, no ahead)": _promotion_model(
        "tunestream Hyperband (promotion, model, no ahead)", ahead=False
    ),
    # A training job ahead at a rung goes on past it without a pause (Pausing "WhenBehind").
    "tunestream Hyperband (promotion, continuing)": _promotion_model(
        "tunestream Hyperband (promotion, continuing)", ahead=True, proposals="Random", pausing="WhenBehind"
    ),
    "tunestream Hyperband (promotion, model, continuing)": _promotion_model(
        "tunestream Hyperband (promotion, model, continuing)", ahead=True, pausing="WhenBehind"
    ),
    # A rung ranked by the value each configuration is predicted to have at the next rung (Ranking "Trend").
    "tunestream Hyperband (promotion, trend)": _promotion_model(
        "tunestream Hyperband (promotion, trend)", ahead=True, proposals="Random", ranking="Trend"
    ),
    "tunestream Hyperband (promotion, continuing, trend)": _promotion_model(
        "tunestream Hyperband (promotion, continuing, trend)",
        ahead=True,
        proposals="Random",
        pausing="WhenBehind",
        ranking="Trend",
    ),
    "tunestream Hyperband (promotion, model, trend)": _promotion_model(
        "tunestream Hyperband (promotion, model, trend)", ahead=True, ranking="Trend"
    ),
    # A training job between rungs that beats every ended one pauses there (PauseAtNewBest).
    "tunestream Hyperband (promotion, new best)": _promotion_model(
        "tunestream Hyperband (promotion, new best)", ahead=True, proposals="Random", at_new_best="Enabled"
    ),
    "tunestream Hyperband (promotion, model, new best)": _promotion_model(
        "tunestream Hyperband (promotion, model, new best)", ahead=True, at_new_best="Enabled"
    ),
    "tunestream Hyperband (promotion, trend, new best)": _promotion_model(
        "tunestream Hyperband (promotion, trend, new best)",
        ahead=True,
        proposals="Random",
        ranking="Trend",
        at_new_best="Enabled",
    ),
    "tunestream Bayesian": _bayesian,
    "tunestream Bayesian (plain)": suggester("tunestream Bayesian (plain)", "Bayesian", **PLAIN),
    # Plain Bayesian proposing only when a slot is free (as before it proposed ahead): what the
    # fresher information is worth, and (with measured decision time) what the waiting costs.
    "tunestream Bayesian (no ahead)": suggester("tunestream Bayesian (no ahead)", "Bayesian", ahead=False, **PLAIN),
    "tunestream Bayesian + Auto": suggester(
        "tunestream Bayesian + Auto", "Bayesian", TrainingJobEarlyStoppingType="Auto", **PLAIN
    ),
}
