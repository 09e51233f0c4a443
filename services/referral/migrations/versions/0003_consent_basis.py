"""What allows each referral to leave: a consent, or a partner's other legal basis.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PARTNERS = [
    dict(code="registration", name="Bürgerdienste (registration office)",
         legal_basis="Art. 6(1)(e) GDPR with §§ 17, 23 BMG: registering an address is a legal "
                     "duty the office fulfils; the referral only books the appointment"),
    dict(code="jobcenter", name="Jobcenter Dortmund (SGB II)", legal_basis=None),
    dict(code="welfare", name="Welfare associations (MBE/JMD)", legal_basis=None),
]


def upgrade() -> None:
    partners = op.create_table(
        "partners",
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("legal_basis", sa.Text()),
        sa.PrimaryKeyConstraint("code", name="pk_partners"),
    )
    op.bulk_insert(partners, PARTNERS)
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("person_id", sa.String(36)))
        batch.add_column(sa.Column("consent_id", sa.String(36)))
        batch.add_column(sa.Column("legal_basis", sa.Text()))
        batch.add_column(sa.Column("share", sa.JSON()))
        batch.create_index("ix_referrals_person_id", ["person_id"])
        batch.create_index("ix_referrals_consent_id", ["consent_id"])


def downgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.drop_index("ix_referrals_consent_id")
        batch.drop_index("ix_referrals_person_id")
        for column in ("share", "legal_basis", "consent_id", "person_id"):
            batch.drop_column(column)
    op.drop_table("partners")
