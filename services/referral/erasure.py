"""Erasure (Art. 17) in the referral service: the person's referrals and their history go.

Referrals are found by the erasure request's intake and person ids, so referrals the intake
service had not heard of yet (still in flight) are erased too; their ids travel on in the
confirmation, for the partner adapter. Tombstones keep only ids.
"""
from __future__ import annotations

from sqlalchemy import delete, or_, select

from services.referral import tables as t
from services.referral.tables import erased
from shared.erasure import add_tombstones, all_ids, confirm, scrub_outbox, subjects_of
from shared.events.envelope import Envelope


def erase_person(envelope: Envelope, uow) -> None:
    """Bus handler of `person.erasure_requested`."""
    d, session, now = envelope.data, uow.session, uow.clock()
    subjects = subjects_of(d)
    r = t.referrals
    found = [row.id for row in session.execute(select(r.c.id).where(or_(
        r.c.id.in_(subjects["referral"]), r.c.intake_id.in_(subjects["intake"]),
        r.c.person_id.in_(subjects["person"]))))]
    subjects["referral"] = list(dict.fromkeys(subjects["referral"] + found))
    session.execute(delete(t.referral_history).where(
        t.referral_history.c.referral_id.in_(subjects["referral"])))
    session.execute(delete(r).where(r.c.id.in_(subjects["referral"])))
    # an intake of the first contract has no person id: its consent's id is the intake's
    session.execute(delete(t.consents).where(or_(
        t.consents.c.person_id.in_(subjects["person"]),
        t.consents.c.consent_id.in_(subjects["intake"]))))
    scrub_outbox(session, t.outbox, all_ids(subjects))
    add_tombstones(session, erased, d["request_id"], subjects, now)
    confirm(uow, d, "referral", now, referral_ids=subjects["referral"])
