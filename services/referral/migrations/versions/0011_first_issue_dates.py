"""§ 24 holders whose first permit came after 31 March 2025 move back to the AsylbLG.

domain.md §2.3 ⚠: the Leistungsrechtsanpassungsgesetz (planned entry into force 1 July
2026) moves Ukrainians who first received or applied for § 24 protection after 31 March 2025
from SGB II back to the AsylbLG. A rule condition on the document's first-issue date makes it
configurable; without a known first-issue date the general § 24 rule (Jobcenter) applies.

Revision ID: 0011
Revises: 0010
"""
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("routing_rules") as batch:
        batch.add_column(sa.Column("first_issued_from", sa.Date()))
        batch.add_column(sa.Column("first_issued_until", sa.Date()))
    rules = sa.table("routing_rules", sa.column("id"), sa.column("need"), sa.column("partner"),
                     sa.column("service"), sa.column("priority"), sa.column("min_age"),
                     sa.column("max_age"), sa.column("residence_statuses", sa.JSON()),
                     sa.column("valid_from", sa.Date()), sa.column("valid_to", sa.Date()),
                     sa.column("citation"), sa.column("first_issued_from", sa.Date()))
    op.bulk_insert(rules, [dict(
        id="living-costs-asylblg-temp-protection-2025", need="living_costs",
        partner="sozialamt", service="asylblg", priority=5, min_age=None, max_age=None,
        residence_statuses=["TEMP_PROTECTION_24"], valid_from=date(2026, 7, 1), valid_to=None,
        first_issued_from=date(2025, 4, 1),
        citation="⚠ Leistungsrechtsanpassungsgesetz (planned from 1 July 2026): § 24 first "
                 "granted after 31 March 2025 → AsylbLG")])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM routing_rules "
                       "WHERE id = 'living-costs-asylblg-temp-protection-2025'"))
    with op.batch_alter_table("routing_rules") as batch:
        batch.drop_column("first_issued_until")
        batch.drop_column("first_issued_from")
