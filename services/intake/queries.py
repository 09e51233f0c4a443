"""Read side of the intake service: intakes with their referrals, shaped for the API and UI."""
from __future__ import annotations

from dataclasses import asdict

from services.intake import repository
from services.intake.domain import Intake, ReferralView


def _referral(view: ReferralView) -> dict:
    return {k: v for k, v in asdict(view).items() if k not in ("intake_id", "version")}


def _intake(intake: Intake, referrals: list[ReferralView]) -> dict:
    data = asdict(intake)
    data.pop("events", None)
    data["referrals"] = [_referral(r) for r in referrals]
    return data


def intake_detail(session_factory, intake_id: str) -> dict | None:
    with session_factory() as session:
        intake = repository.get_intake(session, intake_id)
        if intake is None:
            return None
        referrals = repository.referrals_for(session, [intake_id])[intake_id]
    return _intake(intake, referrals)


def intake_page(session_factory, page: int, per_page: int) -> dict:
    with session_factory() as session:
        intakes, total = repository.list_intakes(session, page, per_page)
        referrals = repository.referrals_for(session, [str(i.id) for i in intakes])
    return {"items": [_intake(i, referrals[str(i.id)]) for i in intakes], "page": page,
            "per_page": per_page, "total": total}
