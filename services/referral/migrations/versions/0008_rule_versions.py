"""Versions of the routing table: every change keeps a snapshot (who, when, why).

Revision ID: 0008
Revises: 0007
"""
import json
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    versions = op.create_table(
        "routing_rule_versions",
        sa.Column("version", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("changed_at", shared.db.UTCDateTime(), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_routing_rule_versions"),
    )
    rows = op.get_bind().execute(sa.text("SELECT * FROM routing_rules ORDER BY id")).mappings()
    snapshot = [{k: (v.isoformat() if hasattr(v, "isoformat") else
                     json.loads(v) if k == "residence_statuses" and isinstance(v, str) else v)
                 for k, v in row.items()} for row in rows]
    op.bulk_insert(versions, [{"version": 1, "changed_by": "seed",
                               "changed_at": datetime.now(timezone.utc),
                               "note": "seed rules (domain.md §3)", "rules": snapshot}])


def downgrade() -> None:
    op.drop_table("routing_rule_versions")
