"""The launcher caps what it forwards per training job (TUNESTREAM_LOG_MAX_BYTES) but keeps every
line its MetricDefinitions match; the program's environment holds only what is meant for it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.launcher_runs import capturing_run, spec
from tunestream.events.v1 import TrainingOutputLogged
from tunestream.launcher.layout import JobLayout, training_environment
from tunestream.launcher.output import LINE_ENVELOPE_BYTES, MAX_LINE_BYTES


def test_output_past_the_cap_keeps_only_metric_lines(tmp_path: Path) -> None:
    run, sent = capturing_run(tmp_path, log_max_bytes=1000)

    async def feed() -> None:
        for i in range(100):
            await run.output.line("stdout", f"junk line {i:04d} " + "x" * 80)
        await run.output.line("stdout", "epoch=1 score=0.9")
        await run.output.line("stdout", "y" * (MAX_LINE_BYTES * 3))
        await run.output.flush()

    asyncio.run(feed())
    lines = [line.text for e in sent if isinstance(e, TrainingOutputLogged) for line in e.payload.lines]
    kept_junk = [t for t in lines if t.startswith("junk")]
    assert 5 <= len(kept_junk) <= 11
    assert any(t.startswith("[tunestream] output truncated after") for t in lines)
    assert "epoch=1 score=0.9" in lines  # past the cap, but the objective
    assert not any(t.startswith("y") for t in lines)
    assert sum(len(t) for t in lines) < 2000


def test_long_lines_are_cut_before_the_cap(tmp_path: Path) -> None:
    run, sent = capturing_run(tmp_path)

    async def feed() -> None:
        await run.output.line("stdout", "z" * (MAX_LINE_BYTES * 5))
        await run.output.flush()

    asyncio.run(feed())
    (text,) = [line.text for e in sent if isinstance(e, TrainingOutputLogged) for line in e.payload.lines]
    assert len(text) < MAX_LINE_BYTES + 100 and text.endswith("bytes cut]")


def test_the_cap_and_the_cut_count_bytes_not_characters(tmp_path: Path) -> None:
    run, sent = capturing_run(tmp_path, log_max_bytes=1000)

    async def feed() -> None:
        for _ in range(30):
            await run.output.line("stdout", "é" * 40)  # 40 characters, 80 bytes
        await run.output.line("stdout", "score=0.5 " + "€" * MAX_LINE_BYTES)  # a metric line: kept, but cut
        await run.output.flush()

    asyncio.run(feed())
    lines = [line.text for e in sent if isinstance(e, TrainingOutputLogged) for line in e.payload.lines]
    kept = [t for t in lines if t.startswith("é")]
    assert len(kept) == 1000 // (80 + LINE_ENVELOPE_BYTES)  # counted as characters, more would pass
    (long,) = [t for t in lines if t.startswith("score=")]
    assert len(long.encode()) < MAX_LINE_BYTES + 100 and long.endswith(f"{10 + 3 * MAX_LINE_BYTES} bytes cut]")


def test_a_flood_of_tiny_lines_is_capped_by_what_its_lines_cost(tmp_path: Path) -> None:
    # 2 bytes of text per line, but a line costs its envelope downstream (an event's JSON, a row).
    run, sent = capturing_run(tmp_path, log_max_bytes=64_000)

    async def feed() -> None:
        for _ in range(100_000):
            await run.output.line("stdout", "x")
        await run.output.flush()

    asyncio.run(feed())
    kept = [line.text for e in sent if isinstance(e, TrainingOutputLogged) for line in e.payload.lines]
    assert kept.count("x") == 64_000 // (1 + LINE_ENVELOPE_BYTES)


def test_a_reader_that_never_waits_still_lets_the_loop_run(tmp_path: Path) -> None:
    # The pipe of a program printing without pause is never empty: without handing the loop back,
    # the run would hold it until the program stopped printing.
    run, _ = capturing_run(tmp_path, log_max_bytes=1000)
    ticks: list[int] = []

    async def main() -> None:
        async def tick() -> None:
            while True:
                ticks.append(1)
                await asyncio.sleep(0)

        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0)
        for _ in range(10_000):
            await run.output.line("stdout", "junk")
        ticker.cancel()

    asyncio.run(main())
    assert len(ticks) >= 10_000 // 64


def test_environment_passthrough_is_explicit(tmp_path: Path) -> None:
    inherited = {
        "PATH": "/bin",
        "TUNESTREAM_S3_SECRET_KEY": "s3cr3t",
        "TUNESTREAM_API_TOKEN": "tok",
        "AWS_SECRET_ACCESS_KEY": "aws",
        "HF_HOME": "/cache/hf",
        "OTHER": "no",
    }
    env = training_environment(spec(), JobLayout(tmp_path), inherited)
    assert not {"TUNESTREAM_S3_SECRET_KEY", "TUNESTREAM_API_TOKEN", "AWS_SECRET_ACCESS_KEY", "HF_HOME"} & set(env)
    env = training_environment(spec(), JobLayout(tmp_path), inherited, ("HF_HOME", "AWS_SECRET_ACCESS_KEY"))
    assert env["HF_HOME"] == "/cache/hf" and env["AWS_SECRET_ACCESS_KEY"] == "aws"  # opted in by the operator
    assert "OTHER" not in env and "TUNESTREAM_API_TOKEN" not in env
