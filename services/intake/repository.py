"""Reading and writing intake rows; the only module that knows the intake tables' shape."""
from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.intake import tables as t
from services.intake.domain import Consent, Intake, Person, ReferralView


def add_intake(session: Session, intake: Intake) -> None:
    p, c = intake.person, intake.consent
    session.execute(t.intakes.insert().values(
        id=str(intake.id), reference=intake.reference, given_name=p.given_name,
        family_name=p.family_name, birth_date=p.birth_date, nationality=p.nationality,
        languages=list(p.languages), residence_status=intake.residence_status, site=intake.site,
        needs=list(intake.needs), consent_share=c.share_with_partners, consent_method=c.method,
        consent_language=c.language, recorded_by=intake.recorded_by,
        recorded_at=intake.recorded_at))


def _intake(row) -> Intake:
    return Intake(
        id=uuid.UUID(row.id), reference=row.reference,
        person=Person(row.given_name, row.family_name, row.birth_date, row.nationality,
                      tuple(row.languages)),
        residence_status=row.residence_status, site=row.site, needs=tuple(row.needs),
        consent=Consent(row.consent_share, row.consent_method, row.consent_language),
        recorded_by=row.recorded_by, recorded_at=row.recorded_at)


def get_intake(session: Session, intake_id: str) -> Intake | None:
    row = session.execute(select(t.intakes).where(t.intakes.c.id == intake_id)).first()
    return _intake(row) if row else None


def list_intakes(session: Session, page: int, per_page: int) -> tuple[list[Intake], int]:
    total = session.execute(select(func.count()).select_from(t.intakes)).scalar_one()
    rows = session.execute(select(t.intakes)
                           .order_by(t.intakes.c.recorded_at.desc(), t.intakes.c.id.desc())
                           .limit(per_page).offset((page - 1) * per_page)).all()
    return [_intake(r) for r in rows], total


def referrals_for(session: Session, intake_ids: list[str]) -> dict[str, list[ReferralView]]:
    if not intake_ids:
        return {}
    rows = session.execute(select(t.intake_referrals)
                           .where(t.intake_referrals.c.intake_id.in_(intake_ids))
                           .order_by(t.intake_referrals.c.need)).all()
    out: dict[str, list[ReferralView]] = {i: [] for i in intake_ids}
    for r in rows:
        out[r.intake_id].append(_referral(r))
    return out


def _referral(r) -> ReferralView:
    return ReferralView(uuid.UUID(r.referral_id), uuid.UUID(r.intake_id), r.need, r.partner,
                        r.service, r.status, r.reason, r.partner_case_ref, r.version,
                        r.updated_at)


def get_referral_view(session: Session, referral_id: str) -> ReferralView | None:
    row = session.execute(select(t.intake_referrals)
                          .where(t.intake_referrals.c.referral_id == referral_id)).first()
    return _referral(row) if row else None


def save_referral_view(session: Session, view: ReferralView, exists: bool) -> None:
    values = dict(intake_id=str(view.intake_id), need=view.need, partner=view.partner,
                  service=view.service, status=view.status, reason=view.reason,
                  partner_case_ref=view.partner_case_ref, version=view.version,
                  updated_at=view.updated_at)
    if exists:
        session.execute(t.intake_referrals.update()
                        .where(t.intake_referrals.c.referral_id == str(view.referral_id))
                        .values(**values))
    else:
        session.execute(t.intake_referrals.insert().values(referral_id=str(view.referral_id),
                                                           **values))
