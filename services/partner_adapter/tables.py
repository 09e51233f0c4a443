"""Tables owned by the partner adapter."""
from __future__ import annotations

from sqlalchemy import (Boolean, Column, Index, Integer, String, Table, Text, UniqueConstraint,
                        false)

from shared.db import JSONDocument, UTCDateTime, service_metadata
from shared.erasure import erased_table
from shared.inbox import inbox_table
from shared.outbox import outbox_table

metadata = service_metadata()

partner_cases = Table(
    "partner_cases", metadata,
    Column("id", String(36), primary_key=True),
    Column("referral_id", String(36), nullable=False),
    Column("partner", String(40), nullable=False),
    Column("service", String(60), nullable=False),
    Column("idempotency_key", String(36), nullable=False, unique=True),
    Column("request", JSONDocument, nullable=False),
    Column("status", String(10), nullable=False),
    Column("partner_case_ref", String(100)),
    Column("partner_status", String(20)),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("reminder_due_at", UTCDateTime),
    Column("reminders_sent", Integer, nullable=False, server_default="0"),
    Column("last_reminder_at", UTCDateTime),
    Column("cancel_due_at", UTCDateTime),
    Column("cancelled_at", UTCDateTime),
    Column("basis", Text),
    Column("answer_lost", Boolean, nullable=False, server_default=false()),
    Column("appointment", JSONDocument),  # booked by the partner: when, where, what to bring
    Column("next_poll_at", UTCDateTime),  # partners without webhooks: read the status then
    # the flow that asked for the case, continued by the events the case loop emits later
    Column("flow_correlation_id", String(64)),
    Column("flow_causation_id", String(64)),
    UniqueConstraint("partner", "referral_id", name="uq_partner_cases_partner_referral"),
    Index("ix_partner_cases_due", "status", "next_attempt_at"),
    Index("ix_partner_cases_ref", "partner", "partner_case_ref"),
    # the case loop's other due work (repository.claim_due)
    Index("ix_partner_cases_reminder_due", "status", "reminder_due_at"),
    Index("ix_partner_cases_cancel_due", "status", "cancel_due_at"),
    Index("ix_partner_cases_poll_due", "status", "next_poll_at"),
)

# What each case opener's circuit breakers say, written every few seconds, so operators see
# which partner is being protected (the breakers themselves live in the opener's memory).
partner_circuits = Table(
    "partner_circuits", metadata,
    Column("partner", String(40), primary_key=True),
    Column("process", String(80), primary_key=True),
    Column("state", String(10), nullable=False),  # closed | open | half-open
    Column("failures", Integer, nullable=False),
    Column("open_until", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
)

# What each partner received (field list, payload hash, time, basis), never the data itself.
disclosures = Table(
    "disclosures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(36), nullable=False, index=True),
    Column("referral_id", String(36), nullable=False, index=True),
    Column("partner", String(40), nullable=False),
    Column("channel", String(40), nullable=False),
    Column("fields", JSONDocument, nullable=False),
    Column("payload_sha256", String(64), nullable=False),
    Column("basis", Text),
    Column("disclosed_at", UTCDateTime, nullable=False),
)

# Notices to partners that received a person's data (notices.py): consent withdrawn, erasure.
partner_notices = Table(
    "partner_notices", metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), nullable=False),
    Column("referral_id", String(36), nullable=False, index=True),
    Column("partner", String(40), nullable=False),
    Column("partner_case_ref", String(100), nullable=False),
    Column("kind", String(20), nullable=False),  # consent_withdrawn | erasure
    Column("reason", String(60), nullable=False),  # a code, never free text about the person
    Column("occurred_at", UTCDateTime, nullable=False),  # when the withdrawal/erasure happened
    Column("idempotency_key", String(36), nullable=False, unique=True),
    Column("status", String(10), nullable=False),  # pending | sent | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    UniqueConstraint("case_id", "kind", name="uq_partner_notices_case_kind"),
    Index("ix_partner_notices_due", "status", "next_attempt_at"),
)

# Consents the person withdrew, as the intake announced them: a case relying on one is never
# delivered afterwards, whatever order the events arrive in.
withdrawn_consents = Table(
    "withdrawn_consents", metadata,
    Column("consent_id", String(36), primary_key=True),
    Column("withdrawn_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
)

outbox = outbox_table(metadata, "partner_adapter")
inbox = inbox_table(metadata, "partner_adapter")
erased = erased_table(metadata, "partner_adapter")  # erasure tombstones (erasure.py)
