"""Reporting who saw or changed a person's data, for the intake service's per-person access log.

Services other than the intake service (referral pages, the partner portal) publish
`personal_data.accessed` through their outbox, in a small transaction of its own right
after the page or answer was produced; the intake service, which owns the person record,
files each record under its person. The event names ids and actions only, never the data.
"""
from __future__ import annotations

from typing import Iterable
from uuid import UUID

from shared.auth import Principal
from shared.uow import UnitOfWork

AccessedRecord = dict[str, str | None]  # person_id, intake_id, referral_id (None: not seen)


def accessed_records(person_id: UUID | str | None = None, intake_id: UUID | str | None = None,
                     referral_id: UUID | str | None = None) -> AccessedRecord:
    return {"person_id": str(person_id) if person_id else None,
            "intake_id": str(intake_id) if intake_id else None,
            "referral_id": str(referral_id) if referral_id else None}


def report_access(uow: UnitOfWork, principal: Principal, service: str, action: str,
                  channel: str, records: Iterable[AccessedRecord]) -> int:
    """Stage and commit one `personal_data.accessed` event naming every record seen.

    Returns how many records were reported (none: nothing is published)."""
    seen = [r for r in records if any(r.values())]
    if not seen:
        return 0
    with uow:
        for start in range(0, len(seen), 500):  # the contract's limit per event
            uow.emit("personal_data.accessed", subject=f"access/{principal.username}", data={
                "actor": principal.username, "role": principal.role,
                "partner": principal.partner, "service": service, "action": action,
                "channel": channel, "at": uow.clock(), "records": seen[start:start + 500]})
        uow.commit()
    return len(seen)
