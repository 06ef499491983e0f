"""DeleteHyperParameterTuningJob: a deleted tuning job keeps its row (its name stays taken).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tuning_jobs", sa.Column("deleted_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("tuning_jobs", "deleted_at")
