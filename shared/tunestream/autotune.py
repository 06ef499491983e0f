"""Autotune (`{"Mode": "Enabled"}`): tunestream chooses what the request leaves unset, as AMT does.

AMT documents which settings Autotune chooses (parameter ranges, resource limits, early stopping,
retries, convergence detection) but not how; these rules are tunestream's, and docs/job-json.md
states them:

- each `AutoParameters` item becomes a range around its `ValueHint`: an integer n >= 1 gives the
  integers from max(1, round(n / 4)) to 4n; a number x > 0 gives x / 10 to 10x (at most 1 when x < 1),
  both Logarithmic; 0 gives 0 to 10 (integer) or 0 to 1, Linear; "true" / "false" gives both values.
  Any other hint names no range that could be inferred: the request is refused, naming the item;
- `MaxNumberOfTrainingJobs`: 10 per tuned parameter, at least 20 and at most 100;
- `TrainingJobEarlyStoppingType`: Auto (the median rule), unless Strategy is Hyperband or it was given;
- `RetryStrategy.MaximumRetryAttempts`: 2, for each definition without a RetryStrategy;
- `TuningJobCompletionCriteria.ConvergenceDetected.CompleteOnConvergence`: Enabled.

The api completes the request before it stores it: whether a member was left unset can only be told
from the user's own JSON (a stored or published request has every default written out). The choices
travel with it, in `Autotune.Choices` (member path -> value), which Describe shows as AutotuneChoices;
completing a completed request changes nothing.
"""

from __future__ import annotations

import math
import re
from typing import Any

from tunestream.definitions import (
    ConvergenceDetectedShape,
    CreateTuningJobRequest,
    ParameterRangesShape,
    RetryStrategyShape,
    TrainingJobDefinitionShape,
    TuningJobCompletionCriteriaShape,
)
from tunestream.field_errors import FieldError

RETRIES = 2
JOBS_PER_PARAMETER, MIN_JOBS, MAX_JOBS = 10, 20, 100
AUTO_PARAMETERS = "HyperParameterTuningJobConfig.ParameterRanges.AutoParameters"
_INTEGER = re.compile(r"[+-]?\d+")


def enabled(request: CreateTuningJobRequest) -> bool:
    return request.Autotune is not None and request.Autotune.get("Mode") == "Enabled"


def hint_range(name: str, hint: str) -> tuple[str, dict[str, str] | dict[str, Any]] | None:
    """(the ParameterRanges list it goes in, the range) for an AutoParameters item; None when the
    hint suggests none."""
    text = hint.strip()
    if text.lower() in ("true", "false"):
        return "CategoricalParameterRanges", {"Name": name, "Values": ["true", "false"]}
    if _INTEGER.fullmatch(text):
        n = int(text)
        if n < 0:
            return None
        if n == 0:
            return "IntegerParameterRanges", {"Name": name, "MinValue": "0", "MaxValue": "10", "ScalingType": "Linear"}
        low, high = max(1, round(n / 4)), 4 * n
        return "IntegerParameterRanges", {
            "Name": name,
            "MinValue": str(low),
            "MaxValue": str(high),
            "ScalingType": "Logarithmic",
        }
    try:
        x = float(text)
    except ValueError:
        return None
    if not math.isfinite(x) or x < 0:
        return None
    if x == 0:
        return "ContinuousParameterRanges", {"Name": name, "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"}
    top = min(10 * x, 1.0) if x < 1 else 10 * x
    return "ContinuousParameterRanges", {
        "Name": name,
        "MinValue": repr(x / 10),
        "MaxValue": repr(top),
        "ScalingType": "Logarithmic",
    }


def autotuned(request: CreateTuningJobRequest) -> tuple[CreateTuningJobRequest, dict[str, Any], list[FieldError]]:
    """The request with Autotune's choices made (and kept in Autotune.Choices), the choices made now
    (member path -> value), and the hints no range could be inferred from (whose ranges are then
    left as they were). Without Autotune: the request as it is."""
    if not enabled(request):
        return request, {}, []
    config = request.HyperParameterTuningJobConfig
    chosen: dict[str, Any] = {}
    errors: list[FieldError] = []
    path = "HyperParameterTuningJobConfig.ParameterRanges"
    ranges = _with_hints(config.ParameterRanges, path, chosen, errors)
    updates: dict[str, Any] = {"ParameterRanges": ranges}
    definitions = [
        d.model_copy(
            update={
                "HyperParameterRanges": _with_hints(
                    d.HyperParameterRanges, f"TrainingJobDefinitions[{i}].HyperParameterRanges", chosen, errors
                )
            }
        )
        if d.HyperParameterRanges is not None
        else d
        for i, d in enumerate(request.TrainingJobDefinitions or [])
    ]
    tuned = _count(ranges) + sum(_count(d.HyperParameterRanges) for d in definitions if d.HyperParameterRanges)
    limits = config.ResourceLimits
    if limits.MaxNumberOfTrainingJobs is None:
        jobs = min(MAX_JOBS, max(MIN_JOBS, JOBS_PER_PARAMETER * tuned))
        updates["ResourceLimits"] = limits.model_copy(update={"MaxNumberOfTrainingJobs": jobs})
        chosen["HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs"] = jobs
    if "TrainingJobEarlyStoppingType" not in config.model_fields_set and config.Strategy != "Hyperband":
        updates["TrainingJobEarlyStoppingType"] = "Auto"
        chosen["HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType"] = "Auto"
    criteria = config.TuningJobCompletionCriteria or TuningJobCompletionCriteriaShape()
    if criteria.ConvergenceDetected is None:
        convergence = ConvergenceDetectedShape(CompleteOnConvergence="Enabled")
        updates["TuningJobCompletionCriteria"] = criteria.model_copy(update={"ConvergenceDetected": convergence})
        chosen[
            "HyperParameterTuningJobConfig.TuningJobCompletionCriteria.ConvergenceDetected.CompleteOnConvergence"
        ] = "Enabled"
    result: dict[str, Any] = {"HyperParameterTuningJobConfig": config.model_copy(update=updates)}
    if request.TrainingJobDefinition is not None:
        result["TrainingJobDefinition"] = _with_retries(request.TrainingJobDefinition, "TrainingJobDefinition", chosen)
    if request.TrainingJobDefinitions is not None:
        result["TrainingJobDefinitions"] = [
            _with_retries(d, f"TrainingJobDefinitions[{i}]", chosen) for i, d in enumerate(definitions)
        ]
    assert request.Autotune is not None
    result["Autotune"] = {"Mode": "Enabled", "Choices": {**(request.Autotune.get("Choices") or {}), **chosen}}
    return request.model_copy(update=result), chosen, errors


def _with_hints(
    given: ParameterRangesShape, path: str, chosen: dict[str, Any], errors: list[FieldError]
) -> ParameterRangesShape:
    """`given` with a range for each of its AutoParameters in their place."""
    if not given.AutoParameters:
        return given
    ranges = given.model_dump(exclude_none=True)
    made_here: dict[str, Any] = {}
    for i, item in enumerate(given.AutoParameters):
        name, hint = str(item.get("Name", "")), str(item.get("ValueHint", ""))
        found = hint_range(name, hint)
        if found is None:
            errors.append(
                FieldError(
                    f"{path}.AutoParameters[{i}].ValueHint",
                    "autotune-hint",
                    f"no range can be inferred for {name!r} from {hint!r} (tunestream infers one from an "
                    "integer, a non-negative number or true/false): give its range yourself",
                )
            )
            continue
        kind, made = found
        ranges.setdefault(kind, []).append(made)
        made_here[f"{path}.{kind}[{name}]"] = made
    if len(made_here) < len(given.AutoParameters):
        return given  # refused: validation names the hints, and nothing is stored
    chosen.update(made_here)
    ranges.pop("AutoParameters", None)
    return ParameterRangesShape.model_validate(ranges)


def _count(ranges: ParameterRangesShape) -> int:
    return sum(
        len(r)
        for r in (ranges.IntegerParameterRanges, ranges.ContinuousParameterRanges, ranges.CategoricalParameterRanges)
    )


def _with_retries(
    definition: TrainingJobDefinitionShape, path: str, chosen: dict[str, Any]
) -> TrainingJobDefinitionShape:
    if definition.RetryStrategy is not None:
        return definition
    chosen[f"{path}.RetryStrategy.MaximumRetryAttempts"] = RETRIES
    return definition.model_copy(update={"RetryStrategy": RetryStrategyShape(MaximumRetryAttempts=RETRIES)})
