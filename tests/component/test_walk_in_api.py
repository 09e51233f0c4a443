"""The walk-in queue's API (issue 22, item 1): draw, the waiting list with waiting times,
call, served, no-show; 422 naming the field, 409 for a move the status does not allow;
call-next by the caller's languages; two desks calling at once get two tickets."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from services.intake import walk_in_store as store
from services.intake.accounts import save_account
from services.intake.tables import accounts
from tests.component.conftest import draw_ticket, token

def test_a_ticket_is_drawn_numbered_per_site_and_day(queue_client, anna, queue_clock):
    first = draw_ticket(queue_client, anna)
    assert first["number"] == "Z-001" and first["status"] == "waiting"
    assert {"id", "language", "topic", "site", "waiting_minutes"} <= set(first)
    assert draw_ticket(queue_client, anna)["number"] == "Z-002"
    assert draw_ticket(queue_client, anna, site="infopoint")["number"] == "I-001"
    queue_clock.advance(24 * 60)  # the next day starts again at 1
    assert draw_ticket(queue_client, token(queue_client, "anna", "pw-anna"))["number"] == "Z-001"


@pytest.mark.parametrize("body, field", [
    ({"site": "moon", "language": "uk", "topic": "housing"}, "site"),
    ({"site": "centre", "language": "Ukrainian", "topic": "housing"}, "language"),
    ({"site": "centre", "language": "uk", "topic": "tea"}, "topic"),
    ({"site": "centre", "language": "uk"}, "topic"),
    ({"site": "centre", "language": "uk", "topic": "housing", "name": "Olena"}, "name"),
])
def test_bad_input_is_refused_naming_the_field(queue_client, anna, body, field):
    answer = queue_client.post("/api/v1/queue/tickets", headers=anna, json=body)
    assert answer.status_code == 422
    assert field in answer.get_json()["errors"]["json"]


def test_the_waiting_list_shows_waiting_and_called_tickets_with_their_minutes(
        queue_client, anna, queue_clock):
    a = draw_ticket(queue_client, anna, "uk")
    queue_clock.advance(7)
    b = draw_ticket(queue_client, anna, "ar")
    queue_clock.advance(3)
    c = draw_ticket(queue_client, anna, "ru")
    queue_client.post(f"/api/v1/queue/tickets/{c['id']}/call", headers=anna)
    queue_client.post(f"/api/v1/queue/tickets/{c['id']}/no-show", headers=anna)
    called = queue_client.post(f"/api/v1/queue/tickets/{a['id']}/call", headers=anna).get_json()
    assert called["status"] == "called" and called["called_by"] == "anna"
    queue_clock.advance(5)
    queue = queue_client.get("/api/v1/queue?site=centre", headers=anna).get_json()
    assert [(t["number"], t["status"], t["waiting_minutes"]) for t in queue["items"]] == [
        (a["number"], "called", 10), (b["number"], "waiting", 8)]
    assert queue_client.get("/api/v1/queue?site=infopoint", headers=anna).get_json()["items"] == []
    assert queue_client.get("/api/v1/queue", headers=anna).status_code == 422
    assert queue_client.get("/api/v1/queue?site=moon", headers=anna).status_code == 422


def test_a_ticket_is_called_then_served_and_linked_to_its_intake(queue_client, anna, intake_deps):
    t = draw_ticket(queue_client, anna)
    called = queue_client.post(f"/api/v1/queue/tickets/{t['id']}/call", headers=anna)
    assert called.status_code == 200 and called.get_json()["status"] == "called"
    unknown = queue_client.post(f"/api/v1/queue/tickets/{t['id']}/served", headers=anna,
                          json={"intake_id": "00000000-0000-0000-0000-000000000000"})
    assert unknown.status_code == 422 and "intake_id" in unknown.get_json()["errors"]["json"]
    served = queue_client.post(f"/api/v1/queue/tickets/{t['id']}/served", headers=anna, json={})
    assert served.status_code == 200
    assert served.get_json()["status"] == "served" and served.get_json()["closed_at"]


def test_a_served_ticket_may_name_the_consultation_recorded_for_it(queue_client, anna, intake_deps):
    from tests.component.test_persons_api import COMPLETE, post

    intake = post(queue_client, anna, COMPLETE).get_json()
    t = draw_ticket(queue_client, anna)
    queue_client.post(f"/api/v1/queue/tickets/{t['id']}/call", headers=anna)
    served = queue_client.post(f"/api/v1/queue/tickets/{t['id']}/served", headers=anna,
                         json={"intake_id": intake["id"]})
    assert served.status_code == 200 and served.get_json()["intake_id"] == intake["id"]


@pytest.mark.parametrize("first, then", [
    (None, "served"), (None, "no-show"), ("call", "call"), ("served", "call"),
    ("served", "no-show"), ("no-show", "served"),
])
def test_a_move_its_status_does_not_allow_is_a_409(queue_client, anna, first, then):
    t = draw_ticket(queue_client, anna)
    if first:
        if first != "call":
            queue_client.post(f"/api/v1/queue/tickets/{t['id']}/call", headers=anna)
        queue_client.post(f"/api/v1/queue/tickets/{t['id']}/{first}", headers=anna)
    answer = queue_client.post(f"/api/v1/queue/tickets/{t['id']}/{then}", headers=anna)
    assert answer.status_code == 409
    assert t["number"] in answer.get_json()["message"]


def test_no_such_ticket_is_a_404(queue_client, anna):
    answer = queue_client.post("/api/v1/queue/tickets/00000000-0000-0000-0000-000000000000/call",
                         headers=anna)
    assert answer.status_code == 404


def test_call_next_takes_the_longest_waiting_ticket_in_the_callers_languages(
        queue_client, anna, ben, queue_clock):
    ar = draw_ticket(queue_client, anna, "ar")
    queue_clock.advance(1)
    uk = draw_ticket(queue_client, anna, "uk")
    queue_clock.advance(1)
    de = draw_ticket(queue_client, anna, "de")
    first = queue_client.post("/api/v1/queue/call-next", headers=anna, json={"site": "centre"})
    assert first.status_code == 200 and first.get_json()["id"] == uk["id"]
    assert not first.get_json()["interpreter_needed"]
    second = queue_client.post("/api/v1/queue/call-next", headers=anna, json={"site": "centre"})
    assert second.get_json()["id"] == de["id"]  # German: every staff member
    nothing = queue_client.post("/api/v1/queue/call-next", headers=anna, json={"site": "centre"})
    assert nothing.status_code == 409 and "no ticket" in nothing.get_json()["message"]
    assert queue_client.post("/api/v1/queue/call-next", headers=ben,
                       json={"site": "centre"}).get_json()["id"] == ar["id"]
    assert queue_client.post("/api/v1/queue/call-next", headers=ben,
                       json={}).status_code == 422


def test_a_ticket_nobody_speaks_is_called_after_its_wait_with_an_interpreter(
        queue_client, anna, queue_clock):
    ti = draw_ticket(queue_client, anna, "ti")
    assert queue_client.post("/api/v1/queue/call-next", headers=anna,
                       json={"site": "centre"}).status_code == 409
    queue_clock.advance(20)
    called = queue_client.post("/api/v1/queue/call-next", headers=anna, json={"site": "centre"})
    assert called.get_json()["id"] == ti["id"] and called.get_json()["interpreter_needed"]


def test_two_desks_calling_next_at_once_get_two_tickets(
        queue_client, anna, intake_deps, monkeypatch):
    """Desk one pauses after choosing its ticket, before its UPDATE; desk two calls then.
    Whoever comes second finds its choice taken and calls the next one."""
    draw_ticket(queue_client, anna, "uk")
    draw_ticket(queue_client, anna, "uk")
    chosen, go = threading.Event(), threading.Event()
    real_choose = store.choose_next

    def pausing(*args, **kwargs):
        found = real_choose(*args, **kwargs)
        if threading.current_thread().name == "desk-1" and not chosen.is_set():
            chosen.set()
            go.wait(10)
        return found

    monkeypatch.setattr(store, "choose_next", pausing)
    results = {}

    def desk(name, headers):
        results[name] = queue_client.application.test_client().post(
            "/api/v1/queue/call-next", headers=headers, json={"site": "centre"}).get_json()

    one = threading.Thread(target=desk, args=("one", anna), name="desk-1")
    one.start()
    assert chosen.wait(10)
    two = threading.Thread(target=desk, args=("two", anna), name="desk-2")
    two.start()
    go.set()
    one.join(10)
    two.join(10)
    assert {results["one"]["number"], results["two"]["number"]} == {"Z-001", "Z-002"}


def test_many_desks_calling_at_once_never_share_a_ticket(queue_client, anna):
    for _ in range(6):
        draw_ticket(queue_client, anna, "uk")
    answers: list = []

    def desk():
        answers.append(queue_client.application.test_client().post(
            "/api/v1/queue/call-next", headers=anna, json={"site": "centre"}).get_json())

    threads = [threading.Thread(target=desk) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(a["number"] for a in answers) == [f"Z-00{i}" for i in range(1, 7)]


def test_partners_and_anonymous_callers_have_no_queue(queue_client, anna):
    partner = token(queue_client, "welfare", "pw-welfare")
    assert queue_client.get("/api/v1/queue?site=centre", headers=partner).status_code == 403
    assert queue_client.post("/api/v1/queue/tickets", json={"site": "centre", "language": "uk",
                                                      "topic": "housing"}).status_code == 401


def test_account_languages_are_stored_and_demo_staff_speak_several(intake_deps):
    from services.intake.accounts import AccountError, seed_demo_accounts

    with intake_deps.session_factory() as s:
        seed_demo_accounts(s)
        s.commit()
        spoken = dict(s.execute(select(accounts.c.username, accounts.c.languages)).all())
        assert spoken["staff"] == ["en", "uk", "ru"] and spoken["operator"] == []
        with pytest.raises(AccountError) as refused:
            save_account(s, "carla", "pw-carla", "staff", languages=("klingon",))
        assert refused.value.field == "languages"
        save_account(s, "staff", "demo", "staff")  # a reset keeps the languages
        assert store.languages_of(s, "staff") == ("en", "uk", "ru")


def test_each_move_leaves_its_event_through_the_outbox(queue_client, anna, intake_deps,
                                                       queue_clock):
    import json

    from services.intake.tables import outbox

    t = draw_ticket(queue_client, anna, "ti")
    queue_clock.advance(25)
    queue_client.post("/api/v1/queue/call-next", headers=anna, json={"site": "centre"})
    queue_clock.advance(10)
    queue_client.post(f"/api/v1/queue/tickets/{t['id']}/served", headers=anna)
    refused = queue_client.post(f"/api/v1/queue/tickets/{t['id']}/no-show", headers=anna)
    assert refused.status_code == 409
    with intake_deps.session_factory() as s:
        rows = s.execute(select(outbox.c.event_type, outbox.c.body)
                         .order_by(outbox.c.id)).all()
    assert [r.event_type for r in rows] == [
        "queue.ticket_drawn", "queue.ticket_called", "queue.ticket_closed"]
    called, closed = (json.loads(r.body)["data"] for r in rows[1:])
    assert called["waited_seconds"] == 25 * 60 and called["interpreter_needed"] is True
    assert closed["status"] == "served" and closed["number"] == "Z-001"
    assert "anna" not in str([r.body for r in rows])  # who called is not told


def test_lotse_user_sets_an_accounts_languages(lotse_command_env, monkeypatch, capsys):
    import io

    from services.cli import main
    from services.intake.bootstrap import bootstrap

    def lotse_user(*args: str) -> None:
        monkeypatch.setattr("sys.stdin", io.StringIO("Wasserturm Hafen Kaffee\n"))
        main(["user", "carla", "--role", "staff", "--password-stdin", *args])

    lotse_user("--languages", "en,UK, ti")
    with pytest.raises(SystemExit) as refused:
        lotse_user("--languages", "en,elbisch")
    assert str(refused.value.code).startswith("lotse user: languages: ")
    assert "Traceback" not in capsys.readouterr().err
    lotse_user()  # a new password keeps the languages
    with bootstrap(lotse_command_env("intake")).session_factory() as s:
        assert store.languages_of(s, "carla") == ("en", "uk", "ti")


def test_a_draw_that_finds_its_number_taken_draws_the_next_one(queue_client, anna,
                                                               monkeypatch):
    """Two draws at once: the second read the same highest number before the first
    committed. Forced here by a next_seq that hands out the taken number once."""
    draw_ticket(queue_client, anna)
    real_next_seq, handed = store.next_seq, []

    def racing(used_today):
        handed.append(used_today)
        return 1 if len(handed) == 1 else real_next_seq(used_today)

    monkeypatch.setattr(store, "next_seq", racing)
    assert draw_ticket(queue_client, anna)["number"] == "Z-002"
    assert len(handed) == 2


def test_the_daily_work_closes_the_tickets_a_past_day_left_open_as_left(
        queue_client, anna, queue_clock, intake_deps):
    """The intake service's daily retention run closes yesterday's waiting and called
    tickets as left without being served (not in a dry run, not today's), each with its
    queue.ticket_closed event; the next run finds none."""
    import json
    from datetime import datetime, timedelta, timezone

    from services.intake.retention import purges
    from services.intake.tables import outbox, queue_tickets

    waiting = draw_ticket(queue_client, anna, "ti")
    called = draw_ticket(queue_client, anna, "uk")
    served = draw_ticket(queue_client, anna, "uk")
    queue_clock.advance(12)
    for ticket, steps in ((called, ("call",)), (served, ("call", "served"))):
        for step in steps:
            queue_client.post(f"/api/v1/queue/tickets/{ticket['id']}/{step}", headers=anna)
    queue_clock.advance(24 * 60)
    today = draw_ticket(queue_client, token(queue_client, "anna", "pw-anna"))
    purge = purges(intake_deps)["queue_tickets"]
    cutoff = queue_clock() - timedelta(days=90)
    assert purge.apply(cutoff, queue_clock(), True) == 0  # a dry run closes nothing
    with intake_deps.session_factory() as s:
        assert s.execute(select(queue_tickets.c.status).where(
            queue_tickets.c.id == waiting["id"])).scalar_one() == "waiting"
    assert purge.apply(cutoff, queue_clock(), False) == 0  # none old enough to delete
    with intake_deps.session_factory() as s:
        statuses = dict(s.execute(select(queue_tickets.c.id, queue_tickets.c.status)).all())
        closed = [json.loads(body)["data"] for body in s.execute(
            select(outbox.c.body).where(outbox.c.event_type == "queue.ticket_closed")
            .order_by(outbox.c.id)).scalars()]
    assert statuses == {waiting["id"]: "left", called["id"]: "left", served["id"]: "served",
                        today["id"]: "waiting"}
    midnight = datetime(2026, 3, 2, 23, 0, tzinfo=timezone.utc)  # the city's day over
    assert {(c["ticket_id"], c["status"], c["waited_seconds"]) for c in closed} == {
        (served["id"], "served", 12 * 60), (waiting["id"], "left", None),
        (called["id"], "left", 12 * 60)}
    assert {datetime.fromisoformat(c["closed_at"]) for c in closed
            if c["status"] == "left"} == {midnight}
    purge.apply(cutoff, queue_clock(), False)
    with intake_deps.session_factory() as s:
        assert len(s.execute(select(outbox.c.id).where(
            outbox.c.event_type == "queue.ticket_closed")).all()) == 3
    refused = queue_client.post(f"/api/v1/queue/tickets/{waiting['id']}/call",
                                headers=token(queue_client, "anna", "pw-anna"))
    assert refused.status_code == 409
