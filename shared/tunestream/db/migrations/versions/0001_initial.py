"""Initial read model: tuning jobs, training jobs, metric points, log batches, processed events.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tuning_jobs",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("arn", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("strategy", sa.String(16), nullable=False),
        sa.Column("request", JSONB, nullable=False),
        sa.Column("random_seed", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("failure_reason", sa.Text),
        sa.Column("completion_reason", sa.Text),
        sa.Column("best_training_job_name", sa.String(64)),
        sa.Column("published_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "training_jobs",
        sa.Column("name", sa.String(64), primary_key=True),
        # No foreign key: events arrive on several topics, so a training job can be seen before its tuning job.
        sa.Column("tuning_job_name", sa.String(32), nullable=False),
        sa.Column("index", sa.Integer, nullable=False),
        sa.Column("arn", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("secondary_status", sa.String(32), nullable=False),
        sa.Column("tuned_hyperparameters", JSONB),
        sa.Column("hyperparameters", JSONB),
        sa.Column("proposal_reason", sa.Text),
        sa.Column("objective_status", sa.String(16), nullable=False),
        sa.Column("final_objective_value", sa.Float),
        sa.Column("objective_reason", sa.Text),
        sa.Column("failure_reason", sa.Text),
        sa.Column("exit_code", sa.Integer),
        sa.Column("launcher_id", sa.Text),
        sa.Column("pid", sa.Integer),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("last_modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_artifact_s3_uri", sa.Text),
        sa.Column("log_s3_uri", sa.Text),
        sa.Column("log_lines", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_training_jobs_tuning_job", "training_jobs", ["tuning_job_name", "index"])
    op.create_table(
        "metric_points",
        sa.Column("training_job_name", sa.String(64), primary_key=True),
        sa.Column("metric_name", sa.String(255), primary_key=True),
        sa.Column("step", sa.Integer, primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "log_batches",
        sa.Column("training_job_name", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("first_line", sa.Integer, nullable=False),
        sa.Column("lines", JSONB, nullable=False),
    )
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("processed_events", "log_batches", "metric_points", "training_jobs", "tuning_jobs"):
        op.drop_table(table)
