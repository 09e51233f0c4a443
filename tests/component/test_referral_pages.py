"""The referral pages in the UI's words (issue 20, item 1): labels instead of codes, the
routing reason said in German, the intake linked only for those who may open it."""
from __future__ import annotations

import re

import pytest

from services.referral.app import create_app
from services.referral.consumers import SUBSCRIPTIONS
from shared.auth import Principal, issue_token
from shared.bus.delivery import deliver
from tests.component.test_partner_reports import CONSENT, welfare
from tests.component.test_referral_consents import intake_v2
from tests.e2e.pages import Page, problems, read

OPEN = SUBSCRIPTIONS[0]


@pytest.fixture
def client(settings, referral_deps):
    app = create_app(settings.for_service("referral"), referral_deps)
    app.config["WTF_CSRF_ENABLED"] = False  # CSRF is tested elsewhere
    return app.test_client()


def headers(settings, role: str) -> dict:
    return {"Authorization": "Bearer " + issue_token(settings.secret_key,
                                                     Principal(role, role)),
            "Accept-Language": "de"}


class _Answer:  # what pages.read needs of an answer
    def __init__(self, response):
        self.headers, self.text = response.headers, response.get_data(as_text=True)
        self.status_code = response.status_code


def page(client, url: str, who: dict) -> Page:
    return read(url, _Answer(client.get(url, headers=who)))


@pytest.mark.parametrize("role", ["staff", "operator"])
def test_the_referral_pages_show_words_and_link_the_intake_only_for_staff(
        client, settings, referral_deps, role):
    deliver(intake_v2(CONSENT), OPEN, referral_deps.uow)
    ref = welfare(referral_deps)
    who = headers(settings, role)
    for url in ("/referrals", f"/referrals/{ref.id}", "/routing-rules"):
        shown = page(client, url, who)
        assert shown.status == 200, url
        assert not problems(shown), (url, problems(shown))
        linked = any(re.search(r"/intakes/[0-9a-f-]{36}", link) for link in shown.links)
        assert linked == (role == "staff" and url != "/routing-rules"), url
    detail = client.get(f"/referrals/{ref.id}", headers=who).get_data(as_text=True)
    assert "Migrationsberatung für erwachsene Zugewanderte (MBE): Alter" in detail
    assert ref.routing_reason.startswith("MBE: age ")  # the API keeps the domain's sentence


@pytest.mark.parametrize("role", ["staff", "operator"])
def test_the_work_queue_says_why_in_words_and_links_the_intake_only_for_staff(
        client, settings, referral_deps, role):
    deliver(intake_v2([]), OPEN, referral_deps.uow)  # no consent: the referrals wait
    shown = page(client, "/work-queue", headers(settings, role))
    assert shown.status == 200 and not problems(shown), problems(shown)
    assert "zurückgestellt: Einwilligung fehlt" in shown.texts, shown.texts
    linked = any(re.search(r"/intakes/[0-9a-f-]{36}", link) for link in shown.links)
    assert linked == (role == "staff")


def test_a_refused_referral_by_hand_says_why_in_german(client, settings, referral_deps):
    deliver(intake_v2(CONSENT), OPEN, referral_deps.uow)
    ref = welfare(referral_deps)
    who = headers(settings, "staff")
    r = client.post("/referrals/manual", headers=who, data={
        "intake_id": str(ref.intake_id), "need": "housing", "target": "welfare/sgb2"})
    assert r.status_code == 302, r.get_data(as_text=True)[-600:]
    with client.session_transaction() as session:
        [(_, said)] = session["_flashes"]
    assert "Wohlfahrtsverbände (MBE/JMD) bietet keine Leistung Bürgergeld (SGB II)" in said, said
    assert not problems(Page("", 200, [said])), said
