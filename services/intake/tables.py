"""Tables owned by the intake service (no other service reads them)."""
from __future__ import annotations

from sqlalchemy import (Boolean, Column, Date, ForeignKey, Index, Integer, String, Table, Text,
                        UniqueConstraint)

from shared.db import JSONDocument, UTCDateTime, service_metadata
from shared.erasure import erased_table
from shared.inbox import inbox_table
from shared.outbox import outbox_table

metadata = service_metadata()

persons = Table(
    "persons", metadata,
    Column("id", String(36), primary_key=True),
    Column("given_name", String(200), nullable=False),
    Column("family_name", String(200), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("nationality", String(2), nullable=False),
    Column("nationalities", JSONDocument, nullable=False),
    Column("languages", JSONDocument, nullable=False),
    Column("preferred_language", String(3)),
    Column("interpreter", String(10), nullable=False, server_default="none"),
    Column("phone", String(40)),
    Column("email", String(200)),
    Column("street", String(200)),
    Column("postcode", String(10)),
    Column("city", String(100)),
    Column("district", String(30)),
    Column("no_fixed_address", Boolean, nullable=False, server_default="0"),
    Column("preferred_channel", String(20)),
    Column("merged_into", String(36)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_persons_birth_date", "birth_date"),
)

# Other spellings (native script, older passports) and the phonetic keys of every name, so
# likely matches can be preselected by index before they are scored.
person_names = Table(
    "person_names", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", String(36), ForeignKey("persons.id"), nullable=False, index=True),
    Column("given_name", String(200), nullable=False),
    Column("family_name", String(200), nullable=False),
    Column("kind", String(10), nullable=False),  # passport | other
)

person_search_keys = Table(
    "person_search_keys", metadata,
    Column("person_id", String(36), ForeignKey("persons.id"), primary_key=True),
    Column("key", String(60), primary_key=True),
    Index("ix_person_search_keys_key", "key"),
)

household_members = Table(
    "household_members", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", String(36), ForeignKey("persons.id"), nullable=False, index=True),
    Column("given_name", String(200), nullable=False),
    Column("family_name", String(200), nullable=False),
    Column("relation", String(20), nullable=False),
    Column("birth_date", Date, nullable=False),
)

intakes = Table(
    "intakes", metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", String(36), ForeignKey("persons.id"), index=True),
    Column("channel", String(20), nullable=False, server_default="in_person"),
    Column("notes", Text),
    Column("arrival_date", Date),
    Column("legal_basis", String(100)),
    Column("document_type", String(60)),
    Column("valid_until", Date),
    Column("first_issue_date", Date),
    Column("residence_purpose", String(30)),
    Column("need_details", JSONDocument),
    # the household as this consultation listed it (a need names its member by this order;
    # names only of those a need may be for, as intake.recorded carries them)
    Column("household", JSONDocument),
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

consents = Table(
    "consents", metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", String(36), ForeignKey("persons.id"), nullable=False, index=True),
    Column("intake_id", String(36)),
    Column("partner", String(40)),  # NULL: the partners the needs are routed to
    Column("purpose", String(60), nullable=False),
    Column("method", String(30), nullable=False),
    Column("language", String(3), nullable=False),
    Column("information_version", String(30)),
    Column("given_at", UTCDateTime, nullable=False),
    Column("recorded_by", String(100), nullable=False),
    Column("derived_from", String(36)),
    Column("withdrawn_at", UTCDateTime),
    Column("withdrawn_by", String(100)),
    Column("withdrawal_reason", Text),
)

person_merges = Table(
    "person_merges", metadata,
    Column("id", String(36), primary_key=True),
    Column("survivor_id", String(36), nullable=False, index=True),
    Column("merged_id", String(36), nullable=False, index=True),
    Column("moved", JSONDocument, nullable=False),  # ids moved, so an undo can move them back
    Column("merged_by", String(100), nullable=False),
    Column("merged_at", UTCDateTime, nullable=False),
    Column("reason", Text),
    Column("undone_by", String(100)),
    Column("undone_at", UTCDateTime),
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
    Column("appointment", JSONDocument),  # booked by the partner: when, where, what to bring
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("overdue_since", UTCDateTime),
    Column("for_member", Integer),  # index in the person's household; NULL: the person
)

accounts = Table(
    "accounts", metadata,
    Column("username", String(60), primary_key=True),
    Column("password_hash", String(300), nullable=False),
    Column("role", String(20), nullable=False),
    Column("partner", String(40)),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime, nullable=False),
    # lockout after repeated wrong passwords (counted per account, reset by a good login)
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", UTCDateTime),
    # the languages the person consults in besides German (walk_in.py: whom they may call);
    # NULL: none (no server default: PostgreSQL cannot compare a json default)
    Column("languages", JSONDocument),
)

# The walk-in queue (walk_in.py): a ticket per visitor, no name; numbered per site and day.
queue_tickets = Table(
    "queue_tickets", metadata,
    Column("id", String(36), primary_key=True),
    Column("site", String(20), nullable=False),
    Column("day", Date, nullable=False),  # the city's date it was drawn on
    Column("seq", Integer, nullable=False),
    Column("language", String(3), nullable=False),
    Column("topic", String(60), nullable=False),
    Column("status", String(10), nullable=False),
    Column("drawn_at", UTCDateTime, nullable=False),
    Column("called_at", UTCDateTime),
    Column("called_by", String(100)),
    Column("closed_at", UTCDateTime),
    Column("interpreter_needed", Boolean, nullable=False, server_default="0"),
    Column("intake_id", String(36)),  # the consultation it was served with, if recorded
    UniqueConstraint("site", "day", "seq", name="uq_queue_tickets_site_day_seq"),
    Index("ix_queue_tickets_site_status", "site", "status"),
)

# Inbound referrals (issue 22, item 5): a partner refers a person to the centre. The person's
# details stay as the sender gave them (a document the intake form is prefilled from) until
# staff record an intake; then intake_id and person_id link it. sent_by and changed_by are
# account names (a partner user's, a staff member's), not the person's.
inbound_referrals = Table(
    "inbound_referrals", metadata,
    Column("id", String(36), primary_key=True),
    Column("sender", String(40), nullable=False),  # the referring partner's code
    Column("sent_by", String(100), nullable=False),
    Column("person", JSONDocument, nullable=False),
    Column("residence_status", String(40), nullable=False),
    Column("needs", JSONDocument, nullable=False),
    Column("message", Text),
    Column("consent", JSONDocument, nullable=False),  # attested: method, language, version
    Column("status", String(12), nullable=False),
    Column("appointment", JSONDocument),  # date, time, site
    Column("decline_reason", Text),
    Column("intake_id", String(36)),
    Column("person_id", String(36)),
    Column("changed_by", String(100)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_inbound_referrals_status", "status", "created_at"),
    Index("ix_inbound_referrals_sender", "sender", "created_at"),
    Index("ix_inbound_referrals_person_id", "person_id"),
    Index("ix_inbound_referrals_intake_id", "intake_id"),
)

# Password logins, failed and successful, per account name (known or not) and client
# address: what login throttling counts (services/intake/login_throttle.py) and what admins
# see of it. Attempts refused by the throttle are not written (they cost no password check).
login_attempts = Table(
    "login_attempts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(60), nullable=False),
    Column("client", String(45), nullable=False),  # an IPv6 address has at most 45
    Column("at", UTCDateTime, nullable=False),
    Column("succeeded", Boolean, nullable=False),
    Index("ix_login_attempts_pair", "username", "client", "at"),
    Index("ix_login_attempts_at", "at"),
)

# Idempotency-Key of POST /api/v1/intakes, per user: the hash of the body and the intake it
# recorded. The 201 answer is rebuilt from the intake, so no personal data is kept here; an
# erasure clears intake_id and body_hash (a retry then gets 409, not the person again).
intake_idempotency_keys = Table(
    "intake_idempotency_keys", metadata,
    Column("username", String(100), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("body_hash", String(64)),
    Column("intake_id", String(36), index=True),
    Column("created_at", UTCDateTime, nullable=False, index=True),
)

# The per-person access log (access_log.py): ids and actions only, never the data seen.
access_log = Table(
    "person_access_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("role", String(20), nullable=False),
    Column("partner", String(40)),
    Column("service", String(40), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("action", String(30), nullable=False),
    Column("person_id", String(36), index=True),
    Column("intake_id", String(36), index=True),
    Column("referral_id", String(36), index=True),
    Column("inbound_referral_id", String(36), index=True),
    Column("event_id", String(64)),  # the reporting event, for accesses in other services
    Index("ix_person_access_log_at", "at"),
)

# Erasure requests (erasure.py): ids only, no personal data.
erasure_requests = Table(
    "erasure_requests", metadata,
    Column("id", String(36), primary_key=True),
    # unique: of two erasures of the same person running at once, the second is refused
    Column("person_id", String(36), nullable=False, index=True, unique=True),
    Column("subjects", JSONDocument, nullable=False),  # person/intake/referral ids, no data
    Column("requested_by", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime),
    # the services the request was sent to (NULL: opened before the list was kept)
    Column("confirming", JSONDocument),
)

erasure_confirmations = Table(
    "erasure_confirmations", metadata,
    Column("request_id", String(36), ForeignKey("erasure_requests.id"), primary_key=True),
    Column("service", String(40), primary_key=True),
    Column("confirmed_at", UTCDateTime, nullable=False),
    Column("partners_notified", JSONDocument),
    Index("ix_erasure_confirmations_request", "request_id"),
)

erased = erased_table(metadata, "intake")  # erasure tombstones (erasure.py)

# Revoked API tokens and UI sessions (token_revocations.py).
token_revocations = Table(
    "token_revocations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("jti", String(64)),  # NULL: every token and session of `username` up to revoked_at
    Column("username", String(60)),  # unknown when an admin revokes a bare jti
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=False),
    Column("revoked_by", String(60), nullable=False),
    Index("ix_token_revocations_jti", "jti"),
    Index("ix_token_revocations_username", "username"),
    Index("ix_token_revocations_revoked_at", "revoked_at"),
)

outbox = outbox_table(metadata, "intake")
inbox = inbox_table(metadata, "intake")
