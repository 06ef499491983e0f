"""Rules that span several fields of a tuning job, each broken rule reported with its field path.

Called by the api before a job is accepted and by the suggester when it builds the search space,
so both agree on what a valid job is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import replace

from tunestream.autotune import autotuned
from tunestream.autotune import enabled as autotune_enabled
from tunestream.definitions import (
    ContinuousParameterRange,
    CreateTuningJobRequest,
    HyperParameterTuningJobConfigShape,
    IntegerParameterRange,
    ParameterRangesShape,
    StrategyConfigShape,
    TrainingJobDefinitionShape,
    TuningJobObjective,
    WarmStartConfigShape,
)
from tunestream.field_errors import FieldError, InvalidTuningJob
from tunestream.local_limits import check_local_limits
from tunestream.metric_regex import UnsupportedRegex, compile_metric_regex
from tunestream.request_members import refusals
from tunestream.space import (
    DEFINITION_PARAM,
    Branch,
    CategoricalParam,
    ContinuousParam,
    IntegerParam,
    Param,
    SearchSpace,
    joint_name,
    resolve_scaling,
)
from tunestream.strategies import registry
from tunestream.strategies.registry import StrategyInputs
from tunestream.training_image import file_uri_problem, is_file_uri

MAX_TUNED_PARAMETERS = 30
RANGES = "HyperParameterTuningJobConfig.ParameterRanges"


def _number(text: str, path: str, errors: list[FieldError], *, integer: bool) -> float | None:
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "an integer" if integer else "a number"
        errors.append(FieldError(path, "type", f"must be {kind}, got {text!r}"))
        return None
    if not math.isfinite(value):
        errors.append(FieldError(path, "finite", f"must be finite, got {text!r}"))
        return None
    return value


def build_search_space(ranges: ParameterRangesShape, prefix: str = RANGES) -> tuple[SearchSpace, list[FieldError]]:
    """Parse SageMaker ParameterRanges into a SearchSpace, collecting every broken rule."""
    errors: list[FieldError] = []
    params: list[Param] = []
    numeric: list[tuple[str, Sequence[IntegerParameterRange | ContinuousParameterRange], bool]] = [
        ("IntegerParameterRanges", ranges.IntegerParameterRanges, True),
        ("ContinuousParameterRanges", ranges.ContinuousParameterRanges, False),
    ]
    for kind, items, integer in numeric:
        for i, r in enumerate(items):
            path = f"{prefix}.{kind}[{i}]"
            low = _number(r.MinValue, f"{path}.MinValue", errors, integer=integer)
            high = _number(r.MaxValue, f"{path}.MaxValue", errors, integer=integer)
            if low is None or high is None:
                continue
            if low > high:
                errors.append(
                    FieldError(
                        f"{path}.MinValue", "min<=max", f"MinValue {r.MinValue} is greater than MaxValue {r.MaxValue}"
                    )
                )
                continue
            if r.ScalingType == "Logarithmic" and low <= 0:
                errors.append(
                    FieldError(
                        f"{path}.ScalingType",
                        "log-positive",
                        f"Logarithmic scaling needs MinValue > 0, got MinValue {r.MinValue}",
                    )
                )
                continue
            if r.ScalingType == "ReverseLogarithmic" and (integer or low < 0 or high >= 1):
                errors.append(
                    FieldError(
                        f"{path}.ScalingType",
                        "reverse-log-range",
                        "ReverseLogarithmic scaling needs a continuous range within 0 <= x < 1",
                    )
                )
                continue
            scaling = resolve_scaling(r.ScalingType, low, high)
            if integer:
                params.append(IntegerParam(r.Name, int(low), int(high), scaling))
            else:
                params.append(ContinuousParam(r.Name, float(low), float(high), scaling))
    for i, c in enumerate(ranges.CategoricalParameterRanges):
        if len(set(c.Values)) != len(c.Values):
            errors.append(FieldError(f"{prefix}.CategoricalParameterRanges[{i}].Values", "unique", "values repeat"))
            continue
        params.append(CategoricalParam(c.Name, tuple(c.Values)))
    if ranges.AutoParameters:
        # Autotune turns them into ranges (tunestream.autotune) before a space is built from them.
        errors.append(
            FieldError(
                f"{prefix}.AutoParameters",
                "autotune-only",
                'AutoParameters are for Autotune to choose ranges from: set Autotune {"Mode": "Enabled"}, or give '
                "the ranges yourself",
            )
        )

    seen: set[str] = set()
    for p in params:
        if p.name in seen:
            errors.append(FieldError(prefix, "unique-names", f"parameter {p.name!r} is defined more than once"))
        seen.add(p.name)
    if len(params) > MAX_TUNED_PARAMETERS:
        errors.append(
            FieldError(prefix, "max-parameters", f"{len(params)} tuned parameters; at most {MAX_TUNED_PARAMETERS}")
        )
    return SearchSpace(tuple(params)), errors


def _check_config(
    config: HyperParameterTuningJobConfigShape,
    definition: TrainingJobDefinitionShape | None,
    warm_start: WarmStartConfigShape | None,
    space: SearchSpace,
    errors: list[FieldError],
    definitions: tuple[TrainingJobDefinitionShape, ...] = (),
) -> None:
    base = "HyperParameterTuningJobConfig"
    limits = config.ResourceLimits
    strategy = registry.lookup(config.Strategy)
    if strategy is None:
        errors.append(
            FieldError(
                f"{base}.Strategy",
                "enum",
                f"unknown Strategy {config.Strategy!r}; one of {', '.join(registry.names())}",
            )
        )
    if not space.params:
        errors.append(FieldError(f"{base}.ParameterRanges", "non-empty", "at least one parameter range is needed"))
    if strategy is not None and strategy.needs_max_jobs:
        if limits.MaxNumberOfTrainingJobs is None:
            errors.append(
                FieldError(
                    f"{base}.ResourceLimits.MaxNumberOfTrainingJobs",
                    "required",
                    f"required with Strategy {config.Strategy}",
                )
            )
        elif limits.MaxParallelTrainingJobs > limits.MaxNumberOfTrainingJobs:
            errors.append(
                FieldError(
                    f"{base}.ResourceLimits.MaxParallelTrainingJobs",
                    "parallel<=max",
                    f"MaxParallelTrainingJobs {limits.MaxParallelTrainingJobs} exceeds "
                    f"MaxNumberOfTrainingJobs {limits.MaxNumberOfTrainingJobs}",
                )
            )
    if config.HyperParameterTuningJobObjective is None:
        errors.append(
            FieldError(f"{base}.HyperParameterTuningJobObjective", "required", "an objective metric is required")
        )
    if config.StrategyConfig is not None:
        _check_strategy_config(config.StrategyConfig, strategy, f"{base}.StrategyConfig", errors)
    if strategy is not None:
        inputs = StrategyInputs(config, definition, space, warm_start=warm_start, definitions=definitions)
        errors.extend(strategy.validate(inputs))


def _check_strategy_config(
    given: StrategyConfigShape,
    strategy: registry.StrategyDefinition | None,
    path: str,
    errors: list[FieldError],
) -> None:
    """Each StrategyConfig member is read by one strategy; given to another, it is refused."""
    readers = {s.strategy_config: s.name for s in registry.registered().values() if s.strategy_config is not None}
    for member in sorted(given.model_fields_set):
        if getattr(given, member) is None:
            continue
        reader = readers.get(member)
        if reader is None or strategy is None or strategy.name != reader:
            errors.append(
                FieldError(
                    f"{path}.{member}",
                    f"{(reader or 'no-strategy').lower()}-only",
                    f"{member} applies to Strategy {reader} only" if reader else f"no strategy reads {member}",
                )
            )


def check_definition(
    definition: TrainingJobDefinitionShape,
    objective: TuningJobObjective | None,
    space: SearchSpace,
    errors: list[FieldError],
    base: str = "TrainingJobDefinition",
) -> None:
    """One definition's rules; `objective` is the one its training jobs report, `space` its ranges."""
    algo = definition.AlgorithmSpecification
    if algo.AlgorithmName is not None:
        if algo.builtin is None:
            errors.append(
                FieldError(
                    f"{base}.AlgorithmSpecification.AlgorithmName",
                    "builtin-algorithm",
                    f"{algo.AlgorithmName!r}: tunestream stands in for SageMaker's built-in xgboost only; it has "
                    "no algorithm resources or Marketplace algorithms: give TrainingImage (or Command) and "
                    "MetricDefinitions",
                )
            )
        if algo.TrainingImage or algo.Command is not None:
            errors.append(
                FieldError(
                    f"{base}.AlgorithmSpecification.AlgorithmName",
                    "image-or-algorithm",
                    "give AlgorithmName or TrainingImage (or Command), not both",
                )
            )
    elif algo.Command is None and not algo.TrainingImage:
        errors.append(
            FieldError(
                f"{base}.AlgorithmSpecification",
                "image-or-command",
                "give TrainingImage (runs in a container) or Command (an argv list run as a local process)",
            )
        )
    process = algo.Command is not None or is_file_uri(algo.TrainingImage) or algo.builtin is not None
    for member in ("ContainerEntrypoint", "ContainerArguments"):
        if getattr(algo, member) is not None and process:
            errors.append(
                FieldError(
                    f"{base}.AlgorithmSpecification.{member}",
                    "container-only",
                    "applies to a container image: a local process runs its Command or file:// executable",
                )
            )
    pipe_why = (
        "Pipe mode streams a channel through a FIFO, which tunestream's launchers do not provide; use File or FastFile"
    )
    if algo.TrainingInputMode == "Pipe":
        errors.append(FieldError(f"{base}.AlgorithmSpecification.TrainingInputMode", "pipe-unsupported", pipe_why))
    for i, channel in enumerate(definition.InputDataConfig):
        if channel.InputMode == "Pipe":
            errors.append(FieldError(f"{base}.InputDataConfig[{i}].InputMode", "pipe-unsupported", pipe_why))
        elif channel.InputMode not in (None, "File", "FastFile"):
            errors.append(
                FieldError(f"{base}.InputDataConfig[{i}].InputMode", "enum", "one of File, FastFile (Pipe is refused)")
            )
    if is_file_uri(algo.TrainingImage):
        assert algo.TrainingImage is not None
        problem = file_uri_problem(algo.TrainingImage)
        if problem is not None:
            errors.append(FieldError(f"{base}.AlgorithmSpecification.TrainingImage", "file-uri", problem))
        if algo.Command is not None:
            errors.append(
                FieldError(
                    f"{base}.AlgorithmSpecification.Command",
                    "file-or-command",
                    "a file:// TrainingImage is the program to run; give it or Command, not both",
                )
            )
    names = set()
    for i, m in enumerate(algo.MetricDefinitions):
        path = f"{base}.AlgorithmSpecification.MetricDefinitions[{i}]"
        if m.Name in names:
            errors.append(FieldError(f"{path}.Name", "unique", f"metric {m.Name!r} is defined more than once"))
        names.add(m.Name)
        try:
            compiled = compile_metric_regex(m.Regex)
        except UnsupportedRegex as exc:
            rule = "regex-re2" if exc.python_accepts else "regex-compiles"
            errors.append(FieldError(f"{path}.Regex", rule, exc.reason))
            continue
        if compiled.groups < 1:
            errors.append(
                FieldError(
                    f"{path}.Regex",
                    "regex-group",
                    "needs one capturing group around the metric value, e.g. auc=([0-9.]+)",
                )
            )
    if objective is not None and objective.MetricName not in names:
        own = definition.TuningObjective is not None and base != "TrainingJobDefinition"
        errors.append(
            FieldError(
                f"{base}.TuningObjective.MetricName"
                if own
                else "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.MetricName",
                "objective-defined",
                f"objective metric {objective.MetricName!r} is not among "
                f"{base}.AlgorithmSpecification.MetricDefinitions",
            )
        )
    for name in definition.StaticHyperParameters:
        if name in space.names:
            errors.append(
                FieldError(
                    f"{base}.StaticHyperParameters.{name}",
                    "static-or-tuned",
                    f"{name!r} is both a static hyperparameter and a tuned parameter range",
                )
            )
    errors.extend(check_local_limits(definition, base))


def _check_single_definition(
    definition: TrainingJobDefinitionShape,
    config: HyperParameterTuningJobConfigShape,
    space: SearchSpace,
    errors: list[FieldError],
) -> None:
    base = "TrainingJobDefinition"
    objective = config.HyperParameterTuningJobObjective
    check_definition(definition, objective, space, errors)
    tuning_objective = definition.TuningObjective
    if tuning_objective is not None and objective is not None and tuning_objective != objective:
        # With one definition the config's objective is the one optimised; a different one here was
        # silently overridden before, and the user would tune for a metric they did not ask for.
        errors.append(
            FieldError(
                f"{base}.TuningObjective",
                "same-objective",
                f"{tuning_objective.Type} {tuning_objective.MetricName!r} differs from "
                f"HyperParameterTuningJobConfig.HyperParameterTuningJobObjective ({objective.Type} "
                f"{objective.MetricName!r}); with one TrainingJobDefinition leave it out or make it the same",
            )
        )
    if definition.HyperParameterRanges is not None:
        errors.append(
            FieldError(
                f"{base}.HyperParameterRanges",
                "unsupported",
                "with one TrainingJobDefinition the ranges go in HyperParameterTuningJobConfig.ParameterRanges "
                "(HyperParameterRanges belong to TrainingJobDefinitions)",
            )
        )


def representative_definition(request: CreateTuningJobRequest) -> TrainingJobDefinitionShape | None:
    """The definition a strategy is built from (Hyperband's resources and checkpoints): the one, or
    the first of several, which a strategy that reads it requires to stand for all of them (its
    validate: strategies/hyperband.py's _check_definitions_agree)."""
    if request.TrainingJobDefinitions:
        return request.TrainingJobDefinitions[0]
    return request.TrainingJobDefinition


MAX_DEFINITIONS = 10
DEFINITION_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,63}")


def definition_objective(
    definition: TrainingJobDefinitionShape, config: HyperParameterTuningJobConfigShape
) -> TuningJobObjective | None:
    """The objective a definition's training jobs report: its own TuningObjective, else the config's."""
    return definition.TuningObjective or config.HyperParameterTuningJobObjective


def _joint_space(
    definitions: Sequence[TrainingJobDefinitionShape], config: HyperParameterTuningJobConfigShape
) -> tuple[SearchSpace, list[SearchSpace], list[FieldError]]:
    """Several TrainingJobDefinitions: the joint space (see tunestream.space), each definition's own
    space, and every broken rule of their names, ranges and objectives."""
    errors: list[FieldError] = []
    if not 1 <= len(definitions) <= MAX_DEFINITIONS:
        errors.append(
            FieldError("TrainingJobDefinitions", "count", f"1 to {MAX_DEFINITIONS} definitions, got {len(definitions)}")
        )
    ranges = config.ParameterRanges
    if ranges.IntegerParameterRanges or ranges.ContinuousParameterRanges or ranges.CategoricalParameterRanges:
        errors.append(
            FieldError(
                RANGES,
                "ranges-per-definition",
                "with TrainingJobDefinitions each definition's HyperParameterRanges holds its ranges",
            )
        )
    names: list[str] = []
    own: list[SearchSpace] = []
    params: list[Param] = []
    branches: list[Branch] = []
    types: set[str] = set()
    for i, definition in enumerate(definitions):
        base = f"TrainingJobDefinitions[{i}]"
        name = definition.DefinitionName
        if name is None:
            errors.append(FieldError(f"{base}.DefinitionName", "required", "each of several definitions is named"))
            name = f"definition-{i}"
        elif not DEFINITION_NAME.fullmatch(name):
            errors.append(
                FieldError(
                    f"{base}.DefinitionName",
                    "pattern",
                    f"{name!r}: 1 to 64 letters, digits and inner hyphens ([a-zA-Z0-9](-*[a-zA-Z0-9]){{0,63}})",
                )
            )
        elif name in names:
            errors.append(FieldError(f"{base}.DefinitionName", "unique", f"definition {name!r} is given twice"))
        names.append(name)
        if definition.HyperParameterRanges is None:
            errors.append(
                FieldError(f"{base}.HyperParameterRanges", "required", "each definition gives its own ranges")
            )
            space = SearchSpace(())
        else:
            space, range_errors = build_search_space(definition.HyperParameterRanges, f"{base}.HyperParameterRanges")
            errors.extend(range_errors)
            if not space.params:
                errors.append(
                    FieldError(f"{base}.HyperParameterRanges", "non-empty", "at least one parameter range is needed")
                )
        own.append(space)
        joint = [replace(p, name=joint_name(name, p.name)) for p in space.params]
        params.extend(joint)
        branches.append(Branch(name, tuple(p.name for p in joint)))
        objective = definition_objective(definition, config)
        if objective is None:
            errors.append(
                FieldError(
                    f"{base}.TuningObjective",
                    "required",
                    "give each definition a TuningObjective, or HyperParameterTuningJobConfig."
                    "HyperParameterTuningJobObjective for all of them",
                )
            )
        else:
            types.add(objective.Type)
    if len(types) > 1:
        errors.append(
            FieldError(
                "TrainingJobDefinitions",
                "same-objective-type",
                "the definitions' objectives are compared with each other, so all maximize or all minimize",
            )
        )
    # Integers, continuous, then categorical (the order SearchSpace keeps), the definition last.
    kinds = (IntegerParam, ContinuousParam, CategoricalParam)
    ordered = [p for kind in kinds for p in params if isinstance(p, kind)]
    choices = tuple(dict.fromkeys(names))
    joint_space = SearchSpace((*ordered, CategoricalParam(DEFINITION_PARAM, choices)), tuple(branches))
    return joint_space, own, errors


def with_objective(request: CreateTuningJobRequest) -> CreateTuningJobRequest:
    """The request as stored: several definitions, each with its own TuningObjective and no config
    objective (as the SDKs send them), get the first definition's as the config's, so that every
    reader of the config's objective (its Type ranks training jobs) has one."""
    config = request.HyperParameterTuningJobConfig
    definitions = request.TrainingJobDefinitions
    if config.HyperParameterTuningJobObjective is not None or not definitions:
        return request
    first = definitions[0].TuningObjective
    if first is None:
        return request
    filled = config.model_copy(update={"HyperParameterTuningJobObjective": first})
    return request.model_copy(update={"HyperParameterTuningJobConfig": filled})


def validate_request(request: CreateTuningJobRequest) -> SearchSpace:
    """Return the job's search space, or raise InvalidTuningJob listing every broken rule."""
    request, _, autotune_errors = autotuned(with_objective(request))
    config = request.HyperParameterTuningJobConfig
    definitions = request.TrainingJobDefinitions
    own: list[SearchSpace] = []
    if definitions is None:
        space, errors = build_search_space(config.ParameterRanges)
    else:
        space, own, errors = _joint_space(definitions, config)
    errors.extend(autotune_errors)
    _check_config(
        config, representative_definition(request), request.WarmStartConfig, space, errors, tuple(definitions or ())
    )
    if request.Autotune is not None and not autotune_enabled(request):
        # Accepted and ignored before, even {"Mode": "Bogus"}: a user would believe AMT chose for them.
        errors.append(
            FieldError("Autotune.Mode", "enum", "Mode Enabled is the only one (leave Autotune out otherwise)")
        )
    if definitions is not None:
        if request.TrainingJobDefinition is not None:
            errors.append(
                FieldError(
                    "TrainingJobDefinitions",
                    "one-or-several",
                    "give TrainingJobDefinition or TrainingJobDefinitions, not both",
                )
            )
        for i, (definition, own_space) in enumerate(zip(definitions, own, strict=True)):
            objective = definition_objective(definition, config)
            check_definition(definition, objective, own_space, errors, f"TrainingJobDefinitions[{i}]")
    elif request.TrainingJobDefinition is None:
        errors.append(
            FieldError(
                "TrainingJobDefinition", "required", "a TrainingJobDefinition (or TrainingJobDefinitions) is required"
            )
        )
    else:
        _check_single_definition(request.TrainingJobDefinition, config, space, errors)
    if request.WarmStartConfig is not None:
        names = [p.HyperParameterTuningJobName for p in request.WarmStartConfig.ParentHyperParameterTuningJobs]
        if len(set(names)) != len(names):
            errors.append(
                FieldError("WarmStartConfig.ParentHyperParameterTuningJobs", "unique", "a parent is listed twice")
            )
        if request.HyperParameterTuningJobName in names:
            errors.append(
                FieldError(
                    "WarmStartConfig.ParentHyperParameterTuningJobs",
                    "not-self",
                    "a tuning job cannot be its own parent",
                )
            )
    # Every other member tunestream refuses (tunestream.request_members), unless a rule above named it.
    named = {e.field for e in errors}
    errors.extend(e for e in refusals(request.model_dump(exclude_none=True)) if e.field not in named)
    if errors:
        raise InvalidTuningJob(errors)
    return space
