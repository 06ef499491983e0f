"""benchmarks/gpu_run.py: its request is valid, it reads the example's device line, and without a GPU
it says why before starting anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import scripts
from tunestream.definitions import CreateTuningJobRequest
from tunestream.instances import gpu_count
from tunestream.validation import validate_request

ROOT = Path(__file__).resolve().parents[3]
gpu_run = scripts.load_script("benchmarks/gpu_run.py")


def test_the_gpu_job_is_a_valid_request_asking_for_gpus() -> None:
    request = CreateTuningJobRequest.model_validate(gpu_run.gpu_job("gpu-run-1", 4, 2, 2))
    validate_request(request)
    assert gpu_count(request.TrainingJobDefinition.ResourceConfig) == 2  # type: ignore[union-attr]
    assert request.TrainingJobDefinition.StaticHyperParameters["device"] == "cuda"  # type: ignore[union-attr,index]


def test_the_device_line_of_the_example_is_read(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "mlp" / "train.py"), "--backend", "torch", "--epochs", "1"],
        env={"SM_MODEL_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "MLP_DATA_CACHE": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    match = gpu_run.DEVICE_LINE.search(done.stdout)
    assert match is not None, done.stdout
    assert match.group(1) == "cpu"  # no GPU here: "auto" trains on the CPU and says so


def test_cuda_without_a_gpu_is_an_error_not_a_cpu_run(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "mlp" / "train.py"), "--backend", "torch", "--device", "cuda"],
        env={"SM_MODEL_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "CUDA_VISIBLE_DEVICES": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "--device cuda, but torch sees no GPU" in done.stderr


def test_without_nvidia_smi_it_exits_2_saying_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu_run.shutil, "which", lambda name: None)
    with pytest.raises(SystemExit, match="nvidia-smi is not installed"):
        gpu_run.gpus_here()
    monkeypatch.setattr(sys, "argv", ["gpu_run.py"])
    assert gpu_run.main() == 2
