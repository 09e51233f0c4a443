"""The course directory (issue 22, item 4): language courses kept by their providers, and a
referral that is a place request names its course.

Revision ID: 0022
Revises: 0021
"""
import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("course_id", sa.String(36)))
        batch.create_index("ix_referrals_course_id", ["course_id"])
    op.create_table(
        "courses",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("level", sa.String(2), nullable=False),
        sa.Column("schedule", sa.String(200), nullable=False),
        sa.Column("district", sa.String(40), nullable=False),
        sa.Column("childcare", sa.Boolean(), nullable=False),
        sa.Column("funding", sa.String(30), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("places", sa.Integer(), nullable=False),
        sa.Column("free_places", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("address", sa.String(200)),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_courses"),
    )
    op.create_index("ix_courses_provider", "courses", ["provider"])
    op.create_index("ix_courses_level_status", "courses", ["level", "status"])


def downgrade() -> None:
    op.drop_index("ix_courses_level_status", table_name="courses")
    op.drop_index("ix_courses_provider", table_name="courses")
    op.drop_table("courses")
    with op.batch_alter_table("referrals") as batch:
        batch.drop_index("ix_referrals_course_id")
        batch.drop_column("course_id")
