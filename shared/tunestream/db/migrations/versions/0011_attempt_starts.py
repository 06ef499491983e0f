"""When each attempt of a training job started: a managed spot job's billable time is the time its
attempts ran, not the time it waited for capacity between them.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("training_jobs", sa.Column("attempt_starts", JSONB, nullable=False, server_default="[]"))


def downgrade() -> None:
    op.drop_column("training_jobs", "attempt_starts")
