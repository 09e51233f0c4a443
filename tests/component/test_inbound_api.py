"""Inbound referrals' API (issue 22, item 5): a partner's user refers a person to the centre
(201; 422 naming the field, the consent required), staff see them all and move them on
(invite, decline, not reached, arrived with an intake; 409 where the status does not allow),
a partner sees only its own; staff reads are in the access log; an erasure of the person
takes their referrals along; the retention schedule purges them."""
from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from services.intake import tables
from services.intake.erasure import erase_person
from services.intake.retention import purges
from tests.component.conftest import token

REFERRAL = {
    "person": {"given_name": "Olena", "family_name": "Kovalenko", "birth_date": "1987-03-14",
               "nationality": "UA", "languages": ["uk", "ru"],
               "contact": {"phone": "+49 231 1234567",
                           "address": {"street": "Friedensplatz 7", "postcode": "44135",
                                       "city": "Dortmund"}}},
    "residence_status": "TEMP_PROTECTION_24",
    "needs": ["orientation_counselling", {"code": "language_course", "urgency": "high",
                                          "note": "evening course"}],
    "message": "Registered today; asks about a language course.",
    "consent": {"given": True, "method": "signed_form", "language": "uk",
                "information_version": "2026-01"},
}


def refer(client, headers, body=None) -> dict:
    answer = client.post("/api/v1/inbound-referrals", headers=headers, json=body or REFERRAL)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def one(client, referral_id: str, headers):
    return client.get(f"/api/v1/inbound-referrals/{referral_id}", headers=headers)


def outbox(deps) -> list[tuple[str, dict]]:
    with deps.session_factory() as s:
        return [(r.event_type, json.loads(r.body)) for r in s.execute(
            select(tables.outbox.c.event_type, tables.outbox.c.body)
            .order_by(tables.outbox.c.id))]


def test_a_partner_refers_a_person_and_the_centre_hears_of_it(inbound_client, registration,
                                                               intake_deps):
    answer = inbound_client.post("/api/v1/inbound-referrals", headers=registration, json=REFERRAL)
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["status"] == "received" and body["sender"] == "registration"
    assert body["sent_by"] == "buerger" and body["created_at"]
    assert body["person"]["given_name"] == "Olena"
    assert [n["code"] for n in body["needs"]] == ["orientation_counselling", "language_course"]
    assert body["needs"][1]["urgency"] == "high"
    assert "intake_id" not in body and "person_id" not in body  # the centre's own ids
    assert answer.headers["Location"].endswith(f"/api/v1/inbound-referrals/{body['id']}")
    (kind, event), = [e for e in outbox(intake_deps) if e[0].startswith("inbound_referral")]
    assert kind == "inbound_referral.received"
    assert event["data"]["inbound_referral_id"] == body["id"]
    assert event["data"]["needs"] == ["orientation_counselling", "language_course"]
    assert "Olena" not in json.dumps(event) and "buerger" not in json.dumps(event)


def _without(path: str) -> dict:
    body = copy.deepcopy(REFERRAL)
    *parents, last = path.split(".")
    node = body
    for p in parents:
        node = node[p]
    del node[last]
    return body


def _with(path: str, value) -> dict:
    body = copy.deepcopy(REFERRAL)
    *parents, last = path.split(".")
    node = body
    for p in parents:
        node = node[p]
    node[last] = value
    return body


@pytest.mark.parametrize("body, field", [
    (_without("consent"), "consent"),
    (_with("consent.given", False), "consent"),
    (_without("consent.information_version"), "consent"),
    (_with("needs", []), "needs"),
    (_with("needs", ["tea"]), "needs"),
    (_with("residence_status", "tourist"), "residence_status"),
    (_with("person.birth_date", "14.03.1987"), "person"),
    (_with("person.nationality", "Ukraine"), "person"),
    (_without("person.given_name"), "person"),
    (_with("person.contact", {"phone": "call me"}), "person"),
    (_with("sender", "jobcenter"), "sender"),
])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
        inbound_client, registration, intake_deps, body, field):
    answer = inbound_client.post("/api/v1/inbound-referrals", headers=registration, json=body)
    assert answer.status_code == 422, answer.get_json()
    assert field in answer.get_json()["errors"]["json"]
    with intake_deps.session_factory() as s:
        assert s.execute(select(func.count()).select_from(tables.inbound_referrals)
                         ).scalar_one() == 0


def test_without_the_persons_consent_the_answer_says_so(inbound_client, registration):
    answer = inbound_client.post("/api/v1/inbound-referrals", headers=registration,
                                 json=_with("consent.given", False))
    assert "consent" in json.dumps(answer.get_json()["errors"]["json"]["consent"])


@pytest.mark.parametrize("who", ["anna", "boss"])
def test_only_a_partners_user_refers(inbound_client, who):
    headers = token(inbound_client, who, f"pw-{who}")
    assert inbound_client.post("/api/v1/inbound-referrals", headers=headers,
                               json=REFERRAL).status_code == 403


def test_staff_see_every_referral_a_partner_only_its_own(inbound_client, clerk, registration,
                                                         welfare, inbound_clock):
    mine = refer(inbound_client, registration)
    inbound_clock.advance(1)
    theirs = refer(inbound_client, welfare, _with("needs", ["housing"]))
    everything = inbound_client.get("/api/v1/inbound-referrals", headers=clerk).get_json()["items"]
    assert [r["id"] for r in everything] == [theirs["id"], mine["id"]]  # newest first
    assert everything[0]["intake_id"] is None
    own = inbound_client.get("/api/v1/inbound-referrals", headers=registration).get_json()["items"]
    assert [r["id"] for r in own] == [mine["id"]]
    assert one(inbound_client, mine['id'], registration).status_code == 200
    assert one(inbound_client, theirs['id'], registration).status_code == 404
    assert one(inbound_client, theirs['id'], clerk).get_json()["sender"] == "welfare"
    assert inbound_client.get("/api/v1/inbound-referrals/00000000-0000-0000-0000-000000000000",
                              headers=clerk).status_code == 404


def test_the_list_is_filtered_by_status(inbound_client, clerk, registration):
    first = refer(inbound_client, registration)
    second = refer(inbound_client, registration)
    inbound_client.post(f"/api/v1/inbound-referrals/{first['id']}/not-reached", headers=clerk)
    found = inbound_client.get("/api/v1/inbound-referrals?status=not_reached",
                               headers=clerk).get_json()["items"]
    assert [r["id"] for r in found] == [first["id"]]
    found = inbound_client.get("/api/v1/inbound-referrals?status=received",
                               headers=clerk).get_json()["items"]
    assert [r["id"] for r in found] == [second["id"]]
    assert inbound_client.get("/api/v1/inbound-referrals?status=lost",
                              headers=clerk).status_code == 422


def test_staff_invite_and_the_sender_reads_the_appointment(inbound_client, clerk, registration,
                                                           intake_deps, inbound_clock):
    r = refer(inbound_client, registration)
    inbound_clock.advance(60)
    invited = inbound_client.post(f"/api/v1/inbound-referrals/{r['id']}/invite", headers=clerk,
                                  json={"date": "2026-03-09", "time": "10:30", "site": "centre"})
    assert invited.status_code == 200, invited.get_json()
    assert invited.get_json()["status"] == "invited"
    seen = one(inbound_client, r['id'], registration).get_json()
    assert seen["status"] == "invited"
    assert seen["appointment"] == {"date": "2026-03-09", "time": "10:30", "site": "centre"}
    kind, event = outbox(intake_deps)[-1]
    assert kind == "inbound_referral.status_changed"
    assert event["data"]["status"] == "invited" and event["data"]["appointment_site"] == "centre"
    assert "anna" not in json.dumps(event)


@pytest.mark.parametrize("body, field", [
    ({"date": "09.03.2026", "time": "10:30", "site": "centre"}, "date"),
    ({"date": "2026-03-09", "time": "half past ten", "site": "centre"}, "time"),
    ({"date": "2026-03-09", "time": "10:30", "site": "moon"}, "site"),
    ({"date": "2026-03-09", "time": "10:30"}, "site"),
])
def test_an_invitation_needs_date_time_and_site(inbound_client, clerk, registration, body, field):
    r = refer(inbound_client, registration)
    answer = inbound_client.post(f"/api/v1/inbound-referrals/{r['id']}/invite", headers=clerk,
                                 json=body)
    assert answer.status_code == 422 and field in answer.get_json()["errors"]["json"]


def test_a_declined_referral_tells_the_sender_why_and_moves_no_more(inbound_client, clerk,
                                                                     registration,
                                                                     intake_deps):
    r = refer(inbound_client, registration)
    assert inbound_client.post(f"/api/v1/inbound-referrals/{r['id']}/decline", headers=clerk,
                               json={}).status_code == 422
    declined = inbound_client.post(f"/api/v1/inbound-referrals/{r['id']}/decline", headers=clerk,
                                   json={"reason": "Lives outside the city"})
    assert declined.status_code == 200 and declined.get_json()["status"] == "declined"
    seen = one(inbound_client, r['id'], registration).get_json()
    assert seen["decline_reason"] == "Lives outside the city"
    assert "outside" not in json.dumps(outbox(intake_deps)[-1])  # the reason stays home
    for path, body in (("invite", {"date": "2026-03-09", "time": "10:30", "site": "centre"}),
                       ("decline", {"reason": "again"}), ("not-reached", None),
                       ("arrived", {"intake_id": "00000000-0000-0000-0000-000000000000"})):
        answer = inbound_client.post(f"/api/v1/inbound-referrals/{r['id']}/{path}", headers=clerk,
                                     json=body)
        assert answer.status_code == 409, (path, answer.get_json())


def test_not_reached_twice_is_a_conflict(inbound_client, clerk, registration):
    r = refer(inbound_client, registration)
    assert inbound_client.post(f"/api/v1/inbound-referrals/{r['id']}/not-reached",
                               headers=clerk).get_json()["status"] == "not_reached"
    assert inbound_client.post(f"/api/v1/inbound-referrals/{r['id']}/not-reached",
                               headers=clerk).status_code == 409


def test_a_partner_does_not_move_referrals(inbound_client, registration):
    r = refer(inbound_client, registration)
    assert inbound_client.post(f"/api/v1/inbound-referrals/{r['id']}/not-reached",
                               headers=registration).status_code == 403


def _intake(inbound_client, clerk) -> dict:
    from tests.component.test_persons_api import COMPLETE

    answer = inbound_client.post("/api/v1/intakes", headers=clerk, json=COMPLETE)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def test_the_person_arrives_with_an_intake_linked(inbound_client, clerk, registration, intake_deps):
    r = refer(inbound_client, registration)
    unknown = inbound_client.post(f"/api/v1/inbound-referrals/{r['id']}/arrived", headers=clerk,
                                  json={"intake_id": "00000000-0000-0000-0000-000000000000"})
    assert unknown.status_code == 422 and "intake_id" in unknown.get_json()["errors"]["json"]
    intake = _intake(inbound_client, clerk)
    arrived = inbound_client.post(f"/api/v1/inbound-referrals/{r['id']}/arrived", headers=clerk,
                                  json={"intake_id": intake["id"]}).get_json()
    assert arrived["status"] == "arrived" and arrived["intake_id"] == intake["id"]
    assert arrived["person_id"] == intake["person_id"]
    assert "intake_id" not in one(inbound_client, r['id'], registration).get_json()
    kind, event = outbox(intake_deps)[-1]
    assert event["data"]["status"] == "arrived" and event["data"]["intake_id"] == intake["id"]


def test_staff_reads_are_in_the_access_log_and_the_persons_log_once_they_came(
        inbound_client, clerk, registration, intake_deps):
    r = refer(inbound_client, registration)
    inbound_client.get("/api/v1/inbound-referrals", headers=clerk)
    one(inbound_client, r['id'], clerk)
    inbound_client.get("/api/v1/inbound-referrals", headers=registration)  # its own: no log
    with intake_deps.session_factory() as s:
        logged = s.execute(select(tables.access_log.c.actor, tables.access_log.c.action)
                           .where(tables.access_log.c.inbound_referral_id == r["id"])
                           .order_by(tables.access_log.c.id)).all()
    assert [tuple(x) for x in logged] == [("anna", "listed"), ("anna", "viewed")]
    intake = _intake(inbound_client, clerk)
    inbound_client.post(f"/api/v1/inbound-referrals/{r['id']}/arrived", headers=clerk,
                        json={"intake_id": intake["id"]})
    log = inbound_client.get(f"/api/v1/persons/{intake['person_id']}/access-log",
                             headers=clerk).get_json()["items"]
    assert {("listed", r["id"]), ("viewed", r["id"])} <= {
        (e["action"], e["inbound_referral_id"]) for e in log}


def test_erasing_the_person_erases_their_referrals_and_scrubs_their_events(
        inbound_client, clerk, registration, intake_deps, inbound_clock):
    r, other = refer(inbound_client, registration), refer(inbound_client, registration)
    intake = _intake(inbound_client, clerk)
    inbound_client.post(f"/api/v1/inbound-referrals/{r['id']}/arrived", headers=clerk,
                        json={"intake_id": intake["id"]})
    erase_person(intake_deps.uow(), intake["person_id"], requested_by="anna",
                 reason="asked", now=inbound_clock())
    assert one(inbound_client, r['id'], clerk).status_code == 404
    assert one(inbound_client, other['id'], clerk).status_code == 200
    assert not [e for _, e in outbox(intake_deps) if r["id"] in json.dumps(e)
                and e["type"].startswith("inbound_referral")]


def test_the_retention_schedule_purges_referrals_unchanged_for_half_a_year(
        inbound_client, clerk, registration, intake_deps, inbound_clock):
    old = refer(inbound_client, registration)
    inbound_clock.advance(60 * 24 * 100)
    registration = token(inbound_client, "buerger", "pw-buerger")  # a day's tokens expired
    clerk = token(inbound_client, "anna", "pw-anna")
    recent = refer(inbound_client, registration)
    purge = purges(intake_deps)["inbound_referrals"]
    assert purge.measured_from == "updated_at"
    now = inbound_clock()
    assert purge.apply(now - timedelta(days=90), now, False) == 1
    assert one(inbound_client, old['id'], clerk).status_code == 404
    assert one(inbound_client, recent['id'], clerk).status_code == 200


def test_the_demo_seeds_two_referrals_of_the_registration_office_once(
        inbound_client, clerk, registration, intake_deps):
    from services.intake.inbound_store import seed_demo

    d = intake_deps
    assert seed_demo(d.uow, d.session_factory, d.clock) == 2
    assert seed_demo(d.uow, d.session_factory, d.clock) == 0
    own = inbound_client.get("/api/v1/inbound-referrals", headers=registration).get_json()
    assert sorted(r["status"] for r in own["items"]) == ["invited", "received"]
