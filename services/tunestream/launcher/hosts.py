"""A training job of several instances (ResourceConfig.InstanceCount > 1) as one Program: one
program per host (algo-1 ... algo-N), started together, watched together, ended together.

All of them start or none does. The job ends when every host has ended; the first host that fails
(or is stopped, or is lost with its machine) ends the others: they get SIGTERM, the stop grace
period, then SIGKILL, and the attempt ends as that host did. A retry runs the whole group again.
Hosts share the job's model/ and output/ folders (layout.py), so the model is uploaded once, as
SageMaker aggregates what every instance writes there; each has checkpoints/ of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from tunestream.launcher.backend import Exit, LineSink, Program


def free_port() -> int:
    """A TCP port free on this machine now, for the hosts' rendezvous (MASTER_PORT)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HostGroup:
    def __init__(self, programs: list[tuple[str, Program]], stop_grace_s: float) -> None:
        self.programs = programs
        self._stop_grace_s = stop_grace_s
        self._launched: list[Program] = []  # in host order, for pump and signal
        # The host whose end ended the group, and its program (for the failure reason).
        self._ended_by: tuple[str, Program] | None = None

    async def launch(self) -> int:
        first = 0
        try:
            for _, program in self.programs:
                pid = await program.launch()
                self._launched.append(program)
                first = first or pid
        except BaseException:
            await self.cleanup()  # all or none: the hosts already started must not train alone
            raise
        return first

    async def pump(self, line: LineSink) -> None:
        await asyncio.gather(*(program.pump(line) for program in self._launched))

    async def wait_exit(self) -> Exit:
        waits = {asyncio.create_task(program.wait_exit()): (host, program) for host, program in self.programs}
        try:
            while waits:
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                ended = [(waits.pop(task), task.result()) for task in done]
                for (host, program), exit_ in ended:
                    if exit_.code != 0 or exit_.interrupted or exit_.stopped:
                        self._ended_by = (host, program)
                        await self._end_others(waits)
                        return exit_
        finally:
            for task in waits:
                task.cancel()
        return Exit(0)

    async def _end_others(self, waits: dict[asyncio.Task[Exit], tuple[str, Program]]) -> None:
        if not waits:
            return
        for _, program in waits.values():
            await program.signal(kill=False)
        _, still = await asyncio.wait(waits, timeout=self._stop_grace_s)
        for task in still:
            await waits[task][1].signal(kill=True)
        if still:
            await asyncio.wait(still, timeout=self._stop_grace_s)

    async def signal(self, kill: bool) -> None:
        for program in self._launched:
            await program.signal(kill)

    async def cleanup(self) -> None:
        # Every host's, started or not: a launch that failed half-way may have left something behind.
        for _, program in self.programs:
            with contextlib.suppress(Exception):
                await program.cleanup()

    def failure_reason(self, exit_code: int, stderr_tail: list[str]) -> str:
        if self._ended_by is None:
            _, program = self.programs[0]
            return program.failure_reason(exit_code, stderr_tail)
        host, program = self._ended_by
        return f"{program.failure_reason(exit_code, stderr_tail)} (on {host})"[:2048]
