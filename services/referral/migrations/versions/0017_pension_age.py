"""Rule condition on the statutory pension age by birth year (issue 19, class 3).

SGB II ends and SGB XII's basic income in old age begins at the statutory pension age of
§ 7a SGB II / § 41 (2) SGB XII: 65 plus one month per birth year from 1947, 66 for 1958, plus
two months per year to 67 from the 1964 cohort, reached at the end of the month the person
completes it. The seed rules said a fixed 67 (max_age / min_age); they now name the
condition, and their citations the paragraphs. The routing table is kept as a new version.

Revision ID: 0017
Revises: 0016
"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

from shared.migration_env import json_rows

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

SGB2 = ("§ 7 Abs. 1 Satz 1 Nr. 1 SGB II with § 7a SGB II: from 15 until the end of the month "
        "the statutory pension age by birth year is reached; able to work, in need")
SGB2_TEMP = ("§ 7 Abs. 1 Satz 1 Nr. 1, § 7a and § 74 SGB II: § 24 AufenthG holders since "
             "1 June 2022, from 15 until the statutory pension age by birth year")
SGB12 = ("§ 41 Abs. 2 SGB XII: basic income from the month after the statutory pension age "
         "by birth year, with a qualifying status")
CHANGED = {  # id: (the new values, the old ones for the downgrade)
    "living-costs-sgb2": (dict(max_age=None, pension_age="below", citation=SGB2),
                          dict(max_age=67, pension_age=None)),
    "living-costs-sgb2-temp-protection": (dict(max_age=None, pension_age="below",
                                               citation=SGB2_TEMP),
                                          dict(max_age=67, pension_age=None)),
    "living-costs-sgb12": (dict(min_age=None, pension_age="reached", citation=SGB12),
                           dict(min_age=67, pension_age=None)),
}
OLD_CITATIONS = {
    "living-costs-sgb2": "§ 7 SGB II (15 to pension age, able to work, in need)",
    "living-costs-sgb2-temp-protection": "§ 7 SGB II with § 74 SGB II: § 24 AufenthG holders "
                                         "since 1 June 2022 (Rechtskreiswechsel)",
    "living-costs-sgb12": "SGB XII: pension age (or not able to work) with a qualifying status",
}


def upgrade() -> None:
    with op.batch_alter_table("routing_rules") as batch:
        batch.add_column(sa.Column("pension_age", sa.String(10)))
    bind = op.get_bind()
    rules = sa.Table("routing_rules", sa.MetaData(), autoload_with=bind)
    for rule_id, (values, _old) in CHANGED.items():
        bind.execute(rules.update().where(rules.c.id == rule_id).values(**values))
    snapshot = json_rows(bind, "routing_rules")
    versions = sa.Table("routing_rule_versions", sa.MetaData(), autoload_with=bind)
    bind.execute(versions.insert().values(
        changed_by="seed", changed_at=datetime.now(timezone.utc), rules=snapshot,
        note="SGB II / SGB XII boundary at the statutory pension age by birth year "
             "(§ 7a SGB II, § 41 (2) SGB XII) instead of a fixed 67"))


def downgrade() -> None:
    bind = op.get_bind()
    rules = sa.Table("routing_rules", sa.MetaData(), autoload_with=bind)
    for rule_id, (_new, old) in CHANGED.items():
        restored = {k: v for k, v in old.items() if k != "pension_age"}
        if rule_id in OLD_CITATIONS:
            restored["citation"] = OLD_CITATIONS[rule_id]
        bind.execute(rules.update().where(rules.c.id == rule_id).values(**restored))
    with op.batch_alter_table("routing_rules") as batch:
        batch.drop_column("pension_age")
