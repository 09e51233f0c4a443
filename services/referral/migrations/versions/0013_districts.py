"""Rule condition on the city district of the person's address.

"lokal willkommen" district offices serve people who live in the city (their own flat), so
the seed rule asks for an address in one of the city's districts. The routing table after the
seed migrations 0010-0013 is kept as a new version, so referrals name the table that routed
them (and, on PostgreSQL, the version counter is put past the seed version 0008 wrote).

Revision ID: 0013
Revises: 0012
"""
import json
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

from shared.reference import DISTRICTS, codes

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("routing_rules") as batch:
        batch.add_column(sa.Column("districts", sa.JSON()))
    bind = op.get_bind()
    rules = sa.Table("routing_rules", sa.MetaData(), autoload_with=bind)
    bind.execute(rules.update().where(rules.c.id == "local-integration")
                 .values(districts=list(codes(DISTRICTS))))
    snapshot = [{k: (v.isoformat() if hasattr(v, "isoformat") else
                     json.loads(v) if isinstance(v, str) and v[:1] == "[" else v)
                 for k, v in row.items()}
                for row in bind.execute(sa.select(rules).order_by(rules.c.id)).mappings()]
    versions = sa.Table("routing_rule_versions", sa.MetaData(), autoload_with=bind)
    if bind.dialect.name == "postgresql":
        # 0008 inserted version 1 explicitly, which left the serial's sequence behind it
        bind.execute(sa.text("SELECT setval(pg_get_serial_sequence('routing_rule_versions', "
                             "'version'), (SELECT max(version) FROM routing_rule_versions))"))
    bind.execute(versions.insert().values(
        changed_by="seed", changed_at=datetime.now(timezone.utc), rules=snapshot,
        note="seed rules: every need (domain.md §3), § 24 by first-issue date, household, "
             "nationality group, partner languages, district"))


def downgrade() -> None:
    with op.batch_alter_table("routing_rules") as batch:
        batch.drop_column("districts")
