"""PNG plots of a tuning job (matplotlib): convergence, parallel coordinates, learning curves.

They draw from the analytics JSON the api serves (`/tuning-jobs/{name}/analytics/...`), so the
CLI, the SDK and the dashboard show the same numbers.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunestream.analytics_tables import best_so_far, search_space_of
from tunestream.space import CategoricalParam, ContinuousParam, IntegerParam, SearchSpace

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STOPPED_COLOR = "#d62728"


def _figure(width: float, height: float, ncols: int = 1) -> tuple[Figure, Any]:
    import matplotlib

    matplotlib.use("Agg")  # files only: never needs a display
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(1, ncols)


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _objective_value(job: dict[str, Any]) -> float | None:
    value = job.get("FinalObjectiveValue")
    if value is None or isinstance(value, str):  # "Infinity" as JSON spells it, or missing
        return None
    return float(value) if math.isfinite(value) else None


def convergence_figure(describe: dict[str, Any], jobs: list[dict[str, Any]]) -> Figure:
    """Each training job's objective and the best so far, against training job index and against time."""
    objective = describe["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    maximize = objective["Type"] == "Maximize"
    fig, (by_index, by_time) = _figure(11, 4, 2)
    ordered = sorted(jobs, key=lambda j: j["TrainingJobIndex"])
    values = [_objective_value(j) for j in ordered]
    best = best_so_far(values, maximize)
    xs = [j["TrainingJobIndex"] for j in ordered]
    by_index.scatter(
        [x for x, v in zip(xs, values, strict=True) if v is not None],
        [v for v in values if v is not None],
        s=14,
        alpha=0.6,
        label="training job",
    )
    by_index.step(
        xs, [b if b is not None else math.nan for b in best], where="post", color="black", label="best so far"
    )
    by_index.set_xlabel("training job (order proposed)")
    by_index.set_ylabel(objective["MetricName"])
    by_index.set_title("best so far vs training job")
    by_index.legend(loc="best")

    start = _time(describe.get("CreationTime"))
    ended = sorted(
        (j for j in jobs if j.get("TrainingEndTime") and _objective_value(j) is not None),
        key=lambda j: j["TrainingEndTime"],
    )
    if start is not None and ended:
        seconds = [((_time(j["TrainingEndTime"]) or start) - start).total_seconds() for j in ended]
        ended_values = [_objective_value(j) for j in ended]
        by_time.scatter(seconds, ended_values, s=14, alpha=0.6)
        running = best_so_far(ended_values, maximize)
        by_time.step(seconds, [b if b is not None else math.nan for b in running], where="post", color="black")
    by_time.set_xlabel("seconds since the tuning job was created")
    by_time.set_ylabel(objective["MetricName"])
    by_time.set_title("best so far vs wall-clock time")
    fig.suptitle(f"{describe['HyperParameterTuningJobName']}: convergence ({objective['Type']})")
    return fig


def _axis_position(param: ContinuousParam | IntegerParam | CategoricalParam, value: Any) -> float | None:
    """Where a value sits on its axis, in [0, 1], on the range's own scale."""
    try:
        if isinstance(param, CategoricalParam):
            return param.to_unit(str(value))
        if isinstance(param, IntegerParam):
            return param.to_unit(int(value))
        return param.to_unit(float(value))
    except (ValueError, TypeError, ZeroDivisionError):
        return None


def _axis_labels(param: ContinuousParam | IntegerParam | CategoricalParam) -> tuple[list[float], list[str]]:
    if isinstance(param, CategoricalParam):
        return [param.to_unit(c) for c in param.choices], list(param.choices)
    ticks = [0.0, 0.5, 1.0]
    return ticks, [f"{param.from_unit(t):.3g}" for t in ticks]


def parallel_coordinates_figure(describe: dict[str, Any], jobs: list[dict[str, Any]]) -> Figure:
    """One line per training job with an objective, across the tuned parameters, coloured by objective."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D

    objective = describe["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    space: SearchSpace = search_space_of(describe)
    scored = [(j, v) for j in jobs if (v := _objective_value(j)) is not None]
    fig, ax = _figure(max(6.0, 1.8 * (len(space.params) + 1)), 4.5)
    axes_count = len(space.params) + 1
    if scored:
        low = min(v for _, v in scored)
        high = max(v for _, v in scored)
        norm = Normalize(low, high if high > low else low + 1.0)
        cmap = colormaps["viridis" if objective["Type"] == "Maximize" else "viridis_r"]
        # The best are drawn last, so they are on top.
        ordered = sorted(scored, key=lambda jv: jv[1] if objective["Type"] == "Maximize" else -jv[1])
        for job, value in ordered:
            ys = [_axis_position(p, job.get(p.name)) for p in space.params]
            ys.append(norm(value))
            ax.plot(range(axes_count), [math.nan if y is None else y for y in ys], color=cmap(norm(value)), alpha=0.8)
        fig.colorbar(
            ScalarMappable(norm=norm, cmap=cmap),
            ax=ax,
            label=objective["MetricName"],
        )
        for t, bound in ((0.0, low), (1.0, high if high > low else low + 1.0)):
            ax.annotate(f"{bound:.4g}", (axes_count - 1, t), xytext=(3, 0), textcoords="offset points", fontsize=7)
        stopped = sum(1 for j, _ in scored if j.get("TrainingJobStatus") == "Stopped")
        if stopped:
            ax.legend([Line2D([], [], color="grey")], [f"{stopped} of {len(scored)} stopped early"], loc="lower right")
    for i, p in enumerate(space.params):
        ax.axvline(i, color="grey", linewidth=0.8)
        ticks, labels = _axis_labels(p)
        for t, label in zip(ticks, labels, strict=True):
            ax.annotate(label, (i, t), xytext=(3, 0), textcoords="offset points", fontsize=7, va="center")
    ax.axvline(axes_count - 1, color="grey", linewidth=0.8)
    ax.set_xticks(range(axes_count), [*space.names, objective["MetricName"]])
    ax.set_yticks([])
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(f"{describe['HyperParameterTuningJobName']}: parallel coordinates ({len(scored)} training jobs)")
    return fig


def learning_curves_figure(
    describe: dict[str, Any], jobs: list[dict[str, Any]], metrics: list[dict[str, Any]]
) -> Figure:
    """The objective metric against step for every training job; early-stopped ones dashed and marked."""
    objective = describe["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    name = objective["MetricName"]
    series: dict[str, list[tuple[int, float]]] = {}
    for point in metrics:
        if point["MetricName"] == name and isinstance(point["Value"], int | float):
            series.setdefault(point["TrainingJobName"], []).append((int(point["Step"]), float(point["Value"])))
    by_name = {j["TrainingJobName"]: j for j in jobs}
    from matplotlib.lines import Line2D

    fig, ax = _figure(9, 5)
    stopped_count = 0
    for job_name, points in series.items():
        points.sort()
        job = by_name.get(job_name, {})
        stopped = job.get("TrainingJobStatus") == "Stopped"
        steps, values = [s for s, _ in points], [v for _, v in points]
        if stopped:
            stopped_count += 1
            ax.plot(steps, values, linestyle="--", color=STOPPED_COLOR, alpha=0.6, linewidth=1)
            ax.plot(steps[-1], values[-1], marker="x", color=STOPPED_COLOR)
        else:
            ax.plot(steps, values, alpha=0.8, linewidth=1.2)

    handles = [Line2D([], [], color="C0", label="ran to the end")]
    if stopped_count:
        rules = sorted(
            {
                str(j.get("EarlyStoppingRule") or j.get("StopReason") or "stopped")
                for j in jobs
                if j.get("TrainingJobStatus") == "Stopped"
            }
        )
        handles.append(
            Line2D(
                [],
                [],
                color=STOPPED_COLOR,
                linestyle="--",
                marker="x",
                label=f"stopped ({stopped_count}): {', '.join(rules)[:60]}",
            )
        )
    ax.legend(handles=handles, loc="best")
    ax.set_xlabel("step")
    ax.set_ylabel(name)
    ax.set_title(f"{describe['HyperParameterTuningJobName']}: learning curves ({len(series)} training jobs)")
    return fig


def write_plots(
    describe: dict[str, Any], jobs: list[dict[str, Any]], metrics: list[dict[str, Any]], out_dir: Path
) -> list[Path]:
    """convergence.png, parallel_coordinates.png and learning_curves.png in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = {
        "convergence.png": convergence_figure(describe, jobs),
        "parallel_coordinates.png": parallel_coordinates_figure(describe, jobs),
        "learning_curves.png": learning_curves_figure(describe, jobs, metrics),
    }
    written = []
    for filename, fig in figures.items():
        path = out_dir / filename
        fig.savefig(path, dpi=110)
        written.append(path)
    return written
