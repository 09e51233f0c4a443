"""Benefit exclusions by purpose of residence and time since arrival (issue 19, class 1).

§ 7 Abs. 1 Satz 2 SGB II excludes foreigners whose right of residence comes from job-seeking
alone (Nr. 2 Buchst. b), and, in their first three months, those neither employed nor
self-employed (Nr. 1); § 23 Abs. 3 Satz 1 Nr. 1, 2 SGB XII excludes them from social assistance
too, leaving bridging benefits (§ 23 Abs. 3 Satz 3 SGB XII). Until now such a person was sent
to the Jobcenter. Two rule conditions are added: `purposes` (the purpose of residence is one
of these) and `arrived_within_months`; and four rules ahead of the SGB II rule send the
excluded EU citizens' living-costs need to migration counselling (MBE from 27, JMD below),
which advises on bridging benefits and work. Humanitarian titles (Kapitel 2 Abschnitt 5
AufenthG) are not excluded (§ 7 Abs. 1 Satz 3 SGB II), nor job-seekers after five years of
residence (Satz 4; the arrival date stands in for it); family members joining a worker are
not either, so `family` is not among the first months' purposes. A rule reading a purpose or
an arrival date the intake did not record holds the referral ("fact missing").

The routing table is kept as a new version.

Revision ID: 0019
Revises: 0018
"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

from shared.migration_env import json_rows

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

EU = ["EU_FREE_MOVEMENT", "EU_FAMILY_3RD"]
COUNSELLING = "; migration counselling (§ 45 Satz 1 AufenthG) advises on bridging benefits"
JOB_SEEKING = ("§ 7 Abs. 1 Satz 2 Nr. 2 Buchst. b SGB II, § 23 Abs. 3 Satz 1 Nr. 2 SGB XII: a "
               "right of residence from job-seeking alone excludes SGB II and social "
               "assistance (bridging benefits: § 23 Abs. 3 Satz 3 SGB XII), for the first five "
               "years of residence (§ 7 Abs. 1 Satz 4 SGB II; the arrival date stands in for "
               "the start of habitual residence)" + COUNSELLING)
FIRST_MONTHS = ("§ 7 Abs. 1 Satz 2 Nr. 1 SGB II, § 23 Abs. 3 Satz 1 Nr. 1 SGB XII: no benefits "
                "in the first three months of residence for those neither employed nor "
                "self-employed (nor keeping that status, § 2 Abs. 3 FreizügG/EU)" + COUNSELLING)
RULES = [
    dict(id="living-costs-job-seeking-mbe", need="living_costs", partner="welfare",
         service="mbe", priority=8, min_age=27, residence_statuses=EU,
         purposes=["job_seeking"], arrived_within_months=60, citation=JOB_SEEKING),
    dict(id="living-costs-job-seeking-jmd", need="living_costs", partner="welfare",
         service="jmd", priority=8, min_age=15, max_age=27, residence_statuses=EU,
         purposes=["job_seeking"], arrived_within_months=60, citation=JOB_SEEKING),
    dict(id="living-costs-first-months-mbe", need="living_costs", partner="welfare",
         service="mbe", priority=9, min_age=27, residence_statuses=EU,
         purposes=["study", "other"], arrived_within_months=3, citation=FIRST_MONTHS),
    dict(id="living-costs-first-months-jmd", need="living_costs", partner="welfare",
         service="jmd", priority=9, min_age=15, max_age=27, residence_statuses=EU,
         purposes=["study", "other"], arrived_within_months=3, citation=FIRST_MONTHS),
]


def upgrade() -> None:
    with op.batch_alter_table("routing_rules") as batch:
        batch.add_column(sa.Column("purposes", sa.JSON()))
        batch.add_column(sa.Column("arrived_within_months", sa.Integer()))
    bind = op.get_bind()
    rules = sa.Table("routing_rules", sa.MetaData(), autoload_with=bind)
    blank = dict(max_age=None)  # one shape for executemany
    bind.execute(rules.insert(), [{**blank, **rule} for rule in RULES])
    snapshot = json_rows(bind, "routing_rules")
    versions = sa.Table("routing_rule_versions", sa.MetaData(), autoload_with=bind)
    bind.execute(versions.insert().values(
        changed_by="seed", changed_at=datetime.now(timezone.utc), rules=snapshot,
        note="benefit exclusions by purpose of residence and the first three months "
             "(§ 7 Abs. 1 Satz 2 Nr. 1, 2 SGB II): living costs to migration counselling"))


def downgrade() -> None:
    bind = op.get_bind()
    rules = sa.Table("routing_rules", sa.MetaData(), autoload_with=bind)
    seeded = {r["id"] for r in RULES}
    # a rule an admin wrote with these conditions would lose them and send people the law
    # excludes to the Jobcenter: the downgrade stops until they are changed or deleted
    using = [row.id for row in bind.execute(sa.select(
        rules.c.id, rules.c.purposes, rules.c.arrived_within_months))
        if row.id not in seeded and (row.purposes or row.arrived_within_months)]
    if using:
        raise RuntimeError(f"routing rules {', '.join(sorted(using))} use purposes or "
                           "arrived_within_months, which this downgrade drops: change or "
                           "delete them first")
    bind.execute(rules.delete().where(rules.c.id.in_([r["id"] for r in RULES])))
    versions = sa.Table("routing_rule_versions", sa.MetaData(), autoload_with=bind)
    bind.execute(versions.delete().where(versions.c.changed_by == "seed")
                 .where(versions.c.note.like("benefit exclusions by purpose%")))
    with op.batch_alter_table("routing_rules") as batch:
        batch.drop_column("arrived_within_months")
        batch.drop_column("purposes")
