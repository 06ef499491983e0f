"""Attempts of a training job (retries after a launcher was lost) and Failed (Retryable).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("training_jobs", sa.Column("attempts", JSONB, nullable=False, server_default="[]"))
    op.add_column("training_jobs", sa.Column("retryable", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("training_jobs", sa.Column("gpus", JSONB))


def downgrade() -> None:
    for column in ("gpus", "retryable", "attempts"):
        op.drop_column("training_jobs", column)
