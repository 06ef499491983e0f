"""How many copies tunestream's topics get on a cluster of a given size."""

from __future__ import annotations

from tunestream.bus.publisher import replication_for


def test_replication_follows_the_cluster_up_to_three() -> None:
    assert replication_for(1) == (1, 1)
    assert replication_for(2) == (2, 1)
    assert replication_for(3) == (3, 2)  # one broker may be lost: writes still find 2 copies
    assert replication_for(5) == (3, 2)
    assert replication_for(5, wanted=5) == (5, 2)
    assert replication_for(0) == (1, 1)  # metadata not in yet: no topic without a copy
