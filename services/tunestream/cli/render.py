"""Rich renderings of tuning jobs: live progress, training job tables, the best training job."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

STATUS_STYLE = {"Completed": "green", "InProgress": "cyan", "Stopping": "yellow", "Stopped": "yellow", "Failed": "red"}


def total_jobs(describe: dict[str, Any]) -> int:
    limits = describe["HyperParameterTuningJobConfig"]["ResourceLimits"]
    return int(limits.get("MaxNumberOfTrainingJobs") or 0)


def finished_count(describe: dict[str, Any]) -> int:
    c = describe["TrainingJobStatusCounters"]
    return int(c["Completed"] + c["NonRetryableError"] + c["RetryableError"] + c["Stopped"])


def _number(training_job_name: str) -> str:
    # The tuning job's name prefixes every training job's; the number and hash are what differ.
    return "-".join(training_job_name.rsplit("-", 2)[-2:])


def training_jobs_table(jobs: list[dict[str, Any]], title: str | None = None) -> Table:
    table = Table(title=title, expand=False)
    table.add_column("#", no_wrap=True)
    table.add_column("status", no_wrap=True)
    several = any(j.get("TrainingJobDefinitionName") for j in jobs)  # several TrainingJobDefinitions
    if several:
        table.add_column("definition", no_wrap=True)
    names = sorted({k for j in jobs for k in j.get("TunedHyperParameters", {})})
    for n in names:
        table.add_column(n, justify="right", overflow="ellipsis")
    table.add_column("objective", justify="right", no_wrap=True)
    resumes = any(j.get("ResumedFrom") for j in jobs)  # promotion Hyperband
    if resumes:
        table.add_column("resumes", no_wrap=True)
    with_reasons = any(j.get("FailureReason") or j.get("ObjectiveStatusReason") for j in jobs)
    if with_reasons:
        table.add_column("reason", overflow="fold", max_width=50)
    for j in jobs:
        status = j["TrainingJobStatus"]
        metric = j.get("FinalHyperParameterTuningJobObjectiveMetric")
        value = f"{metric['Value']:.6g}" if metric else "-"
        reason = j.get("FailureReason") or j.get("ObjectiveStatusReason") or ""
        tuned = j.get("TunedHyperParameters", {})
        cells = [
            _number(j["TrainingJobName"]),
            f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]",
            *([j.get("TrainingJobDefinitionName", "")] if several else []),
            *[_short(tuned.get(n, "")) for n in names],
            value,
        ]
        if resumes:
            cells.append(_number(j["ResumedFrom"]) if j.get("ResumedFrom") else "")
        if with_reasons:
            cells.append(reason.splitlines()[0] if reason else "")
        table.add_row(*cells)
    return table


def _short(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value
    return value if "." not in value and "e" not in value else f"{number:.4g}"


def progress_view(describe: dict[str, Any], jobs: list[dict[str, Any]], progress: Progress, task: Any) -> Group:
    progress.update(task, total=total_jobs(describe) or None, completed=finished_count(describe))
    best = describe.get("BestTrainingJob")
    line = "best: -"
    if best:
        m = best["FinalHyperParameterTuningJobObjectiveMetric"]
        line = f"best: {best['TrainingJobName']}  {m['MetricName']}={m['Value']:.6g}"
    return Group(progress, f"[bold]{describe['HyperParameterTuningJobStatus']}[/]  {line}", training_jobs_table(jobs))


def inert_lines(describe: dict[str, Any]) -> list[str]:
    """The inert members the job was given (REST Describe's InertMembers), so nobody reads them as applied."""
    inert = describe.get("InertMembers") or []
    if not inert:
        return []
    return ["  inert (AWS-only, accepted, no effect here; docs/request-members.md):", *[f"    {m}" for m in inert]]


def make_progress(name: str) -> Progress:
    return Progress(
        TextColumn(f"[bold]{name}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("training jobs"),
        TimeElapsedColumn(),
    )
