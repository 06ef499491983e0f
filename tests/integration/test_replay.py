"""`tunestream replay`: a finished tuning job rebuilt from Kafka matches the live read model and the
suggester's recorded decisions exactly, for Random, Bayesian, Hyperband and promotion Hyperband
(with random and with model proposals); a tampered row shows."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from tests.integration.conftest import ROOT, trainer_job, wait_until_ended
from tests.support.waiting import wait_for
from tunestream.client import TunestreamClient
from tunestream.config import Settings
from tunestream.db.tables import training_jobs
from tunestream.replay.run import render, run_replay


def _jobs(run_id: str) -> dict[str, dict[str, Any]]:
    random = trainer_job(f"rp-rand-{run_id}", jobs=6, parallel=2, sleep="0.05")
    random["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] = "Auto"
    bayes = trainer_job(f"rp-bayes-{run_id}", jobs=6, parallel=2)
    bayes["HyperParameterTuningJobConfig"]["Strategy"] = "Bayesian"
    hyperband = trainer_job(f"rp-hb-{run_id}", jobs=9, parallel=3, epochs="9", sleep="0.05")
    config = hyperband["HyperParameterTuningJobConfig"]
    config["Strategy"] = "Hyperband"
    config["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}}
    # trainer.py ignores TUNESTREAM_RESOURCE_LIMIT: its segments are paused by the suggester's stops.
    promotion = trainer_job(f"rp-promo-{run_id}", jobs=9, parallel=3, epochs="9", sleep="0.05")
    config = promotion["HyperParameterTuningJobConfig"]
    config["Strategy"] = "Hyperband"
    config["StrategyConfig"] = {
        "HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9, "Promotion": "Enabled", "Proposals": "Random"}
    }
    promotion["TrainingJobDefinition"]["CheckpointConfig"] = {"S3Uri": f"s3://tunestream/it/checkpoints/rp-{run_id}"}
    # Model proposals: a rung needs 5 values (Bayesian's initial design for 2 parameters) before the
    # GP proposes, so enough training jobs that some new configurations come from it. A slot that
    # frees while the GP is still being fitted gets a random draw instead (the first fit imports
    # torch): epochs long enough that some fits are ready in time.
    modelled = trainer_job(f"rp-model-{run_id}", jobs=20, parallel=3, epochs="9", sleep="0.2")
    config = modelled["HyperParameterTuningJobConfig"]
    config["Strategy"] = "Hyperband"
    config["StrategyConfig"] = {
        "HyperbandStrategyConfig": {
            "MinResource": 1,
            "MaxResource": 9,
            "FirstRung": "MinResource",
            "Proposals": "Model",
        }
    }
    modelled["TrainingJobDefinition"]["CheckpointConfig"] = {"S3Uri": f"s3://tunestream/it/checkpoints/rpm-{run_id}"}
    return {
        "Random": random,
        "Bayesian": bayes,
        "Hyperband": hyperband,
        "Hyperband (promotion)": promotion,
        "Hyperband (promotion, model)": modelled,
    }


def _read_model(engine: Engine, names: list[str]) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                select(training_jobs.c.name, training_jobs.c.status, training_jobs.c.last_modified_at)
                .where(training_jobs.c.tuning_job_name.in_(names))
                .order_by(training_jobs.c.name)
            )
        ]


@pytest.fixture(scope="module")
def replayed_jobs(api: TunestreamClient, run_id: str, engine: Engine) -> dict[str, str]:
    jobs = _jobs(run_id)
    for job in jobs.values():
        api.create_tuning_job(job)
    names = {strategy: job["HyperParameterTuningJobName"] for strategy, job in jobs.items()}
    for name in names.values():
        assert wait_until_ended(api, name, timeout_s=150)["HyperParameterTuningJobStatus"] == "Completed"
    # The tracker settles a tuning job once every result is in, and may still be writing what came
    # after (a training job's end, its logs): compare only once its rows stopped changing. A fixed
    # one-second wait was too short on a loaded machine.
    previous: list[list[tuple[Any, ...]]] = [[]]

    def quiet() -> bool:
        now = _read_model(engine, list(names.values()))
        same = now == previous[0]
        previous[0] = now
        time.sleep(1.0)
        return same

    wait_for("the read model to stop changing", quiet, timeout_s=60)
    return names


@pytest.mark.parametrize(
    "strategy", ["Random", "Bayesian", "Hyperband", "Hyperband (promotion)", "Hyperband (promotion, model)"]
)
def test_replay_finds_no_difference(
    strategy: str, replayed_jobs: dict[str, str], settings: Settings, api: TunestreamClient
) -> None:
    started = time.perf_counter()
    report = run_replay(settings, replayed_jobs[strategy])
    print("\n".join(render(report)), f"\n({time.perf_counter() - started:.2f}s)")
    tracker, suggester = report["components"]["tracker"], report["components"]["suggester"]
    assert tracker["differences"] == []
    assert suggester["differences"] == []
    assert report["differences"] == 0
    expected_jobs = {"Random": 6, "Bayesian": 6, "Hyperband (promotion, model)": 20}.get(strategy, 9)
    assert tracker["rows"]["training_jobs"] == expected_jobs
    assert tracker["events_replayed"] == sum(report["events"][t] for t in ("jobs", "trials", "training", "metrics"))
    assert suggester["recorded_without_inputs"] == 0
    assert suggester["decisions"]["proposals"] == tracker["rows"]["training_jobs"]
    assert suggester["decisions"]["ended"] == 1
    assert suggester["decisions_replayed"] == suggester["decisions_recorded"]
    if strategy == "Hyperband":
        assert suggester["decisions"].get("stops:hyperband", 0) >= 1  # promotions and stops were re-derived
    if strategy.startswith("Hyperband (promotion"):
        assert suggester["decisions"].get("stops:pause", 0) >= 1  # pauses, and the resumes after them
    if strategy == "Hyperband (promotion, model)":
        # The GP's proposals were among those re-derived, not only random draws.
        listed = api.training_jobs(replayed_jobs[strategy])
        reasons = [api.describe_training_job(j["TrainingJobName"])["ProposalReason"] for j in listed]
        assert any("GP over configuration and resource" in r for r in reasons), reasons


def test_replay_reports_a_tampered_row(replayed_jobs: dict[str, str], settings: Settings, engine: Engine) -> None:
    name = replayed_jobs["Random"]
    with engine.begin() as conn:
        victim, value = conn.execute(
            select(training_jobs.c.name, training_jobs.c.final_objective_value)
            .where(training_jobs.c.tuning_job_name == name)
            .order_by(training_jobs.c.index)
            .limit(1)
        ).one()
        conn.execute(update(training_jobs).where(training_jobs.c.name == victim).values(final_objective_value=-7.5))
    try:
        report = run_replay(settings, name, "tracker")
        assert report["components"]["tracker"]["differences"] == [
            {"table": "training_jobs", "key": victim, "field": "final_objective_value", "live": -7.5, "replayed": value}
        ]
        # The CLI: exit code 1 and the difference in words.
        cli = subprocess.run(
            [sys.executable, "-m", "tunestream.cli.main", "replay", name, "--component", "tracker"],
            cwd=ROOT,
            env=_cli_env(settings),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert cli.returncode == 1, cli.stdout + cli.stderr
        assert "differences: 1" in cli.stdout
        assert f"training_jobs[{victim}].final_objective_value: live -7.5" in cli.stdout
    finally:
        with engine.begin() as conn:
            conn.execute(
                update(training_jobs).where(training_jobs.c.name == victim).values(final_objective_value=value)
            )
    assert run_replay(settings, name, "tracker")["differences"] == 0


def _cli_env(settings: Settings) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNESTREAM_")}
    env["TUNESTREAM_ENV_FILE"] = str(ROOT / ".stack" / "stack.env")
    env["TUNESTREAM_TOPIC_PREFIX"] = settings.topic_prefix
    return env


def test_job_topics_keep_every_event(replayed_jobs: dict[str, str], settings: Settings) -> None:
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    from tunestream.events.topics import Topics

    async def retention() -> dict[str, str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
        await admin.start()
        try:
            topics = Topics(settings.topic_prefix)
            found = {}
            for topic in topics.all():
                [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
                entries = {e[0]: e[1] for e in response.resources[0][4]}
                found[topic.rsplit(".", 1)[1]] = entries["retention.ms"]
            return found
        finally:
            await admin.close()

    assert asyncio.run(retention()) == {
        "jobs": "-1",
        "trials": "-1",
        "training": "-1",
        "metrics": "-1",
        "launchers": str(3600 * 1000),
    }
