"""Re-routing: a referral points to the one that took over its need; alternative MBE/JMD
services of a second welfare association for when the first one rejects.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

MBE = "§ 45 AufenthG; MBE serves adults from 27"
JMD = "KJP 'JUGEND STÄRKEN'; JMD serves the 12th to the 27th birthday"
RULES = [
    dict(id="orientation-mbe-2", need="orientation_counselling", partner="welfare",
         service="mbe_diakonie", priority=20, min_age=27,
         citation=MBE + " (second association, when the first cannot take the person)"),
    dict(id="orientation-jmd-2", need="orientation_counselling", partner="welfare",
         service="jmd_diakonie", priority=20, min_age=12, max_age=27,
         citation=JMD + " (second association)"),
    dict(id="youth-jmd-2", need="youth_counselling", partner="welfare", service="jmd_diakonie",
         priority=20, min_age=12, max_age=27, citation=JMD + " (second association)"),
]
POLICIES = [
    dict(partner="welfare", service="mbe_diakonie", ack_days=5, completion_days=30,
         expire_days=None, remind_days_before=1),
    dict(partner="welfare", service="jmd_diakonie", ack_days=5, completion_days=30,
         expire_days=None, remind_days_before=1),
]


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("superseded_by", sa.String(36)))
    rules = sa.table("routing_rules", sa.column("id"), sa.column("need"), sa.column("partner"),
                     sa.column("service"), sa.column("priority"), sa.column("min_age"),
                     sa.column("max_age"), sa.column("residence_statuses", sa.JSON()),
                     sa.column("valid_from", sa.Date()), sa.column("valid_to", sa.Date()),
                     sa.column("citation"))
    op.bulk_insert(rules, [dict(dict(min_age=None, max_age=None, residence_statuses=None,
                                     valid_from=None, valid_to=None), **r) for r in RULES])
    policies = sa.table("deadline_policies", sa.column("partner"), sa.column("service"),
                        sa.column("ack_days"), sa.column("completion_days"),
                        sa.column("expire_days"), sa.column("remind_days_before"))
    op.bulk_insert(policies, POLICIES)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM deadline_policies WHERE service IN "
                       "('mbe_diakonie', 'jmd_diakonie')"))
    op.execute(sa.text("DELETE FROM routing_rules WHERE id IN "
                       "('orientation-mbe-2', 'orientation-jmd-2', 'youth-jmd-2')"))
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("superseded_by")
