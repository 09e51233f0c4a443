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
    op.create_table('accounts',
    sa.Column('username', sa.String(length=60), nullable=False),
    sa.Column('password_hash', sa.String(length=300), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('partner', sa.String(length=40), nullable=True),
    sa.Column('active', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('created_at', shared.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('username', name=op.f('pk_accounts'))
    )
    op.create_table('intake_inbox',
    sa.Column('subscriber', sa.String(length=200), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('processed_at', shared.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('subscriber', 'event_id', name='pk_intake_inbox')
    )
    op.create_table('intake_outbox',
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
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_outbox')),
    sa.UniqueConstraint('event_id', name=op.f('uq_intake_outbox_event_id'))
    )
    with op.batch_alter_table('intake_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_intake_outbox_pending', ['status', 'next_attempt_at'], unique=False)

    op.create_table('intake_referrals',
    sa.Column('referral_id', sa.String(length=36), nullable=False),
    sa.Column('intake_id', sa.String(length=36), nullable=False),
    sa.Column('need', sa.String(length=60), nullable=False),
    sa.Column('partner', sa.String(length=40), nullable=True),
    sa.Column('service', sa.String(length=60), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('partner_case_ref', sa.String(length=100), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('referral_id', name=op.f('pk_intake_referrals'))
    )
    with op.batch_alter_table('intake_referrals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_referrals_intake_id'), ['intake_id'], unique=False)

    op.create_table('intakes',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=False),
    sa.Column('given_name', sa.String(length=200), nullable=False),
    sa.Column('family_name', sa.String(length=200), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('nationality', sa.String(length=2), nullable=False),
    sa.Column('languages', sa.JSON(), nullable=False),
    sa.Column('residence_status', sa.String(length=40), nullable=False),
    sa.Column('site', sa.String(length=20), nullable=False),
    sa.Column('needs', sa.JSON(), nullable=False),
    sa.Column('consent_share', sa.Boolean(), nullable=False),
    sa.Column('consent_method', sa.String(length=30), nullable=False),
    sa.Column('consent_language', sa.String(length=3), nullable=False),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.Column('recorded_at', shared.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intakes')),
    sa.UniqueConstraint('reference', name=op.f('uq_intakes_reference'))
    )
    with op.batch_alter_table('intakes', schema=None) as batch_op:
        batch_op.create_index('ix_intakes_recorded_at', ['recorded_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('intakes', schema=None) as batch_op:
        batch_op.drop_index('ix_intakes_recorded_at')

    op.drop_table('intakes')
    with op.batch_alter_table('intake_referrals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_referrals_intake_id'))

    op.drop_table('intake_referrals')
    with op.batch_alter_table('intake_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_intake_outbox_pending')

    op.drop_table('intake_outbox')
    op.drop_table('intake_inbox')
    op.drop_table('accounts')
