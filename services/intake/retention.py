"""The intake service's retention purges: person records, consent proofs, the access log,
partners' referrals to the centre.

A person's record is removed through the erasure use case (`erasure.erase_person`), never by
deleting rows here: erasure also scrubs stored events, keeps tombstones and asks the other
services (and, through the partner adapter, the partners) to erase their copies.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterable

from sqlalchemy import func, select

from services.intake import tables as t
from services.intake import walk_in_store
from shared.retention import Purge, bus_purges, purge_rows
from shared.service import ServiceDeps

log = logging.getLogger(__name__)
ERASURE_REASON = "retention period ended ({category}: no contact since {last_contact:%Y-%m-%d})"


@dataclass(frozen=True)
class PersonContact:
    """When the centre last dealt with a person, and whether any need was referred."""

    person_id: str
    last_contact: datetime
    referred: bool


def due_persons(contacts: Iterable[PersonContact], cutoff: datetime,
                referred: bool) -> list[PersonContact]:
    """Persons (with or without referrals, as asked) whose last contact lies before cutoff."""
    return [c for c in contacts if c.referred == referred and c.last_contact < cutoff]


def person_contacts(session) -> list[PersonContact]:
    """Every unmerged person with the latest of: the record's last change, a consultation,
    a referral's last news (merged duplicates go with the record they were merged into)."""
    visits = (select(t.intakes.c.person_id, func.max(t.intakes.c.recorded_at).label("at"))
              .group_by(t.intakes.c.person_id).subquery())
    news = (select(t.intakes.c.person_id, func.max(t.intake_referrals.c.updated_at).label("at"))
            .join(t.intake_referrals, t.intake_referrals.c.intake_id == t.intakes.c.id)
            .group_by(t.intakes.c.person_id).subquery())
    rows = (select(t.persons.c.id, t.persons.c.updated_at, visits.c.at.label("visit"),
                   news.c.at.label("news"))
            .outerjoin(visits, visits.c.person_id == t.persons.c.id)
            .outerjoin(news, news.c.person_id == t.persons.c.id)
            .where(t.persons.c.merged_into.is_(None)))
    return [PersonContact(r.id, max(_aware(x) for x in (r.updated_at, r.visit, r.news) if x),
                          r.news is not None)
            for r in session.execute(rows)]


def _aware(value) -> datetime:
    """MAX() over a UTC column comes back as the stored naive UTC on SQLite."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def erase_persons(deps: ServiceDeps, category: str, referred: bool,
                  erase: Callable | None = None) -> Purge:
    """Persons due are erased one by one (each its own transaction and erasure request)."""
    def apply(cutoff: datetime, now: datetime, dry_run: bool) -> int:
        with deps.session_factory() as s:
            due = due_persons(person_contacts(s), cutoff, referred)
        if dry_run:
            return len(due)
        run = erase or _erase_person
        done = 0
        for contact in due:
            try:
                run(deps.uow(), contact.person_id, requested_by="retention",
                    reason=ERASURE_REASON.format(category=category,
                                                 last_contact=contact.last_contact), now=now)
                done += 1
            except LookupError:  # erased meanwhile (another worker, a person's request)
                continue
        return done
    return Purge("last_contact", "delete", apply)


def _erase_person(uow, person_id, **kwargs):
    from services.intake.erasure import AlreadyErased, erase_person

    try:
        return erase_person(uow, person_id, **kwargs)
    except AlreadyErased as exc:
        raise LookupError(str(exc)) from None


def purges(deps: ServiceDeps, erase: Callable | None = None) -> dict[str, Purge]:
    sf = deps.session_factory
    return {
        "intake_records": erase_persons(deps, "intake_records", False, erase),
        "intake_records_referred": erase_persons(deps, "intake_records_referred", True, erase),
        "consent_proofs": purge_rows(sf, t.consents, "withdrawn_at",
                                     measured_from="withdrawn_at"),
        "access_log": purge_rows(sf, t.access_log, "at", measured_from="at"),
        "idempotency_keys": purge_rows(sf, t.intake_idempotency_keys, "created_at",
                                       measured_from="created_at"),
        "login_attempts": purge_rows(sf, t.login_attempts, "at", measured_from="at"),
        # closing the past days' open tickets first (walk_in_store: the daily work)
        "queue_tickets": walk_in_store.closing_left_behind(
            deps.uow, purge_rows(sf, t.queue_tickets, "drawn_at", measured_from="drawn_at")),
        # a referral's person, once they came, lives on in the consultation's record
        "inbound_referrals": purge_rows(sf, t.inbound_referrals, "updated_at",
                                        measured_from="updated_at"),
        **bus_purges(sf, t.outbox, t.inbox),
    }
