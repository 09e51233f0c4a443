"""No personal data in the logs (domain.md §6): the embedded network runs as a process with all
of its output in one file; people with distinctive names (Latin with diacritics, Cyrillic,
Arabic), birth dates, phone numbers, e-mail addresses and streets are recorded and looked up
every way the public API and UI allow, including refused input and a failed login; then
the process output and every log file under the data folder are searched for each value in
the formats a log line could carry it in."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
import requests

from tests.conftest import OLENA, free_port, wait_until
from tests.e2e.client import LotseClient
from tests.e2e.processes import lotse, stop, wait_ready

pytestmark = pytest.mark.e2e

PEOPLE = [
    {"given_name": "Zofiaquetzal", "family_name": "Brzęczyszczykiewicz",
     "birth_date": "1979-08-23", "nationality": "PL", "languages": ["pl", "de"],
     "contact": {"phone": "+49 231 5550 1234", "email": "zofia.quetzal@example.org",
                 "address": {"street": "Xylophonweg 77", "postcode": "44137",
                             "city": "Dortmund"}},
     "household": [{"given_name": "Wojciechowa", "family_name": "Brzęczyszczykiewicz",
                    "relation": "child", "birth_date": "2015-01-29"}]},
    {"given_name": "Олександра", "family_name": "Шевчукова", "birth_date": "2001-02-17",
     "nationality": "UA", "languages": ["uk"],
     "other_names": [{"given_name": "Oleksandraqa", "family_name": "Shevchukovaqa"}],
     "contact": {"phone": "0176/98765432", "email": "o.shevchukova@example.net"}},
    {"given_name": "ميرنا", "family_name": "الحدادي", "birth_date": "1991-12-05",
     "nationality": "SY", "languages": ["ar"],
     "contact": {"phone": "+49 (0)231 4443332", "email": "Mirna.Haddadi@Example.com",
                 "address": {"street": "Quittenallee 9", "postcode": "44139",
                             "city": "Dortmund"}}},
]


CONTROL = "Log-Scan-Control-Qwxz"


def forms_of(value: str) -> set[str]:
    """The value as a log line might carry it: dates in ISO, German and compact form, phone
    numbers with and without separators, JSON-escaped non-Latin text (compared
    case-insensitively by the caller)."""
    forms = {value}
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        d = date.fromisoformat(value)
        forms |= {f"{d:%d.%m.%Y}", f"{d.day}.{d.month}.{d.year}", f"{d:%Y%m%d}",
                  f"{d:%d/%m/%Y}", f"{d:%m/%d/%Y}"}
    elif re.fullmatch(r"[+0-9 ()/-]+", value):
        digits = re.sub(r"\D", "", value)
        forms |= {digits, re.sub(r"[ ()/-]", "", value)}
    if not value.isascii():
        forms.add(value.encode("ascii", "backslashreplace").decode().replace("\\x", "\\u00"))
    return forms


def personal_values() -> list[str]:
    values = []
    for p in PEOPLE:
        values += [p["given_name"], p["family_name"], p["birth_date"]]
        values += [n[k] for n in p.get("other_names", []) for k in ("given_name", "family_name")]
        values += [m[k] for m in p.get("household", [])
                   for k in ("given_name", "birth_date")]
        contact = p["contact"]
        values += [contact["phone"], contact["email"]]
        if contact.get("address"):
            values.append(contact["address"]["street"])
    return values


def intake_of(person: dict) -> dict:
    return {**OLENA, "person": person,
            "consent": {**OLENA["consent"], "language": person["languages"][0]}}


def ui_session(base: str, username: str,
               password: str) -> tuple[requests.Session, requests.Response]:
    http = requests.Session()
    page = http.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    answer = http.post(f"{base}/login", data={"username": username, "password": password,
                                             "csrf_token": token}, timeout=10)
    return http, answer


def exercise(base: str) -> list[dict]:
    staff = LotseClient(base)
    api = staff.http
    intakes = [staff.post_intake(intake_of(p)) for p in PEOPLE]
    for intake in intakes:
        staff.wait_referred(intake["id"], 3, timeout=60)
    first = PEOPLE[0]
    # searches: names and birth dates in query strings
    for q in (first["family_name"], PEOPLE[1]["given_name"], PEOPLE[2]["family_name"],
              first["birth_date"], first["contact"]["email"]):
        assert api.get(f"{base}/api/v1/persons", params={"q": q}, timeout=10).ok
    assert api.get(f"{base}/api/v1/persons/matches", timeout=10, params={
        "given_name": first["given_name"], "family_name": first["family_name"],
        "birth_date": first["birth_date"]}).ok
    person_id = intakes[0]["person_id"]
    assert api.get(f"{base}/api/v1/persons/{person_id}", timeout=10).ok
    # a consent for one partner, then withdrawn
    consent = api.post(f"{base}/api/v1/persons/{person_id}/consents", timeout=10, json={
        "partner": "course_provider", "method": "signed_form", "language": "pl"})
    assert consent.status_code == 201, consent.text
    assert api.post(f"{base}/api/v1/consents/{consent.json()['id']}/withdraw", timeout=10,
                    json={"reason": f"asked by {first['given_name']}"}).ok
    # a returning visitor: a new consultation (the person's details confirmed again)
    again = api.post(f"{base}/api/v1/persons/{person_id}/consultations", timeout=10,
                     json={**intake_of(first), "needs": ["language_course"]})
    assert again.status_code == 201, again.text
    # refused input that carries personal data: marshmallow and business-rule messages
    broken = {**first, "birth_date": "2999-08-23",
              "contact": {**first["contact"], "email": "zofia.quetzal@@example.org",
                          "phone": "Zofiaquetzal 1979-08-23"}}
    assert api.post(f"{base}/api/v1/intakes", json=intake_of(broken),
                    timeout=10).status_code == 422
    assert api.post(f"{base}/api/v1/intakes", timeout=10, json=intake_of(
        {**first, "birth_date": "23.08.1979"})).status_code == 422
    assert api.get(f"{base}/api/v1/persons", params={"q": "Z" + "x" * 300}, timeout=10
                   ).status_code == 422
    # the staff UI: search page and the person page
    ui, answer = ui_session(base, "staff", "demo")
    assert answer.ok
    assert ui.get(f"{base}/persons", params={"q": first["family_name"]}, timeout=10).ok
    assert ui.get(f"{base}/persons/{person_id}", timeout=10).ok
    assert ui.get(f"{base}/intakes/{intakes[1]['id']}", timeout=10).ok
    # failed logins with personal data as the user name (API and form)
    assert requests.post(f"{base}/api/v1/auth/token", timeout=10, json={
        "username": first["contact"]["email"], "password": "wrong"}).status_code == 401
    _, refused = ui_session(base, PEOPLE[2]["given_name"], "wrong")
    assert refused.status_code == 401
    # partners: the portal's case list and the stand-in partner system's view
    welfare = LotseClient(base, "welfare", "demo")
    assert welfare.http.get(f"{base}/partner/cases", timeout=10).ok
    assert welfare.http.get(f"{base}/api/v1/partner-cases", timeout=10).ok
    assert staff.sandbox_cases("welfare")
    # the operator console: event journal and traces
    operator = LotseClient(base, "operator", "demo")
    assert operator.http.get(f"{base}/api/v1/ops/events", timeout=10).ok
    assert operator.http.get(f"{base}/api/v1/ops/trace/{intakes[0]['id']}", timeout=10).ok
    # the control: request lines carry the path, so this marker must be found by the scan
    assert api.get(f"{base}/api/v1/{CONTROL}", timeout=10).status_code == 404
    return intakes


def all_logs(output: Path, data_dir: Path) -> dict[str, str]:
    logs = {str(output): output.read_text(errors="replace")}
    for path in data_dir.rglob("*"):
        if path.is_file() and (path.suffix in (".log", ".txt", ".out", ".err")
                               or "log" in path.name.lower() and path.suffix != ".db"):
            logs[str(path)] = path.read_text(errors="replace")
    return logs


def test_the_logs_hold_none_of_the_seeded_peoples_data(tmp_path):
    port = free_port()
    data_dir = tmp_path / "var"
    output = tmp_path / "lotse.log"
    env = {"LOTSE_DATA_DIR": str(data_dir), "PORT": str(port), "LOTSE_LOG_FORMAT": "json",
           "LOTSE_LOG_LEVEL": "DEBUG", "LOTSE_SANDBOX_AUTO_ACCEPT": "0.5",
           "LOTSE_PARTNER_POLL_SECONDS": "0.5", "LOTSE_RETRY_DELAYS": "0.1,0.2"}
    base = f"http://127.0.0.1:{port}"
    proc = lotse(["run", "--demo"], env, output)
    try:
        wait_ready(base + "/healthz", proc)
        intakes = exercise(base)
        client = LotseClient(base)
        wait_until(lambda: all(r["status"] == "accepted"
                               for i in intakes for r in client.intake(i["id"])["referrals"]),
                   timeout=30, interval=0.5, message="the sandbox's signed callbacks")
    finally:
        stop(proc)
    logs = all_logs(output, data_dir)

    def found(values):
        return [(value, form, name) for value in values for form in forms_of(value)
                for name, text in logs.items() if form.casefold() in text.casefold()]
    assert found([CONTROL.lower()]), "the scan does not see the process's log lines"
    leaks = found(personal_values())
    assert not leaks, "\n".join(f"{form!r} ({value}) in {name}" for value, form, name in leaks)
