"""The journal keeps the intake's reference (LT-2026-…) of intake.recorded and
referral.requested, so a trace starts from what staff read out (issue 20, item 7). Filled for
the events journalled before from their payload (the reference is not masked).

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TYPES = {"intake.recorded": "reference", "referral.requested": "intake_reference"}


def upgrade() -> None:
    with op.batch_alter_table("ops_journal") as batch:
        batch.add_column(sa.Column("intake_reference", sa.String(20)))
        batch.create_index("ix_ops_journal_intake_reference", ["intake_reference"])
    bind = op.get_bind()
    journal = sa.Table("ops_journal", sa.MetaData(), autoload_with=bind)
    rows = bind.execute(sa.select(journal.c.id, journal.c.type, journal.c.data)
                        .where(journal.c.type.in_(list(TYPES)))).all()
    values = [{"row_id": row.id, "reference": str(reference)[:20]} for row in rows
              if isinstance(row.data, dict)
              and isinstance(reference := row.data.get(TYPES[row.type]), str) and reference]
    if values:
        bind.execute(journal.update().where(journal.c.id == sa.bindparam("row_id"))
                     .values(intake_reference=sa.bindparam("reference")), values)


def downgrade() -> None:
    with op.batch_alter_table("ops_journal") as batch:
        batch.drop_index("ix_ops_journal_intake_reference")
        batch.drop_column("intake_reference")
