"""Each erasure request names the services that must confirm it.

Which services confirm an erasure was a constant; with the reporting service it grew. A request
opened before reporting existed was never delivered to it, so reporting cannot confirm it,
and it would stay pending for ever; a completed one would show reporting as pending. From
now on a request keeps the services it was sent to; a request without them (NULL, opened
before this revision) waits for the four services of its time.

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("erasure_requests") as batch:
        batch.add_column(sa.Column("confirming", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("erasure_requests") as batch:
        batch.drop_column("confirming")
