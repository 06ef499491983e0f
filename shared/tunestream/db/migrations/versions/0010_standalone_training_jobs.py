"""Training jobs created alone (CreateTrainingJob): the tuning job of one that carries each.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tuning_jobs", sa.Column("standalone_training_job", sa.String(64)))
    op.add_column("tuning_jobs", sa.Column("standalone_inert_members", JSONB))


def downgrade() -> None:
    op.drop_column("tuning_jobs", "standalone_inert_members")
    op.drop_column("tuning_jobs", "standalone_training_job")
