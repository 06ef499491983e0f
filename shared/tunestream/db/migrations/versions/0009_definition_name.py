"""The TrainingJobDefinition a training job runs, with several in one tuning job.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("training_jobs", sa.Column("definition_name", sa.String(64)))


def downgrade() -> None:
    op.drop_column("training_jobs", "definition_name")
