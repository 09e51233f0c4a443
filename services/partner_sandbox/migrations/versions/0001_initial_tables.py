"""initial tables

Revision ID: 0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa
import shared.db


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sandbox_behaviour',
    sa.Column('partner', sa.String(length=40), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('delay_seconds', sa.Float(), nullable=False),
    sa.Column('auto_accept_seconds', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('partner', name=op.f('pk_sandbox_behaviour'))
    )
    op.create_table('sandbox_callbacks',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('partner', sa.String(length=40), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', shared.db.UTCDateTime(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_callbacks'))
    )
    op.create_table('sandbox_cases',
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('partner', sa.String(length=40), nullable=False),
    sa.Column('idempotency_key', sa.String(length=100), nullable=False),
    sa.Column('client_reference', sa.String(length=100), nullable=True),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('posts', sa.Integer(), nullable=False),
    sa.Column('created_at', shared.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('reference', name=op.f('pk_sandbox_cases')),
    sa.UniqueConstraint('partner', 'idempotency_key', name='uq_sandbox_cases_partner_key')
    )


def downgrade() -> None:
    op.drop_table('sandbox_cases')
    op.drop_table('sandbox_callbacks')
    op.drop_table('sandbox_behaviour')
