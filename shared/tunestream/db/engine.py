"""Engine creation, shared by the tracker (writes) and the api (reads)."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine


def make_engine(database_url: str) -> Engine:
    # pool_pre_ping: a PostgreSQL restart must not turn the next request into a 500.
    return create_engine(database_url, pool_pre_ping=True, pool_size=5, max_overflow=5)
