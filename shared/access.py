"""Reporting who saw or changed a person's data, for the intake service's per-person access log.

Services other than the intake service (referral pages, the partner portal) publish
`personal_data.accessed` through their outbox, in a small transaction of its own right
after the page or answer was produced; the intake service, which owns the person record,
files each record under its person. The event names ids and actions only, never the data.
"""
from __future__ import annotations

from typing import Iterable

from shared.auth import Principal


def accessed_records(person_id=None, intake_id=None, referral_id=None) -> dict:
    return {"person_id": str(person_id) if person_id else None,
            "intake_id": str(intake_id) if intake_id else None,
            "referral_id": str(referral_id) if referral_id else None}


def report_access(uow, principal: Principal, service: str, action: str, channel: str,
                  records: Iterable[dict]) -> int:
    """Stage and commit one `personal_data.accessed` event naming every record seen.

    Returns how many records were reported (none: nothing is published)."""
    records = [r for r in records if any(r.values())]
    if not records:
        return 0
    with uow:
        for start in range(0, len(records), 500):  # the contract's limit per event
            uow.emit("personal_data.accessed", subject=f"access/{principal.username}", data={
                "actor": principal.username, "role": principal.role,
                "partner": principal.partner, "service": service, "action": action,
                "channel": channel, "at": uow.clock(), "records": records[start:start + 500]})
        uow.commit()
    return len(records)
