"""The suggester's end of a tuning job, held until every training job's result is in the read model.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tuning_jobs", sa.Column("end_status", sa.String(16)))
    op.add_column("tuning_jobs", sa.Column("end_reason", sa.Text))
    op.add_column("tuning_jobs", sa.Column("end_details", JSONB))
    op.add_column("tuning_jobs", sa.Column("end_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    for column in ("end_at", "end_details", "end_reason", "end_status"):
        op.drop_column("tuning_jobs", column)
