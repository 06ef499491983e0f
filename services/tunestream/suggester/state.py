"""The suggester's view of each tuning job, rebuilt from events, and the decisions it owes.

`TuningJobState.decide` is pure but for `now`: given the facts gathered so far it returns the events
that must exist next (proposals to fill free slots, stop requests, the end of the tuning job).
`on_objective` asks the early stopper about a running training job's newest objective value.
Facts are keyed by name, so replaying or duplicating events leaves the state unchanged, and
outputs carry deterministic ids.

Proposing ahead: for a strategy whose proposals take long (a GP fit), a worker that frees its
slot should not wait for one. So when `decide` has just filled every slot, `ahead_request` hands
out the next index and a snapshot of the history as it stands then; the handler computes that
proposal while the training jobs run, and `decide` emits it when the next slot frees. The
proposal therefore lacks the results that arrived in between (at most the ones that freed the
slot), and it is made at a position of the inputs that replay reproduces (right after a decision),
so the same events give the same proposals. A restarted suggester has nothing prepared and
computes its next proposal when it is due. A strategy may prepare only part of a proposal
(strategies.base.ProposesAhead): promotion Hyperband prepares its model's next new configuration,
and when the slot frees resumes a paused job instead if a promotion is due by then, keeping the
prepared configuration for the slot after. A strategy that can fill a slot without its model
(strategies.base.ProposesWhileBusy) never makes a worker wait for a fit: a slot that frees while
the prepared proposal is still being computed gets a due promotion or a random draw
(`decide(model_busy=True)`), and the prepared proposal serves the next slot once ready
(`land_ahead`). Whether it was ready depends on the clock, so every decision records it
(DecisionInputs.model_busy) and replay decides the same way again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from tunestream.autotune import autotuned
from tunestream.definitions import (
    AlgorithmSpecificationShape,
    CreateTuningJobRequest,
    TrainingJobDefinitionShape,
    TuningJobObjective,
)
from tunestream.events import ids
from tunestream.events.v1 import (
    EventBase,
    InputChannel,
    InstanceGroupSpec,
    ObjectiveCollectedData,
    TrainingJobProposed,
    TrainingJobProposedData,
    TrainingJobSpec,
    TrainingJobStopRequested,
    TrainingJobStopRequestedData,
    TuningJobCompletionDetails,
    TuningJobEnded,
    TuningJobEndedData,
    WarmStartObservation,
)
from tunestream.framework_images import script_spec
from tunestream.instances import gpu_count, gpus_per_instance
from tunestream.naming import training_job_name
from tunestream.space import SearchSpace
from tunestream.standalone import OneTrainingJob
from tunestream.strategies import EarlyStopper, SearchStrategy, registry
from tunestream.strategies.base import ProposesAhead, ProposesWhileBusy
from tunestream.strategies.completion import CompletionCheck, CompletionCriteria
from tunestream.trials import ObjectiveStatus, Proposal, StopDecision, TrainingJobRecord, TrainingJobStatus
from tunestream.validation import definition_objective, representative_definition, validate_request, with_objective


@dataclass
class TuningJobState:
    request: CreateTuningJobRequest
    seed: int
    created_at: datetime
    space: SearchSpace
    strategy: SearchStrategy
    stopper: EarlyStopper | None
    completion: CompletionCriteria
    proposals: dict[int, TrainingJobSpec] = field(default_factory=dict)
    results: dict[str, ObjectiveCollectedData] = field(default_factory=dict)
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    stop_requested: str | None = None
    out_of_time: str | None = None
    criteria_met: str | None = None
    converged_at: datetime | None = None
    # When each result arrived (its ObjectiveCollected's time): dates convergence without the clock.
    result_times: dict[str, datetime] = field(default_factory=dict)
    # When each training job was proposed (its slot taken) and each objective value printed: what
    # a strategy that weighs the cost of a start reads (promotion Hyperband's first rung).
    proposal_times: dict[str, datetime] = field(default_factory=dict)
    metric_times: dict[str, dict[int, datetime]] = field(default_factory=dict)
    stops_sent: set[str] = field(default_factory=set)
    ended: bool = False
    warm_start: list[TrainingJobRecord] = field(default_factory=list)
    proposes_ahead: bool = False
    # CreateTrainingJob: this tuning job only carries that one training job (tunestream.standalone).
    training_job: str | None = None
    # Proposals computed ahead (see the module's docstring), by index; `_ahead_due` is set by a
    # decide that filled every slot, and consumed by ahead_request.
    ahead: dict[int, Proposal] = field(default_factory=dict)
    _ahead_due: bool = field(default=False, repr=False)
    # Indexes kept beside proposals/results (change both through add_proposal/add_result) so that a
    # decision costs the same at the 10,000th training job as at the first: the running training
    # jobs in proposal order, specs by name, and the completion check as of len(results).
    _open: dict[str, None] = field(default_factory=dict, repr=False)
    _by_name: dict[str, TrainingJobSpec] = field(default_factory=dict, repr=False)
    # Metric values of training jobs whose proposal has not been read yet (the topics interleave in any
    # order on a rebuild): which metric is the objective is the proposal's to say.
    _unplaced: dict[str, list[tuple[str, int, float, datetime]]] = field(default_factory=dict, repr=False)
    # Records as strategies see them, rebuilt only for a training job whose curve or result changed:
    # every objective value asks the stopper, which reads every record.
    _records: dict[str, TrainingJobRecord] = field(default_factory=dict, repr=False)
    _specs_in_order: list[TrainingJobSpec] | None = field(default=None, repr=False)
    _completion: tuple[int, CompletionCheck] | None = field(default=None, repr=False)

    @classmethod
    def create(
        cls,
        request: CreateTuningJobRequest,
        seed: int,
        created_at: datetime,
        warm_start: Sequence[WarmStartObservation] = (),
        training_job: str | None = None,
    ) -> TuningJobState:
        if training_job is not None:
            return cls(
                request=request,
                seed=seed,
                created_at=created_at,
                space=SearchSpace(()),
                strategy=OneTrainingJob(),
                stopper=None,
                completion=CompletionCriteria(None, maximize=True, max_jobs=1),
                training_job=training_job,
            )
        # Both done by the api before it stored the request, and idempotent: for a request that did not
        # come through it (a replay of older events, the bench).
        request = autotuned(with_objective(request))[0]
        space = validate_request(request)
        config = request.HyperParameterTuningJobConfig
        representative = representative_definition(request)
        assert representative is not None and config.HyperParameterTuningJobObjective is not None
        parts = registry.build(config, representative, space, seed)
        definition = registry.lookup(config.Strategy)
        return cls(
            request=request,
            seed=seed,
            created_at=created_at,
            space=space,
            strategy=parts.proposer,
            stopper=parts.stopper,
            completion=CompletionCriteria(
                config.TuningJobCompletionCriteria,
                maximize=config.HyperParameterTuningJobObjective.Type == "Maximize",
                max_jobs=parts.proposer.max_training_jobs(),
            ),
            warm_start=cls._warm_records(space, warm_start, request.TrainingJobDefinition),
            proposes_ahead=parts.proposes_ahead or (definition is not None and definition.proposes_ahead),
        )

    @staticmethod
    def _warm_records(
        space: SearchSpace, observations: Sequence[WarmStartObservation], single: TrainingJobDefinitionShape | None
    ) -> list[TrainingJobRecord]:
        """Parents' results that fit this job's search space, as finished records with negative indices.
        A result belongs to one definition: with several, it seeds the child's definition of the same
        DefinitionName (inside that definition's ranges); a child of one definition takes the results of
        parents of one definition, and of a parent's definition named as its own."""
        records: list[TrainingJobRecord] = []
        for o in observations:
            if space.branches:
                known = o.definition_name in {b.definition for b in space.branches}
                values = (
                    space.parse_if_inside(space.join(o.definition_name, o.tuned_hyperparameters)) if known else None
                )
            elif o.definition_name in (None, single.DefinitionName if single else None):
                values = space.parse_if_inside(o.tuned_hyperparameters)
            else:
                values = None
            if values is not None:
                records.append(
                    TrainingJobRecord(
                        index=-1 - len(records),
                        name=o.training_job_name,
                        values=values,
                        status=TrainingJobStatus.COMPLETED,
                        objective=o.objective,
                    )
                )
        return records

    @property
    def name(self) -> str:
        return self.request.HyperParameterTuningJobName

    def is_objective(self, training_job: str, metric: str) -> bool:
        spec = self._by_name.get(training_job)
        return spec is not None and metric == spec.objective_metric_name

    def metric_reported(self, training_job: str, metric: str, step: int, value: float, at: datetime) -> bool:
        """Record a metric value if it is the training job's objective (its definition's, with several:
        known from its proposal, so a value that comes first waits for it); True when recorded."""
        if training_job not in self._by_name:
            self._unplaced.setdefault(training_job, []).append((metric, step, value, at))
            return False
        return self.is_objective(training_job, metric) and self.add_metric(training_job, step, value, at)

    def definition(self, name: str | None) -> TrainingJobDefinitionShape:
        """The TrainingJobDefinition a training job runs: the one, or the one of several so named."""
        if name is None:
            assert self.request.TrainingJobDefinition is not None
            return self.request.TrainingJobDefinition
        return next(d for d in self.request.TrainingJobDefinitions or [] if d.DefinitionName == name)

    def running(self) -> list[str]:
        """Proposed training jobs without a result, in proposal order."""
        return list(self._open)

    def add_proposal(self, spec: TrainingJobSpec, at: datetime | None = None) -> None:
        if self.proposals.setdefault(spec.index, spec) is not spec:
            return  # seen before (a replayed event)
        if at is not None:
            self.proposal_times.setdefault(spec.training_job_name, at)
        self._by_name[spec.training_job_name] = spec
        self._specs_in_order = None
        if spec.training_job_name not in self.results:
            self._open[spec.training_job_name] = None
        for metric, step, value, metric_at in self._unplaced.pop(spec.training_job_name, []):
            self.metric_reported(spec.training_job_name, metric, step, value, metric_at)

    def add_result(self, result: ObjectiveCollectedData, at: datetime) -> None:
        name = result.training_job_name
        if name not in self.results:
            self.results[name] = result
            self._records.pop(name, None)
        self.result_times.setdefault(name, at)
        self._open.pop(name, None)

    def record(self, spec: TrainingJobSpec) -> TrainingJobRecord:
        name = spec.training_job_name
        cached = self._records.get(name)
        if cached is not None and cached.index == spec.index:
            return cached
        result = self.results.get(name)
        previous = cached.values if cached is not None else None
        curve = tuple(self.curves.get(name, ()))
        proposed_at = self.proposal_times.get(name)
        ended_at = self.result_times.get(name) if result else None
        record = TrainingJobRecord(
            index=spec.index,
            name=name,
            values=previous
            if previous is not None
            else self.space.parse(self.space.join(spec.definition_name, spec.tuned_hyperparameters)),
            status=result.status if result else TrainingJobStatus.IN_PROGRESS,
            objective=result.objective_value if result else None,
            metric_history=curve,
            resume_from=spec.resume_from,
            resource_limit=spec.resource_limit,
            proposed_at=self._seconds(proposed_at),
            ended_at=self._seconds(ended_at),
            metric_times=self._curve_times(name, curve),
        )
        self._records[name] = record
        return record

    def _seconds(self, at: datetime | None) -> float | None:
        return None if at is None else (at - self.created_at).total_seconds()

    def _curve_times(self, name: str, curve: Sequence[tuple[int, float]]) -> tuple[float, ...]:
        """Seconds since creation of each curve entry; empty unless every entry has its time."""
        times = self.metric_times.get(name, {})
        if len(times) < len(curve):
            return ()
        return tuple((times[step] - self.created_at).total_seconds() for step, _ in curve)

    def history(self) -> list[TrainingJobRecord]:
        if self._specs_in_order is None:
            self._specs_in_order = [spec for _, spec in sorted(self.proposals.items())]
        return [self.record(spec) for spec in self._specs_in_order]

    def strategy_history(self) -> list[TrainingJobRecord]:
        """What the strategy sees: parents' results first (when its warm-start policy takes them),
        then this job's training jobs."""
        return self.warm_history() + self.history()

    def warm_history(self) -> list[TrainingJobRecord]:
        warm = self.request.WarmStartConfig
        strategy = registry.lookup(self.request.HyperParameterTuningJobConfig.Strategy)
        use_warm = warm is not None and strategy is not None and strategy.uses_parents(warm)
        return list(self.warm_start) if use_warm else []

    def add_metric(self, training_job: str, step: int, value: float, at: datetime | None = None) -> bool:
        """Record an objective value printed at `at`; False when it was seen before (a replayed event)."""
        curve = self.curves.setdefault(training_job, [])
        if any(s == step for s, _ in curve):
            return False
        curve.append((step, value))
        curve.sort()
        if at is not None:
            self.metric_times.setdefault(training_job, {})[step] = at
        cached = self._records.get(training_job)
        if cached is not None:  # keep its parsed values, renew the curve
            history = tuple(curve)
            self._records[training_job] = replace(
                cached, metric_history=history, metric_times=self._curve_times(training_job, history)
            )
        return True

    def on_objective(self, training_job: str) -> list[EventBase]:
        """Early-stopping verdict after a running training job reported its objective."""
        if self.stopper is None or self.ended or training_job in self.stops_sent or training_job in self.results:
            return []
        spec = self._by_name.get(training_job)
        if spec is None:
            return []
        decision = self.stopper.decide(self.record(spec), self.history())
        return [self._stop(training_job, decision.reason, decision)] if decision else []

    @property
    def proposes_while_busy(self) -> bool:
        """Whether a slot that frees while the proposal computed ahead is still being computed is
        filled at once (strategies.base.ProposesWhileBusy) instead of waiting for it."""
        return self.proposes_ahead and isinstance(self.strategy, ProposesWhileBusy)

    def land_ahead(self, index: int, prepared: Proposal) -> None:
        """A proposal computed ahead for training job `index`, now at hand. If that slot was filled
        meanwhile (decide with model_busy), it is for the next one."""
        self.ahead[max(index, len(self.proposals))] = prepared

    def decide(self, now: datetime, model_busy: bool = False) -> list[EventBase]:
        """Events owed now. `now` only matters for ResourceLimits.MaxRuntimeInSeconds and convergence
        time. `model_busy`: the proposal computed ahead is not ready yet, so a slot without one is
        filled by the strategy's propose_while_busy (a strategy that has it). The suggester decides
        this by the clock; DecisionInputs records it for replay."""
        if self.ended:
            return []
        limit_s = self.request.HyperParameterTuningJobConfig.ResourceLimits.MaxRuntimeInSeconds
        if self.out_of_time is None and limit_s is not None and now - self.created_at >= timedelta(seconds=limit_s):
            self.out_of_time = f"ResourceLimits.MaxRuntimeInSeconds ({limit_s} s) reached"
        check = self._check_completion(now)
        if self.criteria_met is None and check.reason is not None:
            self.criteria_met = check.reason
        if self.stop_requested is not None or self.out_of_time is not None or self.criteria_met is not None:
            return self._wind_down(check)
        outputs: list[EventBase] = []
        limit = self.strategy.max_training_jobs()
        parallel = self.request.HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs
        free = parallel - len(self._open)
        while free > 0 and len(self.proposals) < limit:
            index = len(self.proposals)
            event = self._propose(index, model_busy)
            self.add_proposal(event.payload.spec, now)
            outputs.append(event)
            free -= 1
        if len(self.proposals) >= limit and not self._open:
            status, reason = self._outcome(limit)
            outputs.append(self._end(status, reason, check))
        self._ahead_due = self.proposes_ahead and bool(outputs) and free == 0 and len(self.proposals) < limit
        return outputs

    def ahead_request(self) -> tuple[int, list[TrainingJobRecord]] | None:
        """The next proposal to compute ahead, with the history it must see, right after a decide
        that filled every slot; None otherwise. Ask once per decide: the request is consumed."""
        due, self._ahead_due = self._ahead_due, False
        index = len(self.proposals)
        if not due or self.ended or index in self.ahead:
            return None
        reads_history = getattr(self.strategy, "reads_history", True)
        return index, self.strategy_history() if reads_history else self.warm_history()

    def _check_completion(self, now: datetime) -> CompletionCheck:
        # Results only grow, and the check reads nothing else: it changes only with a new result.
        if self._completion is not None and self._completion[0] == len(self.results):
            return self._completion[1]
        objectives = [
            (name, r.objective_value)
            for name, r in self.results.items()
            if r.objective_status == ObjectiveStatus.SUCCEEDED and r.objective_value is not None
        ]
        check = self.completion.evaluate(objectives)
        if check.converged and self.converged_at is None:
            # The arrival of the newest result (the one that made it converge), not the clock, so a
            # replay of the events dates it the same.
            times = [self.result_times[name] for name, _ in objectives if name in self.result_times]
            self.converged_at = max(times, default=now)
        self._completion = (len(self.results), check)
        return check

    def _outcome(self, limit: int) -> tuple[str, str]:
        results = list(self.results.values())
        if results and all(r.status == TrainingJobStatus.FAILED for r in results):
            return "Failed", f"all {len(results)} training jobs failed"
        succeeded = sum(1 for r in results if r.objective_status == ObjectiveStatus.SUCCEEDED)
        return (
            "Completed",
            f"MaxNumberOfTrainingJobs reached: {limit} training jobs ran, {succeeded} reported the objective",
        )

    def _wind_down(self, check: CompletionCheck) -> list[EventBase]:
        """Stop every running training job; end once none runs. A user's stop ends the tuning job as
        Stopped; a spent time budget or a met completion criterion ends it as Completed."""
        reason = self.stop_requested or self.out_of_time or self.criteria_met or ""
        outputs: list[EventBase] = [self._stop(name, reason) for name in self.running() if name not in self.stops_sent]
        if not self.running():
            outputs.append(self._end("Stopped" if self.stop_requested else "Completed", reason, check))
        return outputs

    def _stop(self, name: str, reason: str, decision: StopDecision | None = None) -> TrainingJobStopRequested:
        self.stops_sent.add(name)
        return TrainingJobStopRequested(
            event_id=ids.training_job_stop_requested(name),
            tuning_job_name=self.name,
            payload=TrainingJobStopRequestedData(
                training_job_name=name,
                reason=reason,
                rule=decision.rule if decision else None,
                step=decision.step if decision else None,
                value=decision.value if decision else None,
                cutoff=decision.cutoff if decision else None,
            ),
        )

    def _end(self, status: str, reason: str, check: CompletionCheck) -> TuningJobEnded:
        self.ended = True
        return TuningJobEnded(
            event_id=ids.ended(self.name),
            tuning_job_name=self.name,
            payload=TuningJobEndedData(
                status=status,  # type: ignore[arg-type]
                reason=reason,
                completion_details=TuningJobCompletionDetails(
                    NumberOfTrainingJobsObjectiveNotImproving=check.not_improving,
                    ConvergenceDetectedTime=self.converged_at,
                ),
            ),
        )

    def _propose(self, index: int, model_busy: bool = False) -> TrainingJobProposed:
        # A strategy that reads no training job of its own (Random, Grid: `reads_history = False`) gets
        # only the warm-start records: building every record for each proposal made a long job's
        # proposals O(n) each (10,000 training jobs: minutes of the suggester's CPU).
        reads_history = getattr(self.strategy, "reads_history", True)
        prepared = self.ahead.pop(index, None)
        for stale in [i for i in self.ahead if i < index]:
            del self.ahead[stale]
        used = prepared is not None
        if prepared is not None and isinstance(self.strategy, ProposesAhead):
            proposal, adoption = self.strategy.adopt(prepared, index, self.strategy_history())
            used = adoption == "used"
            if adoption == "waits":  # e.g. a promotion came first: the prepared configuration is for the next slot
                self.ahead[index + 1] = prepared
        elif prepared is not None:
            proposal = prepared
        elif model_busy and self.proposes_while_busy and isinstance(self.strategy, ProposesWhileBusy):
            proposal = self.strategy.propose_while_busy(index, self.strategy_history())
        else:
            proposal = self.strategy.propose(index, self.strategy_history() if reads_history else self.warm_history())
        config = self.request.HyperParameterTuningJobConfig
        definition_name, tuned = self.space.split(self.space.format(proposal.values))
        definition = self.definition(definition_name)
        objective = definition_objective(definition, config)
        assert objective is not None or self.training_job is not None
        name = self.training_job or training_job_name(self.name, index)
        algo = definition.AlgorithmSpecification
        checkpoint = definition.CheckpointConfig
        groups = [
            InstanceGroupSpec(
                name=g.InstanceGroupName,
                instance_type=g.InstanceType,
                count=g.InstanceCount,
                gpus=gpus_per_instance(g.InstanceType),
            )
            for g in definition.ResourceConfig.InstanceGroups or []
        ]
        spec = TrainingJobSpec(
            training_job_name=name,
            index=index,
            tuned_hyperparameters=tuned,
            hyperparameters={
                **definition.StaticHyperParameters,
                **tuned,
                **(builtin_hyperparameters(algo, objective) if objective else {}),
            },
            command=list(algo.Command or []),
            environment=dict(definition.Environment),
            input_channels=[
                InputChannel(
                    name=c.ChannelName,
                    s3_uri=c.DataSource.S3DataSource.S3Uri,
                    content_type=c.ContentType,
                    input_mode=c.InputMode or algo.TrainingInputMode,  # type: ignore[arg-type]
                    distribution=c.DataSource.S3DataSource.S3DataDistributionType,
                    compression=c.CompressionType,
                    record_wrapper=c.RecordWrapperType,
                    instance_groups=c.DataSource.S3DataSource.InstanceGroupNames,
                    data_type=c.DataSource.S3DataSource.S3DataType,  # type: ignore[arg-type]
                )
                for c in definition.InputDataConfig
            ],
            output_s3_path=definition.OutputDataConfig.S3OutputPath,
            output_compression=definition.OutputDataConfig.CompressionType or "GZIP",
            network_isolation=bool(definition.EnableNetworkIsolation),
            max_runtime_s=definition.StoppingCondition.MaxRuntimeInSeconds,
            metric_definitions=list(algo.MetricDefinitions),
            # "": a training job created alone (tunestream.standalone), which has no objective.
            objective_metric_name=objective.MetricName if objective else "",
            objective_type=objective.Type if objective else "Maximize",
            definition_name=definition_name,
            instance_count=sum(g.count for g in groups) if groups else definition.ResourceConfig.InstanceCount,
            instance_type=None if groups else definition.ResourceConfig.InstanceType,
            instance_groups=groups,
            training_image=algo.TrainingImage,
            container_entrypoint=algo.ContainerEntrypoint,
            container_arguments=algo.ContainerArguments,
            builtin_algorithm=algo.builtin,
            script=script_spec(algo.TrainingImage, definition.StaticHyperParameters),
            gpu_count=gpu_count(definition.ResourceConfig),
            checkpoint_s3_uri=checkpoint.S3Uri if checkpoint else None,
            checkpoint_local_path=checkpoint.LocalPath if checkpoint else None,
            max_retry_attempts=definition.RetryStrategy.MaximumRetryAttempts if definition.RetryStrategy else 0,
            managed_spot=bool(definition.EnableManagedSpotTraining),
            max_wait_s=definition.StoppingCondition.MaxWaitTimeInSeconds,
            resource_limit=proposal.resource_limit,
            resume_from=proposal.resume_from,
            step_offset=proposal.step_offset,
        )
        details = dict(proposal.details)
        if used:
            details["proposed_ahead"] = 1
        if self.stopper is not None:
            details.update(self.stopper.proposal_details(index))
        return TrainingJobProposed(
            event_id=ids.proposed(name),
            tuning_job_name=self.name,
            payload=TrainingJobProposedData(spec=spec, reason=proposal.reason, details=details),
        )


def builtin_hyperparameters(algo: AlgorithmSpecificationShape, objective: TuningJobObjective) -> dict[str, str]:
    """What SageMaker adds to a built-in algorithm's hyperparameters in a tuning job: the objective,
    which the algorithm then evaluates (XGBoost adds it to its eval_metric)."""
    if algo.builtin is None:
        return {}
    return {"_tuning_objective_metric": objective.MetricName}
