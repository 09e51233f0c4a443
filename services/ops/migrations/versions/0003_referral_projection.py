"""The referral projection: what the referral service's events said about each referral
(status, partner, passed deadlines), so the console counts overdue referrals without reading
the referral service's tables. Filled from the journal the console already holds.

Revision ID: 0003
Revises: 0002
"""
from datetime import datetime

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

WORK = ("accepted", "in-progress")


def upgrade() -> None:
    op.create_table(
        "ops_referrals",
        sa.Column("referral_id", sa.String(36), nullable=False),
        sa.Column("partner", sa.String(40), nullable=True),
        sa.Column("status", sa.String(30), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("status_at", shared.db.UTCDateTime(), nullable=True),
        sa.Column("work_since", shared.db.UTCDateTime(), nullable=True),
        sa.Column("ack_overdue_since", shared.db.UTCDateTime(), nullable=True),
        sa.Column("completion_overdue_since", shared.db.UTCDateTime(), nullable=True),
        sa.Column("updated_at", shared.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("referral_id", name=op.f("pk_ops_referrals")),
    )
    op.create_index("ix_ops_referrals_status", "ops_referrals", ["status"])
    backfill()


def backfill() -> None:
    """The rows the journal's handler would have written for the referral events journalled
    so far (their masked payloads keep ids, statuses, versions and times), the erased ones
    left out. Kept here, not imported, so this step stays what it was when the code moves on."""
    journal = sa.table("ops_journal", sa.column("id", sa.Integer), sa.column("type"),
                       sa.column("referral_id"), sa.column("partner"), sa.column("status"),
                       sa.column("occurred_at", shared.db.UTCDateTime()),
                       sa.column("data", sa.JSON()))
    erased = sa.table("ops_erased", sa.column("kind"), sa.column("subject_id"))
    target = sa.table("ops_referrals", *[sa.column(c) for c in (
        "referral_id", "partner", "status", "version")], *[
        sa.column(c, shared.db.UTCDateTime()) for c in (
            "status_at", "work_since", "ack_overdue_since", "completion_overdue_since",
            "updated_at")])
    conn = op.get_bind()
    gone = set(conn.execute(sa.select(erased.c.subject_id)
                            .where(erased.c.kind == "referral")).scalars())
    rows: dict[str, dict] = {}
    for e in conn.execute(sa.select(journal).where(
            journal.c.type.in_(("referral.requested", "referral.status_changed",
                                "referral.reminder_due", "referral.overdue")),
            journal.c.referral_id.is_not(None)).order_by(journal.c.id)):
        data = e.data if isinstance(e.data, dict) else {}
        if not data or e.referral_id in gone:
            continue  # an erased person's event: its payload was dropped
        at = _time(data.get("changed_at") or data.get("requested_at")
                   or data.get("noticed_at"), e.occurred_at)
        version = data.get("version") if e.type in ("referral.requested",
                                                    "referral.status_changed") else None
        version = version if isinstance(version, int) else None
        row = rows.setdefault(e.referral_id, {
            "referral_id": e.referral_id, "partner": None, "status": None, "version": None,
            "status_at": None, "work_since": None, "ack_overdue_since": None,
            "completion_overdue_since": None, "updated_at": e.occurred_at})
        if e.status and (row["status"] is None or (version is not None and (
                row["version"] is None or version > row["version"]))):
            row.update(partner=e.partner, status=e.status, version=version, status_at=at)
        if version is not None and e.status in WORK:
            row["work_since"] = min(filter(None, (row["work_since"], at)))
        if e.type == "referral.overdue":
            key = ("completion_overdue_since" if data.get("phase") == "completion"
                   else "ack_overdue_since")
            row[key] = max(filter(None, (row[key], at)))
        row["updated_at"] = max(row["updated_at"], e.occurred_at)
    values = sorted(rows.values(), key=lambda r: r["referral_id"])
    for start in range(0, len(values), 500):
        conn.execute(target.insert(), values[start:start + 500])


def _time(value, default):
    try:
        moment = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return default
    return moment if moment.tzinfo is not None else default


def downgrade() -> None:
    op.drop_index("ix_ops_referrals_status", table_name="ops_referrals")
    op.drop_table("ops_referrals")
