"""Principals: a tuning job's owner, and the audit trail of mutating api calls.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Older jobs keep no owner: their events name none, so a replay could not give them one either.
    op.add_column("tuning_jobs", sa.Column("owner", sa.String(64)))
    op.create_table(
        "api_calls",
        sa.Column("event_id", sa.Text(), primary_key=True),
        sa.Column("tuning_job_name", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("principal", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(64)),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_api_calls_tuning_job_name", "api_calls", ["tuning_job_name"])


def downgrade() -> None:
    op.drop_index("ix_api_calls_tuning_job_name", table_name="api_calls")
    op.drop_table("api_calls")
    op.drop_column("tuning_jobs", "owner")
