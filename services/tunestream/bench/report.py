"""The bench's figures: time-to-target tables with bootstrap intervals, and best-so-far plots."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tunestream.bench.informed import is_informed
from tunestream.bench.stats import Interval, median_interval, speedup

RANDOM = "tunestream Random"


@dataclass
class Cell:
    """The runs of one method on one task with W workers."""

    task: str
    workers: int
    method: str
    targets: dict[float, float]  # share -> target value
    times: dict[float, list[float]]  # share -> time to target per seed
    traces: list[list[tuple[float, float]]]
    by_jobs: list[list[float]]
    decision_seconds: list[float]
    horizon_s: float
    # Per seed: worker seconds spent training and epochs trained (their ratio: what a chosen epoch costs).
    train_seconds: list[float] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)
    maximize: bool = True

    def as_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "workers": self.workers,
            "method": self.method,
            "targets": {str(k): v for k, v in self.targets.items()},
            "times": {str(k): [t if math.isfinite(t) else None for t in v] for k, v in self.times.items()},
            "traces": self.traces,
            "by_jobs": self.by_jobs,
            "decision_seconds": self.decision_seconds,
            "horizon_s": self.horizon_s,
            "maximize": self.maximize,
            "train_seconds": self.train_seconds,
            "epochs": self.epochs,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Cell:
        return cls(
            task=doc["task"],
            workers=doc["workers"],
            method=doc["method"],
            targets={float(k): v for k, v in doc["targets"].items()},
            times={float(k): [math.inf if t is None else t for t in v] for k, v in doc["times"].items()},
            traces=[[(a, b) for a, b in t] for t in doc["traces"]],
            by_jobs=doc["by_jobs"],
            decision_seconds=doc["decision_seconds"],
            horizon_s=doc["horizon_s"],
            maximize=doc.get("maximize", True),
            train_seconds=doc.get("train_seconds", []),
            epochs=doc.get("epochs", []),
        )


def is_ours(method: str) -> bool:
    return method.startswith("tunestream ")


def is_peer(method: str) -> bool:
    """Neither tunestream's method nor an informed bound (informed.py), which no method can match."""
    return not is_ours(method) and not is_informed(method)


@dataclass(frozen=True)
class Row:
    task: str
    workers: int
    method: str
    share: float
    median_s: Interval
    vs_random: Interval
    vs_best_peer: Interval
    best_peer: str
    reached: float  # share of seeds that reached the target within the horizon


def rows(cells: Sequence[Cell]) -> list[Row]:
    out: list[Row] = []
    groups: dict[tuple[str, int], dict[str, Cell]] = {}
    for c in cells:
        groups.setdefault((c.task, c.workers), {})[c.method] = c
    for (task, workers), by_method in sorted(groups.items()):
        shares = sorted(next(iter(by_method.values())).times, reverse=True)
        for share in shares:
            random = by_method.get(RANDOM)
            peers = {m: c for m, c in by_method.items() if is_peer(m)}
            best_peer = min(peers, key=lambda m: np.median(peers[m].times[share]), default="")
            for method, cell in by_method.items():
                times = cell.times[share]
                out.append(
                    Row(
                        task=task,
                        workers=workers,
                        method=method,
                        share=share,
                        median_s=median_interval(times),
                        vs_random=speedup(random.times[share], times) if random else Interval(math.nan, 0, 0),
                        vs_best_peer=(
                            speedup(peers[best_peer].times[share], times) if best_peer else Interval(math.nan, 0, 0)
                        ),
                        best_peer=best_peer,
                        reached=float(np.mean([math.isfinite(t) for t in times])),
                    )
                )
    return out


def costs(cell: Cell) -> tuple[float, float]:
    """Median over seeds of the seconds an epoch it trained took, and of its own seconds per job."""
    per_epoch = [s / e for s, e in zip(cell.train_seconds, cell.epochs, strict=True) if e]
    per_job = [d / len(j) for d, j in zip(cell.decision_seconds, cell.by_jobs, strict=True) if j]
    return (
        float(np.median(per_epoch)) if per_epoch else math.nan,
        float(np.median(per_job)) if per_job else math.nan,
    )


def markdown(table_rows: Sequence[Row], seeds: dict[tuple[str, int, str], int], cells: Sequence[Cell] = ()) -> str:
    """One table per task and W: a row per method, time to each target and speed-ups with 95 % CIs,
    then what an epoch of its choices cost and its own time per training job."""
    by_key = {(c.task, c.workers, c.method): c for c in cells}
    lines: list[str] = []
    by_cell: dict[tuple[str, int], dict[str, dict[float, Row]]] = {}
    for r in table_rows:
        by_cell.setdefault((r.task, r.workers), {}).setdefault(r.method, {})[r.share] = r
    for (task, workers), methods in sorted(by_cell.items()):
        shares = sorted(next(iter(methods.values())), reverse=True)
        best_peer = next(iter(next(iter(methods.values())).values())).best_peer
        lines.append(f"\n#### {task}, W = {workers} (best peer at the 5 % target: {_best_at(methods, 0.05)})\n")
        header = ["method", "seeds"]
        for s in shares:
            header += [f"{s:.0%}: median s [95 % CI]", f"{s:.0%}: speed-up vs Random"]
        header += ["5 %: speed-up vs best peer", "s per epoch trained", "method s per job"]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        order = sorted(methods, key=lambda m: (is_peer(m), _sort_key(methods[m])))
        for m in order:
            line = [m, str(seeds.get((task, workers, m), ""))]
            for s in shares:
                r = methods[m][s]
                reached = "" if r.reached == 1 else f" ({r.reached:.0%} reached)"
                line += [f"{r.median_s}{reached}", str(r.vs_random)]
            five = methods[m].get(0.05)
            line.append(str(five.vs_best_peer) if five and best_peer else "")
            cell = by_key.get((task, workers, m))
            epoch_s, decision_s = costs(cell) if cell else (math.nan, math.nan)
            line += [f"{epoch_s:.3g}", f"{decision_s:.2g}"]
            lines.append("| " + " | ".join(line) + " |")
    return "\n".join(lines)


def overview_markdown(table_rows: Sequence[Row], share: float = 0.05) -> str:
    """The yardstick at a glance: per task, a row per method and a column per W, each the speed-up
    over Random at one target with its 95 % interval; the fastest at each W in bold."""
    picked = [r for r in table_rows if r.share == share]
    lines: list[str] = []
    for task in sorted({r.task for r in picked}):
        mine = [r for r in picked if r.task == task]
        widths = sorted({r.workers for r in mine})
        cell = {(r.method, r.workers): r for r in mine}
        contenders = [r for r in mine if not is_informed(r.method)]
        fastest = {
            w: min((r for r in contenders if r.workers == w), key=lambda r: r.median_s.value, default=None)
            for w in widths
        }
        lines.append(f"\n#### {task}: speed-up over Random at the {share:.0%} target\n")
        lines.append("| method | " + " | ".join(f"W = {w}" for w in widths) + " |")
        lines.append("|" + "---|" * (1 + len(widths)))
        methods = sorted({r.method for r in mine}, key=lambda m: (is_peer(m), is_informed(m), m))
        for m in methods:
            entries = []
            for w in widths:
                r = cell.get((m, w))
                text = "" if r is None else str(r.vs_random)
                top = fastest[w]
                entries.append(f"**{text}**" if r is not None and top is not None and top.method == m else text)
            lines.append(f"| {m} | " + " | ".join(entries) + " |")
    return "\n".join(lines)


def _best_at(methods: dict[str, dict[float, Row]], share: float) -> str:
    for rs in methods.values():
        if share in rs:
            return rs[share].best_peer or "none"
    return "none"


def _sort_key(rs: dict[float, Row]) -> float:
    r = rs.get(0.05) or next(iter(rs.values()))
    return r.median_s.value


def best_after(cell: Cell, jobs: int) -> list[float]:
    """Per seed, the best objective once `jobs` training jobs have ended (SageMaker's count). A run
    that ended earlier (every target reached) keeps its last best, a floor of what it would have had."""
    return [b[min(jobs, len(b)) - 1] for b in cell.by_jobs if b]


def by_jobs_markdown(cells: Sequence[Cell], counts: Sequence[int] = (20, 40)) -> str:
    """Median best objective after 20 and 40 training jobs, with a bootstrap 95 % interval."""
    lines = ["| task | W | method | " + " | ".join(f"best after {n} jobs" for n in counts) + " |"]
    lines.append("|" + "---|" * (3 + len(counts)))
    for c in sorted(cells, key=lambda c: (c.task, c.workers, is_peer(c.method), c.method)):
        line = [c.task, str(c.workers), c.method]
        for n in counts:
            values = best_after(c, n)
            line.append(str(median_interval(values)) if values else "n/a")
        lines.append("| " + " | ".join(line) + " |")
    return "\n".join(lines)


def plot(cells: Sequence[Cell], task: str, path: Path, max_lines: int = 9) -> None:
    """Best-so-far (median over seeds) against simulated time, one panel per W; tunestream's
    methods and Random always, the best peers (at the 5 % target) up to `max_lines` lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mine = [c for c in cells if c.task == task]
    workers = sorted({c.workers for c in mine})
    fig, axes = plt.subplots(1, len(workers), figsize=(5.5 * len(workers), 4.2), squeeze=False)
    for ax, w in zip(axes[0], workers, strict=True):
        group = [c for c in mine if c.workers == w]
        ours = [c for c in group if not is_peer(c.method)]
        peers = sorted((c for c in group if is_peer(c.method)), key=lambda c: np.median(c.times.get(0.05, [math.inf])))
        shown = ours + peers[: max(0, max_lines - len(ours))]
        horizon = group[0].horizon_s
        grid = np.linspace(0, horizon, 200)
        for c in shown:
            curves = np.array([[_best_at_time(t, x) for x in grid] for t in c.traces], dtype=float)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # no job ended yet early on: all-NaN columns
                med = np.nanmedian(curves, axis=0) if len(curves) else grid * math.nan
            style = ":" if is_informed(c.method) else "--" if is_peer(c.method) else "-"
            ax.plot(grid, med, label=c.method, linestyle=style)
        for share, target in sorted(group[0].targets.items()):
            ax.axhline(target, color="grey", linewidth=0.6, linestyle=":")
            ax.annotate(f"{share:.0%} target", (0, target), fontsize=7, color="grey", va="bottom")
        ax.set_title(f"{task}, W = {w}")
        ax.set_xlabel("simulated seconds")
        ax.set_ylabel("best objective so far (median over seeds)")
        # Where the search happens: from a little below the 10 % target to the best value seen, and
        # up to twice the time Random needs for the hardest target.
        values = [v for c in group for t in c.traces for _, v in t]
        easy = group[0].targets[max(group[0].targets)]
        if values:
            best = max(values) if group[0].maximize else min(values)
            span = abs(best - easy) or abs(easy) * 0.01 or 1.0
            lo, hi = sorted((easy - 1.5 * span if group[0].maximize else easy + 1.5 * span, best))
            ax.set_ylim(lo, hi + 0.05 * (hi - lo))
        random = next((c for c in group if c.method == RANDOM), None)
        if random is not None:
            slowest = float(np.median(random.times[min(random.times)]))
            if math.isfinite(slowest) and slowest > 0:
                ax.set_xlim(0, min(horizon, 2 * slowest))
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _best_at_time(trace: Sequence[tuple[float, float]], t: float) -> float:
    best = math.nan
    for when, value in trace:
        if when > t:
            break
        best = value
    return best
