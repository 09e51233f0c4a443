"""`lotse seed-demo --year 2022` at a small scale: the command gives the reporting service a
synthetic year through its consumer, and the figures read through the reporting API come out
at the first-year review's split times the scale, on working days only, with the surge of
March and April; a second run adds nothing."""
from __future__ import annotations

from datetime import date

import pytest

from services.cli import main
from services.reporting.app import create_app
from services.reporting.bootstrap import bootstrap
from shared.auth import Principal
from tests.component.conftest import bearer

SCALE = 0.01
YEAR = "from=2022-01-01&to=2022-12-31"


@pytest.fixture
def seeded(lotse_command_env, capsys):
    main(["seed-demo", "--year", "2022", "--scale", str(SCALE)])
    first = capsys.readouterr().out
    settings = lotse_command_env("reporting")
    app = create_app(settings, bootstrap(settings))
    app.config["TESTING"] = True
    client = app.test_client()
    headers = bearer(app, Principal("management", "management"))
    return lambda query: client.get(f"/api/v1/reports/{query}", headers=headers).get_json(), \
        first


def test_the_year_has_the_reviews_split_times_the_scale(seeded):
    report, _ = seeded
    rows = report(f"consultations?{YEAR}&by=site,nationality_group")["rows"]
    assert {(r["site"], r["nationality_group"]): r["consultations"] for r in rows} == {
        ("infopoint", "UA"): 200, ("centre", "UA"): 41, ("infopoint", "other"): 60,
        ("centre", "other"): 20}


def test_consultations_fall_on_working_days_only(seeded):
    report, _ = seeded
    days = [date.fromisoformat(r["period"]) for r in
            report(f"consultations?{YEAR}&interval=day")["rows"]]
    assert days and all(d.weekday() < 5 for d in days)
    assert date(2022, 4, 15) not in days and date(2022, 12, 26) not in days  # Good Friday


def test_the_surge_from_march_shows(seeded):
    report, _ = seeded
    months = {r["period"]: r["consultations"] for r in
              report(f"consultations?{YEAR}&interval=month")["rows"]}
    assert months["2022-03"] > 2 * months["2022-01"]
    assert months["2022-04"] > 2 * months["2022-01"]


def test_referrals_have_partners_coded_answers_and_some_visits_return(seeded):
    report, _ = seeded
    summary = report(f"summary?{YEAR}")
    referrals = report(f"referrals?{YEAR}&by=status")["rows"]
    statuses = {r["status"] for r in referrals}
    assert {"accepted", "completed", "rejected"} <= statuses
    outcomes = {r["outcome"] for r in report(f"referrals?{YEAR}&by=outcome")["rows"]}
    assert {"counselling_started", "application_filed"} <= outcomes and "other" not in outcomes
    assert 2.5 < sum(r["referrals"] for r in referrals) / 321 < 3.5
    visits = {r["visit"]: r["consultations"] for r in
              report(f"consultations?{YEAR}&by=visit")["rows"]}
    assert visits.get("returning", 0) > 0 and visits.get("new", 0) > visits["returning"]
    assert summary["consultations"]["total"] == 321


def test_a_second_run_adds_nothing(seeded, capsys):
    report, first = seeded
    before = report(f"summary?{YEAR}")
    main(["seed-demo", "--year", "2022", "--scale", str(SCALE)])
    assert ", 0 of them new" in capsys.readouterr().out and ", 0 of them new" not in first
    assert report(f"summary?{YEAR}") == before
