"""tunestream's stand-in for SageMaker's built-in XGBoost algorithm, run by a launcher (as
`python -m tunestream.algorithms.xgboost_stand_in`) for a training job whose TrainingImage is the
built-in's ECR image or whose AlgorithmName is xgboost. It honours the algorithm's interface, so a
job written for it runs unchanged:

- hyperparameters from input/config/hyperparameters.json: `num_round` (required),
  `early_stopping_rounds`, `csv_weights`, `eval_metric` (comma-separated), every XGBoost parameter
  (`eta`, `max_depth`, `alpha`, `objective`, `rate_drop`, ...) passed on as given, and
  `_tuning_objective_metric`, whose metric is evaluated even when eval_metric leaves it out;
- channels `train` (required) and `validation`, every file in them, in the content type of
  inputdataconfig.json: `text/csv` or `csv` (label in the first column, no header; with
  csv_weights=1 the instance weight in the second) or `text/libsvm` / `libsvm` (the default, as on
  SageMaker). Other types (Parquet, RecordIO-protobuf) fail the job with a reason;
- evaluation lines as the built-in prints them (`[3]<tab>train-auc:0.98<tab>validation-auc:0.97`),
  with accuracy, f1, mse and r2, which XGBoost does not compute itself, added as SageMaker does;
- several instances (SM_HOSTS): the hosts train one model together through XGBoost's collective
  (algo-1 runs the tracker at MASTER_ADDR:MASTER_PORT), each on the data in its own channels (a
  ShardedByS3Key channel gives each host its share); algo-1 prints the evaluation and saves the model;
- the model as `xgboost-model` in the model folder; a failure's reason in output/failure.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

# SageMaker's own hyperparameters for the algorithm: read here, never passed to XGBoost.
SAGEMAKER_ONLY = {
    "num_round",
    "early_stopping_rounds",
    "csv_weights",
    "_tuning_objective_metric",
    "_kfold",
    "_num_cv_round",
    "save_model_on_termination",
    "use_dask_gpu_training",
}
# Metrics the built-in computes beside XGBoost's own.
EXTRA_METRICS = ("accuracy", "f1", "mse", "r2")
CSV_TYPES = {"csv", "text/csv"}
LIBSVM_TYPES = {"libsvm", "text/libsvm", "text/x-libsvm"}
DEFAULT_TRACKER_PORT = 9099


class AlgorithmError(Exception):
    """The job's own problem (its data, its hyperparameters): the FailureReason says what."""


def _config(name: str) -> Any:
    folder = Path(os.environ.get("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config"))
    path = folder / name
    return json.loads(path.read_text()) if path.is_file() else {}


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def load_channel(name: str, content_type: str | None, csv_weights: bool) -> Any | None:
    """The channel's files as one DMatrix, or None when the job has no such channel."""
    import xgboost as xgb

    folder = os.environ.get(f"SM_CHANNEL_{name.upper()}")
    if not folder or not Path(folder).is_dir():
        return None
    files = _files(Path(folder))
    if not files:
        raise AlgorithmError(f"the {name} channel has no files")
    kind = (content_type or "text/libsvm").split(";")[0].strip().lower()
    if kind in CSV_TYPES:
        try:
            rows = np.vstack([np.loadtxt(f, delimiter=",", ndmin=2, dtype=np.float64) for f in files])
        except ValueError as exc:
            raise AlgorithmError(f"the {name} channel is not numeric CSV (label first, no header): {exc}") from exc
        first = 2 if csv_weights else 1
        if rows.shape[1] <= first:
            raise AlgorithmError(f"the {name} channel's CSV rows have no feature columns")
        weight = rows[:, 1] if csv_weights else None
        return xgb.DMatrix(rows[:, first:], label=rows[:, 0], weight=weight)
    if kind in LIBSVM_TYPES:
        with tempfile.NamedTemporaryFile("wb", suffix=".libsvm", delete=False) as joined:
            for f in files:
                data = f.read_bytes()
                joined.write(data if data.endswith(b"\n") or not data else data + b"\n")
        try:
            return xgb.DMatrix(f"{joined.name}?format=libsvm")
        finally:
            os.unlink(joined.name)
    raise AlgorithmError(
        f"content type {content_type!r} of the {name} channel: tunestream's XGBoost stand-in reads text/csv "
        "and text/libsvm (not Parquet or RecordIO-protobuf)"
    )


def xgboost_params(hyperparameters: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """XGBoost's parameters, and the extra metrics (accuracy, f1, mse, r2) to compute beside them."""
    params: dict[str, Any] = {k: v for k, v in hyperparameters.items() if k not in SAGEMAKER_ONLY}
    metrics = [m.strip() for m in params.pop("eval_metric", "").split(",") if m.strip()]
    objective = hyperparameters.get("_tuning_objective_metric", "")
    if ":" in objective:
        wanted = objective.split(":", 1)[1]
        if wanted not in metrics:
            metrics.append(wanted)
    extra = [m for m in metrics if m in EXTRA_METRICS]
    native = [m for m in metrics if m not in EXTRA_METRICS]
    if native:
        params["eval_metric"] = native
    return params, extra


def extra_metric(names: list[str], objective: str, reduce: Callable[[np.ndarray], np.ndarray]) -> Callable[..., Any]:
    """XGBoost's custom_metric computing `names` over every host's rows (sums reduced across hosts)."""

    def compute(predictions: np.ndarray, data: Any) -> list[tuple[str, float]]:
        labels = data.get_label()
        if predictions.ndim == 2:
            classes = predictions.argmax(axis=1)
        elif objective.startswith("multi:softmax"):
            classes = predictions
        else:
            classes = (predictions > 0.5).astype(np.float64)
        tp = float(np.sum((classes == 1) & (labels == 1)))
        sums = reduce(
            np.array(
                [
                    float(np.sum(classes == labels)),
                    float(len(labels)),
                    tp,
                    float(np.sum(classes == 1)),
                    float(np.sum(labels == 1)),
                    float(np.sum((predictions - labels) ** 2)) if predictions.ndim == 1 else 0.0,
                    float(np.sum(labels)),
                    float(np.sum(labels**2)),
                ]
            )
        )
        correct, count, tp, predicted, actual, squared, total, total_sq = sums
        values = {
            "accuracy": correct / count,
            "f1": 2 * tp / (predicted + actual) if predicted + actual else 0.0,
            "mse": squared / count,
            "r2": 1 - squared / (total_sq - total**2 / count) if total_sq - total**2 / count > 0 else 0.0,
        }
        return [(name, float(values[name])) for name in names]

    return compute


@contextmanager
def _hosts_together() -> Iterator[tuple[int, Callable[[np.ndarray], np.ndarray]]]:
    """Joins the other hosts through XGBoost's collective when there are several; yields this
    host's rank and a sum across hosts."""
    hosts = json.loads(os.environ.get("SM_HOSTS", '["algo-1"]'))
    if len(hosts) < 2:
        yield 0, lambda values: values
        return
    from xgboost import collective
    from xgboost.tracker import RabitTracker

    current = os.environ.get("SM_CURRENT_HOST", hosts[0])
    rank = hosts.index(current)
    address = os.environ.get("MASTER_ADDR", hosts[0])
    port = int(os.environ.get("MASTER_PORT", DEFAULT_TRACKER_PORT))
    tracker = None
    if rank == 0:
        tracker = RabitTracker(n_workers=len(hosts), host_ip=address, port=port, timeout=300)
        tracker.start()
    args = {
        "dmlc_tracker_uri": address,
        "dmlc_tracker_port": port,
        "dmlc_task_id": current,
        "dmlc_retry": 60,
        "dmlc_timeout": 300,
    }
    with collective.CommunicatorContext(**args):
        yield rank, lambda values: collective.allreduce(values, collective.Op.SUM)
    if tracker is not None:
        tracker.wait_for(300)


def train() -> None:
    import xgboost as xgb

    hyperparameters = {k: str(v) for k, v in _config("hyperparameters.json").items()}
    channels = _config("inputdataconfig.json")
    if "num_round" not in hyperparameters:
        raise AlgorithmError("hyperparameter num_round is required (the number of boosting rounds)")
    try:
        rounds = int(hyperparameters["num_round"])
        stop_after = (
            int(hyperparameters["early_stopping_rounds"]) if "early_stopping_rounds" in hyperparameters else None
        )
    except ValueError as exc:
        raise AlgorithmError(f"num_round and early_stopping_rounds are whole numbers: {exc}") from exc
    csv_weights = hyperparameters.get("csv_weights", "0") == "1"
    params, extra = xgboost_params(hyperparameters)
    with _hosts_together() as (rank, reduce):
        train_set = load_channel("train", channels.get("train", {}).get("ContentType"), csv_weights)
        if train_set is None:
            raise AlgorithmError("the train channel is required")
        validation = load_channel("validation", channels.get("validation", {}).get("ContentType"), csv_weights)
        evals = [(train_set, "train")] + ([(validation, "validation")] if validation is not None else [])
        try:
            booster = xgb.train(
                params,
                train_set,
                num_boost_round=rounds,
                evals=evals,
                early_stopping_rounds=stop_after if validation is not None else None,
                custom_metric=extra_metric(extra, str(params.get("objective", "")), reduce) if extra else None,
                verbose_eval=True,
            )
        except xgb.core.XGBoostError as exc:
            raise AlgorithmError(f"XGBoost refused the job: {str(exc).splitlines()[0]}") from exc
        if rank == 0:
            model_dir = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
            booster.save_model(str(model_dir / "xgboost-model"))


def main() -> int:
    try:
        train()
    except AlgorithmError as exc:
        reason = f"AlgorithmError: {exc}"
        print(reason, file=sys.stderr, flush=True)
        failure = Path(os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output")) / "failure"
        failure.parent.mkdir(parents=True, exist_ok=True)
        failure.write_text(reason)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
