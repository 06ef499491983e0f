"""Tags by resource ARN (ListTags, AddTags, DeleteTags); a tuning job's Tags from its request.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resource_tags",
        sa.Column("resource_arn", sa.Text(), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
    )
    # Tuning jobs created before this revision keep the Tags their request carried.
    op.execute(
        """
        INSERT INTO resource_tags (resource_arn, key, value)
        SELECT arn, tag->>'Key', coalesce(tag->>'Value', '')
        FROM tuning_jobs, jsonb_array_elements(request->'Tags') AS tag
        WHERE jsonb_typeof(request->'Tags') = 'array'
        ON CONFLICT DO NOTHING
        """
    )


def downgrade() -> None:
    op.drop_table("resource_tags")
