"""The suggester's view of each tuning job, rebuilt from events, and the decisions it owes.

`TuningJobState.decide` is pure: given the facts gathered so far it returns the events that must
exist next (proposals to fill free slots, stop requests, the end of the tuning job). Facts are
keyed by name, so replaying or duplicating events leaves the state unchanged, and outputs carry
deterministic ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tunestream.definitions import CreateTuningJobRequest
from tunestream.events.v1 import (
    EventBase,
    InputChannel,
    ObjectiveCollectedData,
    TrainingJobProposed,
    TrainingJobProposedData,
    TrainingJobSpec,
    TrainingJobStopRequested,
    TrainingJobStopRequestedData,
    TuningJobEnded,
    TuningJobEndedData,
)
from tunestream.naming import training_job_name
from tunestream.space import SearchSpace
from tunestream.strategies import SearchStrategy, make_strategy
from tunestream.trials import ObjectiveStatus, TrainingJobRecord, TrainingJobStatus
from tunestream.validation import validate_request


@dataclass
class TuningJobState:
    request: CreateTuningJobRequest
    seed: int
    created_at: datetime
    space: SearchSpace
    strategy: SearchStrategy
    proposals: dict[int, TrainingJobSpec] = field(default_factory=dict)
    results: dict[str, ObjectiveCollectedData] = field(default_factory=dict)
    stop_requested: str | None = None
    out_of_time: str | None = None
    stops_sent: set[str] = field(default_factory=set)
    ended: bool = False

    @classmethod
    def create(cls, request: CreateTuningJobRequest, seed: int, created_at: datetime) -> TuningJobState:
        space = validate_request(request)
        strategy = make_strategy(request.HyperParameterTuningJobConfig, space, seed)
        return cls(request=request, seed=seed, created_at=created_at, space=space, strategy=strategy)

    @property
    def name(self) -> str:
        return self.request.HyperParameterTuningJobName

    def running(self) -> list[str]:
        return [s.training_job_name for s in self.proposals.values() if s.training_job_name not in self.results]

    def history(self) -> list[TrainingJobRecord]:
        records = []
        for index, spec in sorted(self.proposals.items()):
            result = self.results.get(spec.training_job_name)
            records.append(
                TrainingJobRecord(
                    index=index,
                    name=spec.training_job_name,
                    values=dict(spec.tuned_hyperparameters),
                    status=result.status if result else TrainingJobStatus.IN_PROGRESS,
                    objective=result.objective_value if result else None,
                )
            )
        return records

    def decide(self, now: datetime) -> list[EventBase]:
        """Events owed now. `now` only matters for ResourceLimits.MaxRuntimeInSeconds."""
        if self.ended:
            return []
        limit_s = self.request.HyperParameterTuningJobConfig.ResourceLimits.MaxRuntimeInSeconds
        if self.out_of_time is None and limit_s is not None and now - self.created_at >= timedelta(seconds=limit_s):
            self.out_of_time = f"ResourceLimits.MaxRuntimeInSeconds ({limit_s} s) reached"
        if self.stop_requested is not None or self.out_of_time is not None:
            return self._wind_down()
        outputs: list[EventBase] = []
        limit = self.strategy.max_training_jobs()
        parallel = self.request.HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs
        free = parallel - len(self.running())
        while free > 0 and len(self.proposals) < limit:
            index = len(self.proposals)
            event = self._propose(index)
            self.proposals[index] = event.payload.spec
            outputs.append(event)
            free -= 1
        if len(self.proposals) >= limit and not self.running():
            outputs.append(self._end(*self._outcome(limit)))
        return outputs

    def _outcome(self, limit: int) -> tuple[str, str]:
        results = list(self.results.values())
        if results and all(r.status == TrainingJobStatus.FAILED for r in results):
            return "Failed", f"all {len(results)} training jobs failed"
        succeeded = sum(1 for r in results if r.objective_status == ObjectiveStatus.SUCCEEDED)
        return (
            "Completed",
            f"MaxNumberOfTrainingJobs reached: {limit} training jobs ran, {succeeded} reported the objective",
        )

    def _wind_down(self) -> list[EventBase]:
        """Stop every running training job; end once none runs. A user's stop ends the tuning job as
        Stopped; the time budget running out ends it as Completed, like the job-count budget."""
        reason = self.stop_requested or self.out_of_time or ""
        outputs: list[EventBase] = []
        for name in self.running():
            if name not in self.stops_sent:
                self.stops_sent.add(name)
                outputs.append(
                    TrainingJobStopRequested(
                        event_id=f"{name}:stop-requested",
                        tuning_job_name=self.name,
                        payload=TrainingJobStopRequestedData(training_job_name=name, reason=reason),
                    )
                )
        if not self.running():
            outputs.append(self._end("Stopped" if self.stop_requested else "Completed", reason))
        return outputs

    def _end(self, status: str, reason: str) -> TuningJobEnded:
        self.ended = True
        return TuningJobEnded(
            event_id=f"{self.name}:ended",
            tuning_job_name=self.name,
            payload=TuningJobEndedData(status=status, reason=reason),  # type: ignore[arg-type]
        )

    def _propose(self, index: int) -> TrainingJobProposed:
        proposal = self.strategy.propose(index, self.history())
        definition = self.request.TrainingJobDefinition
        config = self.request.HyperParameterTuningJobConfig
        assert definition is not None and config.HyperParameterTuningJobObjective is not None
        tuned = self.space.format(proposal.values)
        name = training_job_name(self.name, index)
        algo = definition.AlgorithmSpecification
        spec = TrainingJobSpec(
            training_job_name=name,
            index=index,
            tuned_hyperparameters=tuned,
            hyperparameters={**definition.StaticHyperParameters, **tuned},
            command=list(algo.Command or []),
            environment=dict(definition.Environment),
            input_channels=[
                InputChannel(name=c.ChannelName, s3_uri=c.DataSource.S3DataSource.S3Uri)
                for c in definition.InputDataConfig
            ],
            output_s3_path=definition.OutputDataConfig.S3OutputPath,
            max_runtime_s=definition.StoppingCondition.MaxRuntimeInSeconds,
            metric_definitions=list(algo.MetricDefinitions),
            objective_metric_name=config.HyperParameterTuningJobObjective.MetricName,
            objective_type=config.HyperParameterTuningJobObjective.Type,
            instance_count=definition.ResourceConfig.InstanceCount,
        )
        return TrainingJobProposed(
            event_id=f"{name}:proposed",
            tuning_job_name=self.name,
            payload=TrainingJobProposedData(spec=spec, reason=proposal.reason),
        )
