"""The tracker's table of writers covers every event type but the heartbeat, which is not state."""

from __future__ import annotations

import typing

from tunestream.events.v1 import Event, LauncherHeartbeat
from tunestream.tracker.handler import _WRITERS


def test_every_event_type_has_a_writer_except_heartbeats() -> None:
    union = typing.get_args(typing.get_args(Event)[0])
    assert set(union) - set(_WRITERS) == {LauncherHeartbeat}
    assert set(_WRITERS) <= set(union)
