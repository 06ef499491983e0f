"""The tracker keeps a tuning job's best training job up to date one objective at a time (each one
compared with the current best). In any arrival order, with ties and failed objectives, it must be
the training job a query over all of them picks: the best objective, then the earliest job."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from tests.conftest import minimal_job
from tunestream.db import writes
from tunestream.db.tables import tuning_jobs
from tunestream.naming import training_job_name

VALUES: list[float | None] = [0.5, 0.7, 0.7, None, 0.2, 0.7, 0.9, 0.9, 0.1]


@pytest.mark.parametrize("direction", ["Maximize", "Minimize"])
@pytest.mark.parametrize("order_seed", [0, 1, 2])
def test_best_training_job_follows_every_objective(engine: Engine, direction: str, order_seed: int) -> None:
    job = f"best-{direction[:3].lower()}-{order_seed}-{uuid.uuid4().hex[:6]}"
    request = minimal_job(job)
    request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["Type"] = direction
    now = datetime.now(UTC)
    names = [training_job_name(job, i) for i in range(len(VALUES))]
    with engine.begin() as conn:
        writes.insert_tuning_job(conn, name=job, strategy="Random", request=request, random_seed=1, created_at=now)
        for i, name in enumerate(names):
            writes.record_proposal(
                conn, name=name, tuning_job_name=job, index=i, tuned={}, hyperparameters={}, reason="t", at=now
            )
    order = list(range(len(VALUES)))
    random.Random(order_seed).shuffle(order)
    recorded: list[int] = []
    for i in order:
        value = VALUES[i]
        with engine.begin() as conn:
            writes.record_objective(
                conn,
                name=names[i],
                tuning_job_name=job,
                objective_status="Failed" if value is None else "Succeeded",
                value=value,
                reason=None,
                at=now,
            )
            best = conn.execute(select(tuning_jobs.c.best_training_job_name).where(tuning_jobs.c.name == job)).scalar()
        recorded.append(i)
        scored = [(VALUES[k], k) for k in recorded if VALUES[k] is not None]
        sign = -1 if direction == "Maximize" else 1
        expected = min(scored, key=lambda vk: (sign * vk[0], vk[1]))[1] if scored else None  # type: ignore[operator]
        assert best == (names[expected] if expected is not None else None), (recorded, best)
