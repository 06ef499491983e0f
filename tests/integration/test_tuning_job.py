"""A tuning job through the five services over the real Kafka, PostgreSQL and S3."""

from __future__ import annotations

import asyncio
import copy
import io
import json
import sys
import tarfile
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from sqlalchemy import Engine, func, select

from tests.integration.conftest import trainer_job, wait_until_ended
from tests.support.jobs import continuous, several_definitions
from tunestream.client import TunestreamClient
from tunestream.config import Settings
from tunestream.db.tables import log_batches, metric_points, processed_events, training_jobs, tuning_jobs
from tunestream.events.topics import Topics
from tunestream.events.v1 import decode
from tunestream.objstore.s3 import S3ObjectStore


async def _read_topic(settings: Settings, topic: str) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        partitions = consumer.assignment() or set()
        while not partitions:
            await asyncio.sleep(0.1)
            partitions = consumer.assignment()
        ends = await consumer.end_offsets(list(partitions))
        events = []
        while [tp for tp in partitions if (await consumer.position(tp)) < ends[tp]]:
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                events += [decode(m.value) for m in messages]
        return events
    finally:
        await consumer.stop()


def read_topic(settings: Settings, topic: str) -> list[Any]:
    return asyncio.run(_read_topic(settings, topic))


def test_random_job_end_to_end(
    api: TunestreamClient, settings: Settings, engine: Engine, store: S3ObjectStore, run_id: str
) -> None:
    name = f"e2e-{run_id}"
    store.put_bytes(f"s3://tunestream/it-data/{name}/train/part-0.csv", b"1,2\n")
    store.put_bytes(f"s3://tunestream/it-data/{name}/train/sub/part-1.csv", b"3,4\n")
    job = trainer_job(name, jobs=5, parallel=2)
    job["TrainingJobDefinition"]["InputDataConfig"] = [
        {
            "ChannelName": "train",
            "DataSource": {
                "S3DataSource": {"S3Uri": f"s3://tunestream/it-data/{name}/train", "S3DataType": "S3Prefix"}
            },
        }
    ]
    api.create_tuning_job(job)
    describe = wait_until_ended(api, name)

    # Describe: SageMaker's shape and numbers.
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    assert describe["TrainingJobStatusCounters"] == {
        "Completed": 5,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    assert describe["ObjectiveStatusCounters"] == {"Succeeded": 5, "Pending": 0, "Failed": 0}
    assert describe["HyperParameterTuningJobConfig"]["RandomSeed"] == 11
    assert describe["CreationTime"] < describe["HyperParameterTuningEndTime"]
    jobs = api.training_jobs(name)
    assert len(jobs) == 5
    best = describe["BestTrainingJob"]
    values = {j["TrainingJobName"]: j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for j in jobs}
    assert best["TrainingJobName"] == max(values, key=values.get)  # type: ignore[arg-type]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Maximize",
        "MetricName": "score",
        "Value": max(values.values()),
    }
    # The objective is the last value printed: epoch 3's score for the tuned x.
    x = float(best["TunedHyperParameters"]["x"])
    assert abs(best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] - (1.0 - (x - 0.3) ** 2 - 0.1 / 3)) < 1e-5

    # PostgreSQL rows.
    with engine.connect() as conn:
        assert conn.execute(select(tuning_jobs.c.status).where(tuning_jobs.c.name == name)).scalar() == "Completed"
        rows = conn.execute(select(training_jobs).where(training_jobs.c.tuning_job_name == name)).mappings().all()
        assert sorted(r["index"] for r in rows) == [0, 1, 2, 3, 4]
        names = [r["name"] for r in rows]
        assert (
            conn.execute(
                select(func.count()).select_from(metric_points).where(metric_points.c.training_job_name.in_(names))
            ).scalar()
            == 15
        )
        assert (
            conn.execute(
                select(func.count()).select_from(log_batches).where(log_batches.c.training_job_name.in_(names))
            ).scalar()
            >= 5
        )
        assert (
            conn.execute(
                select(func.count())
                .select_from(processed_events)
                .where(processed_events.c.event_id.like(f"{name}-%:finished"))
            ).scalar()
            == 5
        )

    # S3: logs and model artifacts where Describe says.
    training = api.describe_training_job(best["TrainingJobName"])
    assert training["LogUri"] == f"s3://tunestream/logs/{name}/{best['TrainingJobName']}/output.log"
    log_text = store.get_bytes(training["LogUri"]).decode()
    assert "epoch=3 score=" in log_text
    assert api.logs(best["TrainingJobName"]) == log_text
    artifact = training["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == f"s3://tunestream/it/output/{best['TrainingJobName']}/output/model.tar.gz"
    with tarfile.open(fileobj=io.BytesIO(store.get_bytes(artifact))) as tar:
        received = json.loads(tar.extractfile("received.json").read())  # type: ignore[union-attr]
    keys = store.list_keys(f"s3://tunestream/it/output/{name}-")
    # A model per training job, and what the program left in output/data beside it.
    assert sorted(k.rsplit("/", 1)[-1] for k in keys) == ["model.tar.gz"] * 5 + ["output.tar.gz"] * 5
    assert {m["MetricName"] for m in training["FinalMetricDataList"]} == {"score"}

    # Kafka: one proposal per training job, each started and finished once, one end.
    topics = Topics(settings.topic_prefix)
    trials = [e for e in read_topic(settings, topics.trials) if e.tuning_job_name == name]
    assert sorted(e.payload.spec.index for e in trials if e.type == "TrainingJobProposed") == [0, 1, 2, 3, 4]
    assert [e.payload.status for e in trials if e.type == "TuningJobEnded"] == ["Completed"]
    training_events = [e for e in read_topic(settings, topics.training) if e.tuning_job_name == name]
    assert (
        sorted(e.type for e in training_events if e.type != "TrainingOutputLogged")
        == ["TrainingJobFinished"] * 5 + ["TrainingJobStarted"] * 5
    )
    metric_events = [e for e in read_topic(settings, topics.metrics) if e.tuning_job_name == name]
    assert sum(e.type == "ObjectiveCollected" for e in metric_events) == 5

    # What the program received: argv pairs, string values, SageMaker env, no shell anywhere.
    hps = received["hyperparameters.json"]
    assert hps["epochs"] == "3" and set(hps) == {"epochs", "x", "kind"}
    argv = received["argv"]
    assert argv[argv.index("--kind") + 1] == hps["kind"]
    assert received["env"]["SM_HP_X"] == hps["x"] and received["env"]["MY_SETTING"] == "from-job"
    assert json.loads(received["env"]["SM_HPS"]) == hps
    assert not any(k.startswith("TUNESTREAM") for k in received["env"])
    # The channel's S3 prefix was downloaded, keeping relative paths.
    assert received["channels"] == {"train": ["part-0.csv", "sub/part-1.csv"]}


def test_same_seed_gives_same_configurations(api: TunestreamClient, run_id: str) -> None:
    first, second = f"seed-a-{run_id}", f"seed-b-{run_id}"
    for name in (first, second):
        api.create_tuning_job(trainer_job(name, jobs=3, parallel=3))
    tuned = []
    for name in (first, second):
        wait_until_ended(api, name)
        tuned.append([j["TunedHyperParameters"] for j in api.training_jobs(name, SortBy="Name")])
    assert tuned[0] == tuned[1]


def test_parallel_limit_is_never_exceeded(api: TunestreamClient, engine: Engine, run_id: str) -> None:
    name = f"par-{run_id}"
    api.create_tuning_job(trainer_job(name, jobs=6, parallel=2, sleep="0.3"))
    wait_until_ended(api, name)
    with engine.connect() as conn:
        spans = conn.execute(
            select(training_jobs.c.started_at, training_jobs.c.ended_at).where(training_jobs.c.tuning_job_name == name)
        ).all()
    for start, _ in spans:
        overlapping = sum(1 for s, e in spans if s <= start < e)
        assert overlapping <= 2


def test_failures_are_reported_with_reasons(api: TunestreamClient, run_id: str) -> None:
    failing, silent, hanging = f"fail-{run_id}", f"silent-{run_id}", f"hang-{run_id}"
    api.create_tuning_job(trainer_job(failing, jobs=2, parallel=2, mode="fail"))
    api.create_tuning_job(trainer_job(silent, jobs=1, parallel=1, mode="silent"))
    hang = trainer_job(hanging, jobs=1, parallel=1, mode="hang", ignore_term="1")
    hang["TrainingJobDefinition"]["StoppingCondition"]["MaxRuntimeInSeconds"] = 2
    api.create_tuning_job(hang)

    d = wait_until_ended(api, failing)
    assert d["HyperParameterTuningJobStatus"] == "Failed"
    assert "all 2 training jobs failed" in d["FailureReason"]
    assert d["TrainingJobStatusCounters"]["NonRetryableError"] == 2
    job = api.training_jobs(failing)[0]
    assert job["TrainingJobStatus"] == "Failed"
    assert "exited with code 3" in job["FailureReason"] and "the data went bad" in job["FailureReason"]

    d = wait_until_ended(api, silent)
    assert d["HyperParameterTuningJobStatus"] == "Completed" and "BestTrainingJob" not in d
    assert d["ObjectiveStatusCounters"] == {"Succeeded": 0, "Pending": 0, "Failed": 1}
    (job,) = api.training_jobs(silent)
    assert job["TrainingJobStatus"] == "Completed" and job["ObjectiveStatus"] == "Failed"
    assert "without printing the objective metric 'score'" in job["ObjectiveStatusReason"]

    d = wait_until_ended(api, hanging, timeout_s=60)
    (job,) = api.training_jobs(hanging)
    assert job["TrainingJobStatus"] == "Stopped"
    detail = api.describe_training_job(job["TrainingJobName"])
    assert detail["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert "MaxRuntimeInSeconds" in detail["FailureReason"]


def test_command_that_cannot_start(api: TunestreamClient, run_id: str) -> None:
    name = f"nocmd-{run_id}"
    job = trainer_job(name, jobs=1, parallel=1)
    job["TrainingJobDefinition"]["AlgorithmSpecification"]["Command"] = ["/no/such/program", sys.executable]
    api.create_tuning_job(job)
    d = wait_until_ended(api, name)
    assert d["HyperParameterTuningJobStatus"] == "Failed"
    (tj,) = api.training_jobs(name)
    assert "cannot start '/no/such/program'" in tj["FailureReason"]


def test_bayesian_job_moves_from_initial_design_to_the_model(
    api: TunestreamClient, engine: Engine, run_id: str
) -> None:
    name = f"bayes-{run_id}"
    job = trainer_job(name, jobs=8, parallel=2)
    job["HyperParameterTuningJobConfig"]["Strategy"] = "Bayesian"
    api.create_tuning_job(job)
    describe = wait_until_ended(api, name, timeout_s=240)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    assert describe["TrainingJobStatusCounters"]["Completed"] == 8
    with engine.connect() as conn:
        rows = conn.execute(
            select(training_jobs.c.index, training_jobs.c.proposal_details, training_jobs.c.proposal_reason)
            .where(training_jobs.c.tuning_job_name == name)
            .order_by(training_jobs.c.index)
        ).all()
    phases = [details["phase"] for _, details, _ in rows]
    assert phases[:4] == ["initial design"] * 4 and phases[-1] == "model"
    last = rows[-1]
    assert last.proposal_details["observations"] >= 2 and "log EI" in last.proposal_reason


def test_warm_start_from_a_parent(api: TunestreamClient, http_post: Any, run_id: str) -> None:
    parent, child = f"parent-{run_id}", f"child-{run_id}"
    api.create_tuning_job(trainer_job(parent, jobs=6, parallel=3))
    warm = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent}],
        "WarmStartType": "TransferLearning",
    }

    job = trainer_job(child, jobs=2, parallel=1)
    job["HyperParameterTuningJobConfig"]["Strategy"] = "Bayesian"
    job["WarmStartConfig"] = warm
    response = http_post("/tuning-jobs", job)  # the parent is still running
    assert response.status_code == 400
    assert response.json()["errors"][0]["rule"] == "parent-ended"
    missing = {
        **job,
        "WarmStartConfig": {**warm, "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "nope"}]},
    }
    assert http_post("/tuning-jobs", missing).json()["errors"][0]["rule"] == "parent-exists"

    parent_describe = wait_until_ended(api, parent)
    api.create_tuning_job(job)
    describe = wait_until_ended(api, child, timeout_s=120)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    first = api.describe_training_job(api.training_jobs(child, SortBy="Name")[0]["TrainingJobName"])
    # Six parent results cover the initial design: the first proposal already comes from the model.
    assert first["ProposalDetails"]["phase"] == "model" and first["ProposalDetails"]["observations"] == 6
    overall = describe["OverallBestTrainingJob"]
    best_values = [parent_describe["BestTrainingJob"], describe["BestTrainingJob"]]
    expected = max(best_values, key=lambda b: b["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    assert overall["TrainingJobName"] == expected["TrainingJobName"]


def test_output_data_and_uncompressed_artifacts(
    api: TunestreamClient, store: S3ObjectStore, settings: Settings, run_id: str
) -> None:
    """GZIP (the default): model.tar.gz and output.tar.gz (what the program left in output/data);
    CompressionType NONE: the same files as they are, under output/model/ and output/data/."""
    names = {"GZIP": f"outz-{run_id}", "NONE": f"outn-{run_id}"}
    for compression, name in names.items():
        job = trainer_job(name, jobs=1, parallel=1)
        job["TrainingJobDefinition"]["OutputDataConfig"] = {
            "S3OutputPath": f"s3://{settings.s3_bucket}/it/out-{run_id}",
            "CompressionType": compression,
        }
        api.create_tuning_job(job)
    for compression, name in names.items():
        assert wait_until_ended(api, name)["HyperParameterTuningJobStatus"] == "Completed"
        training = api.describe(name)["BestTrainingJob"]["TrainingJobName"]
        prefix = f"s3://{settings.s3_bucket}/it/out-{run_id}/{training}/output/"
        key = prefix.removeprefix(f"s3://{settings.s3_bucket}/")
        keys = sorted(store.list_keys(prefix))
        artifact = api.describe_training_job(training)["ModelArtifacts"]["S3ModelArtifacts"]
        if compression == "GZIP":
            assert keys == [f"{key}model.tar.gz", f"{key}output.tar.gz"], keys
            assert artifact == f"{prefix}model.tar.gz"
            with tarfile.open(fileobj=io.BytesIO(store.get_bytes(f"{prefix}output.tar.gz"))) as tar:
                assert tar.extractfile("summary/last.txt").read() == b"epochs=3\n"  # type: ignore[union-attr]
        else:
            assert keys == [f"{key}data/summary/last.txt", f"{key}model/received.json"], keys
            assert artifact == f"{prefix}model/"
            assert store.get_bytes(f"{prefix}data/summary/last.txt") == b"epochs=3\n"
            assert json.loads(store.get_bytes(f"{prefix}model/received.json"))["argv"]


def test_a_manifest_channel_downloads_what_the_manifest_lists(
    api: TunestreamClient, store: S3ObjectStore, settings: Settings, run_id: str
) -> None:
    """S3DataType ManifestFile against the real S3 store: the listed objects under their relative
    keys, not the ones beside them; a manifest that is not there fails the job with a ClientError."""
    base = f"s3://{settings.s3_bucket}/it-data/manifest-{run_id}"
    for key in ("objs/a.csv", "objs/sub/b.csv", "objs/unlisted.csv"):
        store.put_bytes(f"{base}/{key}", b"1,2\n")
    store.put_bytes(f"{base}/manifest.json", json.dumps([{"prefix": f"{base}/objs/"}, "a.csv", "sub/b.csv"]).encode())
    names = {"listed": f"mf-{run_id}", "missing": f"mf-gone-{run_id}"}
    for kind, name in names.items():
        job = trainer_job(name, jobs=1, parallel=1)
        uri = f"{base}/manifest.json" if kind == "listed" else f"{base}/no-such-manifest.json"
        job["TrainingJobDefinition"]["InputDataConfig"] = [
            {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": uri, "S3DataType": "ManifestFile"}}}
        ]
        api.create_tuning_job(job)
    assert wait_until_ended(api, names["listed"])["HyperParameterTuningJobStatus"] == "Completed"
    [training] = api.training_jobs(names["listed"])
    described = api.describe_training_job(training["TrainingJobName"])
    with tarfile.open(fileobj=io.BytesIO(store.get_bytes(described["ModelArtifacts"]["S3ModelArtifacts"]))) as tar:
        received = json.loads(tar.extractfile("received.json").read())  # type: ignore[union-attr]
    assert received["channels"]["train"] == ["a.csv", "sub/b.csv"]
    wait_until_ended(api, names["missing"])
    [failed] = api.training_jobs(names["missing"])
    assert failed["TrainingJobStatus"] == "Failed"
    assert failed["FailureReason"].startswith(f"ClientError: the manifest {base}/no-such-manifest.json cannot be read")


def test_two_definitions_in_one_tuning_job(api: TunestreamClient, run_id: str) -> None:
    """TrainingJobDefinitions: each training job runs one definition, reports that definition's
    objective metric, and List, Describe and DescribeTrainingJob say which it ran. "wide" (x around
    0.3, the trainer's best) always beats "narrow" (x at most 0.2), so the best job is a wide one."""
    name = f"defs-{run_id}"
    job = several_definitions(
        trainer_job(name, jobs=6, parallel=2),
        [
            {"name": "narrow", "ranges": {"ContinuousParameterRanges": [continuous("x", "0", "0.2")]}},
            {
                "name": "wide",
                "ranges": {"ContinuousParameterRanges": [continuous("x", "0.25", "0.35")]},
                "objective": ("Maximize", "accuracy"),
                "metrics": [{"Name": "accuracy", "Regex": r"score=([-0-9.eE+]+)"}],
            },
        ],
    )
    api.create_tuning_job(job)
    describe = wait_until_ended(api, name, timeout_s=120)
    assert describe["HyperParameterTuningJobStatus"] == "Completed", describe
    assert [d["DefinitionName"] for d in describe["TrainingJobDefinitions"]] == ["narrow", "wide"]
    assert "TrainingJobDefinition" not in describe
    summaries = api.training_jobs(name)
    assert len(summaries) == 6 and {s["TrainingJobStatus"] for s in summaries} == {"Completed"}
    metric = {"narrow": "score", "wide": "accuracy"}
    ran = {s["TrainingJobDefinitionName"] for s in summaries}
    assert ran == {"narrow", "wide"}, summaries
    for s in summaries:
        definition = s["TrainingJobDefinitionName"]
        assert list(s["TunedHyperParameters"]) == ["x"]
        x = float(s["TunedHyperParameters"]["x"])
        assert (x <= 0.2) if definition == "narrow" else (0.25 <= x <= 0.35)
        assert s["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == metric[definition]
    best = describe["BestTrainingJob"]
    assert best["TrainingJobDefinitionName"] == "wide"
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == "accuracy"
    training = api.describe_training_job(best["TrainingJobName"])
    assert [m["Name"] for m in training["AlgorithmSpecification"]["MetricDefinitions"]] == ["accuracy"]

    # A warm start across the same definitions: each parent result seeds the definition it ran.
    child = copy.deepcopy(job)
    child["HyperParameterTuningJobName"] = f"defs-child-{run_id}"
    child["HyperParameterTuningJobConfig"]["Strategy"] = "Bayesian"
    child["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 2
    child["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": name}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    api.create_tuning_job(child)
    child_describe = wait_until_ended(api, child["HyperParameterTuningJobName"], timeout_s=120)
    assert child_describe["HyperParameterTuningJobStatus"] == "Completed", child_describe
    first = api.describe_training_job(
        api.training_jobs(child["HyperParameterTuningJobName"], SortBy="Name")[0]["TrainingJobName"]
    )
    assert first["ProposalDetails"]["phase"] == "model" and first["ProposalDetails"]["observations"] == 6, first
    assert child_describe["OverallBestTrainingJob"]["TrainingJobDefinitionName"] == "wide"


def test_autotune_completes_the_job_and_describe_shows_its_choices(
    api: TunestreamClient, settings: Settings, run_id: str
) -> None:
    """Autotune Enabled: x's range inferred from its hint, retries, early stopping and convergence
    chosen, the job run as completed; Describe shows the completed configuration and the choices."""
    name = f"auto-{run_id}"
    job = trainer_job(name, jobs=4, parallel=2)
    config = job["HyperParameterTuningJobConfig"]
    config["ParameterRanges"]["ContinuousParameterRanges"] = []
    config["ParameterRanges"]["AutoParameters"] = [{"Name": "x", "ValueHint": "0.3"}]
    job["Autotune"] = {"Mode": "Enabled"}
    api.create_tuning_job(job)
    describe = wait_until_ended(api, name, timeout_s=120)
    assert describe["HyperParameterTuningJobStatus"] == "Completed", describe
    assert describe["Autotune"] == {"Mode": "Enabled"}
    shown = describe["HyperParameterTuningJobConfig"]
    [x] = shown["ParameterRanges"]["ContinuousParameterRanges"]
    assert (x["Name"], float(x["MinValue"]), float(x["MaxValue"]), x["ScalingType"]) == ("x", 0.03, 1.0, "Logarithmic")
    assert "AutoParameters" not in shown["ParameterRanges"]
    assert shown["TrainingJobEarlyStoppingType"] == "Auto"
    assert shown["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 4  # given: not Autotune's to choose
    assert describe["TrainingJobDefinition"]["RetryStrategy"] == {"MaximumRetryAttempts": 2}
    choices = describe["AutotuneChoices"]
    assert choices["HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges[x]"]["MinValue"] == "0.03"
    assert "HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs" not in choices
    for summary in api.training_jobs(name):
        assert 0.03 <= float(summary["TunedHyperParameters"]["x"]) <= 1.0
    # A hint no range can be inferred from is a 400 naming it; nothing is stored.
    job["HyperParameterTuningJobName"] = f"auto-bad-{run_id}"
    config["ParameterRanges"]["AutoParameters"] = [{"Name": "act", "ValueHint": "relu"}]
    answer = httpx.post(f"http://127.0.0.1:{settings.api_port}/tuning-jobs", json=job, timeout=30)
    assert answer.status_code == 400, answer.text
    errors = {e["field"]: e["rule"] for e in answer.json()["errors"]}
    assert errors["HyperParameterTuningJobConfig.ParameterRanges.AutoParameters[0].ValueHint"] == "autotune-hint"
    # Autotune's choices are tunestream's to record: a request that brings its own is refused.
    config["ParameterRanges"]["AutoParameters"] = [{"Name": "x", "ValueHint": "0.3"}]
    job["Autotune"] = {
        "Mode": "Enabled",
        "Choices": {"HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType": "Off"},
    }
    answer = httpx.post(f"http://127.0.0.1:{settings.api_port}/tuning-jobs", json=job, timeout=30)
    assert answer.status_code == 400, answer.text
    assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [("Autotune", "mode-only")]
    assert (
        httpx.get(f"http://127.0.0.1:{settings.api_port}/tuning-jobs/auto-bad-{run_id}", timeout=30).status_code == 404
    )
