"""Events read before the event that introduces their subject.

Topics are read independently, so while a service rebuilds its state from Kafka it can read a
training job's assignment before its proposal (another topic), or a tuning job's metrics before its
submission. Such an event is held under its subject's name and applied, in arrival order, once the
subject exists. A subject that will never exist (a submission refused as invalid) is forgotten.
"""

from __future__ import annotations

from tunestream.events.v1 import Event


class EarlyEvents:
    def __init__(self) -> None:
        self._held: dict[str, list[Event]] = {}

    def hold(self, subject: str, event: Event) -> None:
        self._held.setdefault(subject, []).append(event)

    def release(self, subject: str) -> list[Event]:
        """The events held for `subject`, oldest first; they are no longer held."""
        return self._held.pop(subject, [])

    def forget(self, subject: str) -> None:
        self._held.pop(subject, None)

    def held(self, subject: str) -> int:
        return len(self._held.get(subject, ()))

    def subjects(self) -> int:
        return len(self._held)
