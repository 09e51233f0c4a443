"""Tables owned by the referral service."""
from __future__ import annotations

from sqlalchemy import (Boolean, Column, Date, ForeignKey, Index, Integer, String, Table,
                        Text)

from shared.db import JSONDocument, UTCDateTime, service_metadata
from shared.erasure import erased_table
from shared.inbox import inbox_table
from shared.outbox import outbox_table

metadata = service_metadata()

referrals = Table(
    "referrals", metadata,
    Column("id", String(36), primary_key=True),
    Column("intake_id", String(36), nullable=False, index=True),
    Column("intake_reference", String(20), nullable=False),
    Column("need", String(60), nullable=False),
    Column("partner", String(40)),
    Column("service", String(60)),
    Column("routing_reason", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("reason", Text),
    Column("partner_case_ref", String(100)),
    Column("appointment", JSONDocument),  # booked by the partner: when, where, what to bring
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("person_id", String(36), index=True),
    Column("consent_id", String(36), index=True),
    Column("legal_basis", Text),
    # what the partner will receive; kept so an on-hold referral can still leave later
    Column("share", JSONDocument),
    Column("outcome", String(40)),
    Column("note", Text),
    Column("superseded_by", String(36)),
    Column("waits_for", String(60)),
    Column("rule_id", String(60)),
    Column("rules_version", Integer),
    Column("ack_due_at", UTCDateTime),
    Column("complete_due_at", UTCDateTime),
    Column("expires_at", UTCDateTime),
    Column("reminded_at", UTCDateTime),
    Column("overdue_since", UTCDateTime),
    Column("for_member", Integer),  # index in the intake's household; NULL: the person
    Column("course_id", String(36), index=True),  # a place request: the course asked for
    Index("ix_referrals_status", "status", "updated_at"),
    Index("ix_referrals_due", "status", "ack_due_at", "complete_due_at"),
)

deadline_policies = Table(
    "deadline_policies", metadata,
    Column("partner", String(40), primary_key=True),
    Column("service", String(60), primary_key=True),
    Column("ack_days", Integer, nullable=False),
    Column("completion_days", Integer, nullable=False),
    Column("expire_days", Integer),
    Column("remind_days_before", Integer, nullable=False, server_default="1"),
)

# The person's consents as the intake service announced them (intake.recorded, consent.given,
# consent.withdrawn). Every sharing decision reads them as they stand at that moment; a
# referral's `share` only keeps the consents its intake was recorded with. A withdrawal that
# overtakes its consent is kept too (withdrawn_at set), so the late consent stays withdrawn.
consents = Table(
    "referral_consents", metadata,
    Column("consent_id", String(36), primary_key=True),
    Column("person_id", String(36), index=True),
    Column("partner", String(40)),  # None: the partners the needs are referred to
    Column("withdrawn_at", UTCDateTime),
)

partners = Table(
    "partners", metadata,
    Column("code", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("legal_basis", Text),  # set: referrals may leave without consent, on this basis
)

referral_history = Table(
    "referral_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("referral_id", String(36), ForeignKey("referrals.id"), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("previous_status", String(20)),
    Column("reason", Text),
    Column("changed_by", String(100), nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("note", Text),
    Column("outcome", String(40)),
)

routing_rules = Table(
    "routing_rules", metadata,
    Column("id", String(60), primary_key=True),
    Column("need", String(60), nullable=False, index=True),
    Column("partner", String(40), nullable=False),
    Column("service", String(60), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("min_age", Integer),
    Column("max_age", Integer),
    Column("residence_statuses", JSONDocument),
    Column("valid_from", Date),
    Column("valid_to", Date),
    Column("citation", Text, nullable=False),
    Column("requires_need", String(60)),
    Column("first_issued_from", Date),
    Column("first_issued_until", Date),
    Column("nationality_group", String(10)),
    Column("languages", JSONDocument),
    Column("child_under", Integer),
    Column("districts", JSONDocument),
    Column("pension_age", String(10)),  # domain.PensionAge
    Column("purposes", JSONDocument),  # the purpose of residence is one of these
    Column("arrived_within_months", Integer),  # arrived in Germany less than N months ago
)

outbox = outbox_table(metadata, "referral")
inbox = inbox_table(metadata, "referral")
erased = erased_table(metadata, "referral")  # erasure tombstones (erasure.py)

routing_rule_versions = Table(
    "routing_rule_versions", metadata,
    Column("version", Integer, primary_key=True, autoincrement=True),
    Column("changed_by", String(100), nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("note", Text),
    Column("rules", JSONDocument, nullable=False),  # the whole table after the change
)

# The course directory (courses.py): language courses kept by their providers (partner
# users of a course-provider partner) or imported. No personal data: a place request for a
# person is a referral (referrals.course_id).
courses = Table(
    "courses", metadata,
    Column("id", String(36), primary_key=True),
    Column("provider", String(40), nullable=False, index=True),  # partner code
    Column("kind", String(20), nullable=False),
    Column("title", String(200), nullable=False),
    Column("level", String(2), nullable=False),
    Column("schedule", String(200), nullable=False),
    Column("district", String(40), nullable=False),
    Column("childcare", Boolean, nullable=False),
    Column("funding", String(30), nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("places", Integer, nullable=False),
    Column("free_places", Integer, nullable=False),
    Column("status", String(10), nullable=False),
    Column("address", String(200)),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(100), nullable=False),
    Index("ix_courses_level_status", "level", "status"),
)
