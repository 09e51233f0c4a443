"""Reading and writing referral rows and routing rules."""
from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any, Iterable, Sequence

from sqlalchemy import bindparam, func, select, tuple_
from sqlalchemy.orm import Session

from services.referral import tables as t
from services.referral.consents import ConsentBook
from services.referral.deadlines import ACK_STATUSES, WORK_STATUSES, DeadlinePolicy
from services.referral.domain import HistoryEntry, PensionAge, Referral, RoutingRule
from shared.db import upsert_insert


def rules(session: Session) -> list[RoutingRule]:
    rows = session.execute(select(t.routing_rules)).all()
    return [RoutingRule(id=r.id, need=r.need, partner=r.partner, service=r.service,
                        priority=r.priority, citation=r.citation, min_age=r.min_age,
                        max_age=r.max_age,
                        residence_statuses=tuple(r.residence_statuses)
                        if r.residence_statuses is not None else None,
                        valid_from=r.valid_from, valid_to=r.valid_to,
                        requires_need=r.requires_need, first_issued_from=r.first_issued_from,
                        first_issued_until=r.first_issued_until,
                        nationality_group=r.nationality_group,
                        languages=tuple(r.languages) if r.languages else None,
                        child_under=r.child_under,
                        districts=tuple(r.districts) if r.districts else None,
                        pension_age=PensionAge(r.pension_age) if r.pension_age else None,
                        purposes=tuple(r.purposes) if r.purposes else None,
                        arrived_within_months=r.arrived_within_months)
            for r in rows]


def _values(ref: Referral) -> dict:
    return dict(intake_id=str(ref.intake_id), intake_reference=ref.intake_reference,
                need=ref.need, partner=ref.partner, service=ref.service,
                routing_reason=ref.routing_reason, status=ref.status, reason=ref.reason,
                partner_case_ref=ref.partner_case_ref, version=ref.version,
                created_at=ref.created_at, updated_at=ref.updated_at, person_id=ref.person_id,
                consent_id=ref.consent_id, legal_basis=ref.legal_basis, share=ref.share,
                outcome=ref.outcome, note=ref.note, superseded_by=ref.superseded_by,
                waits_for=ref.waits_for, rule_id=ref.rule_id, rules_version=ref.rules_version,
                ack_due_at=ref.ack_due_at,
                complete_due_at=ref.complete_due_at, expires_at=ref.expires_at,
                reminded_at=ref.reminded_at, overdue_since=ref.overdue_since,
                appointment=ref.appointment, for_member=ref.for_member,
                course_id=ref.course_id)


# The statements of the event handlers' paths are built once, their values passed as
# parameters: a statement built with the values in it is built and hashed anew by
# SQLAlchemy on every call, which costs more than the database's own work.
_r = t.referrals
_UPDATE = _r.update().where(_r.c.id == bindparam("referral_id"))
_BY_ID = select(_r).where(_r.c.id == bindparam("referral_id"))
_BY_ID_FOR_UPDATE = _BY_ID.with_for_update()
_OF_INTAKES = select(_r.c.intake_id).where(
    _r.c.intake_id.in_(bindparam("intake_ids", expanding=True))).distinct()
# Rows a batch changes are locked in id order, in one statement, so two batches touching
# the same referrals wait for each other instead of deadlocking.
_LOCK = select(_r).where(_r.c.id.in_(bindparam("ids", expanding=True))) \
    .order_by(_r.c.id).with_for_update()
# (the intake_id condition on its own lets the database use the intake index)
_WAITING_FOR_ANY = select(_r).where(
    _r.c.status == "on-hold", _r.c.intake_id.in_(bindparam("intake_ids", expanding=True)),
    tuple_(_r.c.intake_id, _r.c.waits_for).in_(bindparam("pairs", expanding=True))) \
    .order_by(_r.c.id).with_for_update()
_TRIED = select(_r.c.intake_id, _r.c.need, _r.c.partner, _r.c.service, _r.c.for_member).where(
    _r.c.partner.is_not(None), _r.c.intake_id.in_(bindparam("intake_ids", expanding=True)),
    tuple_(_r.c.intake_id, _r.c.need).in_(bindparam("pairs", expanding=True)))


def add(session: Session, ref: Referral) -> None:
    add_all(session, [ref])


def add_all(session: Session, refs: list[Referral]) -> None:
    """New referrals with their history, in two statements however many there are."""
    if refs:
        session.execute(t.referrals.insert(), [{"id": str(r.id), **_values(r)} for r in refs])
        _add_history(session, [(r, h) for r in refs for h in r.history])


def save(session: Session, ref: Referral, history_before: int) -> None:
    session.execute(_UPDATE, {"referral_id": str(ref.id), **_values(ref)})
    _add_history(session, [(ref, h) for h in ref.history[history_before:]])


def write(session: Session, new: Sequence[Referral],
          changed: Sequence[tuple[Referral, int]]) -> None:
    """New referrals, changed ones (with the length of their history when read) and the
    history of both, in at most three statements however many: one multi-row insert, one
    executemany update in id order, one multi-row history insert."""
    if new:
        session.execute(t.referrals.insert(), [{"id": str(r.id), **_values(r)} for r in new])
    changed = sorted(changed, key=lambda c: str(c[0].id))
    if changed:
        session.execute(_UPDATE, [{"referral_id": str(r.id), **_values(r)} for r, _ in changed])
    _add_history(session, [(r, h) for r in new for h in r.history]
                 + [(r, h) for r, before in changed for h in r.history[before:]])


def _add_history(session: Session, entries: list[tuple[Referral, HistoryEntry]]) -> None:
    if entries:
        session.execute(t.referral_history.insert(), [dict(
            referral_id=str(ref.id), status=h.status, previous_status=h.previous_status,
            reason=h.reason, changed_by=h.changed_by, changed_at=h.changed_at, note=h.note,
            outcome=h.outcome) for ref, h in entries])


def _referral(row, history: list[HistoryEntry]) -> Referral:
    return Referral(id=uuid.UUID(row.id), intake_id=uuid.UUID(row.intake_id),
                    intake_reference=row.intake_reference, need=row.need, partner=row.partner,
                    service=row.service, routing_reason=row.routing_reason, status=row.status,
                    reason=row.reason, partner_case_ref=row.partner_case_ref,
                    version=row.version, created_at=row.created_at, updated_at=row.updated_at,
                    history=history, person_id=row.person_id, consent_id=row.consent_id,
                    legal_basis=row.legal_basis, share=row.share, outcome=row.outcome,
                    note=row.note, superseded_by=row.superseded_by, waits_for=row.waits_for,
                    rule_id=row.rule_id, rules_version=row.rules_version,
                    ack_due_at=row.ack_due_at,
                    complete_due_at=row.complete_due_at, expires_at=row.expires_at,
                    reminded_at=row.reminded_at, overdue_since=row.overdue_since,
                    appointment=row.appointment, for_member=row.for_member,
                    course_id=row.course_id)


def _history(session: Session, referral_ids: list[str]) -> dict[str, list[HistoryEntry]]:
    out: dict[str, list[HistoryEntry]] = {i: [] for i in referral_ids}
    if referral_ids:
        rows = session.execute(select(t.referral_history)
                               .where(t.referral_history.c.referral_id.in_(referral_ids))
                               .order_by(t.referral_history.c.id)).all()
        for h in rows:
            out[h.referral_id].append(HistoryEntry(h.status, h.previous_status, h.reason,
                                                   h.changed_by, h.changed_at, h.note,
                                                   h.outcome))
    return out


def get(session: Session, referral_id: str, for_update: bool = False,
        history: bool = True) -> Referral | None:
    """One referral; `history=False` for a change: its history then holds only the entries
    added from now on (handlers append to it, never read it), which `save` writes."""
    row = session.execute(_BY_ID_FOR_UPDATE if for_update else _BY_ID,
                          {"referral_id": referral_id}).first()
    if row is None:
        return None
    return _referral(row, _history(session, [referral_id])[referral_id] if history else [])


def intakes_with_referrals(session: Session, intake_ids: Iterable[str]) -> set[str]:
    """Which of these intakes were routed already (one statement for a batch)."""
    ids = sorted(set(intake_ids))
    if not ids:
        return set()
    return set(session.execute(_OF_INTAKES, {"intake_ids": ids}).scalars())


def lock(session: Session, referral_ids: Iterable[str]) -> dict[str, Referral]:
    """Referrals to change, by id, locked in id order in one statement; like `get` with
    `history=False`, their history holds only the entries added from now on."""
    ids = sorted(set(referral_ids))
    if not ids:
        return {}
    return {row.id: _referral(row, []) for row in session.execute(_LOCK, {"ids": ids})}


def lock_of_intake(session: Session, intake_id: str) -> list[Referral]:
    """An intake's referrals to change, locked in id order; like `lock`, their history holds
    only the entries added from now on."""
    rows = session.execute(select(_r).where(_r.c.intake_id == intake_id)
                           .order_by(_r.c.id).with_for_update())
    return [_referral(row, []) for row in rows]


def waiting_for_any(session: Session,
                    pairs: Iterable[tuple[str, str]]) -> dict[str, Referral]:
    """Referrals on hold until the need of their intake (an (intake id, need) pair) reaches
    its partner, locked in id order in one statement; histories as in `lock`."""
    pairs = sorted(set(pairs))
    if not pairs:
        return {}
    rows = session.execute(_WAITING_FOR_ANY, {"intake_ids": sorted({i for i, _ in pairs}),
                                              "pairs": pairs})
    return {row.id: _referral(row, []) for row in rows}


def tried_for_needs(session: Session, pairs: Iterable[tuple[str, str]]
                    ) -> dict[tuple[str, str], set[tuple[str, str, int | None]]]:
    """Per (intake id, need): the partner services it was already referred to, and for
    whom (the household member; None: the person)."""
    pairs = sorted(set(pairs))
    tried: dict[tuple[str, str], set[tuple[str, str, int | None]]] = {p: set() for p in pairs}
    if pairs:
        for row in session.execute(_TRIED, {"intake_ids": sorted({i for i, _ in pairs}),
                                            "pairs": pairs}):
            tried[(row.intake_id, row.need)].add((row.partner, row.service, row.for_member))
    return tried


def find(session: Session, intake_id: str | None = None, status: str | None = None,
         partner: str | None = None, limit: int = 200) -> list[Referral]:
    query = select(t.referrals).order_by(t.referrals.c.created_at.desc(), t.referrals.c.need)
    if intake_id:
        query = query.where(t.referrals.c.intake_id == intake_id)
    if status:
        query = query.where(t.referrals.c.status == status)
    if partner:
        query = query.where(t.referrals.c.partner == partner)
    rows = session.execute(query.limit(limit)).all()
    history = _history(session, [r.id for r in rows])
    return [_referral(r, history[r.id]) for r in rows]


def legal_bases(session: Session) -> dict[str, str | None]:
    return dict(session.execute(select(t.partners.c.code, t.partners.c.legal_basis)).all())


def record_consents(session: Session, person_id: str | None, consents) -> None:
    """Consents given (with an intake, or later); one already known, a withdrawal that
    overtook it included, stays as it is."""
    rows = [dict(consent_id=str(c["consent_id"]), person_id=person_id,
                 partner=c.get("partner"), withdrawn_at=None) for c in consents]
    if rows:
        session.execute(upsert_insert(session, t.consents).on_conflict_do_nothing(), rows)


def record_consent_withdrawal(session: Session, consent_id: str, person_id: str | None,
                              partner: str | None, withdrawn_at: datetime) -> None:
    """A withdrawn consent counts as withdrawn from now on, even if it was not known yet."""
    insert = upsert_insert(session, t.consents)
    session.execute(insert.values(consent_id=str(consent_id), person_id=person_id,
                                  partner=partner, withdrawn_at=withdrawn_at)
                    .on_conflict_do_update(index_elements=[t.consents.c.consent_id],
                                           set_={"withdrawn_at": withdrawn_at}))


def consent_withdrawn(session: Session, consent_id: str) -> bool:
    return session.execute(select(t.consents.c.withdrawn_at).where(
        t.consents.c.consent_id == str(consent_id))).scalar() is not None


def consents_in_force(session: Session, person_id: str | None,
                      consent_ids=()) -> list[dict]:
    """The person's consents not withdrawn, as they stand now (`consent_ids`: those an intake
    without a person id was recorded with)."""
    return ConsentBook(session).in_force(person_id, consent_ids)


def relying_on_consent(session: Session, consent_id: str) -> list[Referral]:
    rows = session.execute(select(t.referrals.c.id)
                           .where(t.referrals.c.consent_id == consent_id)).all()
    return [get(session, r.id, for_update=True, history=False) for r in rows]


def waiting_for_consent(session: Session, person_id: str, partner: str | None) -> list[Referral]:
    query = select(t.referrals.c.id).where(t.referrals.c.person_id == person_id,
                                           t.referrals.c.status == "on-hold",
                                           t.referrals.c.reason == "consent_missing")
    if partner is not None:
        query = query.where(t.referrals.c.partner == partner)
    return [get(session, r.id, for_update=True, history=False)
            for r in session.execute(query).all()]


def deadline_policies(session: Session) -> dict[tuple[str, str], DeadlinePolicy]:
    rows = session.execute(select(t.deadline_policies)).all()
    return {(r.partner, r.service): DeadlinePolicy(r.partner, r.service, r.ack_days,
                                                   r.completion_days, r.expire_days,
                                                   r.remind_days_before) for r in rows}


def with_deadline_due(session: Session, now: datetime, reminders_before: datetime,
                      limit: int = 500) -> list[str]:
    """Unfinished referrals whose clock may call for action now: expired, newly overdue, or
    not yet reminded with the due time before `reminders_before`. A superset, so the domain
    (Referral.check_deadlines, under a row lock) decides; reading only these keeps a sweep's
    cost to the work that is due, however many referrals have a running clock."""
    r = t.referrals

    def due(at):
        return (((at <= now) & r.c.overdue_since.is_(None))
                | ((at > now) & (at < reminders_before) & r.c.reminded_at.is_(None)))

    rows = session.execute(select(r.c.id).where(
        (r.c.status.in_(sorted(ACK_STATUSES)) & ((r.c.expires_at <= now) | due(r.c.ack_due_at)))
        | (r.c.status.in_(sorted(WORK_STATUSES)) & due(r.c.complete_due_at)))
        .order_by(r.c.updated_at).limit(limit)).all()
    return [row.id for row in rows]


def needing_attention(session: Session, now: datetime,
                      limit: int = 500) -> list[Referral]:
    """Candidates for the staff work queue (the domain decides with Referral.attention)."""
    r = t.referrals
    rows = session.execute(select(r.c.id).where(
        r.c.status.in_(("on-hold", "failed", "rejected")) | r.c.overdue_since.is_not(None))
        .order_by(r.c.updated_at).limit(limit)).all()
    return [ref for ref in (get(session, row.id) for row in rows) if ref.attention(now)]


def partners(session: Session) -> list:
    return session.execute(select(t.partners).order_by(t.partners.c.code)).all()


def save_rule(session: Session, rule: RoutingRule, exists: bool) -> None:
    values = dict(need=rule.need, partner=rule.partner, service=rule.service,
                  priority=rule.priority, min_age=rule.min_age, max_age=rule.max_age,
                  residence_statuses=list(rule.residence_statuses)
                  if rule.residence_statuses is not None else None,
                  valid_from=rule.valid_from, valid_to=rule.valid_to, citation=rule.citation,
                  requires_need=rule.requires_need, first_issued_from=rule.first_issued_from,
                  first_issued_until=rule.first_issued_until,
                  nationality_group=rule.nationality_group,
                  languages=list(rule.languages) if rule.languages else None,
                  child_under=rule.child_under,
                  districts=list(rule.districts) if rule.districts else None,
                  pension_age=rule.pension_age.value if rule.pension_age else None,
                  purposes=list(rule.purposes) if rule.purposes else None,
                  arrived_within_months=rule.arrived_within_months)
    if exists:
        session.execute(t.routing_rules.update().where(t.routing_rules.c.id == rule.id)
                        .values(**values))
    else:
        session.execute(t.routing_rules.insert().values(id=rule.id, **values))


def delete_rule(session: Session, rule_id: str) -> bool:
    return session.execute(t.routing_rules.delete()
                           .where(t.routing_rules.c.id == rule_id)).rowcount == 1


def add_rule_version(session: Session, by: str, now: datetime, note: str | None) -> int:
    """Snapshot the whole routing table after a change."""
    snapshot = [{**asdict(r), "residence_statuses": list(r.residence_statuses)
                 if r.residence_statuses is not None else None,
                 "languages": list(r.languages) if r.languages else None,
                 "districts": list(r.districts) if r.districts else None,
                 "valid_from": r.valid_from.isoformat() if r.valid_from else None,
                 "valid_to": r.valid_to.isoformat() if r.valid_to else None,
                 "first_issued_from": r.first_issued_from.isoformat()
                 if r.first_issued_from else None,
                 "first_issued_until": r.first_issued_until.isoformat()
                 if r.first_issued_until else None}
                for r in sorted(rules(session), key=lambda r: r.id)]
    result = session.execute(t.routing_rule_versions.insert().values(
        changed_by=by, changed_at=now, note=note, rules=snapshot))
    return result.inserted_primary_key[0]


def rule_versions(session: Session) -> list:
    v = t.routing_rule_versions
    return session.execute(select(v.c.version, v.c.changed_by, v.c.changed_at, v.c.note)
                           .order_by(v.c.version.desc())).all()


def current_rules_version(session: Session) -> int | None:
    v = t.routing_rule_versions
    return session.execute(select(func.max(v.c.version))).scalar()


def recent_routed_needs(session: Session, intakes: int) -> list[tuple[Any, str, str, dict]]:
    """(intake id, intake reference, need, routing facts) of the latest `intakes` intakes whose
    data are still held (erased ones have none), one row per intake and need."""
    r = t.referrals
    rows = session.execute(select(r.c.intake_id, r.c.intake_reference, r.c.need, r.c.share)
                           .where(r.c.share.is_not(None))
                           .order_by(r.c.created_at.desc(), r.c.need)
                           .limit(intakes * 12)).all()  # a dozen needs an intake at most
    seen_intakes: set[Any] = set()
    out, pairs = [], set()
    for row in rows:
        if not row.share:  # erased meanwhile (a JSON null)
            continue
        if row.intake_id not in seen_intakes:
            if len(seen_intakes) == intakes:
                continue
            seen_intakes.add(row.intake_id)
        if (row.intake_id, row.need) not in pairs:
            pairs.add((row.intake_id, row.need))
            out.append((row.intake_id, row.intake_reference, row.need, row.share))
    return out

