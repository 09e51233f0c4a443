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
    op.create_table('partner_adapter_inbox',
    sa.Column('subscriber', sa.String(length=200), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('processed_at', shared.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('subscriber', 'event_id', name='pk_partner_adapter_inbox')
    )
    op.create_table('partner_adapter_outbox',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('routing_key', sa.String(length=200), nullable=False),
    sa.Column('correlation_id', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', shared.db.UTCDateTime(), nullable=False),
    sa.Column('lease_until', shared.db.UTCDateTime(), nullable=True),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(), nullable=False),
    sa.Column('sent_at', shared.db.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_adapter_outbox')),
    sa.UniqueConstraint('event_id', name=op.f('uq_partner_adapter_outbox_event_id'))
    )
    with op.batch_alter_table('partner_adapter_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_partner_adapter_outbox_pending', ['status', 'next_attempt_at'], unique=False)

    op.create_table('partner_cases',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('referral_id', sa.String(length=36), nullable=False),
    sa.Column('partner', sa.String(length=40), nullable=False),
    sa.Column('service', sa.String(length=60), nullable=False),
    sa.Column('idempotency_key', sa.String(length=36), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('partner_case_ref', sa.String(length=100), nullable=True),
    sa.Column('partner_status', sa.String(length=20), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', shared.db.UTCDateTime(), nullable=False),
    sa.Column('lease_until', shared.db.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_cases')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_partner_cases_idempotency_key')),
    sa.UniqueConstraint('partner', 'referral_id', name='uq_partner_cases_partner_referral')
    )
    with op.batch_alter_table('partner_cases', schema=None) as batch_op:
        batch_op.create_index('ix_partner_cases_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_partner_cases_ref', ['partner', 'partner_case_ref'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('partner_cases', schema=None) as batch_op:
        batch_op.drop_index('ix_partner_cases_ref')
        batch_op.drop_index('ix_partner_cases_due')

    op.drop_table('partner_cases')
    with op.batch_alter_table('partner_adapter_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_partner_adapter_outbox_pending')

    op.drop_table('partner_adapter_outbox')
    op.drop_table('partner_adapter_inbox')
