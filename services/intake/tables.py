"""Tables owned by the intake service (no other service reads them)."""
from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, Index, Integer, String, Table, Text

from shared.db import JSONDocument, UTCDateTime, service_metadata
from shared.inbox import inbox_table
from shared.outbox import outbox_table

metadata = service_metadata()

intakes = Table(
    "intakes", metadata,
    Column("id", String(36), primary_key=True),
    Column("reference", String(20), nullable=False, unique=True),
    Column("given_name", String(200), nullable=False),
    Column("family_name", String(200), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("nationality", String(2), nullable=False),
    Column("languages", JSONDocument, nullable=False),
    Column("residence_status", String(40), nullable=False),
    Column("site", String(20), nullable=False),
    Column("needs", JSONDocument, nullable=False),
    Column("consent_share", Boolean, nullable=False),
    Column("consent_method", String(30), nullable=False),
    Column("consent_language", String(3), nullable=False),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Index("ix_intakes_recorded_at", "recorded_at"),
)

# Read model of referrals, fed by referral.* events (the referral service owns the truth).
intake_referrals = Table(
    "intake_referrals", metadata,
    Column("referral_id", String(36), primary_key=True),
    Column("intake_id", String(36), nullable=False, index=True),
    Column("need", String(60), nullable=False),
    Column("partner", String(40)),
    Column("service", String(60)),
    Column("status", String(20), nullable=False),
    Column("reason", Text),
    Column("partner_case_ref", String(100)),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

accounts = Table(
    "accounts", metadata,
    Column("username", String(60), primary_key=True),
    Column("password_hash", String(300), nullable=False),
    Column("role", String(20), nullable=False),
    Column("partner", String(40)),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime, nullable=False),
)

outbox = outbox_table(metadata, "intake")
inbox = inbox_table(metadata, "intake")
