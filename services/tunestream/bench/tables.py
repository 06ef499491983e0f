"""Curve tables: real learning curves recorded once from a training program, replayed by the bench.

A table is one task: a search space (SageMaker parameter ranges), an objective and its direction,
and rows. A row is one configuration that was really trained: its hyperparameters (the strings the
program got), the objective after every epoch (or boosting round) and the wall seconds each took.
Stored as gzip'd JSON under benchmarks/tables/, written by the recorders in benchmarks/curves/.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tunestream.space import CategoricalParam, ContinuousParam, IntegerParam, Param, SearchSpace

FORMAT_VERSION = 1


@dataclass(frozen=True)
class CurveRow:
    hyperparameters: dict[str, str]
    values: tuple[float, ...]
    seconds: tuple[float, ...]

    @property
    def final(self) -> float:
        return self.values[-1]


@dataclass
class CurveTable:
    task: str
    description: str
    space: SearchSpace
    metric: str
    maximize: bool
    resource: str  # what one step is: "epoch", "boosting round"
    rows: list[CurveRow]
    recorded_with: dict[str, Any] = field(default_factory=dict)
    _unit: np.ndarray | None = field(default=None, repr=False)

    @property
    def max_resource(self) -> int:
        return max(len(r.values) for r in self.rows)

    def unit_points(self) -> np.ndarray:
        """Each row's configuration in the unit cube of the search space (the strategies' own map)."""
        if self._unit is None:
            self._unit = np.array([self.space.to_unit(self.space.parse(r.hyperparameters)) for r in self.rows])
        return self._unit

    def nearest(self, values: Mapping[str, int | float | str]) -> int:
        """The row whose configuration is nearest to `values` in the unit cube: the bench's surrogate
        for a configuration nobody recorded. Categorical choices differ by a full unit."""
        point = np.array(self.space.to_unit(values))
        unit = self.unit_points()
        diff = np.abs(unit - point)
        for i, p in enumerate(self.space.params):
            if isinstance(p, CategoricalParam):
                diff[:, i] = (diff[:, i] > 1e-9).astype(float)
        return int(np.argmin((diff**2).sum(axis=1)))

    def finals(self) -> np.ndarray:
        return np.array([r.final for r in self.rows])

    def target(self, share: float) -> float:
        """The final value reached by `share` of the table's configurations: the k-th best of them,
        k = ceil(share * rows), a value some configuration really reached (accuracies on a held-out
        set are discrete, and an interpolated quantile can lie above all but a few)."""
        return reached_by(self.finals(), share, self.maximize)

    def reaches(self, value: float, target: float) -> bool:
        return value >= target if self.maximize else value <= target


def reached_by(finals: np.ndarray, share: float, maximize: bool) -> float:
    """The k-th best of `finals`, k = ceil(share * len(finals)): a value `share` of them reach."""
    ordered = np.sort(finals)
    if maximize:
        ordered = ordered[::-1]
    k = max(1, math.ceil(share * len(ordered) - 1e-9))
    return float(ordered[k - 1])


def _param_to_json(p: Param) -> dict[str, Any]:
    if isinstance(p, CategoricalParam):
        return {"type": "categorical", "name": p.name, "choices": list(p.choices)}
    kind = "integer" if isinstance(p, IntegerParam) else "continuous"
    return {"type": kind, "name": p.name, "low": p.low, "high": p.high, "scaling": p.scaling}


def _param_from_json(d: dict[str, Any]) -> Param:
    if d["type"] == "categorical":
        return CategoricalParam(d["name"], tuple(d["choices"]))
    if d["type"] == "integer":
        return IntegerParam(d["name"], int(d["low"]), int(d["high"]), d["scaling"])
    return ContinuousParam(d["name"], float(d["low"]), float(d["high"]), d["scaling"])


def save(table: CurveTable, path: Path) -> None:
    doc = {
        "format": FORMAT_VERSION,
        "task": table.task,
        "description": table.description,
        "space": [_param_to_json(p) for p in table.space.params],
        "metric": table.metric,
        "maximize": table.maximize,
        "resource": table.resource,
        "recorded_with": table.recorded_with,
        "rows": [
            {
                "hyperparameters": r.hyperparameters,
                "values": [round(v, 6) for v in r.values],
                "seconds": [round(s, 4) for s in r.seconds],
            }
            for r in table.rows
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as f:
        json.dump(doc, f, separators=(",", ":"))


def load(path: Path) -> CurveTable:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        doc = json.load(f)
    if doc.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: curve table format {doc.get('format')!r}, expected {FORMAT_VERSION}")
    rows = [CurveRow(r["hyperparameters"], tuple(r["values"]), tuple(r["seconds"])) for r in doc["rows"]]
    steps = max((len(r.values) for r in rows), default=0)
    bad = [i for i, r in enumerate(rows) if len(r.values) != steps or len(r.seconds) != steps]
    if not rows or bad:
        raise ValueError(f"{path}: every row needs all {steps} values and seconds; rows {bad[:5]} do not")
    return CurveTable(
        task=doc["task"],
        description=doc["description"],
        space=SearchSpace(tuple(_param_from_json(p) for p in doc["space"])),
        metric=doc["metric"],
        maximize=bool(doc["maximize"]),
        resource=doc["resource"],
        rows=rows,
        recorded_with=doc.get("recorded_with", {}),
    )
