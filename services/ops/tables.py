"""Tables owned by the operator console: the event journal, the referral projection, dead
letters and the audit trail."""
from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text, UniqueConstraint

from shared.db import JSONDocument, UTCDateTime, service_metadata
from shared.erasure import erased_table
from shared.inbox import inbox_table
from shared.outbox import outbox_table

metadata = service_metadata()

# Every event seen on the bus (metadata and masked payload only): the live flow and traces.
journal = Table(
    "ops_journal", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("type", String(100), nullable=False),
    Column("schemaversion", Integer, nullable=False),
    Column("service", String(40), nullable=False),  # the producer
    Column("subject", String(200), nullable=False),
    Column("correlation_id", String(64), nullable=False, index=True),
    Column("causation_id", String(64), index=True),
    Column("intake_id", String(36), index=True),
    Column("referral_id", String(36), index=True),
    # the intake's reference (LT-2026-…): a trace starts from what staff read out
    Column("intake_reference", String(20), index=True),
    Column("partner", String(40)),
    Column("status", String(30)),
    Column("occurred_at", UTCDateTime, nullable=False),  # the producer's commit
    Column("recorded_at", UTCDateTime, nullable=False),  # arrival at the console's queue
    Column("data", JSONDocument, nullable=False),  # personal data masked
    Index("ix_ops_journal_recorded", "recorded_at"),
)

# What the referral service's events said about each referral (domain.ReferralFacts), kept by
# the journal's handler: the console counts overdue referrals from it, never from the
# referral service's tables. Ids, codes and times only; erasure deletes an erased referral's row.
referrals = Table(
    "ops_referrals", metadata,
    Column("referral_id", String(36), primary_key=True),
    Column("partner", String(40)),
    Column("status", String(30)),
    Column("version", Integer),  # the referral's version of `status` (None: from a notice)
    Column("status_at", UTCDateTime),
    Column("work_since", UTCDateTime),  # first entry into the completion phase
    Column("ack_overdue_since", UTCDateTime),
    Column("completion_overdue_since", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),  # when an event last changed the row
    Index("ix_ops_referrals_status", "status"),
)

# Messages a consumer gave up on, collected from the parking queues so they can be
# inspected, replayed into their own queue, or discarded with a note.
dead_letters = Table(
    "ops_dead_letters", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("queue", String(200), nullable=False),  # the work queue the message came from
    Column("service", String(40), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("times_parked", Integer, nullable=False, server_default="1"),
    Column("body", Text, nullable=False),
    Column("status", String(12), nullable=False),  # parked | replayed | discarded
    Column("parked_at", UTCDateTime, nullable=False),
    Column("settled_at", UTCDateTime),
    Column("settled_by", String(80)),
    Column("note", Text),
    UniqueConstraint("queue", "event_id", name="uq_ops_dead_letters_queue_event"),
    Index("ix_ops_dead_letters_status", "status", "queue"),
)

# A replay of many dead letters at once, worked through by the console's background loop.
replay_batches = Table(
    "ops_replay_batches", metadata,
    Column("id", String(36), primary_key=True),
    Column("requested_by", String(80), nullable=False),
    Column("selection", JSONDocument, nullable=False),
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False, server_default="0"),
    Column("failed", Integer, nullable=False, server_default="0"),
    Column("status", String(12), nullable=False),  # running | finished
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
)
replay_items = Table(
    "ops_replay_items", metadata,
    Column("batch_id", String(36), primary_key=True),
    Column("dead_letter_id", Integer, primary_key=True),
)

# Who did what to which message, and why.
audit = Table(
    "ops_audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(80), nullable=False),
    Column("action", String(40), nullable=False),
    Column("target", String(200), nullable=False),
    Column("detail", Text),
)

# Alerts raised by thresholds; cleared when the reading falls back.
alerts = Table(
    "ops_alerts", metadata,
    Column("key", String(200), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("message", Text, nullable=False),
    Column("value", String(40), nullable=False),
    Column("raised_at", UTCDateTime, nullable=False),
    Column("cleared_at", UTCDateTime),
    Column("notified_at", UTCDateTime),
)

# Erasure requests the console has scrubbed for, waiting for a collection of the parking
# queues before it confirms them (erasure.py).
erasures = Table(
    "ops_erasures", metadata,
    Column("request_id", String(36), primary_key=True),
    Column("person_id", String(36), nullable=False),
    Column("subjects", JSONDocument, nullable=False),  # ids only
    Column("correlation_id", String(64), nullable=False),
    Column("causation_id", String(64), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime),
)

outbox = outbox_table(metadata, "ops")
inbox = inbox_table(metadata, "ops")
erased = erased_table(metadata, "ops")  # erasure tombstones (erasure.py)
