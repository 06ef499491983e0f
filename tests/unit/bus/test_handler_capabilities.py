"""The loop finds a handler's optional capabilities by protocol: a renamed method must not silently
turn the tracker back into one transaction per event, or blind the scheduler to a broker outage."""

from __future__ import annotations

from tunestream.bus.loop import BatchHandler, BrokerWatcher
from tunestream.collector.handler import CollectorHandler
from tunestream.launcher.handler import LauncherHandler
from tunestream.scheduler.handler import SchedulerHandler
from tunestream.suggester.handler import SuggesterHandler
from tunestream.tracker.handler import TrackerHandler


def test_capabilities_of_each_service() -> None:
    assert issubclass(TrackerHandler, BatchHandler)
    assert issubclass(SchedulerHandler, BrokerWatcher)
    for plain in (CollectorHandler, LauncherHandler, SuggesterHandler):
        assert not issubclass(plain, BatchHandler) and not issubclass(plain, BrokerWatcher)
    assert not issubclass(TrackerHandler, BrokerWatcher) and not issubclass(SchedulerHandler, BatchHandler)
