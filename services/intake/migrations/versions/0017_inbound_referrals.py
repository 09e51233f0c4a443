"""Inbound referrals (issue 22, item 5): partners refer persons to the centre; the access log
names the inbound referral a staff member read.

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_referrals",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("sender", sa.String(40), nullable=False),
        sa.Column("sent_by", sa.String(100), nullable=False),
        sa.Column("person", sa.JSON(), nullable=False),
        sa.Column("residence_status", sa.String(40), nullable=False),
        sa.Column("needs", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text()),
        sa.Column("consent", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("appointment", sa.JSON()),
        sa.Column("decline_reason", sa.Text()),
        sa.Column("intake_id", sa.String(36)),
        sa.Column("person_id", sa.String(36)),
        sa.Column("changed_by", sa.String(100)),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_referrals"),
    )
    op.create_index("ix_inbound_referrals_status", "inbound_referrals", ["status", "created_at"])
    op.create_index("ix_inbound_referrals_sender", "inbound_referrals", ["sender", "created_at"])
    op.create_index("ix_inbound_referrals_person_id", "inbound_referrals", ["person_id"])
    op.create_index("ix_inbound_referrals_intake_id", "inbound_referrals", ["intake_id"])
    with op.batch_alter_table("person_access_log") as batch:
        batch.add_column(sa.Column("inbound_referral_id", sa.String(36)))
    op.create_index("ix_person_access_log_inbound_referral_id", "person_access_log",
                    ["inbound_referral_id"])


def downgrade() -> None:
    op.drop_index("ix_person_access_log_inbound_referral_id", table_name="person_access_log")
    with op.batch_alter_table("person_access_log") as batch:
        batch.drop_column("inbound_referral_id")
    for name in ("intake_id", "person_id", "sender", "status"):
        op.drop_index(f"ix_inbound_referrals_{name}", table_name="inbound_referrals")
    op.drop_table("inbound_referrals")
