"""The figure tables, kept from facts: append a fact to the log, apply it, rebuild, re-key.

Applying is order-independent, so the tables come out the same whatever order the bus
delivered the events in, and a rebuild from the log equals the live tables: a consultation
is "returning" when the same person had an earlier one (a late-arriving earlier one turns the
later ones returning), a referral's status is that of its highest version, its times are
the earliest seen, and of the referrals for one need of an intake all but the earliest are
re-routes. Every occurrence counts once (its kind, subject and detail are unique).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping

from sqlalchemy import delete, select, text, update
from sqlalchemy.engine import Connection

from services.reporting import domain
from services.reporting import tables as t
from services.reporting.domain import Fact
from shared.events.vocabulary import ReferralStatus


def append(conn: Connection, event_id: str, fact: Fact, now: datetime) -> None:
    """Keep the fact in the log (the rebuild's source)."""
    conn.execute(t.facts.insert().values(
        event_id=event_id, kind=fact.kind, at=fact.at, person_key=fact.person_key,
        intake_key=fact.intake_key, referral_key=fact.referral_key, dims=dict(fact.dims),
        recorded_at=now))


def apply(conn: Connection, fact: Fact) -> None:
    """Bring the figure tables up to date with one fact."""
    if fact.kind == domain.CONSULTATION:
        _consultation(conn, fact)
    elif fact.kind == domain.REFERRAL:
        _referral(conn, fact)
    elif fact.kind == domain.DEADLINE_BREACH:
        _occur(conn, fact.kind, str(fact.referral_key), fact.dims["phase"], fact,
               fact.dims.get("partner"), fact.dims.get("service"))
    elif fact.kind == domain.CONSENT_WITHDRAWAL:
        _occur(conn, fact.kind, fact.dims["consent"], "", fact, fact.dims.get("partner"))
    elif fact.kind == domain.ERASURE:
        _occur(conn, fact.kind, fact.dims["request"], "", fact)


def serialise(conn: Connection, keys: Iterable[str | None]) -> None:
    """Facts about one person (their consultations: who is returning) or one intake (its
    referrals: status versions, re-routes), and an erasure of them, are applied one
    transaction after the other, also by consumers running at once: each reads rows the other
    may be changing. PostgreSQL: a lock on each key until the transaction ends (taken before
    the tombstones are read, so a fact waits for an erasure in progress and then sees it);
    SQLite has one writer at a time anyway. Not for a rebuild: it locks the whole log.

    A transaction taking all its keys in one call takes them in one order (sorted), so two
    such cannot deadlock; a batch (several events in one transaction) must therefore take
    the keys of all its events first (handlers.record_batch), not event by event. Two keys
    whose hashes collide share a lock: a deadlock then remains possible, rarely, and
    PostgreSQL ends it (the batch is retried one event at a time)."""
    if conn.dialect.name != "postgresql":
        return
    for key in sorted({k for k in keys if k}):
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


def keys_to_serialise(fact: Fact) -> tuple[str | None, ...]:
    """A fact's keys an erasure of its person re-keys: the consultation's person, a
    referral's (or deadline breach's) intake, a withdrawn consent's person."""
    if fact.kind == domain.CONSULTATION:
        return (fact.person_key, fact.intake_key)
    if fact.kind in (domain.REFERRAL, domain.DEADLINE_BREACH):
        return (fact.intake_key,)
    if fact.kind == domain.CONSENT_WITHDRAWAL:
        return (fact.person_key,)
    return ()


def rebuild(conn: Connection) -> int:
    """Empty the figure tables and apply the whole fact log again, in the order it was
    taken; returns how many facts were applied."""
    for table in t.FIGURE_TABLES:
        conn.execute(delete(table))
    count = 0
    rows = conn.execute(select(t.facts).order_by(t.facts.c.seq)).all()
    for row in rows:
        apply(conn, Fact(row.kind, row.at, row.person_key, row.intake_key, row.referral_key,
                         row.dims))
        count += 1
    return count


KEYED = ((t.facts, ("person_key", "intake_key", "referral_key")),
         (t.consultations, ("person_key", "intake_key")),
         (t.referrals, ("referral_key", "intake_key")),
         (t.occurrences, ("subject_key",)))


def consent_keys(conn: Connection, person_keys: Iterable[str]) -> list[str]:
    """The keys of the consents the persons withdrew (a consent-withdrawal fact keeps its
    consent's key among its dimensions, and its occurrence is counted under it)."""
    f = t.facts
    return [row.dims["consent"] for row in conn.execute(select(f.c.dims).where(
        f.c.kind == domain.CONSENT_WITHDRAWAL, f.c.person_key.in_(list(person_keys))))
        if row.dims.get("consent")]


def rekey(conn: Connection, replacements: Mapping[str, str]) -> None:
    """Replace keys everywhere, in the log and the figure tables alike (an erasure: the
    counts stay, but a key computed from the person's ids no longer finds them)."""
    _rekey_consents(conn, replacements)
    for old, new in replacements.items():
        for table, columns in KEYED:
            for column in columns:
                conn.execute(update(table).where(table.c[column] == old)
                             .values({column: new}))


def _rekey_consents(conn: Connection, replacements: Mapping[str, str]) -> None:
    """A consent's key in the dimensions of its withdrawal's fact (the column re-keying does
    not reach into them)."""
    f = t.facts
    for row in conn.execute(select(f.c.seq, f.c.dims).where(
            f.c.kind == domain.CONSENT_WITHDRAWAL,
            f.c.person_key.in_(list(replacements)))).all():
        consent = row.dims.get("consent")
        if consent in replacements:
            conn.execute(update(f).where(f.c.seq == row.seq).values(
                dims={**row.dims, "consent": replacements[consent]}))


# --- consultations -------------------------------------------------------------------------

def _consultation(conn: Connection, fact: Fact) -> None:
    c = t.consultations
    if conn.execute(select(c.c.intake_key).where(
            c.c.intake_key == fact.intake_key)).first() is not None:
        return
    earlier = conn.execute(select(c.c.intake_key).where(
        c.c.person_key == fact.person_key, c.c.at < fact.at).limit(1)).first()
    dims = {name: fact.dims[name] for name in (
        "site", "channel", "nationality", "nationality_group", "language", "interpreter",
        "household_size", "age_band")}
    conn.execute(c.insert().values(intake_key=fact.intake_key, person_key=fact.person_key,
                                   at=fact.at, day=domain.city_day(fact.at),
                                   # seen_before: the first visits were purged
                                   return_visit=earlier is not None
                                   or bool(fact.dims.get("seen_before")), **dims))
    conn.execute(update(c).where(c.c.person_key == fact.person_key, c.c.at > fact.at,
                                 c.c.return_visit.is_(False)).values(return_visit=True))


# --- referrals -----------------------------------------------------------------------------

def _referral(conn: Connection, fact: Fact) -> None:
    r, d, at = t.referrals, fact.dims, fact.at
    status = ReferralStatus(d["status"])
    row = conn.execute(select(r).where(r.c.referral_key == fact.referral_key)).first()
    if row is None:
        conn.execute(r.insert().values(
            referral_key=fact.referral_key, intake_key=fact.intake_key, need=d["need"],
            for_member=d.get("for_member"), partner=d.get("partner"),
            service=d.get("service"), opened_at=at, day=domain.city_day(at),
            status=status.value, status_version=d["version"], reason=d.get("reason"),
            outcome=d.get("outcome"),
            requested_at=at if status == ReferralStatus.REQUESTED else None,
            acknowledged_at=at if status in domain.ANSWERED else None,
            accepted_at=at if status in domain.ACCEPTED else None, rerouted=False))
    else:
        conn.execute(update(r).where(r.c.referral_key == fact.referral_key)
                     .values(_referral_changes(row._mapping, fact, status)))
    if status == ReferralStatus.ON_HOLD:
        _occur(conn, domain.ON_HOLD, str(fact.referral_key), d.get("reason") or "other", fact,
               d.get("partner"), d.get("service"))
    _mark_reroutes(conn, str(fact.intake_key), d["need"], d.get("for_member"))


def _referral_changes(row: Mapping[str, Any], fact: Fact,
                      status: ReferralStatus) -> dict[str, Any]:
    d, at = fact.dims, fact.at
    changes: dict[str, Any] = {}
    if at < row["opened_at"]:
        changes.update(opened_at=at, day=domain.city_day(at))
    if d["version"] > row["status_version"]:
        changes.update(status=status.value, status_version=d["version"],
                       reason=d.get("reason"), outcome=d.get("outcome"))
        if d.get("partner"):  # decided again after a missing fact was added
            changes.update(partner=d["partner"], service=d.get("service"))
    elif row["partner"] is None and d.get("partner"):
        changes.update(partner=d["partner"], service=d.get("service"))
    for column, reached in (("requested_at", status == ReferralStatus.REQUESTED),
                            ("acknowledged_at", status in domain.ANSWERED),
                            ("accepted_at", status in domain.ACCEPTED)):
        if reached and (row[column] is None or at < row[column]):
            changes[column] = at
    times = {**row, **changes}
    changes.update(ack_seconds=_seconds(times["requested_at"], times["acknowledged_at"]),
                   accept_seconds=_seconds(times["requested_at"], times["accepted_at"]))
    return changes


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    """From leaving for the partner to its answer (none before it left or answered)."""
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds()))


def _mark_reroutes(conn: Connection, intake_key: str, need: str,
                   for_member: int | None) -> None:
    """Of the referrals for one need of an intake (and household member), every one but the
    earliest took over from another: a re-route (after a rejection, or re-assigned)."""
    r = t.referrals
    member = r.c.for_member.is_(None) if for_member is None else r.c.for_member == for_member
    rows = conn.execute(select(r.c.referral_key, r.c.rerouted).where(
        r.c.intake_key == intake_key, r.c.need == need, member)
        .order_by(r.c.opened_at, r.c.referral_key)).all()
    for i, row in enumerate(rows):
        if row.rerouted != (i > 0):
            conn.execute(update(r).where(r.c.referral_key == row.referral_key)
                         .values(rerouted=i > 0))


# --- occurrences ---------------------------------------------------------------------------

def _occur(conn: Connection, kind: str, subject_key: str, detail: str, fact: Fact,
           partner: str | None = None, service: str | None = None) -> None:
    """Count something once: the first fact of it sets its day."""
    o = t.occurrences
    found = conn.execute(select(o.c.id, o.c.at).where(
        o.c.kind == kind, o.c.subject_key == subject_key, o.c.detail == detail)).first()
    if found is None:
        conn.execute(o.insert().values(kind=kind, subject_key=subject_key, detail=detail,
                                       partner=partner, service=service, at=fact.at,
                                       day=domain.city_day(fact.at)))
    elif fact.at < found.at:
        conn.execute(update(o).where(o.c.id == found.id).values(
            at=fact.at, day=domain.city_day(fact.at)))
