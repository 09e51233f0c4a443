"""Erasure (Art. 17) in each service on its own: what goes, what stays (ids), and that a
late event about an erased person is dropped instead of recreating data."""
from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text, update

from services.intake import erasure as intake_erasure
from services.intake import handlers as intake_handlers
from services.intake import tables as intake_tables
from services.intake.consumers import SUBSCRIPTIONS as INTAKE_SUBS
from services.intake.domain import Address, Consent, Contact, HouseholdMember, OtherName, Person
from services.ops import dead_letters
from services.ops import erasure as ops_erasure
from services.ops import tables as ops_tables
from services.ops.bootstrap import bootstrap as ops_bootstrap
from services.ops.consumers import SUBSCRIPTIONS as OPS_SUBS
from services.partner_adapter import handlers as adapter_handlers
from services.partner_adapter import notices
from services.partner_adapter import tables as adapter_tables
from services.partner_adapter.consumers import SUBSCRIPTIONS as ADAPTER_SUBS
from services.referral import tables as referral_tables
from services.referral.consumers import SUBSCRIPTIONS as REFERRAL_SUBS
from shared.bus.delivery import Verdict, deliver
from shared.bus.parking import ParkedMessage
from shared.db import migrate
from shared.events.envelope import new_envelope
from tests.fakes import FakePartnerGateway

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
NAME, NATIVE = "Zyxtrelda", "Кворванек"


def sub(subscriptions, name):
    return next(s for s in subscriptions if s.name == name)


def all_text(deps) -> str:
    """Every value of every table of the service's database, as one lowercase text."""
    out = []
    with deps.engine.connect() as conn:
        for table in deps.engine.dialect.get_table_names(conn):
            out += [" ".join(map(str, r)) for r in conn.execute(text(f'SELECT * FROM "{table}"'))]
    return "\n".join(out).lower()


def person() -> Person:
    return Person(NAME, "Quorvanek", date(1979, 11, 23), "UA", ("uk",),
                  other_names=(OtherName("Зіксрельда", NATIVE),),
                  contact=Contact("+49 176 98765431", "zyx@example.org",
                                  Address("Wurmbergstraße 77", "44135", "Dortmund")),
                  household=(HouseholdMember("Plimwinna", "Quorvanek", "child",
                                             date(2016, 2, 29)),))


def record(deps, p: Person, person_id=None) -> uuid.UUID:
    return intake_handlers.record_intake(intake_handlers.RecordIntake(
        p, "TEMP_PROTECTION_24", "infopoint", ("living_costs",),
        Consent(True, "signed_form", "uk"), "staff", person_id=person_id), deps.uow(),
        lambda: NOW).id


def erasure_event(person_id: str, intake_ids=(), referral_ids=(), request_id=None) -> str:
    return new_envelope("person.erasure_requested", 1, "intake", f"person/{person_id}", {
        "request_id": request_id or str(uuid.uuid4()), "person_id": person_id,
        "person_ids": [person_id], "intake_ids": list(intake_ids),
        "referral_ids": list(referral_ids), "requested_at": NOW}).to_json()


def status_changed(referral_id: str, intake_id: str, status: str = "accepted") -> str:
    return new_envelope("referral.status_changed", 1, "referral", f"referral/{referral_id}", {
        "referral_id": referral_id, "intake_id": intake_id, "need": "living_costs",
        "partner": "jobcenter", "service": "sgb2", "status": status,
        "previous_status": "requested", "reason": None, "partner_case_ref": "JC-1",
        "version": 2, "changed_at": NOW, "changed_by": "partner:jobcenter"}).to_json()


def outbox(deps, table) -> list[dict]:
    with deps.session_factory() as s:
        return [json.loads(r.body) for r in s.execute(select(table.c.body)
                                                       .order_by(table.c.id))]


# --- intake ------------------------------------------------------------------------------------

def test_erasing_a_person_removes_them_and_their_merged_duplicate_from_the_intake(intake_deps):
    survivor_intake = record(intake_deps, person())
    with intake_deps.session_factory() as s:
        survivor = s.execute(select(intake_tables.intakes.c.person_id)).scalar()
    duplicate_intake = record(intake_deps, person())
    with intake_deps.session_factory() as s:
        duplicate = s.execute(select(intake_tables.intakes.c.person_id).where(
            intake_tables.intakes.c.id == str(duplicate_intake))).scalar()
    intake_handlers.merge_persons(uuid.UUID(survivor), uuid.UUID(duplicate), "staff",
                                  "same passport", intake_deps.uow(), lambda: NOW)
    referral_id = str(uuid.uuid4())
    track = sub(INTAKE_SUBS, "track_referral")
    deliver(status_changed(referral_id, str(survivor_intake)), track, intake_deps.uow)
    assert NAME.lower() in all_text(intake_deps) and NATIVE.lower() in all_text(intake_deps)

    request = intake_erasure.erase_person(intake_deps.uow(), duplicate, requested_by="admin",
                                          reason="request of the person", now=NOW)

    assert request.person_id == survivor  # the duplicate forwards to the one human
    assert set(request.subjects["person"]) == {survivor, duplicate}
    assert set(request.subjects["intake"]) == {str(survivor_intake), str(duplicate_intake)}
    assert request.subjects["referral"] == [referral_id]
    assert request.pending == ["referral", "partner_adapter", "ops", "reporting"]
    everything = all_text(intake_deps)
    for value in (NAME, "quorvanek", NATIVE, "1979-11-23", "98765431", "zyx@example.org",
                  "wurmbergstraße", "plimwinna", "same passport"):
        assert value.lower() not in everything, value
    [event] = outbox(intake_deps, intake_tables.outbox)  # every earlier event was scrubbed
    assert event["type"] == "person.erasure_requested"
    assert event["data"]["referral_ids"] == [referral_id]
    with intake_deps.session_factory() as s:
        assert intake_erasure.request_for(s, duplicate).id == request.id
    with pytest.raises(intake_erasure.AlreadyErased):
        intake_erasure.erase_person(intake_deps.uow(), survivor, requested_by="admin",
                                    reason="again", now=NOW)
    with pytest.raises(LookupError):
        intake_erasure.erase_person(intake_deps.uow(), str(uuid.uuid4()), requested_by="admin",
                                    reason="nobody", now=NOW)


def test_a_late_referral_event_does_not_recreate_the_erased_intake_s_referral(intake_deps):
    intake_id = str(record(intake_deps, person()))
    with intake_deps.session_factory() as s:
        person_id = s.execute(select(intake_tables.intakes.c.person_id)).scalar()
    intake_erasure.erase_person(intake_deps.uow(), person_id, requested_by="admin",
                                reason="request", now=NOW)
    outcome = deliver(status_changed(str(uuid.uuid4()), intake_id),
                      sub(INTAKE_SUBS, "track_referral"), intake_deps.uow)
    assert outcome.verdict is Verdict.ACK
    with intake_deps.session_factory() as s:
        assert s.execute(select(intake_tables.intake_referrals)).all() == []


def test_the_request_completes_when_every_service_confirmed(intake_deps):
    record(intake_deps, person())
    with intake_deps.session_factory() as s:
        person_id = s.execute(select(intake_tables.intakes.c.person_id)).scalar()
    request = intake_erasure.erase_person(intake_deps.uow(), person_id, requested_by="admin",
                                          reason="request", now=NOW)
    confirm = sub(INTAKE_SUBS, "erasure_confirmations")

    def confirmed(service, **extra):
        body = new_envelope("person.erased", 1, service, f"person/{person_id}", {
            "request_id": request.id, "person_id": person_id, "service": service,
            "erased_at": NOW + timedelta(seconds=1), **extra}).to_json()
        assert deliver(body, confirm, intake_deps.uow).verdict is Verdict.ACK
        with intake_deps.session_factory() as s:
            return intake_erasure.request_for(s, request.id)

    assert confirmed("referral").completed_at is None
    assert confirmed("partner_adapter", partners_notified=["jobcenter"]).pending == [
        "ops", "reporting"]
    assert confirmed("ops").pending == ["reporting"]
    done = confirmed("reporting")
    assert done.completed_at is not None and done.pending == []
    assert done.partners_notified == ["jobcenter"]


def test_a_request_opened_before_reporting_existed_completes_without_it(intake_deps):
    record(intake_deps, person())
    with intake_deps.session_factory() as s:
        person_id = s.execute(select(intake_tables.intakes.c.person_id)).scalar()
    request = intake_erasure.erase_person(intake_deps.uow(), person_id, requested_by="admin",
                                          reason="request", now=NOW)
    assert request.confirming == intake_erasure.CONFIRMING_SERVICES
    with intake_deps.session_factory() as s:  # as a request of the time before stands
        s.execute(update(intake_tables.erasure_requests).values(confirming=None))
        s.commit()
    confirm = sub(INTAKE_SUBS, "erasure_confirmations")
    for service in ("referral", "partner_adapter", "ops"):
        body = new_envelope("person.erased", 1, service, f"person/{person_id}", {
            "request_id": request.id, "person_id": person_id, "service": service,
            "erased_at": NOW + timedelta(seconds=1)}).to_json()
        assert deliver(body, confirm, intake_deps.uow).verdict is Verdict.ACK
    with intake_deps.session_factory() as s:
        done = intake_erasure.request_for(s, request.id)
    assert done.completed_at is not None and done.pending == []
    assert "reporting" not in done.confirming


# --- referral ----------------------------------------------------------------------------------

def intake_recorded(intake_id: str, person_id: str) -> str:
    return new_envelope("intake.recorded", 2, "intake", f"intake/{intake_id}", {
        "intake_id": intake_id, "person_id": person_id, "reference": "LT-2026-ERASE1",
        "recorded_at": NOW, "recorded_by": "staff", "site": "infopoint", "channel": "in_person",
        "person": {"given_name": NAME, "family_name": "Quorvanek", "birth_date": "1979-11-23",
                   "nationality": "UA", "nationalities": ["UA"], "languages": ["uk"],
                   "preferred_language": "uk", "interpreter": "none", "household": []},
        "residence": {"status": "TEMP_PROTECTION_24", "legal_basis": None,
                      "document_type": None, "valid_until": None,
                      "first_issue_date": "2022-04-01"},
        "arrival_date": None, "needs": [{"code": "living_costs", "urgency": "normal"}],
        "consents": [{"consent_id": str(uuid.uuid4()), "partner": None,
                      "method": "signed_form", "language": "uk", "purpose": "referral",
                      "information_version": None}]}).to_json()


def test_the_referral_service_erases_referrals_the_intake_had_not_heard_of(referral_deps):
    intake_id, person_id = str(uuid.uuid4()), str(uuid.uuid4())
    open_referrals = sub(REFERRAL_SUBS, "open_referrals")
    assert deliver(intake_recorded(intake_id, person_id), open_referrals,
                   referral_deps.uow).verdict is Verdict.ACK
    with referral_deps.session_factory() as s:
        [referral_id] = [r.id for r in s.execute(select(referral_tables.referrals.c.id))]
    assert NAME.lower() in all_text(referral_deps)

    erase = sub(REFERRAL_SUBS, "erase_person")
    assert deliver(erasure_event(person_id, [intake_id]), erase,
                   referral_deps.uow).verdict is Verdict.ACK

    assert NAME.lower() not in all_text(referral_deps)
    with referral_deps.session_factory() as s:  # nor the consents that name the person
        assert s.execute(select(referral_tables.consents)).all() == []
    [confirmation] = outbox(referral_deps, referral_tables.outbox)
    assert confirmation["type"] == "person.erased"
    assert confirmation["data"]["referral_ids"] == [referral_id]
    late = json.loads(intake_recorded(intake_id, person_id))  # the same intake, re-sent
    assert deliver(json.dumps(late), open_referrals, referral_deps.uow).verdict is Verdict.ACK
    assert NAME.lower() not in all_text(referral_deps)
    with referral_deps.session_factory() as s:
        assert s.execute(select(referral_tables.referrals)).all() == []


# --- partner adapter ---------------------------------------------------------------------------

def referral_requested(referral_id: str, intake_id: str, person_id: str) -> str:
    return new_envelope("referral.requested", 1, "referral", f"referral/{referral_id}", {
        "referral_id": referral_id, "intake_id": intake_id, "intake_reference": "LT-2026-X",
        "need": "living_costs", "partner": "jobcenter", "service": "sgb2",
        "routing_reason": "SGB2", "status": "requested", "version": 1, "requested_at": NOW,
        "residence_status": "TEMP_PROTECTION_24", "person_id": person_id,
        "person": {"given_name": NAME, "family_name": "Quorvanek", "birth_date": "1979-11-23",
                   "nationality": "UA", "languages": ["uk"]},
        "consent_method": "signed_form"}).to_json()


def open_cases(deps, gateway) -> None:
    with deps.session_factory() as s:
        ids = [r.id for r in s.execute(select(adapter_tables.partner_cases.c.id))]
    for case_id in ids:
        adapter_handlers.open_partner_case(case_id, deps.uow, {"jobcenter": gateway})


def test_the_adapter_notifies_the_partner_then_scrubs_the_case(adapter_deps):
    referral_id, intake_id, person_id = (str(uuid.uuid4()) for _ in range(3))
    request = sub(ADAPTER_SUBS, "request_partner_case")
    deliver(referral_requested(referral_id, intake_id, person_id), request, adapter_deps.uow)
    open_cases(adapter_deps, FakePartnerGateway(prefix="JC"))
    assert NAME.lower() in all_text(adapter_deps)

    erase = sub(ADAPTER_SUBS, "erase_person")
    body = erasure_event(person_id, [intake_id], [referral_id])
    assert deliver(body, erase, adapter_deps.uow).verdict is Verdict.ACK

    with adapter_deps.session_factory() as s:
        [notice] = notices.notices_for(s, referral_ids=[referral_id])
        [case] = s.execute(select(adapter_tables.partner_cases)).all()
    assert (notice.kind, notice.partner, notice.partner_case_ref) == ("erasure", "jobcenter",
                                                                     "JC-1")
    assert case.request["erased"] is True and case.partner_case_ref == "JC-1"
    assert NAME.lower() not in all_text(adapter_deps)
    [confirmation] = [e for e in outbox(adapter_deps, adapter_tables.outbox)
                      if e["type"] == "person.erased"]
    assert confirmation["data"]["partners_notified"] == ["jobcenter"]
    assert not [e for e in outbox(adapter_deps, adapter_tables.outbox)
                if e["type"].startswith("partner_case.")]  # the stored events went too
    # the referral event again (retried, replayed): no case with the person's data returns
    late = json.loads(referral_requested(referral_id, intake_id, person_id))
    assert deliver(json.dumps(late), request, adapter_deps.uow).verdict is Verdict.ACK
    assert NAME.lower() not in all_text(adapter_deps)


def test_the_portal_lists_an_erased_case_without_the_person_for_its_partner_and_operators(
        adapter_deps, settings):
    from services.partner_adapter.app import create_app
    from shared.auth import Principal, issue_token

    intake_id, person_id, referral_id = (str(uuid.uuid4()) for _ in range(3))
    body = json.loads(referral_requested(referral_id, intake_id, person_id))
    body["data"].update(partner="sozialamt", service="sgb12", consent_id=str(uuid.uuid4()))
    request = sub(ADAPTER_SUBS, "request_partner_case")
    assert deliver(json.dumps(body), request, adapter_deps.uow).verdict is Verdict.ACK
    with adapter_deps.session_factory() as s:
        [case_id] = s.execute(select(adapter_tables.partner_cases.c.id)).scalars()
    assert adapter_handlers.open_partner_case(case_id, adapter_deps.uow, {}) == "opened"
    erase = sub(ADAPTER_SUBS, "erase_person")
    assert deliver(erasure_event(person_id, [intake_id], [referral_id]), erase,
                   adapter_deps.uow).verdict is Verdict.ACK

    app = create_app(settings.for_service("partner_adapter"), adapter_deps)
    for who in (Principal("sozialamt", "partner", "sozialamt"), Principal("otto", "operator")):
        page = app.test_client().get("/partner/cases", headers={
            "Authorization": f"Bearer {issue_token(app.secret_key, who)}",
            "Accept-Language": "en"})
        html = page.get_data(as_text=True)
        assert page.status_code == 200, who
        assert "Data erased" in html and NAME not in html


def test_an_erasure_during_the_partner_call_still_records_the_delivery_and_tells_it(
        adapter_deps):
    """The erasure arrives while the partner is opening the case: the partner holds the data
    now, so its reference and a disclosure are recorded (scrubbed) and it gets the erasure
    notice; nothing about the person is published."""
    referral_id, intake_id, person_id = (str(uuid.uuid4()) for _ in range(3))
    deliver(referral_requested(referral_id, intake_id, person_id),
            sub(ADAPTER_SUBS, "request_partner_case"), adapter_deps.uow)
    gateway = FakePartnerGateway(prefix="JC")
    real_open = gateway.open_case

    def open_while_erased(request, key):
        receipt = real_open(request, key)
        assert deliver(erasure_event(person_id, [intake_id], [referral_id]),
                       sub(ADAPTER_SUBS, "erase_person"), adapter_deps.uow).verdict is Verdict.ACK
        return receipt
    gateway.open_case = open_while_erased
    open_cases(adapter_deps, gateway)

    with adapter_deps.session_factory() as s:
        [case] = s.execute(select(adapter_tables.partner_cases)).all()
        [disclosure] = s.execute(select(adapter_tables.disclosures)).all()
        [notice] = notices.notices_for(s, referral_ids=[referral_id])
    assert (case.status, case.partner_case_ref, case.request["erased"]) == ("opened", "JC-1",
                                                                            True)
    assert disclosure.payload_sha256 == "erased" and "person.given_name" in disclosure.fields
    assert (notice.kind, notice.partner_case_ref, notice.status) == ("erasure", "JC-1",
                                                                    "pending")
    assert NAME.lower() not in all_text(adapter_deps)
    assert not [e for e in outbox(adapter_deps, adapter_tables.outbox)
                if e["type"].startswith("partner_case.")]


@pytest.mark.parametrize("status", ["pending", "failed"])
@pytest.mark.parametrize("partner_holds_it", [True, False])
def test_a_case_whose_answer_was_lost_is_looked_up_before_the_erasure_decides(
        adapter_deps, status, partner_holds_it):
    """An attempt's answer was lost (the partner may hold the case, Lotse has no reference),
    then the person is erased: the case is scrubbed at once, and the partner is asked, never
    sent anything again. It holds the case: the delivery is recorded and it gets the erasure
    notice. It does not: the case ends cancelled."""
    referral_id, intake_id, person_id = (str(uuid.uuid4()) for _ in range(3))
    deliver(referral_requested(referral_id, intake_id, person_id),
            sub(ADAPTER_SUBS, "request_partner_case"), adapter_deps.uow)
    gateway = FakePartnerGateway(prefix="JC", lose_answers=1)
    open_cases(adapter_deps, gateway)
    cases = adapter_tables.partner_cases
    with adapter_deps.session_factory() as s:
        s.execute(cases.update().values(status=status))  # failed: its attempts ran out
        s.commit()
    if not partner_holds_it:
        gateway.by_referral.clear()
    deliver(erasure_event(person_id, [intake_id], [referral_id]),
            sub(ADAPTER_SUBS, "erase_person"), adapter_deps.uow)
    assert NAME.lower() not in all_text(adapter_deps)
    with adapter_deps.session_factory() as s:
        assert s.execute(select(cases.c.status)).scalar_one() == "pending"

    open_cases(adapter_deps, gateway)
    assert len(gateway.calls) == 1 and gateway.lookups == [referral_id]  # asked, not sent
    with adapter_deps.session_factory() as s:
        [case] = s.execute(select(cases)).all()
        told = notices.notices_for(s, referral_ids=[referral_id])
        disclosures = s.execute(select(adapter_tables.disclosures)).all()
    assert case.request["erased"] is True and NAME.lower() not in all_text(adapter_deps)
    if partner_holds_it:
        assert (case.status, case.partner_case_ref) == ("opened", "JC-1")
        assert [(n.kind, n.partner_case_ref) for n in told] == [("erasure", "JC-1")]
        assert [d.payload_sha256 for d in disclosures] == ["erased"]
    else:
        assert (case.status, told, disclosures) == ("cancelled", [], [])
    assert not [e for e in outbox(adapter_deps, adapter_tables.outbox)
                if e["type"].startswith("partner_case.")]
    open_cases(adapter_deps, gateway)  # settled: nothing more happens
    assert len(gateway.lookups) == 1


def test_cases_of_referrals_only_the_referral_service_knew_are_erased_too(adapter_deps):
    referral_id, intake_id, person_id = (str(uuid.uuid4()) for _ in range(3))
    deliver(referral_requested(referral_id, intake_id, person_id),
            sub(ADAPTER_SUBS, "request_partner_case"), adapter_deps.uow)
    open_cases(adapter_deps, FakePartnerGateway(prefix="JC"))
    request_id = str(uuid.uuid4())
    deliver(erasure_event(str(uuid.uuid4()), [], [], request_id=request_id),
            sub(ADAPTER_SUBS, "erase_person"), adapter_deps.uow)
    assert NAME.lower() in all_text(adapter_deps)  # not named: nothing happened to it

    erased = new_envelope("person.erased", 1, "referral", f"person/{person_id}", {
        "request_id": request_id, "person_id": person_id, "service": "referral",
        "erased_at": NOW, "referral_ids": [referral_id]}).to_json()
    assert deliver(erased, sub(ADAPTER_SUBS, "erase_late_referrals"),
                   adapter_deps.uow).verdict is Verdict.ACK
    assert NAME.lower() not in all_text(adapter_deps)
    with adapter_deps.session_factory() as s:
        assert [n.kind for n in notices.notices_for(s, referral_ids=[referral_id])] == ["erasure"]


def test_a_later_scrub_keeps_the_adapter_s_confirmation_that_was_not_relayed_yet(adapter_deps):
    referral_id, intake_id, person_id = (str(uuid.uuid4()) for _ in range(3))
    request_id = str(uuid.uuid4())
    deliver(referral_requested(referral_id, intake_id, person_id),
            sub(ADAPTER_SUBS, "request_partner_case"), adapter_deps.uow)
    deliver(erasure_event(person_id, [intake_id], [referral_id], request_id=request_id),
            sub(ADAPTER_SUBS, "erase_person"), adapter_deps.uow)
    erased = new_envelope("person.erased", 1, "referral", f"person/{person_id}", {
        "request_id": request_id, "person_id": person_id, "service": "referral",
        "erased_at": NOW, "referral_ids": [referral_id]}).to_json()
    deliver(erased, sub(ADAPTER_SUBS, "erase_late_referrals"), adapter_deps.uow)
    assert [e["data"]["service"] for e in outbox(adapter_deps, adapter_tables.outbox)
            if e["type"] == "person.erased"] == ["partner_adapter"]


# --- operator console --------------------------------------------------------------------------

@pytest.fixture
def ops_deps(settings):
    s = settings.for_service("ops")
    migrate("ops", s.database_url)
    return ops_bootstrap(s)


def parked(body: str) -> ParkedMessage:
    return ParkedMessage("lotse.referral.open_referrals", json.loads(body)["id"],
                         "intake.recorded", body, "gave up", 4)


def test_the_console_drops_journal_payloads_and_dead_letters_and_confirms_after_a_collect(
        ops_deps):
    intake_id, person_id = str(uuid.uuid4()), str(uuid.uuid4())
    body = intake_recorded(intake_id, person_id)
    deliver(body, sub(OPS_SUBS, "journal"), ops_deps.uow)
    other = intake_recorded(str(uuid.uuid4()), str(uuid.uuid4())).replace(NAME, "Kovalenko")
    store = dead_letters.store_parked(ops_deps.engine)
    store([parked(body), parked(other)])
    assert NAME.lower() in all_text(ops_deps)

    erase = sub(OPS_SUBS, "erase_person")
    assert deliver(erasure_event(person_id, [intake_id]), erase,
                   ops_deps.uow).verdict is Verdict.ACK
    assert NAME.lower() not in all_text(ops_deps)
    assert "kovalenko" in all_text(ops_deps)  # another person's dead letter stays
    with ops_deps.session_factory() as s:
        assert [r.action for r in s.execute(select(ops_tables.audit))] == ["erase"]
        [entry] = s.execute(select(ops_tables.journal)).all()
    assert entry.intake_id == intake_id and entry.data == {}

    # a copy parked meanwhile is not kept when collected; the console then confirms
    store([parked(json.dumps({**json.loads(body), "id": str(uuid.uuid4())}))])
    assert NAME.lower() not in all_text(ops_deps)
    assert ops_erasure.settle(ops_deps.engine, NOW - timedelta(days=1)) == 0  # collect older
    assert ops_erasure.settle(ops_deps.engine, datetime.now(timezone.utc)) == 1
    assert [e["type"] for e in outbox(ops_deps, ops_tables.outbox)] == ["person.erased"]
    assert ops_erasure.settle(ops_deps.engine, datetime.now(timezone.utc)) == 0


# --- the admin's page --------------------------------------------------------------------------

def browser(client, username: str, password: str):
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf}).status_code == 302
    return client


def test_an_admin_erases_a_person_from_the_person_page_after_confirming(intake_client,
                                                                       intake_deps):
    from services.intake.accounts import save_account

    with intake_deps.session_factory() as s:
        save_account(s, "admin", "pw-admin", "admin")
        s.commit()
    record(intake_deps, person())
    with intake_deps.session_factory() as s:
        person_id = s.execute(select(intake_tables.intakes.c.person_id)).scalar()
    admin = browser(intake_client, "admin", "pw-admin")
    assert f"/persons/{person_id}/erasure" in admin.get(f"/persons/{person_id}").get_data(
        as_text=True)
    page = admin.get(f"/persons/{person_id}/erasure").get_data(as_text=True)
    assert 'id="erasure-form"' in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    unconfirmed = admin.post(f"/persons/{person_id}/erasure",
                             data={"reason": "request of the person", "csrf_token": csrf})
    assert unconfirmed.status_code == 302
    assert NAME.lower() in all_text(intake_deps)  # nothing erased without the tick

    admin.post(f"/persons/{person_id}/erasure", data={
        "reason": "request of the person", "confirm": "yes", "csrf_token": csrf})

    assert NAME.lower() not in all_text(intake_deps)
    status = admin.get(f"/persons/{person_id}/erasure").get_data(as_text=True)
    assert 'id="erasure-status"' in status and status.count('class="confirmation"') == 5
    assert admin.get(f"/persons/{person_id}").status_code == 404


def test_operator_notes_about_an_erased_persons_dead_letter_are_blanked(ops_deps):
    """A discard's free-text note is copied into the audit (kept for years): it may name the
    person, so it goes with the dead letter; the audit keeps that something happened."""
    intake_id, person_id = str(uuid.uuid4()), str(uuid.uuid4())
    body = intake_recorded(intake_id, person_id)
    other = intake_recorded(str(uuid.uuid4()), str(uuid.uuid4())).replace(NAME, "Kovalenko")
    dead_letters.store_parked(ops_deps.engine)([parked(body), parked(other)])
    with ops_deps.session_factory() as s:
        ids = {r.event_id: r.id for r in s.execute(select(ops_tables.dead_letters))}
    doomed, kept = ids[json.loads(body)["id"]], ids[json.loads(other)["id"]]
    dead_letters.discard(ops_deps.engine, doomed, "olga", f"{NAME} came in person", lambda: NOW)
    dead_letters.discard(ops_deps.engine, kept, "olga", "Kovalenko came in person",
                         lambda: NOW)

    assert deliver(erasure_event(person_id, [intake_id]), sub(OPS_SUBS, "erase_person"),
                   ops_deps.uow).verdict is Verdict.ACK

    assert NAME.lower() not in all_text(ops_deps)
    with ops_deps.session_factory() as s:
        audit = {(r.action, r.target): r.detail for r in s.execute(select(ops_tables.audit))}
    assert audit[("discard", f"dead_letter/{doomed}")] is None
    assert audit[("erase", f"dead_letter/{doomed}")].startswith("erasure request")
    assert "kovalenko" in audit[("discard", f"dead_letter/{kept}")].lower()  # another person's


def test_an_erasure_racing_another_of_the_same_person_is_refused(intake_deps):
    """Seen from the second of two concurrent erasures: the first one's request is in, the
    person's rows not yet gone (on PostgreSQL the second then waits for the row lock)."""
    record(intake_deps, person())
    with intake_deps.session_factory() as s:
        person_id = s.execute(select(intake_tables.intakes.c.person_id)).scalar()
        s.execute(intake_tables.erasure_requests.insert().values(
            id=str(uuid.uuid4()), person_id=person_id, subjects={"person": [person_id]},
            requested_by="admin", reason="first", requested_at=NOW))
        s.commit()

    with pytest.raises(intake_erasure.AlreadyErased):
        intake_erasure.erase_person(intake_deps.uow(), person_id, requested_by="retention",
                                    reason="second", now=NOW)

    with intake_deps.session_factory() as s:
        assert [r.reason for r in s.execute(select(intake_tables.erasure_requests))] == [
            "first"]
        assert s.execute(select(intake_tables.persons.c.id)).scalar() == person_id  # untouched


def test_an_erasure_unlinks_the_walk_in_ticket_served_with_the_persons_intake(intake_deps):
    from services.intake import walk_in_store as queue

    intake_id = str(record(intake_deps, person()))
    with intake_deps.session_factory() as s:
        person_id = s.execute(select(intake_tables.intakes.c.person_id)).scalar()
    ticket = queue.draw(intake_deps.uow, lambda: NOW, "centre", "uk", "housing")
    queue.call(intake_deps.uow, lambda: NOW, ticket.id, "anna")
    queue.close(intake_deps.uow, lambda: NOW, ticket.id, queue.TicketStatus.SERVED, intake_id)

    intake_erasure.erase_person(intake_deps.uow(), person_id, requested_by="admin",
                                reason="request of the person", now=NOW)

    kept = queue.get(intake_deps.session_factory, ticket.id)
    assert kept.intake_id is None
    assert (kept.status, kept.called_by) == (queue.TicketStatus.SERVED, "anna")  # staff's name
