"""The sandbox's own storage (it plays three other organisations' systems)."""
from __future__ import annotations

from sqlalchemy import Column, Float, Integer, String, Table, Text, UniqueConstraint

from shared.db import JSONDocument, UTCDateTime, service_metadata

metadata = service_metadata()

sandbox_cases = Table(
    "sandbox_cases", metadata,
    Column("reference", String(40), primary_key=True),
    Column("partner", String(40), nullable=False),
    Column("idempotency_key", String(100), nullable=False),
    Column("client_reference", String(100)),
    Column("request", JSONDocument, nullable=False),
    Column("status", String(20), nullable=False),
    Column("posts", Integer, nullable=False),
    Column("reminder_keys", JSONDocument),  # idempotency keys of reminders received
    Column("appointment", JSONDocument),  # booked by the partner: when, where, what to bring
    Column("reason", Text),  # of the latest status change (a rejection's reason)
    Column("outcome", String(40)),  # of a completion
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("partner", "idempotency_key", name="uq_sandbox_cases_partner_key"),
)

sandbox_behaviour = Table(
    "sandbox_behaviour", metadata,
    Column("partner", String(40), primary_key=True),
    Column("mode", String(10), nullable=False),  # ok | fail | timeout | slow
    Column("delay_seconds", Float, nullable=False),
    Column("auto_accept_seconds", Float),
)

sandbox_callbacks = Table(
    "sandbox_callbacks", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("partner", String(40), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(10), nullable=False),  # pending | delivered
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_error", Text),
)

sandbox_keys = Table(  # a FIT-Connect destination's key pair (a test key, never a real one)
    "sandbox_keys", metadata,
    Column("partner", String(40), primary_key=True),
    Column("kid", String(100), nullable=False),
    Column("private_jwk", JSONDocument, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Notices the stand-in partner systems received about their cases (notices.py).
sandbox_notices = Table(
    "sandbox_notices", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("partner", String(40), nullable=False),
    Column("case_reference", String(40), nullable=False, index=True),
    Column("idempotency_key", String(100), nullable=False),
    Column("kind", String(20), nullable=False),  # consent_withdrawn | erasure
    Column("body", JSONDocument, nullable=False),  # exactly what arrived
    Column("deliveries", Integer, nullable=False),  # how often it arrived (retries included)
    Column("received_at", UTCDateTime, nullable=False),
    UniqueConstraint("partner", "idempotency_key", name="uq_sandbox_notices_partner_key"),
)
