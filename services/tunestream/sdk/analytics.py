"""Tuning results as pandas DataFrames, as `sagemaker.analytics`.

`HyperparameterTuningJobAnalytics(name).dataframe()` has one row per training job, in launch order
(training job names carry their number), with the columns sagemaker's has:

- each tuned hyperparameter (numbers as numbers: a column whose values all parse as numbers, integer
  and categorical ones included, holds ints or floats),
- TrainingJobName, TrainingJobStatus, FinalObjectiveValue, TrainingStartTime, TrainingEndTime,
  TrainingElapsedTimeSeconds,

plus one column named after the objective metric (e.g. `val:dice`) holding the final objective value,
which is what notebooks written for AMT select.

The text and time cells (names, statuses, start and end times) are `str` and `datetime` objects in
object columns that give NaN when converted with float(): pandas' whole-frame numeric plots
(`pandas.plotting.parallel_coordinates(df, 'val:dice')`, as the AMT lab draws) then plot the numeric
columns and leave gaps at those, instead of failing on the first job name.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from tunestream.sdk.session import Session

METADATA_COLUMNS = (
    "TrainingJobName",
    "TrainingJobStatus",
    "FinalObjectiveValue",
    "TrainingStartTime",
    "TrainingEndTime",
    "TrainingElapsedTimeSeconds",
)
_TEXT_COLUMNS = ("TrainingJobName", "TrainingJobStatus")
_TIME_COLUMNS = ("TrainingStartTime", "TrainingEndTime")


class Text(str):
    """A text cell: a str, whose float() is NaN (see the module docstring)."""

    __slots__ = ()

    def __float__(self) -> float:
        return math.nan


class Time(datetime):
    """A time cell: a datetime, whose float() is NaN (see the module docstring)."""

    def __float__(self) -> float:
        return math.nan

    @classmethod
    def parse(cls, value: Any) -> Time | None:
        if value is None:
            return None
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return cls(
            moment.year,
            moment.month,
            moment.day,
            moment.hour,
            moment.minute,
            moment.second,
            moment.microsecond,
            moment.tzinfo,
        )


def _as_number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def _numeric_columns(rows: list[dict[str, Any]], names: list[str]) -> None:
    """Turn a hyperparameter column into numbers where every value parses as one (ints if all are)."""
    for name in names:
        values = [r[name] for r in rows if r.get(name) is not None]
        parsed = [_as_number(str(v)) for v in values]
        if not values or any(p is None for p in parsed):
            continue
        as_float = any(isinstance(p, float) for p in parsed)
        for r in rows:
            if r.get(name) is not None:
                number = _as_number(str(r[name]))
                r[name] = float(number) if as_float and number is not None else number


def summaries_to_dataframe(
    summaries: list[dict[str, Any]],
    objective_metric_name: str | None = None,
    tuned_names: list[str] | None = None,
) -> pd.DataFrame:
    """ListTrainingJobsForHyperParameterTuningJob summaries -> sagemaker's tuning DataFrame (+ objective column).

    tuned_names orders the hyperparameter columns (the job's ParameterRanges order); names found only
    in summaries follow, in the order first seen.
    """
    import pandas as pd

    names = list(tuned_names or [])
    for s in summaries:
        for k in s.get("TunedHyperParameters") or {}:
            if k not in names:
                names.append(k)
    rows: list[dict[str, Any]] = []
    for s in summaries:
        tuned = s.get("TunedHyperParameters") or {}
        row: dict[str, Any] = {k: tuned.get(k) for k in names}
        metric = s.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
        start, end = Time.parse(s.get("TrainingStartTime")), Time.parse(s.get("TrainingEndTime"))
        value = metric.get("Value")
        row.update(
            {
                "TrainingJobName": Text(s["TrainingJobName"]),
                "TrainingJobStatus": Text(s.get("TrainingJobStatus", "")),
                "FinalObjectiveValue": float(value) if value is not None else math.nan,
                "TrainingStartTime": start,
                "TrainingEndTime": end,
                "TrainingElapsedTimeSeconds": (end - start).total_seconds() if start and end else math.nan,
            }
        )
        rows.append(row)
    _numeric_columns(rows, names)
    columns = [*names, *METADATA_COLUMNS]
    if objective_metric_name is not None and objective_metric_name not in columns:
        columns.append(objective_metric_name)
    index = pd.RangeIndex(len(rows))
    data: dict[str, pd.Series] = {}
    for column in columns:
        if column == objective_metric_name and column not in METADATA_COLUMNS and column not in names:
            values = [r["FinalObjectiveValue"] for r in rows]
        else:
            values = [r.get(column) for r in rows]
        if column in _TEXT_COLUMNS or column in _TIME_COLUMNS:
            data[column] = pd.Series(values, dtype=object, index=index)
        elif any(isinstance(v, str) for v in values):
            # Categorical values that are not all numbers stay text, as in sagemaker's frame.
            data[column] = pd.Series([Text(v) if isinstance(v, str) else v for v in values], dtype=object, index=index)
        elif all(isinstance(v, int) for v in values) and values:
            data[column] = pd.Series(values, dtype="int64", index=index)
        else:
            data[column] = pd.Series([math.nan if v is None else v for v in values], dtype="float64", index=index)
    return pd.DataFrame(data, index=index, columns=columns)


class AnalyticsMetricsBase:
    """dataframe() with a cache, export_csv(), clear_cache(): as sagemaker's base class."""

    def __init__(self) -> None:
        self._dataframe: pd.DataFrame | None = None

    def dataframe(self, force_refresh: bool = False) -> pd.DataFrame:
        if force_refresh or self._dataframe is None:
            self.clear_cache()
            self._dataframe = self._fetch_dataframe()
        return self._dataframe

    def export_csv(self, filename: str) -> None:
        self.dataframe().to_csv(filename)

    def clear_cache(self) -> None:
        self._dataframe = None

    def _fetch_dataframe(self) -> pd.DataFrame:
        raise NotImplementedError


class HyperparameterTuningJobAnalytics(AnalyticsMetricsBase):
    """The training jobs of one tuning job: their tuned hyperparameters, statuses, objective values."""

    def __init__(self, hyperparameter_tuning_job_name: str, sagemaker_session: Session | None = None) -> None:
        from tunestream.sdk.session import Session

        self.sagemaker_session = sagemaker_session or Session()
        self._tuning_job_name = hyperparameter_tuning_job_name
        self._tuning_job_describe_result: dict[str, Any] | None = None
        self._training_job_summaries: list[dict[str, Any]] | None = None
        super().__init__()

    def __repr__(self) -> str:
        return f"<tunestream HyperparameterTuningJobAnalytics for {self.name}>"

    @property
    def name(self) -> str:
        return self._tuning_job_name

    def clear_cache(self) -> None:
        super().clear_cache()
        self._tuning_job_describe_result = None
        self._training_job_summaries = None

    def description(self, force_refresh: bool = False) -> dict[str, Any]:
        """DescribeHyperParameterTuningJob (cached)."""
        if force_refresh:
            self.clear_cache()
        if self._tuning_job_describe_result is None:
            self._tuning_job_describe_result = self.sagemaker_session.describe_tuning_job(self.name)
        return self._tuning_job_describe_result

    def training_job_summaries(self, force_refresh: bool = False) -> list[dict[str, Any]]:
        """Every ListTrainingJobsForHyperParameterTuningJob summary, in launch order (cached)."""
        if force_refresh:
            self.clear_cache()
        if self._training_job_summaries is None:
            self._training_job_summaries = self.sagemaker_session.list_training_jobs_for_tuning_job(
                self.name, SortBy="Name", SortOrder="Ascending"
            )
        return self._training_job_summaries

    @property
    def tuning_ranges(self) -> dict[str, dict[str, Any]]:
        """Tuned hyperparameter name -> its range (the ParameterRanges entry)."""
        ranges = self.description()["HyperParameterTuningJobConfig"].get("ParameterRanges") or {}
        return {r["Name"]: dict(r) for kind in sorted(ranges) for r in ranges.get(kind) or [] if "Name" in r}

    def objective_metric_name(self) -> str | None:
        objective = self.description()["HyperParameterTuningJobConfig"].get("HyperParameterTuningJobObjective")
        return objective.get("MetricName") if objective else None

    def _fetch_dataframe(self) -> pd.DataFrame:
        ranges = self.description()["HyperParameterTuningJobConfig"].get("ParameterRanges") or {}
        ordered = [
            r["Name"]
            for kind in ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges")
            for r in ranges.get(kind) or []
        ]
        return summaries_to_dataframe(self.training_job_summaries(), self.objective_metric_name(), ordered)


class TrainingJobAnalytics(AnalyticsMetricsBase):
    """Every metric value one training job printed: columns timestamp (seconds since the training
    job started), metric_name, value, and step (the value's ordinal among that metric's values)."""

    def __init__(
        self,
        training_job_name: str,
        metric_names: list[str] | None = None,
        sagemaker_session: Session | None = None,
    ) -> None:
        from tunestream.sdk.session import Session

        self.sagemaker_session = sagemaker_session or Session()
        self.name = training_job_name
        self._metric_names = metric_names
        super().__init__()

    def _fetch_dataframe(self) -> pd.DataFrame:
        import pandas as pd

        desc = self.sagemaker_session.describe_training_job(self.name)
        points = self.sagemaker_session.training_job_metrics(self.name)["Metrics"]
        start = Time.parse(desc.get("TrainingStartTime"))
        rows = []
        for p in points:
            if self._metric_names is not None and p["MetricName"] not in self._metric_names:
                continue
            at = Time.parse(p.get("Timestamp"))
            rows.append(
                {
                    "timestamp": (at - start).total_seconds() if at and start else math.nan,
                    "metric_name": p["MetricName"],
                    "value": float(p["Value"]),
                    "step": p.get("Step"),
                }
            )
        return pd.DataFrame(rows, columns=["timestamp", "metric_name", "value", "step"])
