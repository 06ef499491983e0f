"""What the cluster backends share (launcher/remote.py): the state is looked at until the job ends, a
cluster that cannot be asked for a while gives the attempt up as interrupted, and one that answers
again in time changes nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.launcher_runs import spec
from tunestream.launcher import remote
from tunestream.launcher.backend import Attempt, Exit, RunOptions
from tunestream.launcher.layout import JobLayout
from tunestream.launcher.remote import ClusterUnreachable, RemoteProgram


class ScriptedProgram(RemoteProgram):
    """Answers each look from a script: an Exit, None (still running), or an exception."""

    cluster_name = "the test cluster"

    def __init__(self, tmp_path: Path, answers: list[Exit | Exception | None]) -> None:
        options = RunOptions(launcher_id="l", cwd=tmp_path, stop_grace_s=1, batch_interval_s=1, batch_lines=10)
        layout = JobLayout(tmp_path / "job")
        super().__init__(spec(), Attempt(0), layout, options, layout.root / "remote", poll_s=0.01)
        self.answers = answers
        self.looks = 0

    async def look(self) -> Exit | None:
        self.looks += 1
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "STATE_POLL_FIRST_S", 0.001)
    monkeypatch.setattr(remote, "CLUSTER_PATIENCE_S", 0.2)


def test_the_state_is_looked_at_until_the_job_ends(tmp_path: Path) -> None:
    program = ScriptedProgram(tmp_path, [None, ClusterUnreachable("a blip"), None, Exit(3)])
    assert asyncio.run(program.wait_exit()) == Exit(3)
    assert program.looks == 4 and program._ended.is_set()


def test_a_cluster_silent_past_its_patience_interrupts_the_attempt(tmp_path: Path) -> None:
    program = ScriptedProgram(tmp_path, [ClusterUnreachable("connection refused")] * 1000)
    ended = asyncio.run(program.wait_exit())
    assert ended.code == -1 and ended.interrupted == (
        "InternalServerError: the test cluster did not answer for 0.2 s: connection refused"
    )
