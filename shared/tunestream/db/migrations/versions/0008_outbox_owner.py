"""Whose outbox a row is in: the topic prefix of the api that stored it.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for rows stored before: any api's outbox may still send those, as before.
    op.add_column("tuning_jobs", sa.Column("outbox_topic_prefix", sa.String(64)))
    op.add_column("api_calls", sa.Column("outbox_topic_prefix", sa.String(64)))


def downgrade() -> None:
    op.drop_column("api_calls", "outbox_topic_prefix")
    op.drop_column("tuning_jobs", "outbox_topic_prefix")
