"""How well each bench answer predicts a configuration nobody recorded: k-fold cross-validation on the tables.

    python benchmarks/surrogate_fit.py [--tasks mlp xgboost digits costly] [--folds 5] [--out benchmarks/out]

For every table, the rows are split into `--folds` folds; each fold's rows are predicted from the
others by the nearest-row answer (`CurveTable.nearest`) and by the fitted answer
(`tunestream.bench.surrogate.FittedCurves`), and compared with what was recorded: the Spearman
correlation and RMSE of the final value, the same among the best 10 % of rows (where a search
spends its late jobs), and the Spearman correlation of the mean log seconds per step (what a
configuration costs). Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from tunestream.bench import tables
from tunestream.bench.surrogate import FittedCurves

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT / "benchmarks" / "tables"


def cross_validate(table: tables.CurveTable, folds: int, seed: int = 0) -> dict[str, dict[str, float]]:
    n = len(table.rows)
    order = np.random.default_rng(seed).permutation(n)
    predicted: dict[str, np.ndarray] = {a: np.zeros((n, 2)) for a in ("nearest", "fitted")}
    for k in range(folds):
        held = order[k::folds]
        kept = np.setdiff1d(order, held)
        train = replace(table, rows=[table.rows[i] for i in kept], _unit=None)
        fitted = FittedCurves(train)
        for i in held:
            values = table.space.parse(table.rows[i].hyperparameters)
            near = train.rows[train.nearest(values)]
            curve = fitted.curve(values)
            predicted["nearest"][i] = (near.final, np.mean(np.log(near.seconds)))
            predicted["fitted"][i] = (curve.final, np.mean(np.log(curve.seconds)))
    finals = table.finals()
    cost = np.array([np.mean(np.log(r.seconds)) for r in table.rows])
    top = np.argsort(-finals if table.maximize else finals)[: max(10, n // 10)]
    out = {}
    for answer, p in predicted.items():
        out[answer] = {
            "spearman_final": float(spearmanr(p[:, 0], finals).statistic),
            "rmse_final": float(np.sqrt(np.mean((p[:, 0] - finals) ** 2))),
            "rmse_final_top10": float(np.sqrt(np.mean((p[top, 0] - finals[top]) ** 2))),
            "spearman_log_seconds": float(spearmanr(p[:, 1], cost).statistic),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="*", default=None)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    args = parser.parse_args(argv)
    paths = sorted(TABLES.glob("*.json.gz"))
    if args.tasks:
        paths = [p for p in paths if p.name.removesuffix(".json.gz") in args.tasks]
    results: dict[str, Any] = {}
    lines = [
        "| task | answer | Spearman, final value | RMSE, final value | RMSE, best 10 % of rows "
        "| Spearman, log s per step |",
        "|---|---|---|---|---|---|",
    ]
    for path in paths:
        table = tables.load(path)
        results[table.task] = cross_validate(table, args.folds)
        for answer, r in results[table.task].items():
            lines.append(
                f"| {table.task} | {answer} | {r['spearman_final']:.3f} | {r['rmse_final']:.4f} | "
                f"{r['rmse_final_top10']:.4f} | {r['spearman_log_seconds']:.3f} |"
            )
    print(f"{args.folds}-fold cross-validation, each fold predicted from the other rows\n")
    print("\n".join(lines))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "surrogate_fit.json").write_text(json.dumps({"folds": args.folds, "tasks": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
