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
    op.create_table('referral_inbox',
    sa.Column('subscriber', sa.String(length=200), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('processed_at', shared.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('subscriber', 'event_id', name='pk_referral_inbox')
    )
    op.create_table('referral_outbox',
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
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_outbox')),
    sa.UniqueConstraint('event_id', name=op.f('uq_referral_outbox_event_id'))
    )
    with op.batch_alter_table('referral_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_referral_outbox_pending', ['status', 'next_attempt_at'], unique=False)

    op.create_table('referrals',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('intake_id', sa.String(length=36), nullable=False),
    sa.Column('intake_reference', sa.String(length=20), nullable=False),
    sa.Column('need', sa.String(length=60), nullable=False),
    sa.Column('partner', sa.String(length=40), nullable=True),
    sa.Column('service', sa.String(length=60), nullable=True),
    sa.Column('routing_reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('partner_case_ref', sa.String(length=100), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', shared.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referrals'))
    )
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referrals_intake_id'), ['intake_id'], unique=False)
        batch_op.create_index('ix_referrals_status', ['status', 'updated_at'], unique=False)

    op.create_table('routing_rules',
    sa.Column('id', sa.String(length=60), nullable=False),
    sa.Column('need', sa.String(length=60), nullable=False),
    sa.Column('partner', sa.String(length=40), nullable=False),
    sa.Column('service', sa.String(length=60), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('min_age', sa.Integer(), nullable=True),
    sa.Column('max_age', sa.Integer(), nullable=True),
    sa.Column('residence_statuses', sa.JSON(), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('citation', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_rules'))
    )
    with op.batch_alter_table('routing_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routing_rules_need'), ['need'], unique=False)

    op.create_table('referral_history',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('referral_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('previous_status', sa.String(length=20), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('changed_by', sa.String(length=100), nullable=False),
    sa.Column('changed_at', shared.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['referral_id'], ['referrals.id'], name=op.f('fk_referral_history_referral_id_referrals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_history'))
    )
    with op.batch_alter_table('referral_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referral_history_referral_id'), ['referral_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('referral_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_history_referral_id'))

    op.drop_table('referral_history')
    with op.batch_alter_table('routing_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routing_rules_need'))

    op.drop_table('routing_rules')
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_index('ix_referrals_status')
        batch_op.drop_index(batch_op.f('ix_referrals_intake_id'))

    op.drop_table('referrals')
    with op.batch_alter_table('referral_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_referral_outbox_pending')

    op.drop_table('referral_outbox')
    op.drop_table('referral_inbox')
