"""The built-in XGBoost's stand-in, run as a launcher runs it (`python -m`), in SageMaker's layout:
its evaluation lines are the ones the built-in's MetricDefinitions read, its failures have reasons,
and two hosts train one model together."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tunestream.builtin_algorithms import metric_definitions
from tunestream.events.v1 import TrainingJobSpec
from tunestream.launcher.layout import JobLayout, training_environment
from tunestream.metric_regex import compile_metric_regex

pytest.importorskip("xgboost")


def dataset() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    return x, y


def write_csv(folder: Path, x: np.ndarray, y: np.ndarray, parts: int = 1) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(parts):
        np.savetxt(folder / f"part-{k}.csv", np.column_stack([y[k::parts], x[k::parts]]), delimiter=",", fmt="%.6g")


def spec(hyperparameters: dict[str, str], content_type: str | None = "text/csv", hosts: int = 1) -> TrainingJobSpec:
    return TrainingJobSpec.model_validate(
        {
            "training_job_name": "xgb-001",
            "index": 1,
            "tuned_hyperparameters": {},
            "hyperparameters": hyperparameters,
            "command": [],
            "environment": {},
            "input_channels": [
                {"name": "train", "s3_uri": "s3://b/train", "content_type": content_type},
                {"name": "validation", "s3_uri": "s3://b/validation", "content_type": content_type},
            ],
            "output_s3_path": "s3://b/out",
            "max_runtime_s": 60,
            "metric_definitions": [],
            "objective_metric_name": "validation:auc",
            "objective_type": "Maximize",
            "builtin_algorithm": "xgboost",
            "instance_count": hosts,
        }
    )


def start(job: TrainingJobSpec, layout: JobLayout, port: int | None = None) -> subprocess.Popen[str]:
    layout.create(job)
    env = training_environment(job, layout, dict(os.environ), master=("127.0.0.1", port) if port else None)
    return subprocess.Popen(
        [sys.executable, "-m", "tunestream.algorithms.xgboost_stand_in"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def metrics_in(output: str) -> dict[str, float]:
    """What the built-in's MetricDefinitions read from the output: each metric's last value."""
    found: dict[str, float] = {}
    for definition in metric_definitions("xgboost"):
        regex = compile_metric_regex(definition["Regex"])
        for line in output.splitlines():
            match = regex.search(line)
            if match:
                found[definition["Name"]] = float(match.group(1))
    return found


def test_it_prints_what_the_builtins_metric_definitions_read(tmp_path: Path) -> None:
    x, y = dataset()
    job = spec(
        {
            "num_round": "8",
            "max_depth": "3",
            "eta": "0.3",
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "_tuning_objective_metric": "validation:auc",
            "nthread": "1",
        }
    )
    layout = JobLayout(tmp_path)
    write_csv(layout.channel_dir("train"), x[:400], y[:400], parts=3)
    write_csv(layout.channel_dir("validation"), x[400:], y[400:])
    done = start(job, layout)
    output, _ = done.communicate(timeout=120)
    assert done.returncode == 0, output
    found = metrics_in(output)
    # logloss as asked, and auc because it is the tuning objective.
    assert set(found) == {"train:logloss", "validation:logloss", "train:auc", "validation:auc"}, output
    assert 0.9 < found["validation:auc"] <= 1.0
    assert (tmp_path / "model" / "xgboost-model").is_file()


def test_accuracy_f1_mse_and_r2_are_added_as_sagemaker_does(tmp_path: Path) -> None:
    x, y = dataset()
    job = spec(
        {"num_round": "4", "objective": "binary:logistic", "eval_metric": "accuracy,f1,error", "nthread": "1"},
        content_type="csv",
    )
    layout = JobLayout(tmp_path)
    write_csv(layout.channel_dir("train"), x[:400], y[:400])
    write_csv(layout.channel_dir("validation"), x[400:], y[400:])
    done = start(job, layout)
    output, _ = done.communicate(timeout=120)
    assert done.returncode == 0, output
    found = metrics_in(output)
    assert {"validation:accuracy", "validation:f1", "validation:error"} <= set(found), output
    assert found["validation:accuracy"] == pytest.approx(1 - found["validation:error"], abs=1e-4)
    assert 0.8 < found["validation:f1"] <= 1.0


def test_libsvm_is_the_default_content_type(tmp_path: Path) -> None:
    x, y = dataset()
    layout = JobLayout(tmp_path)
    for channel, rows in (("train", slice(0, 400)), ("validation", slice(400, None))):
        folder = layout.channel_dir(channel)
        folder.mkdir(parents=True)
        lines = [
            f"{int(label)} " + " ".join(f"{j}:{v:g}" for j, v in enumerate(row))
            for row, label in zip(x[rows], y[rows], strict=True)
        ]
        (folder / "data.libsvm").write_text("\n".join(lines) + "\n")
    job = spec({"num_round": "3", "objective": "binary:logistic", "eval_metric": "auc"}, content_type=None)
    done = start(job, layout)
    output, _ = done.communicate(timeout=120)
    assert done.returncode == 0, output
    assert "validation:auc" in metrics_in(output)


@pytest.mark.parametrize(
    ("hyperparameters", "content_type", "reason"),
    [
        ({"objective": "binary:logistic"}, "text/csv", "hyperparameter num_round is required"),
        ({"num_round": "3"}, "application/x-parquet", "content type 'application/x-parquet' of the train channel"),
        ({"num_round": "3", "objective": "no:such"}, "text/csv", "XGBoost refused the job"),
    ],
)
def test_a_bad_job_fails_with_its_reason_in_output_failure(
    tmp_path: Path, hyperparameters: dict[str, str], content_type: str, reason: str
) -> None:
    x, y = dataset()
    layout = JobLayout(tmp_path)
    write_csv(layout.channel_dir("train"), x[:100], y[:100])
    write_csv(layout.channel_dir("validation"), x[100:200], y[100:200])
    done = start(spec(hyperparameters, content_type=content_type), layout)
    output, _ = done.communicate(timeout=120)
    assert done.returncode == 1, output
    failure = (tmp_path / "output" / "failure").read_text()
    assert failure.startswith("AlgorithmError: ") and reason in failure, failure


def test_two_hosts_train_one_model_together(tmp_path: Path) -> None:
    x, y = dataset()
    job = spec(
        {"num_round": "5", "objective": "binary:logistic", "eval_metric": "auc,accuracy", "nthread": "1"}, hosts=2
    )
    hosts = JobLayout(tmp_path).host_layouts(2)
    for k, host in enumerate(hosts):  # each host its half of the training rows, as ShardedByS3Key gives
        write_csv(host.channel_dir("train"), x[k:400:2], y[k:400:2])
        write_csv(host.channel_dir("validation"), x[400:], y[400:])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    running = [start(job, host, port) for host in hosts]
    outputs = [p.communicate(timeout=180)[0] for p in running]
    assert [p.returncode for p in running] == [0, 0], outputs
    first = metrics_in(outputs[0])
    assert {"train:auc", "validation:auc", "validation:accuracy"} <= set(first), outputs[0]
    assert json.loads((hosts[1].config_dir / "resourceconfig.json").read_text())["current_host"] == "algo-2"
    assert (tmp_path / "model" / "xgboost-model").is_file()
