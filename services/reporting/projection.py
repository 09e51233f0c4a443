"""The figure tables, kept from facts: append a fact to the log, apply it, rebuild, re-key.

Applying is order-independent, so the tables come out the same whatever order the bus
delivered the events in, and a rebuild from the log equals the live tables: a consultation
is "returning" when the same person had an earlier one (a late-arriving earlier one turns the
later ones returning), a referral's status is that of its highest version, its times are
the earliest seen, and of the referrals for one need of an intake all but the earliest are
re-routes. Every occurrence counts once (its kind, subject and detail are unique). A walk-in
ticket's status is the furthest its facts tell (waiting < called < served or no-show), its
wait and interpreter need those of its call.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import bindparam, delete, exists, select, text, update
from sqlalchemy.engine import Connection

from services.reporting import domain
from services.reporting import tables as t
from services.reporting.domain import Fact
from shared.events.vocabulary import ReferralStatus


def append(conn: Connection, facts: Sequence[tuple[str, Fact]], now: datetime) -> None:
    """Keep the facts (each with its event's id) in the log: the rebuild's source."""
    conn.execute(t.facts.insert(), [
        {"event_id": event_id, "kind": fact.kind, "at": fact.at, "person_key": fact.person_key,
         "intake_key": fact.intake_key, "referral_key": fact.referral_key,
         "dims": dict(fact.dims), "recorded_at": now} for event_id, fact in facts])


def apply(conn: Connection, fact: Fact) -> None:
    """Bring the figure tables up to date with one fact."""
    apply_all(conn, [fact])


def apply_all(conn: Connection, facts: Sequence[Fact]) -> None:
    """Bring the figure tables up to date with many facts at once: a few statements for all
    of them (what each table holds of them read in one query, changed in one), not a few for
    each. The same tables come out as applying them one by one, in any order."""
    by_kind: dict[str, list[Fact]] = defaultdict(list)
    for fact in facts:
        by_kind[fact.kind].append(fact)
    if by_kind[domain.CONSULTATION]:
        _consultations(conn, by_kind[domain.CONSULTATION])
    counted: list[_Occurrence] = []
    if by_kind[domain.REFERRAL]:
        counted += _referrals(conn, by_kind[domain.REFERRAL])
    counted += [_Occurrence(f.kind, str(f.referral_key), f.dims["phase"], f,
                            f.dims.get("partner"), f.dims.get("service"))
                for f in by_kind[domain.DEADLINE_BREACH]]
    counted += [_Occurrence(f.kind, f.dims["consent"], "", f, f.dims.get("partner"))
                for f in by_kind[domain.CONSENT_WITHDRAWAL]]
    counted += [_Occurrence(f.kind, f.dims["request"], "", f) for f in by_kind[domain.ERASURE]]
    if counted:
        _occur(conn, counted)
    tickets = [f for kind in domain.TICKET_KINDS for f in by_kind[kind]]
    if tickets:
        _queue_tickets(conn, tickets)


def serialise(conn: Connection, keys: Iterable[str | None]) -> None:
    """Facts about one person (their consultations: who is returning) or one intake (its
    referrals: status versions, re-routes), and an erasure of them, are applied one
    transaction after the other, also by consumers running at once: each reads rows the other
    may be changing. PostgreSQL: a lock on each key until the transaction ends (taken before
    the tombstones are read, so a fact waits for an erasure in progress and then sees it);
    SQLite has one writer at a time anyway. Not for a rebuild: it locks the whole log.

    A transaction taking all its keys in one call takes them in one order (that of the locks'
    numbers; PostgreSQL evaluates a volatile output after its ORDER BY), so two such cannot
    deadlock, even where two keys' hashes share a lock; a batch (several events in one
    transaction) must therefore take the keys of all its events first
    (handlers.record_batch), not event by event."""
    wanted = sorted({k for k in keys if k})
    if conn.dialect.name != "postgresql" or not wanted:
        return
    conn.execute(_LOCK_IN_ORDER, {"keys": wanted})


_LOCK_IN_ORDER = text(
    "SELECT pg_advisory_xact_lock(lock) FROM "
    "(SELECT DISTINCT hashtext(key) AS lock FROM unnest(CAST(:keys AS text[])) AS key) AS locks "
    "ORDER BY lock")


def keys_to_serialise(fact: Fact) -> tuple[str | None, ...]:
    """A fact's keys an erasure of its person re-keys: the consultation's person, a
    referral's (or deadline breach's) intake, a withdrawn consent's person."""
    if fact.kind == domain.CONSULTATION:
        return (fact.person_key, fact.intake_key)
    if fact.kind in (domain.REFERRAL, domain.DEADLINE_BREACH):
        return (fact.intake_key,)
    if fact.kind == domain.CONSENT_WITHDRAWAL:
        return (fact.person_key,)
    if fact.kind in domain.TICKET_KINDS:  # a ticket's events may arrive at two consumers
        return (fact.dims["ticket"],)
    return ()


def rebuild(conn: Connection) -> int:
    """Empty the figure tables and apply the whole fact log again, in the order it was
    taken; returns how many facts were applied."""
    for table in t.FIGURE_TABLES:
        conn.execute(delete(table))
    count = 0
    rows = conn.execute(select(t.facts).order_by(t.facts.c.seq)).all()
    for start in range(0, len(rows), REBUILD_CHUNK):
        chunk = rows[start:start + REBUILD_CHUNK]
        apply_all(conn, [Fact(row.kind, row.at, row.person_key, row.intake_key,
                              row.referral_key, row.dims) for row in chunk])
        count += len(chunk)
    return count


def refresh_statistics(conn: Connection) -> None:
    """After a bulk load (a rebuild, the demo year): PostgreSQL's planner statistics of the
    tables, which autovacuum refreshes only a while later; until then a year's report may
    be planned for a hundred rows (a nested loop over 96,000 referrals instead of a hash
    join)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ANALYZE " + ", ".join(
            table.name for table in (t.facts, *t.FIGURE_TABLES))))


REBUILD_CHUNK = 500  # facts applied at once by a rebuild (each chunk a few statements)


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

CONSULTATION_DIMS = ("site", "channel", "nationality", "nationality_group", "language",
                     "interpreter", "household_size", "age_band")


def _consultations(conn: Connection, facts: Sequence[Fact]) -> None:
    """Each intake counts once (the first fact of it); a person's consultations after their
    earliest are return visits: the new ones, and older ones a late-arriving earlier one now
    precedes."""
    c = t.consultations
    first: dict[str, Fact] = {}
    for fact in facts:
        first.setdefault(str(fact.intake_key), fact)
    known = set(conn.execute(select(c.c.intake_key).where(
        c.c.intake_key.in_(list(first)))).scalars())
    new = [fact for key, fact in first.items() if key not in known]
    if not new:
        return
    conn.execute(c.insert(), [
        {"intake_key": f.intake_key, "person_key": f.person_key, "at": f.at,
         "day": domain.city_day(f.at), **{name: f.dims[name] for name in CONSULTATION_DIMS},
         # seen_before: the first visits were purged
         "return_visit": bool(f.dims.get("seen_before"))} for f in new])
    earlier = c.alias("earlier")
    conn.execute(update(c).where(
        c.c.person_key.in_(sorted({str(f.person_key) for f in new})),
        c.c.return_visit.is_(False),
        exists().where(earlier.c.person_key == c.c.person_key, earlier.c.at < c.c.at))
        .values(return_visit=True))


# --- referrals -----------------------------------------------------------------------------

# What a later fact of a referral may change (the rest is set when it is first seen).
REFERRAL_CHANGES = ("opened_at", "day", "status", "status_version", "reason", "outcome",
                    "partner", "service", "requested_at", "acknowledged_at", "accepted_at",
                    "ack_seconds", "accept_seconds")


def _referrals(conn: Connection, facts: Sequence[Fact]) -> list[_Occurrence]:
    """Each referral's row: inserted when first seen, then changed by every later fact (the
    batch's facts of one referral folded in memory first); the re-routes of the intakes
    touched marked again. Returns the on-hold occurrences to count."""
    r = t.referrals
    keys = list(dict.fromkeys(str(f.referral_key) for f in facts))
    rows = {row.referral_key: dict(row._mapping) for row in conn.execute(
        select(r).where(r.c.referral_key.in_(keys)))}
    stored, on_hold = set(rows), []
    for fact in facts:
        key, status = str(fact.referral_key), ReferralStatus(fact.dims["status"])
        row = rows.get(key)
        if row is None:
            rows[key] = _new_referral(fact, status)
        else:
            row.update(_referral_changes(row, fact, status))
        if status == ReferralStatus.ON_HOLD:
            on_hold.append(_Occurrence(domain.ON_HOLD, key, fact.dims.get("reason") or "other",
                                       fact, fact.dims.get("partner"),
                                       fact.dims.get("service")))
    new = [rows[k] for k in keys if k not in stored]
    if new:
        conn.execute(r.insert(), new)
    changed = [{"key": k, **{f"new_{c}": rows[k][c] for c in REFERRAL_CHANGES}}
               for k in keys if k in stored]
    if changed:
        conn.execute(_REFERRAL_UPDATE, changed)
    _mark_reroutes(conn, {str(f.intake_key) for f in facts})
    return on_hold


_REFERRAL_UPDATE = update(t.referrals).where(
    t.referrals.c.referral_key == bindparam("key")).values(
    {c: bindparam(f"new_{c}") for c in REFERRAL_CHANGES})


def _new_referral(fact: Fact, status: ReferralStatus) -> dict[str, Any]:
    d, at = fact.dims, fact.at
    return {"referral_key": fact.referral_key, "intake_key": fact.intake_key,
            "need": d["need"], "for_member": d.get("for_member"), "partner": d.get("partner"),
            "service": d.get("service"), "opened_at": at, "day": domain.city_day(at),
            "status": status.value, "status_version": d["version"],
            "reason": d.get("reason"), "outcome": d.get("outcome"),
            "requested_at": at if status == ReferralStatus.REQUESTED else None,
            "acknowledged_at": at if status in domain.ANSWERED else None,
            "accepted_at": at if status in domain.ACCEPTED else None,
            "ack_seconds": None, "accept_seconds": None, "rerouted": False}


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


def _mark_reroutes(conn: Connection, intake_keys: set[str]) -> None:
    """Of the referrals for one need of an intake (and household member), every one but the
    earliest took over from another: a re-route (after a rejection, or re-assigned)."""
    r = t.referrals
    rows = conn.execute(select(r.c.referral_key, r.c.intake_key, r.c.need, r.c.for_member,
                               r.c.opened_at, r.c.rerouted)
                        .where(r.c.intake_key.in_(sorted(intake_keys)))).all()
    groups: dict[tuple[str, str, int | None], list[Any]] = defaultdict(list)
    for row in rows:
        groups[(row.intake_key, row.need, row.for_member)].append(row)
    changed = [{"key": row.referral_key, "now_rerouted": i > 0}
               for group in groups.values()
               for i, row in enumerate(sorted(group, key=lambda g: (g.opened_at,
                                                                     g.referral_key)))
               if row.rerouted != (i > 0)]
    if changed:
        conn.execute(update(r).where(r.c.referral_key == bindparam("key"))
                     .values(rerouted=bindparam("now_rerouted")), changed)


# --- occurrences ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Occurrence:
    kind: str
    subject_key: str
    detail: str
    fact: Fact
    partner: str | None = None
    service: str | None = None


def _occur(conn: Connection, occurrences: Sequence[_Occurrence]) -> None:
    """Count each thing once: the first fact of it names its partner, the earliest sets its
    day."""
    o = t.occurrences
    subjects = sorted({x.subject_key for x in occurrences})
    stored = {(row.kind, row.subject_key, row.detail): row for row in conn.execute(
        select(o.c.id, o.c.kind, o.c.subject_key, o.c.detail, o.c.at)
        .where(o.c.subject_key.in_(subjects)))}
    new: dict[tuple[str, str, str], dict[str, Any]] = {}
    earlier: dict[int, datetime] = {}
    for x in occurrences:
        which, at = (x.kind, x.subject_key, x.detail), x.fact.at
        if which in stored:
            row = stored[which]
            if at < earlier.get(row.id, row.at):
                earlier[row.id] = at
        elif which not in new:
            new[which] = {"kind": x.kind, "subject_key": x.subject_key, "detail": x.detail,
                          "partner": x.partner, "service": x.service, "at": at,
                          "day": domain.city_day(at)}
        elif at < new[which]["at"]:
            new[which].update(at=at, day=domain.city_day(at))
    if new:
        conn.execute(o.insert(), list(new.values()))
    if earlier:
        conn.execute(update(o).where(o.c.id == bindparam("row")).values(
            at=bindparam("new_at"), day=bindparam("new_day")),
            [{"row": row, "new_at": at, "new_day": domain.city_day(at)}
             for row, at in earlier.items()])


# --- walk-in tickets -----------------------------------------------------------------------

# What a later fact of a ticket may change (where, when and in which language it was drawn
# every fact of it tells alike).
TICKET_CHANGES = ("status", "waited_seconds", "interpreter_needed")


def _queue_tickets(conn: Connection, facts: Sequence[Fact]) -> None:
    """Each ticket's row: inserted when first seen, then brought as far as its facts tell
    (the batch's facts of one ticket folded in memory first)."""
    q = t.queue_tickets
    keys = list(dict.fromkeys(str(f.dims["ticket"]) for f in facts))
    rows = {row.ticket_key: dict(row._mapping) for row in conn.execute(
        select(q).where(q.c.ticket_key.in_(keys)))}
    stored, before = set(rows), {k: dict(row) for k, row in rows.items()}
    for fact in facts:
        key, d = str(fact.dims["ticket"]), fact.dims
        row = rows.get(key)
        if row is None:
            rows[key] = {"ticket_key": key, "site": d["site"], "language": d["language"],
                         "topic": d["topic"], "drawn_at": fact.at,
                         "day": domain.city_day(fact.at), "status": d["status"],
                         "waited_seconds": d.get("waited_seconds"),
                         "interpreter_needed": d.get("interpreter_needed")}
            continue
        # its call and its closing tell the same wait; were they to differ, the shorter
        # wait and a needed interpreter win (whatever came first)
        row["status"] = domain.furthest(row["status"], d["status"])
        if d.get("waited_seconds") is not None:
            row["waited_seconds"] = min(d["waited_seconds"], row["waited_seconds"]
                                        if row["waited_seconds"] is not None
                                        else d["waited_seconds"])
        if d.get("interpreter_needed") is not None:
            row["interpreter_needed"] = bool(row["interpreter_needed"]) \
                or d["interpreter_needed"]
    new = [rows[k] for k in keys if k not in stored]
    if new:
        conn.execute(q.insert(), new)
    changed = [{"key": k, **{f"new_{c}": rows[k][c] for c in TICKET_CHANGES}}
               for k in keys if k in stored
               and any(rows[k][c] != before[k][c] for c in TICKET_CHANGES)]
    if changed:
        conn.execute(_TICKET_UPDATE, changed)


_TICKET_UPDATE = update(t.queue_tickets).where(
    t.queue_tickets.c.ticket_key == bindparam("key")).values(
    {c: bindparam(f"new_{c}") for c in TICKET_CHANGES})
