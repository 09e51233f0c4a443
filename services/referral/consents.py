"""The consents table as one batch of events reads and writes it (ConsentBook)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from services.referral import tables as t
from shared.db import upsert_insert

_c = t.consents
_CONSENTS_OF = select(_c.c.consent_id, _c.c.person_id, _c.c.partner, _c.c.withdrawn_at).where(
    or_(_c.c.consent_id.in_(bindparam("consent_ids", expanding=True)),
        _c.c.person_id.in_(bindparam("person_ids", expanding=True))))


@dataclass
class _Consent:
    person_id: str | None
    partner: str | None
    withdrawn_at: datetime | None = None


class ConsentBook:
    """The consents table as a batch of events sees it: the rows of the batch's people and
    consent ids read in one statement (`cover`), the consents the batch records added the
    way the table takes them (one already known, withdrawn or not, stays as it is) and
    written in one statement (`write`); so each event reads what it would have read alone,
    the consents recorded by the events before it included."""

    def __init__(self, session: Session):
        self.session = session
        self._rows: dict[str, _Consent] = {}
        self._persons: set[str] = set()
        self._ids: set[str] = set()
        self._new: dict[str, _Consent] = {}

    def cover(self, person_ids: Iterable[str | None], consent_ids: Iterable) -> None:
        """Read the rows of these people and consents not read yet (one statement)."""
        persons = {str(p) for p in person_ids if p} - self._persons
        ids = {str(i) for i in consent_ids} - self._ids
        if not persons and not ids:
            return
        for row in self.session.execute(_CONSENTS_OF, {"consent_ids": sorted(ids),
                                                       "person_ids": sorted(persons)}):
            self._rows.setdefault(row.consent_id, _Consent(row.person_id, row.partner,
                                                           row.withdrawn_at))
        self._persons |= persons
        self._ids |= ids

    def record(self, person_id: str | None, consents) -> None:
        """Consents given with an intake (as record_consents takes them)."""
        consents = list(consents)
        self.cover([person_id], [c["consent_id"] for c in consents])
        for c in consents:
            if str(c["consent_id"]) not in self._rows:
                row = _Consent(person_id, c.get("partner"))
                self._rows[str(c["consent_id"])] = self._new[str(c["consent_id"])] = row

    def in_force(self, person_id: str | None, consent_ids=()) -> list[dict]:
        """As consents_in_force: the person's consents and these ones, not withdrawn, in
        consent id order."""
        ids = {str(i) for i in consent_ids}
        person = str(person_id) if person_id else None
        if not ids and not person:
            return []
        self.cover([person], ids)
        return [{"consent_id": consent_id, "partner": c.partner}
                for consent_id, c in sorted(self._rows.items())
                if c.withdrawn_at is None and (consent_id in ids
                                               or (person and c.person_id == person))]

    def write(self) -> None:
        """The consents recorded since it was read: one insert, in consent id order, a row
        another transaction has written meanwhile skipped."""
        rows = [dict(consent_id=i, person_id=c.person_id, partner=c.partner, withdrawn_at=None)
                for i, c in sorted(self._new.items())]
        if rows:
            self.session.execute(upsert_insert(self.session, t.consents)
                                 .on_conflict_do_nothing(), rows)
        self._new = {}
