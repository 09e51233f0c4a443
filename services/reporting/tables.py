"""Tables owned by the reporting service: its fact log and the figures built from it.

No names, no contact data, no birth dates: people, intakes and referrals appear only as
pseudonymous keys (domain.Keyer: a keyed hash of their ids), everything else as codes, bands
and times. The fact log keeps what the service took from each event, so the figure tables
can be rebuilt from it alone (projection.rebuild); the figure tables are what reports read.
"""
from __future__ import annotations

from sqlalchemy import (Boolean, Column, Date, Index, Integer, String, Table,
                        UniqueConstraint)

from shared.db import JSONDocument, UTCDateTime, service_metadata
from shared.erasure import erased_table
from shared.inbox import inbox_table
from shared.outbox import outbox_table

metadata = service_metadata()
KEY = 32  # hex digits of a pseudonymous key

# What the service took from each event it counts, in the order it took them: the source of
# every figure table (a rebuild replays it). Keys stand apart from the dimensions so an
# erasure can re-key them in place.
facts = Table(
    "reporting_facts", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("kind", String(40), nullable=False),
    Column("at", UTCDateTime, nullable=False),  # when it happened (the event's own time)
    Column("person_key", String(KEY), index=True),
    Column("intake_key", String(KEY), index=True),
    Column("referral_key", String(KEY), index=True),
    Column("dims", JSONDocument, nullable=False),  # codes, bands, times: never a name
    Column("recorded_at", UTCDateTime, nullable=False),
)

# One row per consultation (an intake recorded), with its dimensions.
consultations = Table(
    "reporting_consultations", metadata,
    Column("intake_key", String(KEY), primary_key=True),
    Column("person_key", String(KEY), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("day", Date, nullable=False),  # the city's date (Europe/Berlin)
    Column("site", String(40), nullable=False),
    Column("channel", String(40), nullable=False),
    Column("nationality", String(2), nullable=False),
    Column("nationality_group", String(8), nullable=False),
    Column("language", String(20), nullable=False),
    Column("interpreter", String(10), nullable=False),
    Column("household_size", String(4), nullable=False),  # "1" .. "5", "6+"
    Column("age_band", String(8), nullable=False),
    Column("return_visit", Boolean, nullable=False),  # the person had an earlier consultation
    Index("ix_reporting_consultations_day", "day"),
)

# One row per referral: where it went, how far it got, and when the partner answered.
referrals = Table(
    "reporting_referrals", metadata,
    Column("referral_key", String(KEY), primary_key=True),
    Column("intake_key", String(KEY), nullable=False, index=True),
    Column("need", String(60), nullable=False),
    Column("for_member", Integer),
    Column("partner", String(40)),
    Column("service", String(60)),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("day", Date, nullable=False),  # the city's date of opening
    Column("status", String(20), nullable=False),
    Column("status_version", Integer, nullable=False),
    Column("reason", String(60)),
    Column("outcome", String(40)),
    Column("requested_at", UTCDateTime),  # first left for the partner
    Column("acknowledged_at", UTCDateTime),  # the partner's first answer
    Column("accepted_at", UTCDateTime),
    # from requested_at to each: what the medians and percentiles read
    Column("ack_seconds", Integer),
    Column("accept_seconds", Integer),
    Column("rerouted", Boolean, nullable=False),  # an earlier referral had its need
    Index("ix_reporting_referrals_day", "day"),
)

# Things counted once each, on the day they happened: a referral put on hold (per reason), a
# deadline breached (per phase), a consent withdrawn, an erasure.
occurrences = Table(
    "reporting_occurrences", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(30), nullable=False),
    Column("subject_key", String(KEY), nullable=False),
    Column("detail", String(60), nullable=False),
    Column("partner", String(40)),
    Column("service", String(60)),
    Column("at", UTCDateTime, nullable=False),
    Column("day", Date, nullable=False),
    UniqueConstraint("kind", "subject_key", "detail", name="uq_reporting_occurrences_once"),
    Index("ix_reporting_occurrences_day", "kind", "day"),
)

# One row per walk-in ticket, counted on the city's day it was drawn: how far it got (the
# furthest status its events tell), how long it waited until called. No number, no link to
# a consultation or a person.
queue_tickets = Table(
    "reporting_queue_tickets", metadata,
    Column("ticket_key", String(KEY), primary_key=True),
    Column("site", String(40), nullable=False),
    Column("language", String(20), nullable=False),
    Column("topic", String(60), nullable=False),
    Column("drawn_at", UTCDateTime, nullable=False),
    Column("day", Date, nullable=False),  # the city's date of drawing (Europe/Berlin)
    Column("status", String(20), nullable=False),  # waiting, called, served, no_show
    Column("waited_seconds", Integer),  # from drawing to being called (none until called)
    Column("interpreter_needed", Boolean),  # none until called
    Index("ix_reporting_queue_tickets_day", "day"),
)

FIGURE_TABLES = (consultations, referrals, occurrences, queue_tickets)

outbox = outbox_table(metadata, "reporting")
inbox = inbox_table(metadata, "reporting")
erased = erased_table(metadata, "reporting")  # erasure tombstones (erasure.py)
