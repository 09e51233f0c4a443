"""Partner adapter without a broker: pending cases, opening them, partner callbacks."""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace

import pytest
from sqlalchemy import select

from services.partner_adapter import handlers, repository, tables
from services.partner_adapter.app import create_app
from services.partner_adapter.consumers import SUBSCRIPTIONS
from shared.bus.delivery import Verdict, deliver
from shared.events.envelope import new_envelope
from shared.signing import sign
from tests.conftest import SMOKE_INTAKE, embedded_settings
from tests.fakes import FakePartnerGateway

REQUEST = SUBSCRIPTIONS[0]


def referral_requested(referral_id: str | None = None) -> str:
    rid = referral_id or str(uuid.uuid4())
    data = {"referral_id": rid, "intake_id": str(uuid.uuid4()), "intake_reference": "LT-2026-X",
            "need": "living_costs", "partner": "jobcenter", "service": "sgb2",
            "routing_reason": "SGB2", "status": "requested", "version": 1,
            "requested_at": "2026-11-21T09:00:00+00:00", "residence_status": "TEMP_PROTECTION_24",
            "person": SMOKE_INTAKE["person"], "consent_method": "signed_form"}
    return new_envelope("referral.requested", 1, "referral", f"referral/{rid}", data).to_json()


def cases(deps):
    with deps.session_factory() as s:
        return repository.listing(s)


def outbox_types(deps):
    with deps.session_factory() as s:
        return [r.event_type for r in s.execute(select(tables.outbox)).all()]


def open_all(deps, gateway):
    return [handlers.open_partner_case(c.id.__str__(), deps.uow, {"jobcenter": gateway})
            for c in cases(deps)]


def test_a_referral_event_only_records_a_pending_case(adapter_deps):
    body = referral_requested()
    assert deliver(body, REQUEST, adapter_deps.uow).verdict is Verdict.ACK
    assert deliver(body, REQUEST, adapter_deps.uow).reason == "duplicate"
    [case] = cases(adapter_deps)
    assert case.status == "pending" and outbox_types(adapter_deps) == []


def test_a_re_sent_referral_event_with_a_new_id_still_gives_one_case(adapter_deps):
    body = json.loads(referral_requested())
    deliver(json.dumps(body), REQUEST, adapter_deps.uow)
    body["id"] = str(uuid.uuid4())
    deliver(json.dumps(body), REQUEST, adapter_deps.uow)
    assert len(cases(adapter_deps)) == 1


def test_a_partner_answering_5xx_is_retried_with_the_same_key_then_one_case(adapter_deps):
    deliver(referral_requested(), REQUEST, adapter_deps.uow)
    gateway = FakePartnerGateway(fail_times=1)
    assert open_all(adapter_deps, gateway) == ["retry"]
    [case] = cases(adapter_deps)
    assert case.status == "pending" and case.attempts == 1 and "503" in case.last_error
    with adapter_deps.engine.begin() as conn:  # skip the back-off wait
        conn.execute(tables.partner_cases.update().values(next_attempt_at=case.created_at))
    assert open_all(adapter_deps, gateway) == ["opened"]
    assert len(set(gateway.calls)) == 1 and len(gateway.calls) == 2
    assert outbox_types(adapter_deps) == ["partner_case.opened"]


def test_a_refusing_partner_fails_the_case_once(adapter_deps):
    deliver(referral_requested(), REQUEST, adapter_deps.uow)
    assert open_all(adapter_deps, FakePartnerGateway(refuse=True)) == ["refused"]
    assert open_all(adapter_deps, FakePartnerGateway()) == ["not pending"]
    assert outbox_types(adapter_deps) == ["partner_case.failed"]


@pytest.fixture
def adapter_client(settings, adapter_deps):
    app = create_app(settings.for_service("partner_adapter"), adapter_deps)
    return app.test_client()


def callback(client, settings, body: dict, secret: str | None = None, partner="jobcenter",
             timestamp: int | None = None, raw: bytes | None = None, headers=None):
    raw = raw or json.dumps(body).encode()
    headers = headers or sign(secret or settings.callback_secrets[partner][0], raw, timestamp)
    return client.post(f"/api/v1/partner-callbacks/{partner}", data=raw,
                       headers={"Content-Type": "application/json", **headers})


def test_a_signed_callback_reports_the_partner_status_once(adapter_client, adapter_deps,
                                                           settings):
    deliver(referral_requested(), REQUEST, adapter_deps.uow)
    open_all(adapter_deps, FakePartnerGateway(prefix="JC"))
    report = {"event_id": "cb-1", "case_reference": "JC-1", "status": "accepted",
              "occurred_at": "2026-11-21T09:05:00+00:00"}
    assert callback(adapter_client, settings, report).get_json() == {"result": "recorded"}
    resent = callback(adapter_client, settings, report, timestamp=int(time.time()) + 1)
    assert resent.get_json() == {"result": "duplicate"}  # signed anew: the partner's retry
    assert outbox_types(adapter_deps) == ["partner_case.opened", "partner_case.status_reported"]


def test_a_callback_the_lifecycle_refuses_is_answered_409_with_why_and_not_recorded(
        adapter_client, adapter_deps, settings):
    from shared import metrics

    deliver(referral_requested(), REQUEST, adapter_deps.uow)
    open_all(adapter_deps, FakePartnerGateway(prefix="JC"))
    accepted = {"event_id": "cb-1", "case_reference": "JC-1", "status": "accepted",
                "occurred_at": "2026-11-21T09:05:00+00:00"}
    assert callback(adapter_client, settings, accepted).get_json() == {"result": "recorded"}
    before = metrics.PARTNER_ANSWERS_REFUSED.labels("jobcenter", "partner_adapter")._value.get()
    rejected = {**accepted, "event_id": "cb-2", "status": "rejected", "reason": "no_capacity"}
    answer = callback(adapter_client, settings, rejected)
    assert answer.status_code == 409
    assert "cannot be answered 'rejected'" in answer.get_json()["message"]
    outcome_on_accept = {**accepted, "event_id": "cb-3", "status": "in-progress",
                         "outcome": "case_closed"}
    assert callback(adapter_client, settings, outcome_on_accept).status_code == 409
    assert outbox_types(adapter_deps) == ["partner_case.opened", "partner_case.status_reported"]
    # the operator's alert counts them (LotsePartnerAnswersRefused)
    assert metrics.PARTNER_ANSWERS_REFUSED.labels(
        "jobcenter", "partner_adapter")._value.get() == before + 2
    # the same partner answering in the lifecycle's order is taken
    done = {**accepted, "event_id": "cb-4", "status": "completed", "outcome": "case_closed"}
    assert callback(adapter_client, settings, done).get_json() == {"result": "recorded"}


def test_stale_tampered_wrongly_keyed_and_replayed_callbacks_are_refused(
        adapter_client, adapter_deps, settings, caplog):
    deliver(referral_requested(), REQUEST, adapter_deps.uow)
    open_all(adapter_deps, FakePartnerGateway(prefix="JC"))
    report = {"event_id": "cb-9", "case_reference": "JC-1", "status": "rejected",
              "reason": "not_eligible", "occurred_at": "2026-11-21T09:05:00+00:00"}
    raw = json.dumps(report).encode()
    stale = callback(adapter_client, settings, report, timestamp=int(time.time()) - 301)
    assert stale.status_code == 401
    wrong_key = callback(adapter_client, settings, report, secret="not-the-secret")
    assert wrong_key.status_code == 401
    signed = sign(settings.callback_secrets["jobcenter"][0], raw)
    tampered = raw.replace(b"rejected", b"accepted")
    assert callback(adapter_client, settings, {}, raw=tampered, headers=signed).status_code == 401
    assert outbox_types(adapter_deps) == ["partner_case.opened"]  # none of them had an effect
    assert callback(adapter_client, settings, {}, raw=raw, headers=signed).status_code == 200
    replay = callback(adapter_client, settings, {}, raw=raw, headers=signed)
    assert replay.status_code == 409
    assert outbox_types(adapter_deps) == ["partner_case.opened", "partner_case.status_reported"]
    assert "replayed partner callback refused" in caplog.text
    assert "wrong signature refused" in caplog.text


def test_a_callback_counts_only_signed_by_the_partner_in_the_url_and_for_its_own_cases(
        adapter_client, adapter_deps, settings):
    deliver(referral_requested(), REQUEST, adapter_deps.uow)  # a Jobcenter case
    open_all(adapter_deps, FakePartnerGateway(prefix="JC"))
    report = {"event_id": "cb-7", "case_reference": "JC-1", "status": "accepted",
              "occurred_at": "2026-11-21T09:05:00+00:00"}
    welfare = settings.callback_secrets["welfare"][0]
    assert welfare not in settings.callback_secrets["jobcenter"]
    assert callback(adapter_client, settings, report, secret=welfare).status_code == 401
    about_another = callback(adapter_client, settings, report, partner="welfare")
    assert about_another.status_code == 404  # signed right, but not a welfare case
    assert outbox_types(adapter_deps) == ["partner_case.opened"]  # neither moved the case


def test_while_a_partner_rotates_its_callback_secret_the_previous_one_is_accepted_too(
        adapter_deps, tmp_path):
    settings = embedded_settings(tmp_path, {
        "LOTSE_PARTNER_JOBCENTER_CALLBACK_SECRET": "new-secret",
        "LOTSE_PARTNER_JOBCENTER_CALLBACK_SECRET_PREVIOUS": "old-secret"})
    deps = replace(adapter_deps, settings=settings.for_service("partner_adapter"))
    client = create_app(deps.settings, deps).test_client()
    deliver(referral_requested(), REQUEST, adapter_deps.uow)
    open_all(adapter_deps, FakePartnerGateway(prefix="JC"))
    report = {"case_reference": "JC-1", "occurred_at": "2026-11-21T09:05:00+00:00"}
    for n, (secret, status) in enumerate((("old-secret", "accepted"),
                                          ("new-secret", "in-progress"))):
        answer = callback(client, settings, {**report, "event_id": f"cb-r{n}", "status": status},
                          secret=secret)
        assert answer.get_json() == {"result": "recorded"}, secret
    assert callback(client, settings, {**report, "event_id": "cb-r3", "status": "completed"},
                    secret="older-still").status_code == 401


def test_callbacks_with_a_bad_signature_or_unknown_case_are_refused(adapter_client, settings):
    report = {"event_id": "cb-2", "case_reference": "JC-404", "status": "accepted",
              "occurred_at": "2026-11-21T09:05:00+00:00"}
    assert callback(adapter_client, settings, report, secret="wrong").status_code == 401
    assert callback(adapter_client, settings, report).status_code == 404


def test_a_deadline_reminder_reaches_the_partner_once(adapter_deps):
    body = json.loads(referral_requested())
    deliver(json.dumps(body), REQUEST, adapter_deps.uow)
    gateway = FakePartnerGateway(prefix="JC")
    open_all(adapter_deps, gateway)
    data = body["data"]
    reminder = new_envelope("referral.reminder_due", 1, "referral", "r", {
        "referral_id": data["referral_id"], "intake_id": data["intake_id"],
        "partner": "jobcenter", "service": "sgb2", "partner_case_ref": "JC-1",
        "status": "received", "phase": "acknowledgement",
        "due_at": "2026-11-25T22:59:59+00:00", "noticed_at": "2026-11-24T09:00:00+00:00"})
    remind = next(s for s in SUBSCRIPTIONS if s.name == "request_reminder")
    assert deliver(reminder.to_json(), remind, adapter_deps.uow).verdict is Verdict.ACK
    [case] = cases(adapter_deps)
    gateways = {"jobcenter": gateway}
    assert handlers.send_reminder(str(case.id), adapter_deps.uow, gateways) == "sent"
    assert handlers.send_reminder(str(case.id), adapter_deps.uow, gateways) == "nothing due"
    assert [ref for ref, _ in gateway.reminders] == ["JC-1"]
    assert cases(adapter_deps)[0].reminders_sent == 1


def status_changed(data: dict, status: str, by: str) -> str:
    return new_envelope("referral.status_changed", 1, "referral", "r", {
        "referral_id": data["referral_id"], "intake_id": data["intake_id"],
        "need": data["need"], "partner": data["partner"], "service": data["service"],
        "status": status, "previous_status": "received", "reason": "person_withdrew",
        "partner_case_ref": "JC-1", "version": 3, "changed_at": "2026-11-24T09:00:00+00:00",
        "changed_by": by}).to_json()


def test_a_cancelled_referral_is_withdrawn_at_the_partner_once(adapter_deps):
    body = json.loads(referral_requested())
    deliver(json.dumps(body), REQUEST, adapter_deps.uow)
    gateway = FakePartnerGateway(prefix="JC")
    open_all(adapter_deps, gateway)
    follow = next(s for s in SUBSCRIPTIONS if s.name == "follow_referral")
    deliver(status_changed(body["data"], "accepted", "partner:jobcenter"), follow,
            adapter_deps.uow)
    [case] = cases(adapter_deps)
    assert case.cancel_due_at is None  # the partner's own answers need no echo
    deliver(status_changed(body["data"], "cancelled", "sam"), follow, adapter_deps.uow)
    gateways = {"jobcenter": gateway}
    assert handlers.send_cancellation(str(case.id), adapter_deps.uow, gateways) == "sent"
    assert handlers.send_cancellation(str(case.id), adapter_deps.uow, gateways) == "nothing due"
    assert [ref for ref, _ in gateway.cancellations] == ["JC-1"]


def test_a_referral_cancelled_before_its_case_opened_is_never_sent(adapter_deps):
    body = json.loads(referral_requested())
    deliver(json.dumps(body), REQUEST, adapter_deps.uow)
    follow = next(s for s in SUBSCRIPTIONS if s.name == "follow_referral")
    deliver(status_changed(body["data"], "cancelled", "sam"), follow, adapter_deps.uow)
    gateway = FakePartnerGateway()
    assert open_all(adapter_deps, gateway) == ["not pending"] and gateway.calls == []


def test_a_referral_cancelled_during_the_partner_call_is_recorded_and_withdrawn(adapter_deps):
    """The cancellation arrives while the partner is opening the case: the partner holds it
    now, so its reference and a disclosure are recorded and it is withdrawn there."""
    body = json.loads(referral_requested())
    deliver(json.dumps(body), REQUEST, adapter_deps.uow)
    follow = next(s for s in SUBSCRIPTIONS if s.name == "follow_referral")
    gateway = FakePartnerGateway(prefix="JC")
    real_open = gateway.open_case

    def open_while_cancelled(request, key):
        receipt = real_open(request, key)
        deliver(status_changed(body["data"], "cancelled", "sam"), follow, adapter_deps.uow)
        return receipt
    gateway.open_case = open_while_cancelled
    assert open_all(adapter_deps, gateway) == ["opened"]
    [case] = cases(adapter_deps)
    assert (case.status, case.partner_case_ref) == ("opened", "JC-1")
    assert case.cancel_due_at is not None and "partner_case.opened" in outbox_types(adapter_deps)
    with adapter_deps.session_factory() as s:
        assert len(repository.disclosures_of(s, body["data"]["referral_id"])) == 1
    assert handlers.send_cancellation(str(case.id), adapter_deps.uow,
                                      {"jobcenter": gateway}) == "sent"
    assert [ref for ref, _ in gateway.cancellations] == ["JC-1"]


def test_a_portal_partner_takes_over_and_answers_in_lotse(adapter_deps):
    body = json.loads(referral_requested())
    body["data"].update(partner="jugendamt", service="kita_portal", need="kita_place")
    deliver(json.dumps(body), REQUEST, adapter_deps.uow)
    gateway = FakePartnerGateway()
    assert open_all(adapter_deps, gateway) == ["opened"] and gateway.calls == []
    [case] = cases(adapter_deps)
    assert case.partner_case_ref.startswith("HO-")
    assert handlers.record_portal_report("welfare", str(case.id), "accepted", None, None,
                                         adapter_deps.uow()) == "not_found"  # not theirs
    assert handlers.record_portal_report("jugendamt", str(case.id), "completed", None,
                                         "place_offered", adapter_deps.uow()) == "recorded"
    assert outbox_types(adapter_deps) == ["partner_case.opened",
                                          "partner_case.status_reported"]
    # a final answer stays final: a later (or forged) form post changes nothing
    assert handlers.record_portal_report("jugendamt", str(case.id), "accepted", None, None,
                                         adapter_deps.uow()) == "closed"
    assert len(outbox_types(adapter_deps)) == 2


def test_a_portal_case_withdrawn_by_lotse_can_no_longer_be_answered(adapter_deps):
    body = json.loads(referral_requested())
    body["data"].update(partner="course_provider", service="integration_course",
                        need="language_course")
    deliver(json.dumps(body), REQUEST, adapter_deps.uow)
    open_all(adapter_deps, FakePartnerGateway())
    follow = next(s for s in SUBSCRIPTIONS if s.name == "follow_referral")
    deliver(status_changed(body["data"], "cancelled", "sam"), follow, adapter_deps.uow)
    [case] = cases(adapter_deps)
    assert not case.answerable
    assert handlers.record_portal_report("course_provider", str(case.id), "accepted", None,
                                         None, adapter_deps.uow()) == "closed"
    assert outbox_types(adapter_deps) == ["partner_case.opened"]


def test_reminders_for_portal_partners_need_no_message(adapter_deps):
    body = json.loads(referral_requested())
    body["data"].update(partner="jugendamt", service="kita_portal", need="kita_place")
    deliver(json.dumps(body), REQUEST, adapter_deps.uow)
    open_all(adapter_deps, FakePartnerGateway())
    [case] = cases(adapter_deps)
    with adapter_deps.uow() as uow:
        case.reminder_requested(uow.clock())
        repository.save(uow.session, case)
        uow.commit()
    assert handlers.send_reminder(str(case.id), adapter_deps.uow, {}) == "sent"
