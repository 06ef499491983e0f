"""Decisions with their numbers: proposal details, stop reasons, completion details.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("training_jobs", sa.Column("proposal_details", JSONB))
    op.add_column("training_jobs", sa.Column("stop_reason", sa.Text))
    op.add_column("training_jobs", sa.Column("stop_details", JSONB))
    op.add_column("tuning_jobs", sa.Column("completion_details", JSONB))


def downgrade() -> None:
    op.drop_column("tuning_jobs", "completion_details")
    op.drop_column("training_jobs", "stop_details")
    op.drop_column("training_jobs", "stop_reason")
    op.drop_column("training_jobs", "proposal_details")
