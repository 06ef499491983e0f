"""The slurm backend's own logic, without a cluster: reading `scontrol show job`, what an ended job
means for the attempt, the sbatch command line and environment, the launcher's backend list, and
tailing the output files. tests/integration/test_slurm.py runs it on a real Slurm."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.launcher_runs import spec
from tunestream.launcher.backend import Attempt, Exit, RunOptions
from tunestream.launcher.factory import parse_backends
from tunestream.launcher.layout import JobLayout
from tunestream.launcher.slurm import (
    JobState,
    SlurmCluster,
    SlurmProgram,
    parse_gres_gpus,
    parse_job,
    submission_environment,
    time_limit_minutes,
)

# One line of `scontrol show job -o` from slurm-wlm 22.05 (trimmed), for a job whose argv holds a
# value that looks like a field.
SHOW_JOB = (
    "JobId=12 JobName=tj-001-abcdef12 UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901758 "
    "Nice=0 Account=(null) QOS=(null) JobState=NODE_FAIL Reason=NodeDown Dependency=(null) Requeue=0 "
    "Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:31 TimeLimit=00:03:00 Partition=tunestream "
    "NodeList=n1 BatchHost=n1 NumNodes=1 NumCPUs=1 NumTasks=1 "
    "Command=/w/slurm/run.sh python train.py --kind  JobState=COMPLETED ExitCode=0:0 NodeList=n2 "
    "WorkDir=/w Comment=tunestream:l StdErr=/w/slurm/stderr StdIn=/dev/null StdOut=/w/slurm/stdout"
)


def test_a_job_line_is_read_from_its_own_fields_not_from_the_arguments_it_was_given() -> None:
    job = parse_job(SHOW_JOB)
    assert job == JobState(state="NODE_FAIL", exit_code=0, signal=0, nodes="n1", reason="NodeDown")
    assert not job.active
    assert parse_job("slurm_load_jobs error: Invalid job id specified") is None


@pytest.mark.parametrize(
    ("codes", "returncode"),
    [("0:0", 0), ("3:0", 3), ("0:15", -15), ("0:9", -9)],
)
def test_exit_codes_read_as_subprocess_reports_them(codes: str, returncode: int) -> None:
    job = parse_job(f"JobId=1 JobState=FAILED Reason=None ExitCode={codes} NodeList=n2")
    assert job is not None and job.returncode == returncode


def test_pending_and_running_jobs_are_active() -> None:
    for state in ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING"):
        job = parse_job(f"JobId=1 JobState={state} ExitCode=0:0")
        assert job is not None and job.active, state


def test_the_time_limit_leaves_room_for_the_launchers_own_stop() -> None:
    assert time_limit_minutes(60, 5) == 3
    assert time_limit_minutes(3600, 5) == 62
    assert time_limit_minutes(1, 0) * 60 > 1


@pytest.mark.parametrize(
    ("gres", "gpus"),
    [("gpu:2", 2), ("gpu:a100:4(S:0-1)", 4), ("gpu:2,shard:8", 2), ("(null)", 0), ("", 0), ("gpu:1,gpu:v100:2", 3)],
)
def test_gpus_are_counted_from_a_nodes_gres(gres: str, gpus: int) -> None:
    assert parse_gres_gpus(gres) == gpus


def test_the_submission_environment_leaves_gpus_to_slurm_and_drops_sbatch_input_variables() -> None:
    env = {"PATH": "/bin", "SBATCH_PARTITION": "other", "CUDA_VISIBLE_DEVICES": "0", "SM_HPS": "{}"}
    assert submission_environment(env, 2, host_has_gpus=True) == {"PATH": "/bin", "SM_HPS": "{}", "SM_NUM_GPUS": "2"}
    # A job given no GPU on a partition with GPUs must not use one.
    assert submission_environment(env, 0, host_has_gpus=True)["CUDA_VISIBLE_DEVICES"] == ""
    assert "CUDA_VISIBLE_DEVICES" not in submission_environment(env, 0, host_has_gpus=False)


def test_slurm_and_process_are_two_ways_to_run_the_same_jobs() -> None:
    assert parse_backends("slurm") == ["slurm"]
    assert parse_backends("slurm,container") == ["slurm", "container"]
    with pytest.raises(ValueError, match="process and slurm"):
        parse_backends("process,slurm")


def _program(tmp_path: Path, gpus: tuple[str, ...] = (), **changes: object) -> SlurmProgram:
    cluster = SlurmCluster(Path("/etc/slurm.conf"), "gpu", cpus_per_task=4, sbatch_args=("--account=ml",))
    options = RunOptions(launcher_id="l1", cwd=tmp_path, stop_grace_s=5, batch_interval_s=1, batch_lines=100)
    job = spec(max_runtime_s=600, **changes)
    program = cluster.program(job, "tj", Attempt(0, gpus), JobLayout(tmp_path / "job"), options)
    program.job_id = "12"
    return program


def test_sbatch_gets_options_then_the_wrapper_then_the_program_argv_untouched(tmp_path: Path) -> None:
    run = _program(tmp_path, gpus=("0", "1"), hyperparameters={"kind": "$(echo pwned)"})
    wrapper = tmp_path / "job" / "slurm" / "run.sh"
    args = run.sbatch_args(wrapper, ["python", "train.py", "--kind", "$(echo pwned)"])
    options, program = args[: args.index(str(wrapper))], args[args.index(str(wrapper)) + 1 :]
    assert program == ["python", "train.py", "--kind", "$(echo pwned)"]
    assert "--no-requeue" in options and "--comment=tunestream:l1" in options
    assert "--job-name=tj-001-abcdef12" in options and "--partition=gpu" in options
    assert "--gres=gpu:2" in options and "--cpus-per-task=4" in options and "--time=12" in options
    assert f"--output={run.stdout_file}" in options and f"--chdir={tmp_path}" in options
    assert options[-1] == "--account=ml"  # the operator's options come last, so they win
    no_gpus = _program(tmp_path)
    assert not any(a.startswith("--gres") for a in no_gpus.sbatch_args(wrapper, ["p"]))


@pytest.mark.parametrize("state", ["NODE_FAIL", "BOOT_FAIL", "PREEMPTED"])
def test_a_job_the_cluster_lost_is_an_interrupted_attempt(tmp_path: Path, state: str) -> None:
    ended = _program(tmp_path)._ended_as(JobState(state, 0, 0, "n1", "NodeDown"))
    assert ended == Exit(-1, interrupted=f"InternalServerError: Slurm job 12 ended {state} on n1")


def test_a_job_cancelled_by_someone_else_is_interrupted_but_by_tunestream_is_not(tmp_path: Path) -> None:
    ended = _program(tmp_path)._ended_as(JobState("CANCELLED", 0, 15, "n2", ""))
    assert ended.interrupted is not None and "cancelled outside tunestream" in ended.interrupted
    ours = _program(tmp_path)
    ours._cancelled = True
    assert ours._ended_as(JobState("CANCELLED", 0, 15, "n2", "")) == Exit(-15)


def test_the_programs_own_end_is_its_exit_status(tmp_path: Path) -> None:
    program = _program(tmp_path)
    assert program._ended_as(JobState("COMPLETED", 0, 0, "n1", "")) == Exit(0)
    assert program._ended_as(JobState("FAILED", 3, 0, "n1", "")) == Exit(3)
    assert program._ended_as(JobState("FAILED", 0, 0, "n1", "")) == Exit(1)  # a failure is never exit status 0
    assert program.failure_reason(1, ["boom"]).endswith("exited with code 1: boom")
    assert program._ended_as(JobState("OUT_OF_MEMORY", 0, 9, "n1", "")) == Exit(-9)
    assert program.failure_reason(-9, []) == "AlgorithmError: Slurm job 12 ran out of memory on n1 and was killed"


def test_slurms_time_limit_is_max_runtime_exceeded(tmp_path: Path) -> None:
    ended = _program(tmp_path)._ended_as(JobState("TIMEOUT", 0, 15, "n1", ""))
    assert ended.code == -15 and ended.interrupted is None
    assert ended.stopped is not None and ended.stopped[1] == "MaxRuntimeExceeded"


def test_output_files_are_followed_line_by_line_until_the_job_ends(tmp_path: Path) -> None:
    run = _program(tmp_path)
    lines: list[tuple[str, str]] = []

    async def capture(stream: str, text: str) -> None:
        lines.append((stream, text))

    async def scenario() -> None:
        run.stdout_file.parent.mkdir(parents=True)
        follow = asyncio.create_task(run.pump(capture))
        await asyncio.sleep(0.1)  # the files do not exist yet
        with run.stdout_file.open("ab") as out:
            out.write(b"epoch=1 score=0.5\nepoch=2 sc")
            out.flush()
            await asyncio.sleep(0.2)
            assert lines == [("stdout", "epoch=1 score=0.5")]  # half a line waits for its end
            out.write(b"ore=0.6\r\nlast line without newline")
        run.stderr_file.write_bytes(b"warning\n")
        run._ended.set()
        await asyncio.wait_for(follow, 2)

    asyncio.run(scenario())
    assert sorted(lines) == [
        ("stderr", "warning"),
        ("stdout", "epoch=1 score=0.5"),
        ("stdout", "epoch=2 score=0.6"),
        ("stdout", "last line without newline"),
    ]
