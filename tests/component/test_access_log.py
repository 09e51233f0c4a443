"""The per-person access log: the intake's own pages and API, referral pages and the partner
portal all reach the person's log, with the actor and no personal data."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from services.intake import access_log
from services.intake import tables as intake_tables
from services.intake.consumers import SUBSCRIPTIONS as INTAKE_SUBSCRIPTIONS
from services.partner_adapter import handlers as adapter_handlers
from services.partner_adapter import tables as adapter_tables
from services.partner_adapter.app import create_app as adapter_app
from services.partner_adapter.consumers import SUBSCRIPTIONS as ADAPTER_SUBSCRIPTIONS
from services.referral import tables as referral_tables
from services.referral.app import create_app as referral_app
from services.referral.consumers import SUBSCRIPTIONS as REFERRAL_SUBSCRIPTIONS
from shared.bus.delivery import Verdict, deliver
from shared.uow import UnitOfWork
from tests.component.conftest import token
from tests.fakes import FakePartnerGateway
from tests.conftest import SMOKE_INTAKE


def subscription(subscriptions, name):
    return next(s for s in subscriptions if s.name == name)


def outbox_bodies(deps, table, event_type: str) -> list[str]:
    with deps.session_factory() as s:
        return [r.body for r in s.execute(select(table).where(table.c.event_type == event_type))]


def log_of(client, headers, person_id) -> list[dict]:
    answer = client.get(f"/api/v1/persons/{person_id}/access-log", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["items"]


class as_user:
    """A client of `app` whose every request carries this user's bearer token (the guards of
    pages and API read it alike, as in the role matrix)."""

    def __init__(self, app, username: str, role: str, partner: str | None = None):
        self.client, self.headers = app.test_client(), token_for(app, username, role, partner)

    def get(self, path: str):
        return self.client.get(path, headers={**self.headers, "Accept": "text/html"})


@pytest.fixture
def staff(intake_client):
    return token(intake_client, "staff", "pw-staff")


@pytest.fixture
def recorded(intake_client, staff):
    answer = intake_client.post("/api/v1/intakes", json=SMOKE_INTAKE, headers=staff)
    assert answer.status_code == 201
    return answer.get_json()


def test_the_intakes_own_page_and_api_reads_and_writes_are_logged(intake_client, staff,
                                                                  recorded):
    person_id = recorded["person_id"]
    intake_client.application.config["WTF_CSRF_ENABLED"] = False
    assert intake_client.post("/login", data={"username": "staff",
                                              "password": "pw-staff"}).status_code == 302
    assert intake_client.get(f"/persons/{person_id}").status_code == 200
    assert intake_client.get(f"/api/v1/persons/{person_id}", headers=staff).status_code == 200

    entries = log_of(intake_client, staff, person_id)
    seen = [(e["action"], e["channel"], e["service"], e["actor"], e["role"]) for e in entries]
    assert seen == [("viewed", "api", "intake", "staff", "staff"),
                    ("viewed", "ui", "intake", "staff", "staff"),
                    ("created", "api", "intake", "staff", "staff")]
    assert all(e["person_id"] == person_id for e in entries)


def rows(deps, table) -> list:
    with deps.session_factory() as s:
        return s.execute(select(table)).all()


def test_a_recorded_intake_and_its_log_entry_commit_or_roll_back_together(
        intake_client, staff, intake_deps, monkeypatch):
    """One transaction: no intake without its entry (the entry cannot be lost after the
    intake committed), and an intake that fails after its entry was written leaves none."""
    def fails(*args, **kwargs):
        raise RuntimeError("failed here")

    with monkeypatch.context() as m:
        m.setattr(access_log, "record", fails)
        with pytest.raises(RuntimeError):
            intake_client.post("/api/v1/intakes", json=SMOKE_INTAKE, headers=staff)
    with monkeypatch.context() as m:
        m.setattr(UnitOfWork, "commit", fails)
        with pytest.raises(RuntimeError):
            intake_client.post("/api/v1/intakes", json=SMOKE_INTAKE, headers=staff)
    for table in (intake_tables.intakes, intake_tables.outbox, intake_tables.access_log):
        assert rows(intake_deps, table) == [], table.name

    answer = intake_client.post("/api/v1/intakes", json=SMOKE_INTAKE, headers=staff)
    assert answer.status_code == 201
    [entry] = rows(intake_deps, intake_tables.access_log)
    assert (entry.action, entry.channel, entry.intake_id, entry.person_id) == (
        "created", "api", answer.get_json()["id"], answer.get_json()["person_id"])


def test_the_log_page_is_linked_from_the_person_page_and_lists_the_accesses(intake_client,
                                                                            recorded):
    person_id = recorded["person_id"]
    client = as_user(intake_client.application, "staff", "staff")
    page = client.get(f"/persons/{person_id}").get_data(as_text=True)
    assert f"/persons/{person_id}/access-log" in page
    log_page = client.get(f"/persons/{person_id}/access-log")
    assert log_page.status_code == 200
    assert log_page.get_data(as_text=True).count('class="access"') == 2  # created, viewed


def test_a_referral_view_and_a_portal_case_view_reach_the_persons_log(
        settings, intake_client, staff, recorded, intake_deps, referral_deps, adapter_deps):
    person_id = recorded["person_id"]
    [intake_recorded] = outbox_bodies(intake_deps, intake_tables.outbox, "intake.recorded")
    open_referrals = subscription(REFERRAL_SUBSCRIPTIONS, "open_referrals")
    assert deliver(intake_recorded, open_referrals, referral_deps.uow).verdict is Verdict.ACK
    requested = outbox_bodies(referral_deps, referral_tables.outbox, "referral.requested")
    welfare = next(b for b in requested if json.loads(b)["data"]["partner"] == "welfare")
    for body in requested:  # the intake's view of the referrals, and the partner's case
        deliver(body, subscription(INTAKE_SUBSCRIPTIONS, "track_referral"), intake_deps.uow)
    deliver(welfare, subscription(ADAPTER_SUBSCRIPTIONS, "request_partner_case"),
            adapter_deps.uow)
    referral_id = json.loads(welfare)["data"]["referral_id"]
    with adapter_deps.session_factory() as s:  # delivered: only now the portal shows them
        [case_id] = s.execute(select(adapter_tables.partner_cases.c.id)).scalars()
    assert adapter_handlers.open_partner_case(case_id, adapter_deps.uow,
                                              {"welfare": FakePartnerGateway()}) == "opened"

    referrals = referral_app(settings.for_service("referral"), referral_deps)
    assert as_user(referrals, "stefan", "staff").get(
        f"/referrals/{referral_id}").status_code == 200
    portal = adapter_app(settings.for_service("partner_adapter"), adapter_deps)
    assert as_user(portal, "wanda", "partner", "welfare").get("/partner/cases").status_code == 200

    record_access = subscription(INTAKE_SUBSCRIPTIONS, "record_access")
    reported = (outbox_bodies(referral_deps, referral_tables.outbox, "personal_data.accessed")
                + outbox_bodies(adapter_deps, adapter_tables.outbox, "personal_data.accessed"))
    assert len(reported) == 2
    for body in reported:
        assert deliver(body, record_access, intake_deps.uow).verdict is Verdict.ACK
        assert deliver(body, record_access, intake_deps.uow).reason == "duplicate"

    entries = log_of(intake_client, staff, person_id)
    seen = {(e["actor"], e["role"], e["partner"], e["service"], e["action"], e["channel"],
             e["referral_id"]) for e in entries}
    assert ("stefan", "staff", None, "referral", "viewed", "ui", referral_id) in seen
    assert ("wanda", "partner", "welfare", "partner_adapter", "listed", "ui",
            referral_id) in seen
    portal_entry = next(e for e in entries if e["actor"] == "wanda")
    assert portal_entry["person_id"] == person_id  # resolved through the intake's tables


def test_an_api_referral_read_is_reported_with_its_ids(settings, referral_deps):
    from datetime import datetime, timezone

    from services.referral import tables as t

    now = datetime(2026, 5, 4, 10, 0, tzinfo=timezone.utc)
    with referral_deps.session_factory() as s:
        s.execute(t.referrals.insert().values(
            id="00000000-0000-0000-0000-0000000000aa", intake_id="00000000-0000-0000-0000-"
            "0000000000bb", intake_reference="LT-1", need="living_costs", partner="jobcenter",
            service="sgb2", routing_reason="r", status="requested", version=1, created_at=now,
            updated_at=now, person_id="00000000-0000-0000-0000-0000000000cc"))
        s.commit()
    app = referral_app(settings.for_service("referral"), referral_deps)
    headers = token_for(app, "jobcenter-user", "partner", "jobcenter")
    assert app.test_client().get("/api/v1/referrals/00000000-0000-0000-0000-0000000000aa",
                                 headers=headers).status_code == 200
    [body] = outbox_bodies(referral_deps, t.outbox, "personal_data.accessed")
    data = json.loads(body)["data"]
    assert (data["actor"], data["partner"], data["channel"], data["service"]) == (
        "jobcenter-user", "jobcenter", "api", "referral")
    assert data["records"] == [{"person_id": "00000000-0000-0000-0000-0000000000cc",
                                "intake_id": "00000000-0000-0000-0000-0000000000bb",
                                "referral_id": "00000000-0000-0000-0000-0000000000aa"}]


def token_for(app, username: str, role: str, partner: str | None = None) -> dict:
    from shared.auth import Principal, issue_token

    return {"Authorization": "Bearer " + issue_token(app.secret_key,
                                                     Principal(username, role, partner))}


def test_entries_hold_ids_and_actions_only(intake_client, staff, recorded):
    person_id = recorded["person_id"]
    intake_client.get(f"/api/v1/persons/{person_id}", headers=staff)
    answer = intake_client.get(f"/api/v1/persons/{person_id}/access-log", headers=staff)
    text = answer.get_data(as_text=True)
    person = SMOKE_INTAKE["person"]
    for value in (person["given_name"], person["family_name"], person["birth_date"],
                  recorded["reference"]):
        assert value not in text
    assert set(answer.get_json()["items"][0]) == {
        "id", "at", "actor", "role", "partner", "service", "channel", "action", "person_id",
        "intake_id", "referral_id", "inbound_referral_id"}


def test_partner_users_cannot_read_the_log(intake_client, recorded):
    person_id = recorded["person_id"]
    welfare = token(intake_client, "welfare", "pw-welfare")
    assert intake_client.get(f"/api/v1/persons/{person_id}/access-log",
                             headers=welfare).status_code == 403
    page = as_user(intake_client.application, "welfare", "partner", "welfare").get(
        f"/persons/{person_id}/access-log")
    assert page.status_code == 403


def test_an_unknown_person_has_no_log(intake_client, staff):
    assert intake_client.get("/api/v1/persons/00000000-0000-0000-0000-000000000001/access-log",
                             headers=staff).status_code == 404


def test_an_access_reported_before_the_intake_knew_the_referral_still_reaches_the_person(
        intake_deps, recorded):
    """The referral id is resolved at read time too, once the intake's view has it."""
    from datetime import datetime, timezone

    now = datetime(2026, 5, 4, 10, 0, tzinfo=timezone.utc)
    referral_id = "00000000-0000-0000-0000-0000000000dd"
    with intake_deps.session_factory() as s:
        access_log.record(s, [access_log.Access("wanda", "partner", "welfare",
                                                "partner_adapter", "ui", "listed", now,
                                                referral_id=referral_id)])
        s.execute(intake_tables.intake_referrals.insert().values(
            referral_id=referral_id, intake_id=recorded["id"], need="living_costs",
            status="requested", version=1, updated_at=now))
        s.commit()
        entries = access_log.entries_for(s, recorded["person_id"])
    assert [e["actor"] for e in entries if e["referral_id"] == referral_id] == ["wanda"]


def test_the_record_of_processing_page_is_for_admins(intake_client):
    app = intake_client.application
    page = as_user(app, "admin", "admin").get("/record-of-processing")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'id="purpose-referral_jobcenter"' in text and "intake_records" in text
    assert "Verzeichnis von Verarbeitungstätigkeiten" in text  # the UI's language, German
    assert "Weitervermittlung an Jobcenter Dortmund (SGB II)" in text
    assert "Jobcenter Dortmund (SGB II) (<code>jobcenter</code>) über" in text
    assert "Art. 6 Abs. 1 lit. e DSGVO" in text and "GDPR" not in text
    assert re.search(r'<header>.*href="[^"]*/record-of-processing".*</header>', text,
                     re.S)  # the admin's menu links it
    assert as_user(app, "staff", "staff").get("/record-of-processing").status_code == 403


def test_the_intake_list_is_logged_at_load_but_not_at_its_refresh(intake_client, staff,
                                                                  recorded):
    client = as_user(intake_client.application, "staff", "staff")
    assert client.get("/intakes").status_code == 200
    refresh = client.client.get("/intakes", headers={**client.headers, "X-Partial": "1"})
    assert refresh.status_code == 200
    listed = [e for e in log_of(intake_client, staff, recorded["person_id"])
              if e["action"] == "listed"]
    assert [(e["channel"], e["intake_id"]) for e in listed] == [("ui", recorded["id"])]


def test_an_erased_persons_record_does_not_drop_the_other_records_of_a_reported_access(
        intake_deps, recorded):
    """One access event lists many people's records: only the erased one's is left out."""
    from datetime import datetime, timezone

    from services.intake.tables import erased
    from shared.erasure import add_tombstones
    from shared.events.envelope import new_envelope

    now = datetime(2026, 5, 4, 10, 0, tzinfo=timezone.utc)
    gone = "00000000-0000-0000-0000-0000000000ee"
    with intake_deps.session_factory() as s:
        add_tombstones(s, erased, "00000000-0000-0000-0000-0000000000ff",
                       {"person": [gone], "intake": [], "referral": []}, now)
        s.commit()
    body = new_envelope("personal_data.accessed", 1, "referral", "access/stefan", {
        "actor": "stefan", "role": "staff", "partner": None, "service": "referral",
        "action": "listed", "channel": "ui", "at": now,
        "records": [{"person_id": gone}, {"person_id": recorded["person_id"],
                                          "intake_id": recorded["id"]}]}).to_json()
    record_access = subscription(INTAKE_SUBSCRIPTIONS, "record_access")
    assert deliver(body, record_access, intake_deps.uow).verdict is Verdict.ACK

    log = intake_tables.access_log
    with intake_deps.session_factory() as s:
        logged = [(r.actor, r.person_id) for r in s.execute(
            select(log).where(log.c.service == "referral"))]
    assert logged == [("stefan", recorded["person_id"])]


def test_a_refresh_of_the_intake_list_logs_the_rows_the_session_has_not_logged_yet(
        intake_client, staff, recorded):
    """X-Partial is the client's choice: it must not hide rows from the log."""
    client = as_user(intake_client.application, "staff", "staff")
    partial = {**client.headers, "X-Partial": "1"}
    assert client.client.get("/intakes", headers=partial).status_code == 200  # never loaded
    second = intake_client.post("/api/v1/intakes", json=SMOKE_INTAKE, headers=staff).get_json()
    assert client.client.get("/intakes", headers=partial).status_code == 200
    assert client.client.get("/intakes", headers=partial).status_code == 200

    listed = [e["intake_id"] for person_id in (recorded["person_id"], second["person_id"])
              for e in log_of(intake_client, staff, person_id) if e["action"] == "listed"]
    assert sorted(listed) == sorted([recorded["id"], second["id"]])  # each once


def test_the_rows_a_session_logged_are_bounded_and_the_newest_kept():
    logged = access_log.remembered([], ["a", "b", "c"], keep=4)
    assert logged == ["a", "b", "c"]
    assert access_log.remembered(logged, ["b", "d", "e"], keep=4) == ["c", "b", "d", "e"]
