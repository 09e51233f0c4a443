"""Persons apart from their consultations; household, other names, consents, merges.

Existing intakes each become a person of their own (same id), and their coarse consent a
consent record, so no earlier consultation loses its person or consent.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "persons",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("given_name", sa.String(200), nullable=False),
        sa.Column("family_name", sa.String(200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("nationality", sa.String(2), nullable=False),
        sa.Column("nationalities", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("preferred_language", sa.String(3)),
        sa.Column("interpreter", sa.String(10), server_default="none", nullable=False),
        sa.Column("phone", sa.String(40)),
        sa.Column("email", sa.String(200)),
        sa.Column("street", sa.String(200)),
        sa.Column("postcode", sa.String(10)),
        sa.Column("city", sa.String(100)),
        sa.Column("no_fixed_address", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("preferred_channel", sa.String(20)),
        sa.Column("merged_into", sa.String(36)),
        sa.Column("created_at", shared.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", shared.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_persons"),
    )
    op.create_index("ix_persons_birth_date", "persons", ["birth_date"])
    op.create_table(
        "person_names",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("given_name", sa.String(200), nullable=False),
        sa.Column("family_name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"],
                                name="fk_person_names_person_id_persons"),
        sa.PrimaryKeyConstraint("id", name="pk_person_names"),
    )
    op.create_index("ix_person_names_person_id", "person_names", ["person_id"])
    op.create_table(
        "person_search_keys",
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(60), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"],
                                name="fk_person_search_keys_person_id_persons"),
        sa.PrimaryKeyConstraint("person_id", "key", name="pk_person_search_keys"),
    )
    op.create_index("ix_person_search_keys_key", "person_search_keys", ["key"])
    op.create_table(
        "household_members",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("given_name", sa.String(200), nullable=False),
        sa.Column("family_name", sa.String(200), nullable=False),
        sa.Column("relation", sa.String(20), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"],
                                name="fk_household_members_person_id_persons"),
        sa.PrimaryKeyConstraint("id", name="pk_household_members"),
    )
    op.create_index("ix_household_members_person_id", "household_members", ["person_id"])
    op.create_table(
        "consents",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("intake_id", sa.String(36)),
        sa.Column("partner", sa.String(40)),
        sa.Column("purpose", sa.String(60), nullable=False),
        sa.Column("method", sa.String(30), nullable=False),
        sa.Column("language", sa.String(3), nullable=False),
        sa.Column("information_version", sa.String(30)),
        sa.Column("given_at", shared.db.UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("derived_from", sa.String(36)),
        sa.Column("withdrawn_at", shared.db.UTCDateTime()),
        sa.Column("withdrawn_by", sa.String(100)),
        sa.Column("withdrawal_reason", sa.Text()),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"],
                                name="fk_consents_person_id_persons"),
        sa.PrimaryKeyConstraint("id", name="pk_consents"),
    )
    op.create_index("ix_consents_person_id", "consents", ["person_id"])
    op.create_table(
        "person_merges",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("survivor_id", sa.String(36), nullable=False),
        sa.Column("merged_id", sa.String(36), nullable=False),
        sa.Column("moved", sa.JSON(), nullable=False),
        sa.Column("merged_by", sa.String(100), nullable=False),
        sa.Column("merged_at", shared.db.UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("undone_by", sa.String(100)),
        sa.Column("undone_at", shared.db.UTCDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_person_merges"),
    )
    op.create_index("ix_person_merges_survivor_id", "person_merges", ["survivor_id"])
    op.create_index("ix_person_merges_merged_id", "person_merges", ["merged_id"])
    with op.batch_alter_table("intakes") as batch:
        batch.add_column(sa.Column("person_id", sa.String(36)))
        batch.add_column(sa.Column("channel", sa.String(20), server_default="in_person",
                                   nullable=False))
        batch.add_column(sa.Column("notes", sa.Text()))
        batch.add_column(sa.Column("arrival_date", sa.Date()))
        batch.add_column(sa.Column("legal_basis", sa.String(100)))
        batch.add_column(sa.Column("document_type", sa.String(60)))
        batch.add_column(sa.Column("valid_until", sa.Date()))
        batch.add_column(sa.Column("first_issue_date", sa.Date()))
        batch.add_column(sa.Column("need_details", sa.JSON()))
        batch.create_foreign_key("fk_intakes_person_id_persons", "persons", ["person_id"], ["id"])
        batch.create_index("ix_intakes_person_id", ["person_id"])
    # every earlier consultation becomes a person of its own, its coarse consent a record
    op.execute("""
        INSERT INTO persons (id, given_name, family_name, birth_date, nationality, nationalities,
                             languages, interpreter, no_fixed_address, created_at, updated_at)
        SELECT id, given_name, family_name, birth_date, nationality, '[]', languages, 'none',
               false, recorded_at, recorded_at FROM intakes""")
    op.execute("UPDATE intakes SET person_id = id")
    op.execute("""
        INSERT INTO consents (id, person_id, intake_id, partner, purpose, method, language,
                              given_at, recorded_by)
        SELECT id, id, id, NULL, 'referral', consent_method, consent_language, recorded_at,
               recorded_by FROM intakes WHERE consent_share""")


def downgrade() -> None:
    with op.batch_alter_table("intakes") as batch:
        batch.drop_index("ix_intakes_person_id")
        batch.drop_constraint("fk_intakes_person_id_persons", type_="foreignkey")
        for column in ("need_details", "first_issue_date", "valid_until", "document_type",
                       "legal_basis", "arrival_date", "notes", "channel", "person_id"):
            batch.drop_column(column)
    for table in ("person_merges", "consents", "household_members", "person_search_keys",
                  "person_names", "persons"):
        op.drop_table(table)
