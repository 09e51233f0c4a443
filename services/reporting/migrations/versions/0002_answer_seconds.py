"""seconds from leaving for the partner to its acknowledgement and acceptance, kept on each
referral (the medians and percentiles read integers instead of two times per referral)

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import shared.db


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reporting_referrals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ack_seconds', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('accept_seconds', sa.Integer(), nullable=True))
    referrals = sa.table('reporting_referrals', sa.column('referral_key', sa.String),
                         sa.column('requested_at', shared.db.UTCDateTime()),
                         sa.column('acknowledged_at', shared.db.UTCDateTime()),
                         sa.column('accepted_at', shared.db.UTCDateTime()),
                         sa.column('ack_seconds', sa.Integer),
                         sa.column('accept_seconds', sa.Integer))
    conn = op.get_bind()
    rows = conn.execute(sa.select(referrals).where(referrals.c.requested_at.is_not(None))).all()
    for row in rows:
        conn.execute(sa.update(referrals).where(
            referrals.c.referral_key == row.referral_key).values(
            ack_seconds=_seconds(row.requested_at, row.acknowledged_at),
            accept_seconds=_seconds(row.requested_at, row.accepted_at)))


def _seconds(start, end):
    return None if start is None or end is None else max(0, round((end - start)
                                                                    .total_seconds()))


def downgrade() -> None:
    with op.batch_alter_table('reporting_referrals', schema=None) as batch_op:
        batch_op.drop_column('accept_seconds')
        batch_op.drop_column('ack_seconds')
