"""The reporting service as a whole on SQLite, no broker: events delivered the way its
consumer delivers them (inbox, tombstones), figures read through its API as JSON, CSV and
spreadsheet, with suppression and roles; a rebuild from the fact log equals the live tables;
an erasure keeps the counts and drops the link to the person."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from services.reporting import cli as reporting_cli
from services.reporting import queries
from services.reporting import tables as t
from services.reporting.consumers import SUBSCRIPTIONS
from shared.auth import Principal
from shared.bus.delivery import Verdict, deliver
from tests.component.conftest import bearer
from tests.reporting_events import Scene, Visitor, at

[COUNT] = SUBSCRIPTIONS
WEEK = "from=2022-03-07&to=2022-03-13"
MANAGEMENT = Principal("management", "management")


def take(deps, events) -> list:
    return [deliver(e.to_json(), COUNT, deps.uow) for e in events]


@pytest.fixture
def scene(reporting_deps):
    s = Scene.week()
    assert {o.verdict for o in take(reporting_deps, s.events)} == {Verdict.ACK}
    return s


@pytest.fixture
def client(reporting_app):
    return reporting_app.test_client()


@pytest.fixture
def management(reporting_app):
    return bearer(reporting_app, MANAGEMENT)


def test_consultations_by_site_and_nationality_group(scene, client, management):
    r = client.get(f"/api/v1/reports/consultations?{WEEK}&by=site,nationality_group",
                   headers=management)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"rows": [
        {"site": "centre", "nationality_group": "other", "consultations": 2},
        {"site": "infopoint", "nationality_group": "UA", "consultations": 2}]}


def test_referrals_with_their_times_by_partner(scene, client, management):
    r = client.get(f"/api/v1/reports/referrals?{WEEK}&by=partner&partner=sozialamt",
                   headers=management)
    assert r.get_json()["rows"] == [{
        "partner": "sozialamt", "referrals": 1, "reroutes": 1,
        "median_hours_to_acknowledgement": 1.0, "p90_hours_to_acknowledgement": 1.0,
        "median_hours_to_acceptance": 25.0, "p90_hours_to_acceptance": 25.0}]


def test_referrals_by_the_site_and_nationality_group_of_their_consultation(scene, client,
                                                                            management):
    r = client.get(f"/api/v1/reports/referrals?{WEEK}&by=site,nationality_group",
                   headers=management)
    assert [(row["site"], row["nationality_group"], row["referrals"])
            for row in r.get_json()["rows"]] == [("centre", "other", 3), ("infopoint", "UA", 1)]


def test_the_summary_has_every_figure(scene, client, management):
    body = client.get(f"/api/v1/reports/summary?{WEEK}", headers=management).get_json()
    assert body["from"] == "2022-03-07" and body["consultations"]["total"] == 4
    assert body["referrals"]["reroutes"] == 1
    assert body["deadline_breaches"] == {"acknowledgement": 1}
    assert body["on_hold_reasons"] == {"fact_missing": 1}
    assert (body["consent_withdrawals"], body["erasures"]) == (1, 0)
    assert len(body["review"]) == 2


def test_a_period_without_consultations_has_no_rows(scene, client, management):
    for report in ("consultations", "referrals"):
        r = client.get(f"/api/v1/reports/{report}?from=2021-01-01&to=2021-12-31",
                       headers=management)
        assert r.get_json() == {"rows": []}, report


def test_csv_has_a_header_row_then_the_rows(scene, client, management):
    r = client.get(f"/api/v1/reports/consultations?{WEEK}&by=site,visit&format=csv",
                   headers=management)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    assert list(csv.reader(io.StringIO(r.get_data(as_text=True)))) == [
        ["site", "visit", "consultations"], ["centre", "new", "2"],
        ["infopoint", "new", "1"], ["infopoint", "returning", "1"]]


def test_a_spreadsheet_has_the_same_rows(scene, client, management):
    r = client.get(f"/api/v1/reports/referrals?{WEEK}&by=status&format=xlsx",
                   headers=management)
    assert r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(r.data)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][:2] == ["status", "referrals"]
    assert [row[:2] for row in rows[1:]] == [["accepted", 1], ["completed", 1],
                                             ["on-hold", 1], ["rejected", 1]]


def test_exports_for_outside_readers_withhold_cells_under_the_threshold(reporting_deps,
                                                                         client, management):
    visitors = [Visitor() for _ in range(5)] + [Visitor(nationality="SY")]
    take(reporting_deps, [v.consultation(at(i))[1] for i, v in enumerate(visitors)])
    query = f"/api/v1/reports/consultations?{WEEK}&by=nationality_group&suppress_under=5"
    body = client.get(query, headers=management).get_json()
    assert body == {"suppressed_under": 5, "rows": [
        {"nationality_group": "UA", "consultations": 5},
        {"nationality_group": "other", "consultations": None,
         "suppressed": ["consultations"]}]}
    text = client.get(query + "&format=csv", headers=management).get_data(as_text=True)
    assert text.splitlines() == ["nationality_group,consultations", "UA,5", "other,<5"]
    exact = client.get(query.replace("&suppress_under=5", ""), headers=management).get_json()
    assert exact["rows"][1]["consultations"] == 1


@pytest.mark.parametrize("query, field", [
    ("to=2022-03-13", "from"),
    ("from=2022-13-01&to=2022-03-13", "from"),
    ("from=2022-03-13&to=2022-03-07", "to"),
    ("from=2012-01-01&to=2022-12-31", "to"),
    (f"{WEEK}&by=site,colour", "by"),
    (f"{WEEK}&by=site,site", "by"),
    (f"{WEEK}&format=pdf", "format"),
    (f"{WEEK}&interval=fortnight", "interval"),
    (f"{WEEK}&suppress_under=1", "suppress_under"),
    (f"{WEEK}&nationality_group=DE", "nationality_group"),
    (f"{WEEK}&colour=blue", "colour"),
])
def test_bad_input_is_refused_naming_the_field(client, management, query, field):
    r = client.get(f"/api/v1/reports/consultations?{query}", headers=management)
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["errors"]["query"]


def test_only_management_and_admins_read_reports_and_a_partner_its_own_referrals(
        scene, reporting_app, client):
    def status(principal, path):
        return client.get(f"{path}?{WEEK}",
                          headers=bearer(reporting_app, principal)).status_code
    for path in ("/api/v1/reports/consultations", "/api/v1/reports/referrals"):
        assert status(Principal("s", "staff"), path) == 403
        assert status(Principal("o", "operator"), path) == 403
        assert status(Principal("a", "admin"), path) == 200
        assert status(MANAGEMENT, path) == 200
    partner = bearer(reporting_app, Principal("jobcenter", "partner", "jobcenter"))
    assert client.get(f"/api/v1/reports/consultations?{WEEK}",
                      headers=partner).status_code == 403
    rows = client.get(f"/api/v1/reports/referrals?{WEEK}&by=partner&partner=welfare",
                      headers=partner).get_json()["rows"]
    assert [(r["partner"], r["referrals"]) for r in rows] == [("jobcenter", 1)]
    assert client.get(f"/api/v1/reports/summary?{WEEK}", headers=partner).status_code == 403


def test_a_redelivered_event_counts_once(reporting_deps):
    _, consultation = Visitor().consultation(at(0))
    first, again = take(reporting_deps, [consultation, consultation])
    assert (first.verdict, again.verdict, again.reason) == (Verdict.ACK, Verdict.ACK,
                                                            "duplicate")
    with reporting_deps.engine.connect() as conn:
        assert queries.consultation_rows(conn, queries.Period(date(2022, 3, 7),
                                                              date(2022, 3, 7)), []) == [
            {"consultations": 1}]
        assert len(conn.execute(select(t.facts)).all()) == 1


def figures(engine) -> dict:
    """Every figure the API offers, for the week and the year."""
    out = {}
    with engine.connect() as conn:
        for start, end in ((date(2022, 3, 7), date(2022, 3, 13)),
                           (date(2022, 1, 1), date(2022, 12, 31))):
            p = queries.Period(start, end, "week")
            out[start, "summary"] = queries.summary(conn, queries.Period(start, end))
            out[start, "consultations"] = queries.consultation_rows(
                conn, p, ["site", "nationality", "visit", "household_size", "age_band"])
            out[start, "referrals"] = queries.referral_rows(
                conn, p, ["partner", "service", "status", "outcome", "rerouted"])
            out[start, "queue"] = queries.queue_rows(
                conn, p, ["site", "language", "topic", "status", "interpreter_needed"])
        # the occurrences' ids are new: compared without them (and sorted without them)
        out["rows"] = {table.name: sorted((r[1:] if isinstance(r[0], int) else r for r in map(
            tuple, conn.execute(select(table)).all())), key=str) for table in t.FIGURE_TABLES}
    return out


def test_a_rebuild_from_the_fact_log_equals_the_live_figures(scene, reporting_deps):
    take(reporting_deps, [scene.ahmad.erasure_requested(
        at(80), [scene.intakes["ahmad"], scene.intakes["ahmad2"]],
        [scene.referrals["rejected"].id, scene.referrals["rerouted"].id])])
    live = figures(reporting_deps.engine)
    assert live["rows"]["reporting_consultations"]
    assert len(live["rows"]["reporting_queue_tickets"]) == 5
    assert reporting_cli.rebuild(reporting_deps.engine) == len(scene.events) + 1
    assert figures(reporting_deps.engine) == live


def test_a_rebuild_of_tickets_whose_events_came_in_any_order_equals_the_live_figures(
        reporting_deps):
    """The queue's events delivered backwards (closed before called before drawn): the live
    tables and a rebuild from the log, which replays them in the order they were taken, say
    the same as the events in order."""
    scene = Scene()
    events = scene.queue_day()
    take(reporting_deps, list(reversed(events)))
    backwards = figures(reporting_deps.engine)
    assert reporting_cli.rebuild(reporting_deps.engine) == len(events)
    assert figures(reporting_deps.engine) == backwards
    with reporting_deps.engine.begin() as conn:
        for table in (*t.FIGURE_TABLES, t.facts, t.inbox):
            conn.execute(table.delete())
    take(reporting_deps, events)
    assert figures(reporting_deps.engine) == backwards


def test_lotse_reporting_rebuild(lotse_command_env, capsys):
    from services.cli import main
    from services.reporting.bootstrap import bootstrap

    deps = bootstrap(lotse_command_env("reporting"))
    take(deps, Scene.week().events)
    live = figures(deps.engine)
    main(["reporting", "rebuild"])
    # 16 of consultations, referrals and the rest, 12 of walk-in tickets
    assert "rebuilt the figures from 28 facts" in capsys.readouterr().out
    assert figures(deps.engine) == live
    deps.engine.dispose()


def test_an_erasure_keeps_the_counts_and_drops_the_link_to_the_person(scene, reporting_deps):
    key, olena = reporting_deps.keyer, scene.olena
    accepted = scene.referrals["accepted"]
    before = figures(reporting_deps.engine)
    erasure = olena.erasure_requested(at(80), [scene.intakes["olena1"],
                                               scene.intakes["olena2"]], [accepted.id])
    [outcome] = take(reporting_deps, [erasure])
    assert outcome.verdict is Verdict.ACK
    after = figures(reporting_deps.engine)
    assert after[date(2022, 3, 7), "consultations"] == before[date(2022, 3, 7),
                                                              "consultations"]
    assert after[date(2022, 3, 7), "summary"]["erasures"] == 1
    with reporting_deps.engine.connect() as conn:  # still joined to their consultations
        assert queries.referral_rows(conn, queries.Period(date(2022, 3, 7), date(2022, 3, 13)),
                                     ["site"])[1]["site"] == "infopoint"
    gone = {key("person", olena.id), key("intake", scene.intakes["olena1"]),
            key("intake", scene.intakes["olena2"]), key("referral", accepted.id)}
    with reporting_deps.engine.connect() as conn:
        for table, columns in ((t.facts, ("person_key", "intake_key", "referral_key")),
                               (t.consultations, ("person_key", "intake_key")),
                               (t.referrals, ("referral_key", "intake_key")),
                               (t.occurrences, ("subject_key",))):
            for column in columns:
                assert not conn.execute(select(table).where(
                    table.c[column].in_(gone))).first(), (table.name, column)
        [confirmation] = conn.execute(select(t.outbox)).all()
    assert confirmation.event_type == "person.erased"
    assert '"service":"reporting"' in confirmation.body.replace(" ", "")
    # a later event about her is dropped (tombstones): nothing counted
    [late] = take(reporting_deps, [accepted.becomes("completed", at(90))])
    assert late.reason == "about an erased person"
    assert figures(reporting_deps.engine)["rows"] == after["rows"]


def test_an_erasure_re_keys_the_consents_the_person_withdrew(reporting_deps):
    olena, key = Visitor(), reporting_deps.keyer
    withdrawn = olena.consent_withdrawn(at(50), partner="welfare")
    consent = key("consent", withdrawn.data["consent_id"])
    take(reporting_deps, [olena.consultation(at(0))[1], withdrawn])
    [outcome] = take(reporting_deps, [olena.erasure_requested(at(80))])
    assert outcome.verdict is Verdict.ACK
    with reporting_deps.engine.connect() as conn:
        dims = [row.dims for row in conn.execute(
            select(t.facts.c.dims).where(t.facts.c.kind == "consent_withdrawal"))]
        occurrences = conn.execute(select(t.occurrences.c.subject_key).where(
            t.occurrences.c.kind == "consent_withdrawal")).scalars().all()
    assert len(dims) == len(occurrences) == 1  # still counted
    assert consent not in (dims[0]["consent"], *occurrences)
    assert dims[0]["consent"] == occurrences[0]  # re-keyed alike: a rebuild counts it once
    assert reporting_cli.rebuild(reporting_deps.engine) == 3


def test_the_retention_purge_deletes_old_facts_with_their_figures(scene, reporting_deps):
    from datetime import datetime, timezone

    from services.reporting.retention import purges

    figures_purge = purges(reporting_deps)["figures"]
    cutoff = datetime(2022, 4, 1, tzinfo=timezone.utc)  # before Ahmad's April consultation
    now = datetime(2032, 4, 1, tzinfo=timezone.utc)
    assert figures_purge.apply(cutoff, now, True) == len(scene.events) - 1
    assert figures_purge.apply(cutoff, now, False) == len(scene.events) - 1
    with reporting_deps.engine.connect() as conn:
        assert [r.day for r in conn.execute(select(t.consultations))] == [date(2022, 4, 6)]
        assert conn.execute(select(t.referrals)).all() == []
        assert conn.execute(select(t.occurrences)).all() == []
        assert conn.execute(select(t.queue_tickets)).all() == []  # drawn in March
    live = figures(reporting_deps.engine)
    reporting_cli.rebuild(reporting_deps.engine)
    assert figures(reporting_deps.engine) == live


def test_a_site_filter_narrows_holds_and_deadline_breaches_by_their_consultation(
        scene, client, management):
    """The breach and the hold are of referrals from the centre's consultations; a consent
    withdrawn belongs to no consultation: it counts for all sites, and the summary says so."""
    def summary(site):
        return client.get(f"/api/v1/reports/summary?{WEEK}&site={site}",
                          headers=management).get_json()
    centre, infopoint = summary("centre"), summary("infopoint")
    assert centre["deadline_breaches"] == {"acknowledgement": 1}
    assert centre["on_hold_reasons"] == {"fact_missing": 1}
    assert infopoint["deadline_breaches"] == {} and infopoint["on_hold_reasons"] == {}
    assert centre["consent_withdrawals"] == infopoint["consent_withdrawals"] == 1
    assert set(centre["all_sites"]) == {"consent_withdrawals", "erasures"}


def test_a_batch_takes_the_locks_of_all_its_events_first(reporting_deps, monkeypatch):
    """A batch is one transaction: were each event's keys locked as it comes, two batches
    with the same people in other orders could each hold a key the other waits for."""
    from services.reporting import projection
    from shared.bus.delivery import deliver_batch

    taken: list[set[str]] = []
    serialise = projection.serialise
    monkeypatch.setattr(projection, "serialise", lambda conn, keys: (
        taken.append({k for k in keys if k}), serialise(conn, keys))[-1])
    scene = Scene.week()
    erasure = scene.ahmad.erasure_requested(at(80), [scene.intakes["ahmad"]])
    outcomes = deliver_batch([e.to_json() for e in [*reversed(scene.events), erasure]],
                             COUNT, reporting_deps.uow)
    assert {o.verdict for o in outcomes} == {Verdict.ACK}
    first, *later = taken
    key = reporting_deps.keyer
    assert {key("person", scene.olena.id), key("intake", scene.intakes["ahmad2"])} <= first
    assert all(keys <= first for keys in later)



# --- the walk-in queue (Scene.queue_day: at the info point waits of 10 minutes, served, and
# 30, a no-show; at the centre of 5, served, and 20, still called; one still waiting) -----

QUEUE_BY_SITE = [
    {"site": "centre", "tickets": 3, "served": 1, "no_shows": 0,
     "median_wait_minutes": 12.5, "p90_wait_minutes": 20.0},
    {"site": "infopoint", "tickets": 2, "served": 1, "no_shows": 1,
     "median_wait_minutes": 20.0, "p90_wait_minutes": 30.0}]


def test_the_queue_report_by_site(scene, client, management):
    r = client.get(f"/api/v1/reports/queue?{WEEK}&by=site", headers=management)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"rows": QUEUE_BY_SITE}
    centre = client.get(f"/api/v1/reports/queue?{WEEK}&by=language&site=centre&interval=week",
                        headers=management).get_json()["rows"]
    assert [(row["period"], row["language"], row["tickets"]) for row in centre] == [
        ("2022-W10", "de", 1), ("2022-W10", "ro", 1), ("2022-W10", "uk", 1)]
    assert client.get("/api/v1/reports/queue?from=2021-01-01&to=2021-12-31",
                      headers=management).get_json() == {"rows": []}


def test_the_queue_report_as_csv_and_spreadsheet(scene, client, management):
    query = f"/api/v1/reports/queue?{WEEK}&by=site,interpreter_needed"
    r = client.get(query + "&format=csv", headers=management)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert 'filename="queue-2022-03-07-2022-03-13.csv"' in r.headers["Content-Disposition"]
    assert list(csv.reader(io.StringIO(r.get_data(as_text=True)))) == [
        ["site", "interpreter_needed", "tickets", "served", "no_shows", "median_wait_minutes",
         "p90_wait_minutes"],
        ["centre", "", "1", "0", "0", "", ""],  # still waiting: not called, no wait yet
        ["centre", "False", "2", "1", "0", "12.5", "20.0"],
        ["infopoint", "False", "1", "1", "0", "10.0", "10.0"],
        ["infopoint", "True", "1", "0", "1", "30.0", "30.0"]]
    sheet = load_workbook(io.BytesIO(client.get(query.replace(",interpreter_needed", "")
                                                + "&format=xlsx",
                                                headers=management).data)).active
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["site", "tickets", "served", "no_shows", "median_wait_minutes", "p90_wait_minutes"],
        *[list(row.values()) for row in QUEUE_BY_SITE]]


def test_the_queue_report_for_outside_readers_withholds_small_counts(scene, client,
                                                                    management):
    query = f"/api/v1/reports/queue?{WEEK}&by=site&suppress_under=3"
    body = client.get(query, headers=management).get_json()
    assert body == {"suppressed_under": 3, "rows": [
        QUEUE_BY_SITE[0],
        {"site": "infopoint", "tickets": None, "served": None, "no_shows": None,
         "median_wait_minutes": None, "p90_wait_minutes": None,
         "suppressed": ["tickets", "served", "no_shows", "median_wait_minutes",
                        "p90_wait_minutes"]}]}
    text = client.get(query + "&format=csv", headers=management).get_data(as_text=True)
    assert text.splitlines()[2] == "infopoint,<3,<3,<3,<3,<3"


@pytest.mark.parametrize("query, field", [
    ("to=2022-03-13", "from"),
    ("from=2022-03-13&to=2022-03-07", "to"),
    (f"{WEEK}&by=site,partner", "by"),
    (f"{WEEK}&by=status,status", "by"),
    (f"{WEEK}&format=pdf", "format"),
    (f"{WEEK}&interval=fortnight", "interval"),
    (f"{WEEK}&suppress_under=101", "suppress_under"),
    (f"{WEEK}&site=", "site"),
    (f"{WEEK}&partner=welfare", "partner"),
])
def test_bad_queue_report_input_is_refused_naming_the_field(client, management, query,
                                                            field):
    r = client.get(f"/api/v1/reports/queue?{query}", headers=management)
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["errors"]["query"]


def test_only_management_and_admins_read_the_queue_report(scene, reporting_app, client):
    for principal, status in ((Principal("s", "staff"), 403), (Principal("o", "operator"), 403),
                              (Principal("welfare", "partner", "welfare"), 403),
                              (Principal("a", "admin"), 200), (MANAGEMENT, 200)):
        r = client.get(f"/api/v1/reports/queue?{WEEK}",
                       headers=bearer(reporting_app, principal))
        assert r.status_code == status, principal.role


def test_the_summary_has_the_queue(scene, client, management):
    queue = client.get(f"/api/v1/reports/summary?{WEEK}&site=infopoint",
                       headers=management).get_json()["queue"]
    assert queue == {"tickets": 2, "by_status": {"served": 1, "no_show": 1},
                     "by_site": {"infopoint": 2}, "by_language": {"uk": 1, "ar": 1},
                     "median_wait_minutes": 20.0, "p90_wait_minutes": 30.0,
                     "interpreter_needed": 1}
