"""The reports dashboard (/reports): the review's table, the trend as an inline SVG, the key
figures, filters by period, site and partner; a bad period answers 422 naming the field;
German by default, English on request; for management and admins only."""
from __future__ import annotations

import re
from html import unescape

import pytest

from services.reporting.charts import Series, nice_top, stacked_bars
from services.reporting.consumers import SUBSCRIPTIONS
from shared.auth import Principal
from shared.bus.delivery import deliver
from tests.component.conftest import bearer
from tests.reporting_events import Scene

SPRING = "from=2022-03-01&to=2022-04-30"


@pytest.fixture
def page(reporting_deps, reporting_app):
    for event in Scene.week().events:
        deliver(event.to_json(), SUBSCRIPTIONS[0], reporting_deps.uow)
    client = reporting_app.test_client()
    headers = bearer(reporting_app, Principal("management", "management"))

    def get(query: str = SPRING, **extra):
        return client.get(f"/reports?{query}", headers={**headers, **extra})
    return get


def cells(html: str, table_id: str) -> list[list[str]]:
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S).group(0)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>",
                                                                   row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)]


def test_the_reviews_table_with_totals(page):
    html = page().get_data(as_text=True)
    rows = cells(html, "review")
    assert rows[1:] == [["Servicezentrum", "0", "3", "3"], ["Infopoint", "2", "0", "2"],
                        ["Gesamt", "2", "3", "5"]]


def test_the_trend_is_an_svg_drawn_on_the_server_with_a_bar_per_week(page):
    html = page().get_data(as_text=True)
    svg = re.search(r"<svg.*?</svg>", html, re.S).group(0)
    trend = re.search(r'id="trend".*?</div>', html, re.S).group(0)
    assert 'role="img"' in svg and "<script" not in trend.lower()  # drawn without scripts
    assert "KW 10/22: Ukraine: 2, andere Staatsangehörigkeiten: 2" in svg  # German week numbers
    assert "KW 14/22: Ukraine: 0, andere Staatsangehörigkeiten: 1" in svg
    assert "cdn" not in html.lower() and "https://" not in html


def test_key_figures_and_referrals_by_partner(page):
    html = page().get_data(as_text=True)
    assert "<b>5</b>" in html and "<b>17.5</b>" in html  # consultations; hours to acceptance
    partners = dict((r[0], r[1:]) for r in cells(html, "referrals-by-partner")[1:])
    assert partners["Sozialamt Dortmund (AsylbLG, SGB XII)"] == ["1", "1", "1.0 / 1.0",
                                                                 "25.0 / 25.0"]


def test_filters_narrow_the_figures(page):
    html = page(SPRING + "&site=infopoint").get_data(as_text=True)
    assert cells(html, "review")[1:] == [["Infopoint", "2", "0", "2"], ["Gesamt", "2", "0", "2"]]
    assert [r[0] for r in cells(html, "referrals-by-partner")[1:]] == [
        "Wohlfahrtsverbände (MBE/JMD)"]  # the referral of the info point's consultation
    html = page(SPRING + "&partner=jobcenter").get_data(as_text=True)
    assert [r[0] for r in cells(html, "referrals-by-partner")[1:]] == [
        "Jobcenter Dortmund (SGB II)"]


def test_figures_the_site_filter_does_not_narrow_say_all_sites(page):
    html = page(SPRING + "&site=infopoint").get_data(as_text=True)
    for figure in ("consents-withdrawn", "erasures"):
        assert "(alle Standorte)" in re.search(rf'id="{figure}".*?</div>', html, re.S).group(0)
    assert "alle Standorte" not in page().get_data(as_text=True)
    deadlines = re.search(r'id="deadline-breaches".*?</table>', html, re.S).group(0)
    assert "<td" not in deadlines  # the breach was of a centre's referral


def test_a_bad_period_is_refused_naming_the_field(page):
    answer = page("from=2022-04-30&to=2022-03-01")
    assert answer.status_code == 422
    assert 'data-field="to"' in answer.get_data(as_text=True)
    assert 'data-field="from"' in page("from=yesterday").get_data(as_text=True)


def test_errors_are_shown_at_their_input_with_its_label_in_the_readers_language(page):
    german = page("from=2022-04-30&to=2022-03-01").get_data(as_text=True)
    to = re.search(r'<input[^>]*id="to"[^>]*>(.*?)</div>', german, re.S)
    assert 'aria-invalid="true"' in to.group(0)
    assert "Darf nicht vor dem ersten Tag liegen." in to.group(1)
    alert = re.search(r'role="alert">(.*?)</div>', german, re.S).group(1)
    assert "<b>Bis</b>: Darf nicht vor dem ersten Tag liegen." in alert
    assert "`from`" not in german and "<b>to</b>" not in german
    unknown = page(SPRING + "&colour=red").get_data(as_text=True)
    assert "Diese Seite hat keinen Filter namens colour." in unknown
    assert "Unknown field" not in unknown and "<b>colour</b>" not in unknown
    english = page("from=yesterday", **{"Accept-Language": "en"}).get_data(as_text=True)
    assert re.search(r'id="from-error"[^>]*>Not a valid date\.</span>', english)
    assert "<b>From</b>: Not a valid date." in english


def test_german_by_default_english_on_request_and_printable(page):
    german = page().get_data(as_text=True)
    assert "Standort" in german and "Drucken" in german and "@media print" in german
    english = page(**{"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="en">' in english and "Site" in english and "Print" in english
    assert "Info point" in english
    assert re.search(r'<header>.*href="[^"]*/reports".*</header>', english, re.S)  # the menu


def test_the_print_button_works_under_the_content_security_policy(page):
    """The CSP runs only scripts carrying the response's nonce: no inline handlers."""
    answer = page()
    html = answer.get_data(as_text=True)
    nonce = re.search(r"'nonce-([^']+)'", answer.headers["Content-Security-Policy"]).group(1)
    assert not re.search(r"\son[a-z]+=", html)
    scripts = re.findall(r'<script nonce="([^"]*)">(.*?)</script>', html, re.S)
    assert any(n == nonce and "window.print()" in body for n, body in scripts)


def test_only_management_and_admins_see_the_dashboard(reporting_app):
    client = reporting_app.test_client()
    for role, status in (("staff", 403), ("operator", 403), ("admin", 200),
                         ("management", 200)):
        headers = bearer(reporting_app, Principal(role, role))
        assert client.get(f"/reports?{SPRING}", headers=headers).status_code == status, role


@pytest.mark.parametrize("label, de, en", [
    ("2022-03-07", "07.03.", "Mar 7"), ("2022-W10", "KW 10/22", "W10 2022"),
    ("2022-03", "März 22", "Mar 22"), ("2022-Q1", "2022 Q1", "2022 Q1"),
    ("2022", "2022", "2022")])
def test_periods_are_labelled_as_people_read_them(label, de, en):
    from services.reporting.ui import period_label

    assert (period_label(label, "de"), period_label(label, "en")) == (de, en)


def test_the_chart_scales_to_a_round_top_and_escapes_its_labels():
    assert [nice_top(n) for n in (1, 3, 7, 11, 4999)] == [1, 5, 10, 20, 5000]
    svg = stacked_bars(["<w>"], {"<w>": {"a": 3}}, [Series("a", "A & B")], "T")
    assert "&lt;w&gt;" in svg and "A &amp; B" in svg and "<w>" not in svg


def test_management_lands_on_the_reports_and_sees_no_intake(intake_client):
    app = intake_client.application
    headers = bearer(app, Principal("management", "management"))
    home = intake_client.get("/", headers=headers)
    assert home.status_code == 302 and home.headers["Location"].endswith("/reports")
    assert intake_client.get("/intakes", headers=headers).status_code == 403


def test_the_walk_in_queue_per_site_with_its_waiting_times_in_words(page):
    """Scene.queue_day: at the info point waits of 10 (served) and 30 minutes (did not come,
    an interpreter needed); at the centre of 5 (served) and 20 (still called), one waiting."""
    html = page().get_data(as_text=True)
    assert "Warteschlange / Wartezeiten" in html
    assert cells(html, "queue-by-site") == [
        ["Standort", "gezogene Wartenummern", "bedient", "nicht erschienen",
         "Minuten Wartezeit bis zum Aufruf (Median / 90. Perzentil)"],
        ["Servicezentrum", "3", "1", "0", "12.5 / 20.0"],
        ["Infopoint", "2", "1", "1", "20.0 / 30.0"],
        ["Gesamt", "5", "2", "1", "15.0 / 30.0"]]
    assert dict(cells(html, "queue-by-status")) == {
        "bedient": "2", "beim Aufruf nicht erschienen": "1",
        "aufgerufen, noch nicht abgeschlossen": "1", "wartet noch": "1"}
    languages = dict(cells(html, "queue-by-language"))
    assert languages["Ukrainisch"] == "2" and languages["Arabisch"] == "1"
    assert "Deutsch" in languages and "no_show" not in html
    assert "aufgerufen (niemand am Platz sprach die Sprache): 1" in html
    assert ('href="/api/v1/reports/queue?from=2022-03-01&to=2022-04-30&by=site'
            '&format=csv"') in unescape(html)


def test_the_queue_section_narrowed_by_site_in_english_and_empty(page):
    english = page(SPRING + "&site=infopoint", **{"Accept-Language": "en"}).get_data(
        as_text=True)
    assert "Walk-in queue / waiting times" in english
    assert cells(english, "queue-by-site")[1:] == [["Info point", "2", "1", "1", "20.0 / 30.0"],
                                                   ["Total", "2", "1", "1", "20.0 / 30.0"]]
    assert "did not come when called" in english
    assert "/api/v1/reports/queue?from=2022-03-01&to=2022-04-30&site=infopoint" \
        in unescape(english)
    empty = page("from=2021-01-01&to=2021-01-31").get_data(as_text=True)
    assert "In diesem Zeitraum wurden keine Wartenummern gezogen." in empty
    assert 'id="queue-by-site"' not in empty


def test_tickets_left_without_being_served_are_named_in_words(reporting_deps, reporting_app):
    from tests.reporting_events import Ticket, at

    ticket = Ticket("centre", "fa", "other", at(0))
    for event in (ticket.drawn_event(), ticket.left(at(15))):
        deliver(event.to_json(), SUBSCRIPTIONS[0], reporting_deps.uow)
    headers = bearer(reporting_app, Principal("management", "management"))
    html = reporting_app.test_client().get(f"/reports?{SPRING}", headers=headers).get_data(
        as_text=True)
    assert cells(html, "queue-by-status") == [["ohne Bedienung gegangen", "1"]]
    assert cells(html, "queue-by-site")[1] == ["Servicezentrum", "1", "0", "0", "– / –"]
    assert dict(cells(html, "queue-by-language")) == {"Persisch": "1"}
