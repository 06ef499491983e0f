"""Tables of the read model the tracker writes and the api reads."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

tuning_jobs = Table(
    "tuning_jobs",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("arn", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("strategy", String(16), nullable=False),
    Column("request", JSONB, nullable=False),
    Column("random_seed", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_modified_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("failure_reason", Text),
    Column("completion_reason", Text),
    Column("best_training_job_name", String(64)),
    Column("completion_details", JSONB),
    # The suggester's TuningJobEnded, applied once every training job's result is in (see writes.settle_end).
    Column("end_status", String(16)),
    Column("end_reason", Text),
    Column("end_details", JSONB),
    Column("end_at", DateTime(timezone=True)),
    # Outbox: set once TuningJobSubmitted is acknowledged by Kafka; the api republishes rows left null.
    Column("published_at", DateTime(timezone=True)),
    # DeleteHyperParameterTuningJob (soft): the row stays, since the name keys the job's Kafka history
    # and its training jobs stay describable; reads leave it out of Describe and List.
    Column("deleted_at", DateTime(timezone=True)),
    # The principal that created it; NULL for jobs created before principals existed (admins' only).
    Column("owner", String(64)),
    # The topic prefix of the api that stored it: only that deployment's outbox publishes it, since
    # deployments (or test stacks) sharing one database must not run each other's jobs on their topics.
    Column("outbox_topic_prefix", String(64)),
    # Set when the row carries a training job created alone (CreateTrainingJob, tunestream.standalone):
    # that training job's name. Such a row is no tuning job of the user's: never listed or described.
    Column("standalone_training_job", String(64)),
    Column("standalone_inert_members", JSONB),  # the CreateTrainingJob request's (InertMembers)
)

training_jobs = Table(
    "training_jobs",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("tuning_job_name", String(32), nullable=False),
    Column("index", Integer, nullable=False),
    Column("arn", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("secondary_status", String(32), nullable=False),
    Column("tuned_hyperparameters", JSONB),
    Column("hyperparameters", JSONB),
    Column("proposal_reason", Text),
    Column("proposal_details", JSONB),
    Column("stop_reason", Text),
    Column("stop_details", JSONB),
    Column("objective_status", String(16), nullable=False),
    Column("final_objective_value", Float),
    Column("objective_reason", Text),
    Column("failure_reason", Text),
    Column("exit_code", Integer),
    Column("launcher_id", Text),
    Column("pid", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
    Column("last_modified_at", DateTime(timezone=True), nullable=False),
    Column("model_artifact_s3_uri", Text),
    Column("log_s3_uri", Text),
    Column("log_lines", Integer, nullable=False, server_default="0"),
    # One entry per attempt that ended without a result: {"Attempt", "LauncherId", "Reason", "At"}.
    Column("attempts", JSONB, nullable=False, server_default="[]"),
    # One entry per attempt that started: {"Attempt", "At"}.
    Column("attempt_starts", JSONB, nullable=False, server_default="[]"),
    Column("retryable", Boolean, nullable=False, server_default=false()),
    Column("gpus", JSONB),
    # TrainingJobDefinitions[].DefinitionName of the one it runs; NULL with a single definition.
    Column("definition_name", String(64)),
    Index("ix_training_jobs_tuning_job", "tuning_job_name", "index"),
)

metric_points = Table(
    "metric_points",
    metadata,
    Column("training_job_name", String(64), primary_key=True),
    Column("metric_name", String(255), primary_key=True),
    Column("step", Integer, primary_key=True),
    Column("value", Float, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

log_batches = Table(
    "log_batches",
    metadata,
    Column("training_job_name", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("first_line", Integer, nullable=False),
    Column("lines", JSONB, nullable=False),
)

# Tags of a tuning job or training job, by ARN (CreateHyperParameterTuningJob's Tags, AddTags, DeleteTags).
resource_tags = Table(
    "resource_tags",
    metadata,
    Column("resource_arn", Text, primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", String(256), nullable=False),
)

# The audit trail: mutating api calls on a tuning job (ApiCallRecorded). The api writes a row before it
# publishes the event (its outbox: published_at stays NULL until Kafka acknowledged it); the tracker
# writes the same row from the event, which is how a replay gets it.
api_calls = Table(
    "api_calls",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("tuning_job_name", String(32), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("principal", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("operation", String(64), nullable=False),
    Column("resource", Text, nullable=False),
    Column("via", String(16), nullable=False),
    Column("status", Integer, nullable=False),
    Column("error", String(64)),
    Column("request_id", String(64), nullable=False),
    Column("published_at", DateTime(timezone=True)),
    Column("outbox_topic_prefix", String(64)),  # as tuning_jobs'
)

processed_events = Table(
    "processed_events",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("processed_at", DateTime(timezone=True), nullable=False),
)
