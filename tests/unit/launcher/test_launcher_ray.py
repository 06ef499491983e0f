"""The ray backend's own logic, without a cluster: what a finished Ray job means for the attempt, the
submission (an entrypoint of file paths only, the job's values in a file), and the wrapper that runs
the program from that file. tests/integration/test_ray.py runs it on a real Ray cluster."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.launcher_runs import spec
from tunestream.launcher.backend import Attempt, Exit, RunOptions
from tunestream.launcher.factory import parse_backends
from tunestream.launcher.layout import JobLayout
from tunestream.launcher.ray import RayCluster, RayProgram, ended_as, job_environment


def _program(tmp_path: Path, gpus: tuple[str, ...] = ()) -> RayProgram:
    options = RunOptions(launcher_id="l1", cwd=tmp_path, stop_grace_s=5, batch_interval_s=1, batch_lines=100)
    return RayCluster("http://ray:8265/", cpus_per_job=2).program(
        spec(), "tj", Attempt(1, gpus), JobLayout(tmp_path / "job"), options
    )


def test_what_a_finished_ray_job_means() -> None:
    assert ended_as({"status": "SUCCEEDED", "driver_exit_code": 0}, False) == Exit(0)
    assert ended_as({"status": "FAILED", "driver_exit_code": 3}, False) == Exit(3)
    assert ended_as({"status": "STOPPED", "driver_exit_code": None}, True) == Exit(-15)
    lost = ended_as(
        {
            "status": "FAILED",
            "submission_id": "tj-2-ab",
            "driver_exit_code": None,
            "error_type": "JOB_SUPERVISOR_ACTOR_DIED",
            "message": "Job supervisor actor died: The actor died unexpectedly before finishing this task.\n...",
        },
        False,
    )
    assert lost.interrupted == (
        "InternalServerError: Ray job tj-2-ab was lost: Job supervisor actor died: "
        "The actor died unexpectedly before finishing this task."
    )
    foreign = ended_as({"status": "STOPPED", "submission_id": "tj-2-ab"}, False)
    assert foreign.interrupted == "InternalServerError: Ray job tj-2-ab was stopped outside tunestream"
    # Never started (a runtime environment that failed to set up): the job's failure, with Ray's message.
    assert ended_as(
        {"status": "FAILED", "driver_exit_code": None, "error_type": "RUNTIME_ENV_SETUP_FAILED"}, False
    ) == Exit(1)


def test_gpus_come_from_ray_and_a_job_without_gpus_sees_none() -> None:
    env = {"PATH": "/bin", "CUDA_VISIBLE_DEVICES": "3"}
    assert job_environment(env, 2, host_has_gpus=True) == {"PATH": "/bin", "SM_NUM_GPUS": "2"}
    assert job_environment(env, 0, host_has_gpus=True)["CUDA_VISIBLE_DEVICES"] == ""


def test_the_submission_carries_paths_and_resources_never_the_jobs_values(tmp_path: Path) -> None:
    program = _program(tmp_path, gpus=("0",))
    argv = ["python", "train.py", "--kind", "$(echo pwned)"]
    body = program.submission(argv, {"MY": "${HOME}"})
    assert body["entrypoint_num_cpus"] == 2 and body["entrypoint_num_gpus"] == 1
    assert "runtime_env" not in body  # Ray expands ${VAR} in its env_vars
    assert body["metadata"] == {"tunestream_launcher": "l1", "training_job": "tj-001-abcdef12", "attempt": "1"}
    assert body["submission_id"].startswith("tj-001-abcdef12-2-")
    words = shlex.split(body["entrypoint"])
    assert words[0] == "python3" and words[-4:] == argv  # one shell word per argv item
    assert "${HOME}" not in body["entrypoint"]
    saved = json.loads((program.folder / "env.json").read_text())
    assert saved == {"env": {"MY": "${HOME}"}, "gpus": 1, "cwd": str(tmp_path)}
    assert (program.folder / "env.json").stat().st_mode & 0o077 == 0


def test_the_wrapper_runs_the_program_with_the_files_environment_and_its_output_in_files(tmp_path: Path) -> None:
    program = _program(tmp_path, gpus=("0",))
    probe = "import json, os; e = os.environ; print(json.dumps([os.getcwd(), e['MY'], e['CUDA_VISIBLE_DEVICES']]))"
    body = program.submission([sys.executable, "-c", probe], {"MY": "${HOME} $(x)", "PATH": os.environ["PATH"]})
    words = shlex.split(body["entrypoint"])
    # As Ray runs it: a shell, with the GPU Ray assigned in its environment.
    done = subprocess.run(
        ["/bin/sh", "-c", shlex.join([sys.executable, *words[1:]])],
        env={**os.environ, "CUDA_VISIBLE_DEVICES": "1"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0 and done.stdout == "", done.stderr
    assert json.loads((program.folder / "stdout").read_text()) == [str(tmp_path), "${HOME} $(x)", "1"]


def test_ray_is_one_more_way_to_run_the_process_jobs() -> None:
    assert parse_backends("ray,container") == ["ray", "container"]
    with pytest.raises(ValueError, match="process and ray"):
        parse_backends("process,ray")
