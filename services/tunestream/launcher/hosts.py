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
import random
import socket
from collections.abc import Callable
from pathlib import Path

from tunestream.launcher.backend import Exit, LineSink, Program


def ephemeral_ports() -> range:
    """The ports the kernel hands out to connect() and bind(0) (Linux's ip_local_port_range)."""
    try:
        low, high = (int(part) for part in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return range(32768, 61000)  # Linux's default
    return range(low, high + 1)


def bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("", port))
        except OSError:
            return False
    return True


class RendezvousPorts:
    """The ports this launcher gives training jobs of several hosts to meet on (MASTER_PORT).

    A port merely free when the job is prepared may be gone when its first host binds it seconds
    later: any connection (the job's own channel downloads, the other jobs' gloo meshes) may take
    it as its local port if it lies in the ephemeral range. So the ports come from outside that
    range, from torch's customary 29500 up, and each stays this launcher's until the job ends; a
    random first port keeps two launchers on one machine apart, and a port something else has
    bound is passed over."""

    FIRST = 29500

    def __init__(
        self,
        ephemeral: range | None = None,
        rng: random.Random | None = None,
        is_free: Callable[[int], bool] = bindable,
    ) -> None:
        skip = ephemeral if ephemeral is not None else ephemeral_ports()
        self._ports = [p for p in range(self.FIRST, 65536) if p not in skip] or list(range(self.FIRST, 65536))
        self._next = (rng or random.Random()).randrange(len(self._ports))
        self._held: set[int] = set()
        self._is_free = is_free

    def take(self) -> int:
        for _ in range(len(self._ports)):
            port = self._ports[self._next]
            self._next = (self._next + 1) % len(self._ports)
            if port not in self._held and self._is_free(port):
                self._held.add(port)
                return port
        raise RuntimeError("no port is free for the hosts' rendezvous")

    def give_back(self, port: int) -> None:
        self._held.discard(port)

    def holds(self, port: int) -> bool:
        return port in self._held


# One book per launcher process: every training job it runs draws from it.
RENDEZVOUS_PORTS = RendezvousPorts()


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
