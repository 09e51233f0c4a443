"""The intake's view of its referrals in batches (services/intake/tracking.py): the same
events one by one, in one batch, or through delivery (and its retry message by message) end
in the same rows, and a batch of 50 costs a bounded number of statements, not some per
event."""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select

from services.intake import repository, tracking
from services.intake import tables as t
from services.intake.consumers import SUBSCRIPTIONS
from services.intake.domain import Consent, Person, ReferralView
from shared.bus.delivery import Verdict, deliver_batch
from shared.events.envelope import new_envelope, parse_envelope

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
NAMESPACE = uuid.UUID("6f1c3a52-3c1e-4a51-9d0e-2b8f1f0c7a11")
[TRACK] = [s for s in SUBSCRIPTIONS if s.name == "track_referral"]


def uid(name: str) -> str:
    """The same ids in every run, so rows of SQLite and PostgreSQL can be compared."""
    return str(uuid.uuid5(NAMESPACE, name))


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


PERSON, OTHER = uid("person"), uid("other person")
COARSE = uid("coarse consent")  # for the routed partners: copied per partner
WELFARE_ONLY = uid("consent for welfare")  # for one partner: no copy
COPIED_BEFORE = uid("coarse consent copied for welfare before")
OTHERS_COARSE = uid("coarse consent of the other person")


class Referral:
    """Events of one referral as the referral service publishes them (on the wire)."""

    def __init__(self, name: str, intake: str = "intake", need: str = "living_costs"):
        self.id, self.intake_id, self.need = uid(name), uid(intake), need

    def _wire(self, event_type: str, data: dict, when: float) -> str:
        e = new_envelope(event_type, 1, "referral", f"referral/{self.id}", data)
        return replace(e, time=at(when)).to_json()

    def requested(self, when: float, partner: str = "welfare", consent: str | None = None,
                  person: str = PERSON, version: int = 1) -> str:
        return self._wire("referral.requested", {
            "referral_id": self.id, "intake_id": self.intake_id, "intake_reference": "LT-1",
            "need": self.need, "partner": partner, "service": "sgb2",
            "routing_reason": "rule:living_costs", "status": "requested", "version": version,
            "requested_at": at(when), "residence_status": "TEMP_PROTECTION_24",
            "person": {"given_name": "Olena", "family_name": "Kovalenko",
                       "birth_date": "1987-03-14", "nationality": "UA", "languages": ["uk"]},
            "consent_method": "signed_form", "person_id": person, "consent_id": consent},
            when)

    def status(self, status: str, version: int, when: float, partner: str = "welfare",
               reason: str | None = None, case_ref: str | None = "C-1",
               appointment: dict | None = None) -> str:
        return self._wire("referral.status_changed", {
            "referral_id": self.id, "intake_id": self.intake_id, "need": self.need,
            "partner": partner, "service": "sgb2", "status": status,
            "previous_status": "requested", "reason": reason, "partner_case_ref": case_ref,
            "version": version, "changed_at": at(when), "changed_by": f"partner:{partner}",
            "appointment": appointment}, when)


def seed(deps) -> None:
    """Two persons with their consents, a copy made before, and a view stored before."""
    with deps.uow() as uow:
        for person_id, name in ((PERSON, "Olena"), (OTHER, "Taras")):
            repository.save_person(uow.session, uuid.UUID(person_id), Person(
                name, "Kovalenko", date(1987, 3, 14), "UA", ("uk",)), [], at(-10),
                exists=False)

        def consent(consent_id: str, partner: str | None, **more) -> Consent:
            return Consent(True, "signed_form", "uk", partner=partner,
                           information_version="2026-01", id=uuid.UUID(consent_id),
                           given_at=at(-10), recorded_by="staff", **more)

        repository.add_consents(uow.session, uuid.UUID(PERSON), uuid.UUID(uid("intake")), [
            consent(COARSE, None), consent(WELFARE_ONLY, "welfare"),
            consent(COPIED_BEFORE, None)])
        repository.add_consents(uow.session, uuid.UUID(PERSON), None, [consent(
            uid("the copy made before"), "welfare", derived_from=uuid.UUID(COPIED_BEFORE))])
        repository.add_consents(uow.session, uuid.UUID(OTHER), None,
                                [consent(OTHERS_COARSE, None)])
        stored = Referral("stored before")
        repository.save_referral_views(uow.session, new=[ReferralView(
            uuid.UUID(stored.id), uuid.UUID(stored.intake_id), stored.need, "welfare", "sgb2",
            "accepted", None, "C-0", 2, at(-5))], stored=[])
        repository.mark_referral_overdue(uow.session, stored.id, at(-1).isoformat())
        uow.commit()


def scenario(ties: bool = True) -> list[str]:
    """Events in the order the intake receives them (out of order, repeated, stale); with
    `ties`, also two different events of one referral version, where the first one wins."""
    a, b, c, d, e = (Referral(name) for name in "abcde")
    f, g, stored = Referral("f"), Referral("g"), Referral("stored before")
    events = [
        # two versions of one referral in one batch, the newer first, then the older
        a.status("in-progress", 3, 2, case_ref="C-A"), a.requested(0, consent=COARSE),
        a.status("accepted", 2, 1, case_ref="C-A"),
        # the older first, then the newer (with an appointment)
        b.requested(0, partner="registration", consent=COARSE),
        b.status("accepted", 2, 1, partner="registration", case_ref="R-1", appointment={
            "starts_at": at(30).isoformat(), "location": "Bürgeramt Mitte, Raum 2",
            "bring": ["passport"]}),
        # the same coarse consent for a second partner, and again for the first one
        c.requested(0, partner="jobcenter", consent=COARSE),
        d.requested(0, partner="welfare", consent=COARSE),
        # a consent for one partner needs no copy; an unknown consent is no consent
        e.requested(0, consent=WELFARE_ONLY), f.requested(0, consent=uid("nobody's")),
        # copied for welfare before; for jobcenter not yet; another person's coarse consent
        g.requested(0, partner="welfare", consent=COPIED_BEFORE),
        Referral("h").requested(0, partner="jobcenter", consent=COPIED_BEFORE),
        Referral("i").requested(0, partner="welfare", consent=OTHERS_COARSE, person=OTHER),
        # a stored view: a stale version is ignored, a newer one ends its overdue mark
        stored.status("requested", 1, -6), stored.status("completed", 3, 4, case_ref="C-0"),
        # a repeated event (republished with a new id) and a rejection with its reason
        c.requested(0, partner="jobcenter", consent=COARSE),
        f.status("rejected", 2, 3, reason="not_eligible", case_ref=None),
    ]
    if ties:  # one version told twice, differently: the first one stays
        events += [e.status("accepted", 2, 5, case_ref="E-1"),
                   e.status("accepted", 2, 6, case_ref="E-2")]
    return events


def rows(deps) -> tuple[list, list]:
    """Every referral view, and every consent with a copy's random id replaced by what
    it copies and for whom."""
    with deps.session_factory() as s:
        views = s.execute(select(t.intake_referrals)
                          .order_by(t.intake_referrals.c.referral_id)).all()
        consents = sorted((copied(r), *r[1:]) for r in s.execute(select(t.consents)))
    return views, consents


def copied(consent) -> tuple:
    if consent.derived_from and consent.id != uid("the copy made before"):
        return ("copy", consent.derived_from, consent.partner)
    return ("id", consent.id)


def feed(deps, bodies: list[str], batch: int | None) -> None:
    """Through the per-event handler (`batch` None) or the batch handler, `batch` a time."""
    envelopes = [parse_envelope(b) for b in bodies]
    size = batch or 1
    for start in range(0, len(envelopes), size):
        with deps.uow() as uow:
            if batch is None:
                tracking.track_referral(envelopes[start], uow)
            else:
                tracking.track_referrals(envelopes[start:start + size], uow)
            uow.commit()


def clear(deps) -> None:
    with deps.engine.begin() as conn:
        conn.execute(t.intake_referrals.delete())
        conn.execute(t.consents.delete())
        conn.execute(t.persons.delete())
    seed(deps)


def expected_facts(views: list, consents: list) -> None:
    """What the scenario must leave, read off the rows (not only the same rows both ways)."""
    by_id = {r[0]: r for r in views}
    assert len(views) == 10
    a, b, e, f = (by_id[uid(n)] for n in "abef")
    stored = by_id[uid("stored before")]
    assert (a.status, a.version, a.partner_case_ref, a.updated_at) == (
        "in-progress", 3, "C-A", at(2))
    assert (b.status, b.version, b.appointment["location"]) == (
        "accepted", 2, "Bürgeramt Mitte, Raum 2")
    assert (e.status, e.partner_case_ref) == ("accepted", "E-1")
    assert (f.status, f.reason, f.partner_case_ref) == ("rejected", "not_eligible", None)
    assert by_id[uid("c")].reason == "rule:living_costs"
    assert (stored.status, stored.version, stored.overdue_since) == ("completed", 3, None)
    copies = sorted(c[0][1:] for c in consents if c[0][0] == "copy")
    assert copies == sorted([(COARSE, "jobcenter"), (COARSE, "registration"),
                             (COARSE, "welfare"), (COPIED_BEFORE, "jobcenter"),
                             (OTHERS_COARSE, "welfare")])
    other_copy = next(c for c in consents if c[0] == ("copy", OTHERS_COARSE, "welfare"))
    assert other_copy[1] == OTHER  # the person of the consent copied
    assert other_copy[2] is None  # a copy belongs to no intake


def test_one_by_one_in_batches_and_through_delivery_end_in_the_same_rows(intake_deps):
    seed(intake_deps)
    events = scenario()
    feed(intake_deps, events, batch=None)
    one_by_one = rows(intake_deps)
    expected_facts(*one_by_one)

    for batch in (50, 3, 2):
        clear(intake_deps)
        feed(intake_deps, events, batch=batch)
        assert rows(intake_deps) == one_by_one, batch

    clear(intake_deps)
    outcomes = deliver_batch(events, TRACK, intake_deps.uow)
    assert [o.verdict for o in outcomes] == [Verdict.ACK] * len(events)
    assert rows(intake_deps) == one_by_one
    # delivered again (a redelivery): the inbox drops them, nothing changes
    assert {o.reason for o in deliver_batch(events, TRACK, intake_deps.uow)} == {"duplicate"}
    assert rows(intake_deps) == one_by_one


@pytest.mark.parametrize("order", ["newer first", "older first"])
def test_two_versions_of_one_referral_in_one_batch_keep_the_newer(intake_deps, order):
    seed(intake_deps)
    r = Referral("two versions")
    events = [r.requested(0, consent=COARSE), r.status("accepted", 2, 1, case_ref="C-9")]
    if order == "newer first":
        events.reverse()
    feed(intake_deps, events, batch=None)
    one_by_one = rows(intake_deps)
    clear(intake_deps)
    feed(intake_deps, events, batch=2)
    assert rows(intake_deps) == one_by_one
    [view] = [v for v in one_by_one[0] if v.referral_id == r.id]
    assert (view.status, view.version, view.partner_case_ref) == ("accepted", 2, "C-9")


def test_a_batch_failing_is_retried_one_by_one_with_the_same_rows(intake_deps, monkeypatch):
    seed(intake_deps)
    events = scenario()
    feed(intake_deps, events, batch=None)
    one_by_one = rows(intake_deps)
    clear(intake_deps)

    def failing(envelopes, uow):
        raise RuntimeError("the batch fails")

    outcomes = deliver_batch(events, replace(TRACK, batch_handler=failing), intake_deps.uow)
    assert [o.verdict for o in outcomes] == [Verdict.ACK] * len(events)
    assert rows(intake_deps) == one_by_one


class Statements:
    """The statements an engine runs (BEGIN aside), by kind."""

    def __init__(self, engine):
        self.seen: list[str] = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, *_args):
        kind = statement.split(None, 1)[0].upper()
        if kind != "BEGIN":
            self.seen.append(kind)


def fifty_events() -> list[str]:
    """A batch as a worker takes it: 25 referrals, each requested (a coarse consent, for
    alternating partners) and accepted, 10 of them known before."""
    events = []
    for i in range(25):
        r, partner = Referral(f"busy {i}"), ("welfare", "jobcenter")[i % 2]
        events += [r.requested(0, partner=partner, consent=COARSE),
                   r.status("accepted", 2, 1, partner=partner)]
    return events


def test_a_batch_of_fifty_takes_six_statements(intake_deps):
    seed(intake_deps)
    events = [parse_envelope(b) for b in fifty_events()]
    with intake_deps.uow() as uow:  # 10 referrals known before (version 1)
        repository.save_referral_views(uow.session, new=[ReferralView(
            uuid.UUID(requested.data["referral_id"]), uuid.UUID(uid("intake")), "living_costs",
            None, None, "requested", None, None, 1, at(0)) for requested in events[:20:2]],
            stored=[])
        uow.commit()
    statements = Statements(intake_deps.engine)
    with intake_deps.uow() as uow:
        tracking.track_referrals(events, uow)
        uow.commit()
    # views: SELECT, one multi-row INSERT (15 new), one executemany UPDATE (10 known);
    # consents: the coarse ones, the copies made before, one INSERT of the new copies
    assert statements.seen == ["SELECT", "INSERT", "UPDATE", "SELECT", "SELECT", "INSERT"]
    views, consents = rows(intake_deps)
    assert len(views) == 26 and {v.status for v in views} == {"accepted"}
    assert sorted(c[0][2] for c in consents
                  if c[0][:2] == ("copy", COARSE)) == ["jobcenter", "welfare"]


def test_delivering_a_batch_of_fifty_takes_a_bounded_number_of_statements(intake_deps):
    seed(intake_deps)
    statements = Statements(intake_deps.engine)
    outcomes = deliver_batch(fifty_events(), TRACK, intake_deps.uow)
    assert [o.verdict for o in outcomes] == [Verdict.ACK] * 50
    # the inbox insert and the tombstone query of the delivery, and the six of the handler
    # at most (no view is known before here: no UPDATE)
    assert len(statements.seen) <= 8, statements.seen


@pytest.mark.parametrize("seen_before", ["an older version", "nothing"])
def test_a_view_written_meanwhile_by_a_racing_batch_is_not_overwritten(
        intake_deps, monkeypatch, seen_before):
    """The stored view read at the start of a batch may be outdated by a batch committing
    meanwhile (PostgreSQL, several workers): the database checks the version again, for an
    update as for an insert meeting the row."""
    seed(intake_deps)
    r = Referral("raced")
    feed(intake_deps, [r.requested(0), r.status("accepted", 2, 1),
                       r.status("in-progress", 3, 2)], batch=3)
    racing_won = rows(intake_deps)
    with intake_deps.session_factory() as s:
        stale = {} if seen_before == "nothing" else {r.id: replace(
            repository.referral_views(s, [r.id])[r.id], version=1)}
    monkeypatch.setattr(repository, "referral_views", lambda *_: stale)
    feed(intake_deps, [r.status("accepted", 2, 1, case_ref="LATE")], batch=1)
    assert rows(intake_deps) == racing_won
