"""Prerequisites between referrals: the Jobcenter referral waits for the registration one.

The Jobcenter needs the registration certificate (Meldebescheinigung) for a first application
(domain.md §2.3, §2.6); its referral leaves once the registration appointment is booked.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("routing_rules") as batch:
        batch.add_column(sa.Column("requires_need", sa.String(60)))
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("waits_for", sa.String(60)))
    op.execute(sa.text("UPDATE routing_rules SET requires_need = 'address_registration' "
                       "WHERE need = 'living_costs'"))


def downgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("waits_for")
    with op.batch_alter_table("routing_rules") as batch:
        batch.drop_column("requires_need")
