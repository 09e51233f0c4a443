"""The walk-in queue's pages: reception (draw, call next, served, no-show), the kiosk and the
waiting room's display, which need no login but the site's key in their address."""
from __future__ import annotations

import re

import pytest

from services.intake import walk_in_store as store
from services.intake.walk_in_ui import display_key, kiosk_key
from tests.component.conftest import draw_ticket, token
from tests.component.test_persons_api import FORM



@pytest.fixture
def csrf_off(queue_app):
    queue_app.config["WTF_CSRF_ENABLED"] = False  # the form's token is tested elsewhere
    return queue_app


@pytest.fixture
def key(queue_app):
    return kiosk_key(queue_app.secret_key, "centre")


@pytest.fixture
def screen_key(queue_app):
    return display_key(queue_app.secret_key, "centre")


def english(headers: dict) -> dict:
    return {**headers, "Accept-Language": "en", "Accept": "text/html"}


def test_reception_draws_calls_next_and_serves(queue_client, anna, csrf_off):
    page = queue_client.get("/queue?site=centre", headers=english(anna))
    assert page.status_code == 200 and "Nobody is waiting." in page.get_data(as_text=True)
    drawn = queue_client.post("/queue/tickets", headers=english(anna), follow_redirects=True,
                        data={"site": "centre", "language": "Ukrainian", "topic": "housing"})
    assert "Ticket Z-001 drawn." in drawn.get_data(as_text=True)
    queue_client.post("/queue/tickets", headers=english(anna),
                data={"site": "centre", "language": "ar", "topic": "other"})
    refused = queue_client.post("/queue/tickets", headers=english(anna), follow_redirects=True,
                          data={"site": "centre", "language": "Elbisch", "topic": "housing"})
    assert refused.status_code == 422
    assert "not drawn: Visitor&#39;s language" in refused.get_data(as_text=True)
    called = queue_client.post("/queue/call-next", headers=english(anna), follow_redirects=True,
                         data={"site": "centre"})
    text = called.get_data(as_text=True)
    assert "Ticket Z-001 called." in text
    assert re.search(r'data-number="Z-001" data-status="called"', text)
    nothing = queue_client.post("/queue/call-next", headers=english(anna), follow_redirects=True,
                          data={"site": "centre"})
    assert "No ticket is waiting in a language you speak." in nothing.get_data(as_text=True)
    rows = queue_client.get("/api/v1/queue?site=centre", headers=anna).get_json()["items"]
    served = queue_client.post(f"/queue/tickets/{rows[0]['id']}/served", headers=english(anna),
                         data={"site": "centre"}, follow_redirects=True)
    assert "Ticket Z-001 served." in served.get_data(as_text=True)
    again = queue_client.post(f"/queue/tickets/{rows[0]['id']}/no-show", headers=english(anna),
                        data={"site": "centre"}, follow_redirects=True)
    assert "Ticket Z-001 is already served." in again.get_data(as_text=True)
    queue_client.post(f"/queue/tickets/{rows[1]['id']}/call", headers=english(anna),
                data={"site": "centre"})
    gone = queue_client.post(f"/queue/tickets/{rows[1]['id']}/no-show", headers=english(anna),
                       data={"site": "centre"}, follow_redirects=True)
    assert "Ticket Z-002: the visitor did not come." in gone.get_data(as_text=True)


def test_the_reception_rows_refresh_alone_and_show_the_minutes(queue_client, anna, queue_clock):
    draw_ticket(queue_client, anna, "uk")
    queue_clock.advance(12)
    rows = queue_client.get("/queue?site=centre", headers={**english(anna), "X-Partial": "1"})
    text = rows.get_data(as_text=True)
    assert "<html" not in text and "Z-001" in text and "<td>12</td>" in text


def test_the_reception_page_links_the_sites_kiosk_and_display(queue_client, anna, key,
                                                             screen_key):
    text = queue_client.get("/queue?site=centre", headers=english(anna)).get_data(as_text=True)
    assert f"/queue/kiosk/centre/{key}" in text and f"/queue/display/centre/{screen_key}" in text
    assert key != screen_key


def test_the_displays_key_does_not_open_the_kiosk(queue_app, key, screen_key, anna):
    """The display hangs on a public screen: whoever read its address cannot draw."""
    visitor = queue_app.test_client()
    assert visitor.get(f"/queue/display/centre/{screen_key}").status_code == 200
    assert visitor.get(f"/queue/kiosk/centre/{screen_key}").status_code == 404
    queue_app.config["WTF_CSRF_ENABLED"] = False
    drawn = visitor.post(f"/queue/kiosk/centre/{screen_key}",
                         data={"language": "uk", "topic": "housing"})
    assert drawn.status_code == 404
    assert visitor.get(f"/queue/display/centre/{key}").status_code == 404
    assert queue_app.test_client().get("/api/v1/queue?site=centre",
                                       headers=anna).get_json()["items"] == []


def test_a_visitor_draws_at_the_kiosk_without_a_login(queue_app, key, csrf_off, anna):
    kiosk = queue_app.test_client()  # nobody logged in
    start = kiosk.get(f"/queue/kiosk/centre/{key}")
    assert start.status_code == 200
    text = start.get_data(as_text=True)
    assert "українська" in text and 'dir="rtl"' in text  # each language named in itself
    topics = kiosk.get(f"/queue/kiosk/centre/{key}?language=uk").get_data(as_text=True)
    assert 'data-topic="housing"' in topics
    drawn = kiosk.post(f"/queue/kiosk/centre/{key}", data={"language": "uk", "topic": "housing"},
                       follow_redirects=True)
    assert drawn.status_code == 200
    assert 'id="ticket-number">Z-001<' in drawn.get_data(as_text=True)
    listed = queue_app.test_client().get("/api/v1/queue?site=centre", headers=anna).get_json()
    assert [(t["number"], t["language"], t["topic"]) for t in listed["items"]] == [
        ("Z-001", "uk", "housing")]
    assert kiosk.post(f"/queue/kiosk/centre/{key}",
                      data={"language": "uk", "topic": "tea"}).status_code == 422


@pytest.mark.parametrize("path", ["/queue/kiosk/centre/{wrong}", "/queue/kiosk/infopoint/{key}",
                                  "/queue/kiosk/moon/{key}", "/queue/display/centre/{wrong}",
                                  "/queue/display/infopoint/{screen}/numbers"])
def test_a_kiosk_or_display_address_without_its_sites_key_is_no_page(queue_app, key, screen_key,
                                                                      path):
    answer = queue_app.test_client().get(path.format(key=key, screen=screen_key, wrong="0" * 32))
    assert answer.status_code == 404


def test_a_kiosk_post_with_a_wrong_key_draws_nothing(queue_app, anna):
    queue_app.config["WTF_CSRF_ENABLED"] = False
    answer = queue_app.test_client().post("/queue/kiosk/centre/" + "0" * 32,
                                          data={"language": "uk", "topic": "housing"})
    assert answer.status_code == 404
    assert queue_app.test_client().get("/api/v1/queue?site=centre",
                                       headers=anna).get_json()["items"] == []


def test_the_kiosk_form_needs_its_csrf_token_and_an_expired_one_returns_to_the_kiosk(
        queue_app, key, anna):
    answer = queue_app.test_client().post(f"/queue/kiosk/centre/{key}",
                                          data={"language": "uk", "topic": "housing"})
    assert answer.status_code == 400
    text = answer.get_data(as_text=True)
    assert "Die Seite war abgelaufen. Bitte wählen Sie noch einmal." in text
    assert "The page had expired. Please choose again." in text
    assert 'data-language="uk"' in text and "setTimeout" in text  # the kiosk, returning
    assert "/login" not in text  # not the staff layout's error page
    assert queue_app.test_client().get("/api/v1/queue?site=centre",
                                       headers=anna).get_json()["items"] == []


def test_the_reception_page_needs_a_login(queue_app):
    answer = queue_app.test_client().get("/queue", headers={"Accept": "text/html"})
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_the_display_shows_called_numbers_only_latest_first(queue_client, anna, queue_app,
                                                            screen_key, queue_clock):
    a = draw_ticket(queue_client, anna, "uk", "housing")
    b = draw_ticket(queue_client, anna, "ar", "living_costs")
    draw_ticket(queue_client, anna, "ru")
    queue_client.post(f"/api/v1/queue/tickets/{a['id']}/call", headers=anna)
    queue_clock.advance(1)
    queue_client.post(f"/api/v1/queue/tickets/{b['id']}/call", headers=anna)
    screen = queue_app.test_client()
    page = screen.get(f"/queue/display/centre/{screen_key}").get_data(as_text=True)
    assert re.findall(r'data-number="([^"]+)"', page) == ["Z-002", "Z-001"]
    shown = page.split('id="numbers"', 1)[1].split("</script>")[0]
    for private in ("anna", "Ukrain", "housing", "living_costs", "Z-003"):
        assert private not in shown
    assert "anna" not in page and "Wohn" not in page
    assert "nonce=" in page and "setInterval" in page  # refreshes itself, no CDN
    queue_client.post(f"/api/v1/queue/tickets/{b['id']}/served", headers=anna)
    numbers = screen.get(f"/queue/display/centre/{screen_key}/numbers").get_data(as_text=True)
    assert re.findall(r'data-number="([^"]+)"', numbers) == ["Z-001"]
    assert "<html" not in numbers


def test_a_partner_has_no_reception_page(queue_client):
    partner = token(queue_client, "welfare", "pw-welfare")
    assert queue_client.get("/queue", headers=english(partner)).status_code == 403


def test_an_intake_recorded_from_a_called_ticket_serves_it(queue_client, anna, csrf_off):
    t = draw_ticket(queue_client, anna, "uk")
    queue_client.post("/api/v1/queue/call-next", headers=anna, json={"site": "centre"})
    rows = queue_client.get("/queue?site=centre", headers=english(anna)).get_data(as_text=True)
    assert f"/intakes/new?ticket_id={t['id']}" in rows
    form = queue_client.get(f"/intakes/new?ticket_id={t['id']}", headers=english(anna))
    assert f'name="ticket_id" value="{t["id"]}"' in form.get_data(as_text=True)
    recorded = queue_client.post("/intakes/new", headers=english(anna),
                                 data={**FORM, "ticket_id": t["id"]})
    assert recorded.status_code in (302, 303)
    assert queue_client.get("/api/v1/queue?site=centre", headers=anna).get_json()["items"] == []
    intakes = queue_client.get("/api/v1/intakes", headers=anna).get_json()["items"]
    served = store.get(queue_client.application.extensions["lotse"].session_factory, t["id"])
    assert served.status.value == "served" and served.intake_id == intakes[0]["id"]
    again = queue_client.post("/intakes/new", headers=english(anna),
                              data={**FORM, "ticket_id": t["id"]})
    assert again.status_code in (302, 303)  # a ticket served already leaves the intake be
    odd = queue_client.post("/intakes/new", headers=english(anna),
                            data={**FORM, "ticket_id": "not-a-ticket"})
    assert odd.status_code in (302, 303)


def kiosk_at(queue_app, address: str = "192.0.2.10"):
    """A kiosk browser of its own (session and address)."""
    client = queue_app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def items(queue_app, anna) -> list[dict]:
    return queue_app.test_client().get("/api/v1/queue?site=centre",
                                       headers=anna).get_json()["items"]


def test_a_kiosk_draw_redirects_to_its_number_so_a_reload_draws_nothing(queue_app, key,
                                                                        csrf_off, anna):
    kiosk = kiosk_at(queue_app)
    drawn = kiosk.post(f"/queue/kiosk/centre/{key}", data={"language": "uk", "topic": "housing"})
    assert drawn.status_code == 303
    shown_at = drawn.headers["Location"]
    [ticket] = items(queue_app, anna)
    assert "Z-001" not in shown_at and "001" not in shown_at and ticket["id"] not in shown_at
    for _ in range(2):  # the page and its reload
        page = kiosk.get(shown_at)
        assert 'id="ticket-number">Z-001<' in page.get_data(as_text=True)
    assert len(items(queue_app, anna)) == 1
    other = kiosk_at(queue_app, "192.0.2.11").get(shown_at).get_data(as_text=True)
    assert "ticket-number" not in other and 'data-language="uk"' in other  # the start
    kiosk.get(f"/queue/kiosk/centre/{key}")  # the next visitor's start forgets the number
    assert "ticket-number" not in kiosk.get(shown_at).get_data(as_text=True)


def test_the_kiosk_draws_a_few_tickets_a_minute_per_client_then_sends_to_reception(
        queue_app, key, csrf_off, anna, queue_clock, queue_client):
    kiosk = kiosk_at(queue_app)

    def draw(client):
        return client.post(f"/queue/kiosk/centre/{key}",
                           data={"language": "uk", "topic": "housing"})

    assert [draw(kiosk).status_code for _ in range(5)] == [303] * 4 + [429]
    refused = draw(kiosk).get_data(as_text=True)
    assert "Bitte gehen Sie zum Empfang." in refused and "Please go to reception." in refused
    assert 'id="kiosk-done"' in refused and "setTimeout" in refused
    # a new session from the same address is the same client
    assert draw(kiosk_at(queue_app)).status_code == 429
    assert len(items(queue_app, anna)) == 4
    # reception (staff, logged in) is not limited
    for _ in range(3):
        draw_ticket(queue_client, anna)
    queue_app.config["WTF_CSRF_ENABLED"] = False
    assert queue_client.post("/queue/tickets", headers=english(anna), data={
        "site": "centre", "language": "uk", "topic": "housing"}).status_code == 303
    queue_clock.advance(1)  # a minute later the kiosk draws again
    assert draw(kiosk).status_code == 303


def test_the_kiosk_draws_at_most_ten_tickets_a_minute_per_site(queue_app, key, csrf_off,
                                                               anna, queue_clock):
    answers = [kiosk_at(queue_app, f"192.0.2.{n}").post(
        f"/queue/kiosk/centre/{key}", data={"language": "ar", "topic": "other"}).status_code
        for n in range(1, 13)]
    assert answers == [303] * 10 + [429] * 2
    other_site = kiosk_key(queue_app.secret_key, "infopoint")
    assert kiosk_at(queue_app, "192.0.2.99").post(
        f"/queue/kiosk/infopoint/{other_site}",
        data={"language": "ar", "topic": "other"}).status_code == 303
    queue_clock.advance(1)
    assert kiosk_at(queue_app, "192.0.2.1").post(
        f"/queue/kiosk/centre/{key}", data={"language": "ar", "topic": "other"}).status_code == 303


@pytest.mark.parametrize("form, step", [
    ({"language": "uk", "topic": "tea"}, 'data-topic="housing"'),
    ({"language": "uk"}, 'data-topic="housing"'),
    ({"language": "elbisch", "topic": "housing"}, 'data-language="uk"'),
    ({"topic": "housing"}, 'data-language="uk"'),
])
def test_a_wrong_choice_at_the_kiosk_asks_again_in_german_and_english(queue_app, key, csrf_off,
                                                                      form, step, anna):
    answer = kiosk_at(queue_app).post(f"/queue/kiosk/centre/{key}", data=form)
    assert answer.status_code == 422
    text = answer.get_data(as_text=True)
    assert "Bitte wählen Sie Ihre Sprache und dann ein Thema." in text
    assert "Please choose your language, then a topic." in text
    assert step in text and "setTimeout" in text and "/login" not in text
    assert items(queue_app, anna) == []


def test_when_the_days_numbers_run_out_the_kiosk_sends_to_reception(queue_app, key, csrf_off,
                                                                     monkeypatch):
    monkeypatch.setattr("services.intake.walk_in.MAX_PER_DAY", 1)
    kiosk = kiosk_at(queue_app)
    form = {"language": "uk", "topic": "housing"}
    assert kiosk.post(f"/queue/kiosk/centre/{key}", data=form).status_code == 303
    answer = kiosk.post(f"/queue/kiosk/centre/{key}", data=form)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 409 and "Please choose" not in text
    assert "Heute gibt es keine Nummern mehr. Bitte gehen Sie zum Empfang." in text
    assert "There are no more numbers today. Please go to reception." in text
    assert 'id="kiosk-done"' in text and "setTimeout" in text


def test_a_refused_draw_at_reception_is_told_in_german_at_its_field(queue_client, anna,
                                                                    csrf_off, monkeypatch):
    german = {**anna, "Accept-Language": "de", "Accept": "text/html"}
    answer = queue_client.post("/queue/tickets", headers=german, data={
        "site": "centre", "language": "Elbisch", "topic": "housing"})
    assert answer.status_code == 422
    text = answer.get_data(as_text=True)
    assert re.search(r'id="err-q-language" data-field="language">Bitte eine Sprache mit ihrem '
                     r'Namen oder ISO-Code eingeben', text)
    assert 'aria-describedby="err-q-language"' in text and 'value="Elbisch"' in text
    assert "Sprache der Person: Bitte" in text  # the flash names the field by its label
    assert "language:" not in text and "ISO 639" not in text and "must be" not in text
    monkeypatch.setattr("services.intake.walk_in.MAX_PER_DAY", 0)
    full = queue_client.post("/queue/tickets", headers=german, data={
        "site": "centre", "language": "uk", "topic": "housing"}).get_data(as_text=True)
    assert "Standort: Alle Nummern dieses Standorts für heute sind vergeben." in full
    assert "site:" not in full and "tickets today" not in full


def test_the_kiosks_topics_are_in_german_and_english_whatever_the_browser_asks(queue_app,
                                                                              key):
    for asked in ("de", "en"):
        page = queue_app.test_client().get(f"/queue/kiosk/centre/{key}?language=uk",
                                           headers={"Accept-Language": asked})
        other = page.get_data(as_text=True).split('data-topic="other">', 1)[1]
        assert other.startswith('Etwas anderes<span class="sub" lang="en" translate="no">'
                                'Something else</span>')
