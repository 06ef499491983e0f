"""An attempt's output on its way to Kafka: lines batched into TrainingOutputLogged events, metric
lines sent at once (early stopping waits on them), the per-attempt cap, and the tail of stderr that
a FailureReason quotes. The same for every backend."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from tunestream.definitions import MetricDefinition
from tunestream.events import ids
from tunestream.events.v1 import SEQ_PER_ATTEMPT, OutputLine, TrainingOutputLogged, TrainingOutputLoggedData
from tunestream.launcher.backend import Publish
from tunestream.metric_regex import MetricRegex, UnsupportedRegex, compile_metric_regex

# A longer line is cut to this many bytes (UTF-8) before it is forwarded (the metric regexes still
# see the line when deciding whether to keep it past the cap).
MAX_LINE_BYTES = 64 * 1024
# A batch is sent once its text reaches this many UTF-8 bytes, so one event stays well under Kafka's 1 MB.
BATCH_MAX_BYTES = 256 * 1024
# Each line counts this much on top of its own bytes against TUNESTREAM_LOG_MAX_BYTES.
LINE_ENVELOPE_BYTES = 64
# The forwarder hands the event loop back after this many lines or characters read in a row.
YIELD_EVERY_LINES = 64
YIELD_EVERY_BYTES = 256 * 1024
# The shortest gap between two batches sent early because they hold a metric line.
METRIC_FLUSH_GAP_S = 0.02


def metric_patterns(definitions: Sequence[MetricDefinition]) -> list[MetricRegex]:
    """The regexes that mark a line as a metric line (kept from batching limits), run by RE2. One RE2
    refuses (accepted before validation refused it) marks nothing, as the collector never matches it."""
    patterns = []
    for d in definitions:
        with contextlib.suppress(UnsupportedRegex):
            patterns.append(compile_metric_regex(d.Regex))
    return patterns


class OutputForwarder:
    def __init__(
        self,
        training_job_name: str,
        tuning_job_name: str,
        attempt: int,
        definitions: Sequence[MetricDefinition],
        publish: Publish,
        *,
        batch_lines: int,
        batch_interval_s: float,
        log_max_bytes: int,
        observe: Callable[[str], None] | None = None,
    ) -> None:
        self.training_job_name = training_job_name
        self.tuning_job_name = tuning_job_name
        self.attempt = attempt
        self._publish = publish
        self._batch_lines = batch_lines
        self._batch_interval_s = batch_interval_s
        self._log_max_bytes = log_max_bytes
        # Sees the text of every forwarded line, as the collector will (the checkpoints' step count).
        self._observe = observe
        # Set once the attempt is no longer this launcher's: nothing more is sent.
        self.closed = False
        self.stderr_tail: list[str] = []
        self._pending: list[OutputLine] = []
        self._pending_bytes = 0
        self._seq = attempt * SEQ_PER_ATTEMPT
        self.lines_sent = 0
        self._bytes_forwarded = 0
        self._lines_since_yield = 0
        self._bytes_since_yield = 0
        self._dropped_lines = 0
        self._dropped_bytes = 0
        self._metric_patterns = metric_patterns(definitions)
        self._flush_lock = asyncio.Lock()
        self._last_flush = 0.0
        self._soon: asyncio.Task[None] | None = None

    @property
    def batches(self) -> int:
        """Batches sent for this attempt."""
        return self._seq - self.attempt * SEQ_PER_ATTEMPT

    async def line(self, stream: str, text: str, host: str | None = None) -> None:
        # A reader whose pipe is always full never waits, so it would hold the event loop for as long
        # as the program prints: other jobs' lines, heartbeats and stop requests would wait behind it.
        self._lines_since_yield += 1
        self._bytes_since_yield += len(text)
        if self._lines_since_yield >= YIELD_EVERY_LINES or self._bytes_since_yield >= YIELD_EVERY_BYTES:
            self._lines_since_yield = self._bytes_since_yield = 0
            await asyncio.sleep(0)
        if stream == "stderr":
            self.stderr_tail = [*self.stderr_tail[-19:], text[:1024]]
        # Bytes, not characters: the cap and Kafka's message limit are in bytes, and a line of
        # 4-byte characters is 4 times its length.
        encoded = text.encode("utf-8", "replace")
        # What a line costs downstream is its bytes and its envelope (stream, time, JSON, a row in
        # PostgreSQL): a flood of one-character lines is capped like a flood of long ones.
        size = len(encoded) + LINE_ENVELOPE_BYTES
        if self._bytes_forwarded + size > self._log_max_bytes and not self._is_metric_line(text):
            if not self._dropped_lines:
                self.note(
                    f"[tunestream] output truncated after {self._bytes_forwarded} bytes "
                    f"(TUNESTREAM_LOG_MAX_BYTES={self._log_max_bytes}); from here on only lines "
                    "matching MetricDefinitions are forwarded"
                )
            self._dropped_lines += 1
            self._dropped_bytes += size
            return
        if len(encoded) > MAX_LINE_BYTES:
            head = encoded[:MAX_LINE_BYTES].decode("utf-8", "ignore")  # never half a character
            text = f"{head} [tunestream: line of {len(encoded)} bytes cut]"
        if self._observe is not None:
            self._observe(text)  # the text the collector will see
        self._bytes_forwarded += size
        self._pending.append(OutputLine(stream=stream, text=text, at=datetime.now(UTC), host=host))  # type: ignore[arg-type]
        self._pending_bytes += min(len(encoded), MAX_LINE_BYTES + 64)  # a cut line: its head and note
        if len(self._pending) >= self._batch_lines or self._pending_bytes >= BATCH_MAX_BYTES:
            await self.flush()
        elif self._is_metric_line(text):
            self._flush_soon()

    def note(self, text: str) -> None:
        """A line of tunestream's own in the training job's log."""
        self._pending.append(OutputLine(stream="stderr", text=text, at=datetime.now(UTC)))

    def note_dropped(self) -> None:
        """At the end of the attempt: how much output the cap kept back, if any."""
        if self._dropped_lines:
            self.note(
                f"[tunestream] {self._dropped_lines} lines ({self._dropped_bytes} bytes) of output were not "
                f"forwarded: past TUNESTREAM_LOG_MAX_BYTES={self._log_max_bytes} only lines matching "
                "MetricDefinitions are kept"
            )

    def _flush_soon(self) -> None:
        """Send a metric line now rather than with the next periodic batch: an early-stopping decision
        waits on it, and every moment it waits the program trains on for nothing (epochs of 0.1 s ran
        2-5 past their rung at the 0.25 s batch interval). At most one batch per METRIC_FLUSH_GAP_S, so
        a program printing metrics at every step still sends batches, not an event per line."""
        if self._soon is not None and not self._soon.done():
            return
        delay = max(0.0, self._last_flush + METRIC_FLUSH_GAP_S - time.monotonic())
        self._soon = asyncio.create_task(self._flush_after(delay))

    async def _flush_after(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        await self.flush()

    def _is_metric_line(self, text: str) -> bool:
        return any(p.search(text) for p in self._metric_patterns)

    async def periodically(self) -> None:
        while True:
            await asyncio.sleep(self._batch_interval_s)
            # Shielded: cancelling this task (the program ended) must not drop a batch whose send is
            # waiting for Kafka (a broker restart); the final flush and Finished wait for its lock.
            await asyncio.shield(self.flush())

    async def flush(self) -> None:
        # One batch in flight at a time keeps batches in seq order on the topic.
        async with self._flush_lock:
            if not self._pending or self.closed:
                return
            lines, self._pending, self._pending_bytes = self._pending, [], 0
            self._last_flush = time.monotonic()
            seq, first = self._seq, self.lines_sent
            self._seq += 1
            self.lines_sent += len(lines)
            await self._publish(
                [
                    TrainingOutputLogged(
                        event_id=ids.output_batch(self.training_job_name, seq),
                        tuning_job_name=self.tuning_job_name,
                        payload=TrainingOutputLoggedData(
                            training_job_name=self.training_job_name,
                            seq=seq,
                            attempt=self.attempt,
                            first_line=first,
                            lines=lines,
                        ),
                    )
                ]
            )
