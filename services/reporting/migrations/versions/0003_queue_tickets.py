"""walk-in tickets: one row per ticket, its site, language, topic, day drawn, status and wait

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
import shared.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reporting_queue_tickets',
    sa.Column('ticket_key', sa.String(length=32), nullable=False),
    sa.Column('site', sa.String(length=40), nullable=False),
    sa.Column('language', sa.String(length=20), nullable=False),
    sa.Column('topic', sa.String(length=60), nullable=False),
    sa.Column('drawn_at', shared.db.UTCDateTime(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('waited_seconds', sa.Integer(), nullable=True),
    sa.Column('interpreter_needed', sa.Boolean(), nullable=True),
    sa.PrimaryKeyConstraint('ticket_key', name=op.f('pk_reporting_queue_tickets'))
    )
    with op.batch_alter_table('reporting_queue_tickets', schema=None) as batch_op:
        batch_op.create_index('ix_reporting_queue_tickets_day', ['day'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reporting_queue_tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_reporting_queue_tickets_day')
    op.drop_table('reporting_queue_tickets')
