"""Reading and writing persons, consultations and consents; the only module that knows the
intake tables' shape."""
from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterable, Sequence

from sqlalchemy import Table, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from services.intake import tables as t
from services.intake.domain import (Address, Consent, Contact, HouseholdMember, Intake, Need,
                                    OtherName, Person, ReferralView, Residence)
from shared.db import UPSERT_INSERTS


@dataclass(frozen=True)
class PersonRecord:
    id: uuid.UUID
    person: Person
    merged_into: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


# --- persons ---------------------------------------------------------------------------------

def save_person(session: Session, person_id: uuid.UUID, person: Person, keys: list[str],
                now: datetime, exists: bool) -> None:
    """Insert or update a person with their other names, household and search keys."""
    c = person.contact
    values = dict(given_name=person.given_name, family_name=person.family_name,
                  birth_date=person.birth_date, nationality=person.nationality,
                  nationalities=list(person.all_nationalities), languages=list(person.languages),
                  preferred_language=person.preferred_language, interpreter=person.interpreter,
                  phone=c.phone, email=c.email, street=c.address.street if c.address else None,
                  postcode=c.address.postcode if c.address else None,
                  city=c.address.city if c.address else None,
                  district=c.address.district if c.address else None,
                  no_fixed_address=c.no_fixed_address, preferred_channel=c.preferred_channel,
                  updated_at=now)
    pid = str(person_id)
    if exists:
        session.execute(update(t.persons).where(t.persons.c.id == pid).values(**values))
        for table in (t.person_names, t.household_members, t.person_search_keys):
            session.execute(delete(table).where(table.c.person_id == pid))
    else:
        _insert_rows(session, t.persons, [{"id": pid, "created_at": now, **values}])
    _insert_rows(session, t.person_names, [
        {"person_id": pid, "given_name": n.given_name, "family_name": n.family_name,
         "kind": "other"} for n in person.other_names])
    _insert_rows(session, t.household_members, [
        {"person_id": pid, "given_name": m.given_name, "family_name": m.family_name,
         "relation": m.relation, "birth_date": m.birth_date} for m in person.household])
    _insert_rows(session, t.person_search_keys, [
        {"person_id": pid, "key": key} for key in sorted({k[:60] for k in keys})])


# Built once: SQLAlchemy memoizes a statement's cache key, so executing the same statement
# object again skips building and hashing a new one (recording an intake runs these).
_INSERTS = {table: table.insert() for table in (
    t.persons, t.person_names, t.household_members, t.person_search_keys, t.intakes,
    t.consents)}


def _insert_rows(session: Session, table: Table, rows: list[dict]) -> None:
    """All rows in one statement (executemany): one round trip, not one per row."""
    if rows:
        session.execute(_INSERTS[table], rows)


ROWS_PER_STATEMENT = 500  # far below SQLite's and PostgreSQL's bound-parameter limits


def _chunks(items: Sequence, size: int = ROWS_PER_STATEMENT):
    """A batch's rows or ids in statements of at most `size` (one for a worker's batch)."""
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def get_person(session: Session, person_id: str) -> PersonRecord | None:
    row = session.execute(select(t.persons).where(t.persons.c.id == person_id)).first()
    if row is None:
        return None
    return _person_records(session, [row])[0]


def person_names(session: Session, person_ids: Sequence[str]) -> list[tuple[str, str, str]]:
    """(id, given name, family name) of these persons, one SELECT per ROWS_PER_STATEMENT."""
    p = t.persons
    found = []
    for chunk in _chunks(sorted(set(person_ids))):
        found += [(r.id, r.given_name, r.family_name) for r in session.execute(
            select(p.c.id, p.c.given_name, p.c.family_name).where(p.c.id.in_(chunk)))]
    return found


def _person_records(session: Session, rows) -> list[PersonRecord]:
    ids = [r.id for r in rows]
    names: dict[str, list] = {i: [] for i in ids}
    household: dict[str, list] = {i: [] for i in ids}
    if ids:
        for n in session.execute(select(t.person_names).where(t.person_names.c.person_id.in_(ids))
                                 .order_by(t.person_names.c.id)):
            names[n.person_id].append(OtherName(n.given_name, n.family_name))
        for m in session.execute(select(t.household_members)
                                 .where(t.household_members.c.person_id.in_(ids))
                                 .order_by(t.household_members.c.id)):
            household[m.person_id].append(HouseholdMember(m.given_name, m.family_name,
                                                          m.relation, m.birth_date))
    out = []
    for r in rows:
        address = Address(r.street or "", r.postcode or "", r.city or "",
                          r.district) if r.street else None
        person = Person(
            r.given_name, r.family_name, r.birth_date, r.nationality, tuple(r.languages),
            other_names=tuple(names[r.id]),
            nationalities=tuple(n for n in r.nationalities if n != r.nationality),
            preferred_language=r.preferred_language, interpreter=r.interpreter,
            contact=Contact(r.phone, r.email, address, r.no_fixed_address, r.preferred_channel),
            household=tuple(household[r.id]))
        out.append(PersonRecord(uuid.UUID(r.id), person,
                                uuid.UUID(r.merged_into) if r.merged_into else None,
                                r.created_at, r.updated_at))
    return out


def candidates_by_keys(session: Session, keys: list[str], birth_date: date | None,
                       limit: int = 200) -> list[PersonRecord]:
    """Persons sharing a phonetic name key, or the birth date: cheap preselection."""
    conditions = []
    if keys:
        conditions.append(t.persons.c.id.in_(select(t.person_search_keys.c.person_id)
                                             .where(t.person_search_keys.c.key.in_(keys))))
    if birth_date:
        conditions.append(t.persons.c.birth_date == birth_date)
    if not conditions:
        return []
    rows = session.execute(select(t.persons).where(or_(*conditions),
                                                   t.persons.c.merged_into.is_(None))
                           .limit(limit)).all()
    return _person_records(session, rows)


def search_persons(session: Session, query: str, keys: list[str], birth_date: date | None,
                   limit: int = 50) -> list[PersonRecord]:
    """By reference (LT-...), date of birth, or name (plain or phonetic)."""
    q = query.strip()
    conditions = [t.persons.c.id.in_(select(t.intakes.c.person_id)
                                     .where(func.upper(t.intakes.c.reference) == q.upper()))]
    if birth_date:
        conditions.append(t.persons.c.birth_date == birth_date)
    if keys:
        conditions.append(t.persons.c.id.in_(select(t.person_search_keys.c.person_id)
                                             .where(t.person_search_keys.c.key.in_(keys))))
    like = f"%{q.lower()}%"
    conditions.append(func.lower(t.persons.c.given_name + " " + t.persons.c.family_name)
                      .like(like))
    rows = session.execute(select(t.persons).where(or_(*conditions),
                                                   t.persons.c.merged_into.is_(None))
                           .order_by(t.persons.c.updated_at.desc()).limit(limit)).all()
    return _person_records(session, rows)


def set_merged_into(session: Session, person_id: str, survivor: str | None) -> None:
    session.execute(update(t.persons).where(t.persons.c.id == person_id)
                    .values(merged_into=survivor))


# --- consultations ---------------------------------------------------------------------------

def add_intake(session: Session, intake: Intake) -> None:
    p, r = intake.person, intake.residence or Residence(intake.residence_status)
    coarse = intake.consent
    _insert_rows(session, t.intakes, [dict(
        id=str(intake.id), person_id=str(intake.person_id), reference=intake.reference,
        given_name=p.given_name, family_name=p.family_name, birth_date=p.birth_date,
        nationality=p.nationality, languages=list(p.languages),
        residence_status=intake.residence_status, site=intake.site, needs=list(intake.needs),
        need_details=[{"code": n.code, "urgency": n.urgency, "note": n.note,
                       "for_member": n.for_member} for n in intake.need_details],
        household=[member.wire() for member in intake.household_as_recorded()],
        consent_share=coarse.share_with_partners, consent_method=coarse.method,
        consent_language=coarse.language, recorded_by=intake.recorded_by,
        recorded_at=intake.recorded_at, channel=intake.channel, notes=intake.notes,
        arrival_date=intake.arrival_date, legal_basis=r.legal_basis,
        document_type=r.document_type, valid_until=r.valid_until,
        first_issue_date=r.first_issue_date, residence_purpose=r.purpose)])


def save_facts(session: Session, intake_id: str, facts: dict) -> bool:
    """Routing facts recorded after the consultation: each only where none was (two staff
    adding different facts at once both keep theirs; the same fact twice: the first wins).
    False: one of them was recorded meanwhile."""
    c = t.intakes.c
    columns = {"first_issue_date": c.first_issue_date, "arrival_date": c.arrival_date,
               "purpose": c.residence_purpose}
    given = {name: value for name, value in facts.items() if value is not None}
    changed = session.execute(
        update(t.intakes).where(c.id == intake_id,
                                *(columns[name].is_(None) for name in given))
        .values({columns[name]: value for name, value in given.items()})).rowcount
    return changed == 1


def _intake(row, person: Person | None = None) -> Intake:
    details = tuple(Need(n["code"], n.get("urgency", "normal"), n.get("note"),
                         n.get("for_member"))
                    for n in (row.need_details or [{"code": c} for c in row.needs]))
    return Intake(
        id=uuid.UUID(row.id), reference=row.reference,
        person_id=uuid.UUID(row.person_id) if row.person_id else uuid.UUID(row.id),
        person=person or Person(row.given_name, row.family_name, row.birth_date,
                                row.nationality, tuple(row.languages),
                                household=tuple(HouseholdMember(
                                    m["given_name"] or "", m["family_name"] or "",
                                    m["relation"], date.fromisoformat(m["birth_date"]))
                                    for m in row.household or ())),
        residence_status=row.residence_status, site=row.site, needs=tuple(row.needs),
        consent=Consent(row.consent_share, row.consent_method, row.consent_language),
        recorded_by=row.recorded_by, recorded_at=row.recorded_at,
        residence=Residence(row.residence_status, row.legal_basis, row.document_type,
                            row.valid_until, row.first_issue_date, row.residence_purpose),
        need_details=details, channel=row.channel, arrival_date=row.arrival_date,
        notes=row.notes)


def get_intake(session: Session, intake_id: str) -> Intake | None:
    row = session.execute(select(t.intakes).where(t.intakes.c.id == intake_id)).first()
    return _intake(row) if row else None


def list_intakes(session: Session, page: int, per_page: int) -> tuple[list[Intake], int]:
    total = session.execute(select(func.count()).select_from(t.intakes)).scalar_one()
    rows = session.execute(select(t.intakes)
                           .order_by(t.intakes.c.recorded_at.desc(), t.intakes.c.id.desc())
                           .limit(per_page).offset((page - 1) * per_page)).all()
    return [_intake(r) for r in rows], total


def intakes_of(session: Session, person_id: str) -> list[Intake]:
    rows = session.execute(select(t.intakes).where(t.intakes.c.person_id == person_id)
                           .order_by(t.intakes.c.recorded_at.desc())).all()
    return [_intake(r) for r in rows]


def move_intakes(session: Session, intake_ids: list[str], person_id: str) -> None:
    if intake_ids:
        session.execute(update(t.intakes).where(t.intakes.c.id.in_(intake_ids))
                        .values(person_id=person_id))


# --- consents --------------------------------------------------------------------------------

def add_consent(session: Session, person_id: uuid.UUID, intake_id: uuid.UUID | None,
                consent: Consent) -> None:
    add_consents(session, person_id, intake_id, [consent])


def add_consents(session: Session, person_id: uuid.UUID, intake_id: uuid.UUID | None,
                 consents: Iterable[Consent]) -> None:
    _insert_rows(session, t.consents, [_consent_row(person_id, intake_id, c) for c in consents])


def add_consents_of_persons(session: Session,
                            consents: Iterable[tuple[uuid.UUID | str, Consent]]) -> None:
    """(person id, consent) pairs of any persons, no intake: one multi-row insert (per
    ROWS_PER_STATEMENT), in consent id order."""
    rows = sorted((_consent_row(person_id, None, c) for person_id, c in consents),
                  key=lambda row: row["id"])
    if rows:  # an executemany: SQLAlchemy sends it as multi-row INSERTs, compiled once
        session.execute(t.consents.insert(), rows)


def _consent_row(person_id: uuid.UUID | str, intake_id: uuid.UUID | None, c: Consent) -> dict:
    return dict(
        id=str(c.id), person_id=str(person_id),
        intake_id=str(intake_id) if intake_id else None, partner=c.partner,
        purpose=c.purpose, method=c.method, language=c.language,
        information_version=c.information_version, given_at=c.given_at,
        recorded_by=c.recorded_by,
        derived_from=str(c.derived_from) if c.derived_from else None)


def _consent(r) -> Consent:
    return Consent(True, r.method, r.language, partner=r.partner, purpose=r.purpose,
                   information_version=r.information_version, id=uuid.UUID(r.id),
                   given_at=r.given_at, recorded_by=r.recorded_by,
                   derived_from=uuid.UUID(r.derived_from) if r.derived_from else None,
                   withdrawn_at=r.withdrawn_at, withdrawn_by=r.withdrawn_by,
                   withdrawal_reason=r.withdrawal_reason)


def consents_of(session: Session, person_id: str) -> list[tuple[str | None, Consent]]:
    """(intake id, consent) pairs, newest first."""
    rows = session.execute(select(t.consents).where(t.consents.c.person_id == person_id)
                           .order_by(t.consents.c.given_at.desc())).all()
    return [(r.intake_id, _consent(r)) for r in rows]


def get_consent(session: Session, consent_id: str) -> tuple[str, Consent] | None:
    row = session.execute(select(t.consents).where(t.consents.c.id == consent_id)).first()
    return (row.person_id, _consent(row)) if row else None


def coarse_consents(session: Session, consent_ids: Iterable[str],
                    ) -> dict[str, tuple[str, Consent]]:
    """Those of these consents that are for the routed partners (partner NULL), as
    {id: (person id, consent)}: one SELECT, its rows locked (FOR UPDATE on PostgreSQL) in id
    order, so two batches copying the same consent take turns."""
    c = t.consents.c
    found: dict[str, tuple[str, Consent]] = {}
    for chunk in _chunks(sorted(set(consent_ids))):
        for r in session.execute(select(t.consents).where(c.id.in_(chunk), c.partner.is_(None))
                                 .order_by(c.id).with_for_update()):
            found[r.id] = (r.person_id, _consent(r))
    return found


def consents_derived_from(session: Session, person_ids: Iterable[str],
                          consent_ids: Iterable[str]) -> list[tuple[str, Consent]]:
    """(person id, consent) of these persons' consents copied from one of `consent_ids`
    (withdrawn ones too): one SELECT, through the index on the person."""
    persons, sources = sorted(set(person_ids)), sorted(set(consent_ids))
    if not persons or not sources:
        return []
    c = t.consents.c
    rows = session.execute(select(t.consents).where(c.person_id.in_(persons),
                                                    c.derived_from.in_(sources))).all()
    return [(r.person_id, _consent(r)) for r in rows]


def save_withdrawal(session: Session, consent: Consent) -> None:
    session.execute(update(t.consents).where(t.consents.c.id == str(consent.id)).values(
        withdrawn_at=consent.withdrawn_at, withdrawn_by=consent.withdrawn_by,
        withdrawal_reason=consent.withdrawal_reason))


def move_consents(session: Session, consent_ids: list[str], person_id: str) -> None:
    if consent_ids:
        session.execute(update(t.consents).where(t.consents.c.id.in_(consent_ids))
                        .values(person_id=person_id))


# --- merges ----------------------------------------------------------------------------------

def add_merge(session: Session, merge_id: str, survivor: str, merged: str, moved: dict,
              by: str, now: datetime, reason: str | None) -> None:
    session.execute(t.person_merges.insert().values(
        id=merge_id, survivor_id=survivor, merged_id=merged, moved=moved, merged_by=by,
        merged_at=now, reason=reason))


def get_merge(session: Session, merge_id: str):
    return session.execute(select(t.person_merges).where(t.person_merges.c.id == merge_id)
                           ).first()


def merges_of(session: Session, person_id: str) -> list:
    m = t.person_merges
    return session.execute(select(m).where(or_(m.c.survivor_id == person_id,
                                               m.c.merged_id == person_id))
                           .order_by(m.c.merged_at.desc())).all()


def mark_merge_undone(session: Session, merge_id: str, by: str, now: datetime) -> None:
    session.execute(update(t.person_merges).where(t.person_merges.c.id == merge_id)
                    .values(undone_by=by, undone_at=now))


# --- referral read model ---------------------------------------------------------------------

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
                        r.updated_at, r.overdue_since, r.appointment, r.for_member)


def referral_views(session: Session, referral_ids: Iterable[str]) -> dict[str, ReferralView]:
    """The stored views of these referrals, by referral id: one SELECT (per
    ROWS_PER_STATEMENT ids)."""
    r = t.intake_referrals
    found: dict[str, ReferralView] = {}
    for chunk in _chunks(sorted(set(referral_ids))):
        for row in session.execute(select(r).where(r.c.referral_id.in_(chunk))):
            found[row.referral_id] = _referral(row)
    return found


_VIEW_COLUMNS = ("intake_id", "need", "partner", "service", "status", "reason",
                 "partner_case_ref", "version", "updated_at", "overdue_since", "appointment",
                 "for_member")


def _view_values(view: ReferralView) -> dict:
    """The columns a view's event sets (a new status ends an overdue mark)."""
    return dict(intake_id=str(view.intake_id), need=view.need, partner=view.partner,
                service=view.service, status=view.status, reason=view.reason,
                partner_case_ref=view.partner_case_ref, version=view.version,
                updated_at=view.updated_at, overdue_since=None, appointment=view.appointment,
                for_member=view.for_member)


# Built once (executemany): a stored view takes a view of a higher version only, as
# domain.newer says, checked again by the database against the row as it is when written.
_UPDATE_VIEW = (update(t.intake_referrals)
                .where(t.intake_referrals.c.referral_id == bindparam("v_referral_id"),
                       t.intake_referrals.c.version < bindparam("v_version"))
                .values({c: bindparam(f"v_{c}") for c in _VIEW_COLUMNS}))


@functools.cache
def _insert_views(dialect: str):
    """Built once per dialect, run as an executemany (sent as multi-row INSERTs): VALUES
    rendered per batch cost more to compile and convert than the database's work."""
    r = t.intake_referrals
    insert = UPSERT_INSERTS[dialect](r)
    return insert.on_conflict_do_update(
        index_elements=[r.c.referral_id], set_={c: insert.excluded[c] for c in _VIEW_COLUMNS},
        where=r.c.version < insert.excluded.version)


def save_referral_views(session: Session, new: Sequence[ReferralView],
                        stored: Sequence[ReferralView]) -> None:
    """Insert views not stored yet (one multi-row statement per ROWS_PER_STATEMENT) and
    update stored ones (one executemany), each in referral id order. Both write a view only
    over a lower version (domain.newer, in SQL): a batch racing another one over the same
    referral keeps the higher version, and an insert meeting a row inserted meanwhile
    updates it instead of failing."""
    if new:
        session.execute(_insert_views(session.get_bind().dialect.name), [
            {"referral_id": str(v.referral_id), **_view_values(v)}
            for v in sorted(new, key=lambda v: str(v.referral_id))])
    if stored:
        session.execute(_UPDATE_VIEW, [
            {"v_referral_id": str(v.referral_id),
             **{f"v_{c}": value for c, value in _view_values(v).items()}}
            for v in sorted(stored, key=lambda v: str(v.referral_id))])


def mark_referral_overdue(session: Session, referral_id: str, at: str) -> None:
    session.execute(update(t.intake_referrals)
                    .where(t.intake_referrals.c.referral_id == referral_id)
                    .values(overdue_since=datetime.fromisoformat(at)))
