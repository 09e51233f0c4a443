"""The city district (Stadtbezirk) of a person's address: district offices route by it.

Existing addresses get their district where the postcode lies in only one.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

from shared.reference import POSTCODE_DISTRICTS

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("persons") as batch:
        batch.add_column(sa.Column("district", sa.String(30)))
    persons = sa.table("persons", sa.column("postcode", sa.String), sa.column("district",
                                                                              sa.String))
    for postcode, districts in POSTCODE_DISTRICTS.items():
        if len(districts) == 1:
            op.execute(persons.update().where(persons.c.postcode == postcode)
                       .values(district=districts[0]))


def downgrade() -> None:
    # not batch mode: rebuilding persons on SQLite would trip the foreign keys pointing to it
    # (SQLite >= 3.35 drops a column in place)
    op.drop_column("persons", "district")
