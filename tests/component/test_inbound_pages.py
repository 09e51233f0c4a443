"""Inbound referrals' pages: staff's list and page (words, not codes; invite, decline, not
reached; 'Aufnahme beginnen' fills the intake form in from the referral and links the intake
recorded), and the sender's page of its referrals with status and appointment."""
from __future__ import annotations

import pytest

from tests.component.conftest import token
from tests.component.test_inbound_api import refer
from tests.component.test_persons_api import FORM


@pytest.fixture
def csrf_off(inbound_client):
    inbound_client.application.config["WTF_CSRF_ENABLED"] = False  # the views are under test
    return inbound_client


def german(headers: dict) -> dict:
    return {**headers, "Accept-Language": "de", "Accept": "text/html"}


def test_staff_see_the_referral_in_words_and_invite_the_person(csrf_off, clerk, registration):
    r = refer(csrf_off, registration)
    intakes = csrf_off.get("/intakes", headers=german(clerk)).get_data(as_text=True)
    assert "die auf eine Einladung warten: 1" in intakes  # the way there from the start page
    listing = csrf_off.get("/inbound-referrals", headers=german(clerk)).get_data(as_text=True)
    assert "Olena Kovalenko" in listing and "Bürgerdienste" in listing
    assert "Vorübergehender Schutz" in listing and "TEMP_PROTECTION_24" not in listing
    assert "eingegangen, noch nicht eingeladen" in listing
    page = csrf_off.get(f"/inbound-referrals/{r['id']}", headers=german(clerk))
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Aufnahme beginnen" in text
    assert "Deutsch- / Integrationskurs" in text and "language_course" not in text.replace(
        'value="language_course"', "")
    refused = csrf_off.post(f"/inbound-referrals/{r['id']}/invite", headers=german(clerk),
                            data={"date": "morgen", "time": "10:30", "site": "centre"})
    assert refused.status_code == 422 and 'data-field="date"' in refused.get_data(as_text=True)
    done = csrf_off.post(f"/inbound-referrals/{r['id']}/invite", headers=german(clerk),
                         data={"date": "09.03.2026", "time": "10:30", "site": "centre"},
                         follow_redirects=True).get_data(as_text=True)
    assert "Die Person ist eingeladen." in done and "um 10:30 Uhr" in done
    sent = csrf_off.get("/sent-referrals", headers=german(registration)).get_data(as_text=True)
    assert "eingeladen" in sent and "09.03.2026" in sent and "Servicezentrum" in sent


def test_decline_needs_a_reason_and_an_ended_referral_is_said_so(csrf_off, clerk, registration):
    r = refer(csrf_off, registration)
    refused = csrf_off.post(f"/inbound-referrals/{r['id']}/decline", headers=german(clerk),
                            data={"reason": ""})
    assert refused.status_code == 422 and 'data-field="reason"' in refused.get_data(as_text=True)
    csrf_off.post(f"/inbound-referrals/{r['id']}/decline", headers=german(clerk),
                  data={"reason": "Wohnt nicht in Dortmund"})
    again = csrf_off.post(f"/inbound-referrals/{r['id']}/not-reached", headers=german(clerk),
                          follow_redirects=True).get_data(as_text=True)
    assert "hat den Status „abgelehnt“" in again
    sent = csrf_off.get("/sent-referrals", headers=german(registration)).get_data(as_text=True)
    assert "Wohnt nicht in Dortmund" in sent


def test_start_intake_fills_the_form_in_and_the_intake_links_the_referral(
        csrf_off, clerk, registration):
    r = refer(csrf_off, registration)
    form = csrf_off.get(f"/intakes/new?inbound_referral_id={r['id']}",
                        headers=german(clerk)).get_data(as_text=True)
    assert 'value="Olena"' in form and 'value="14.03.1987"' in form
    assert f'name="inbound_referral_id" value="{r["id"]}"' in form
    assert 'id="need-language_course" name="needs" value="language_course" checked' in form
    assert '<option value="TEMP_PROTECTION_24" selected>' in form
    recorded = csrf_off.post("/intakes/new", headers=german(clerk),
                             data={**FORM, "inbound_referral_id": r["id"]})
    assert recorded.status_code in (302, 303), recorded.get_data(as_text=True)[:1000]
    seen = csrf_off.get(f"/api/v1/inbound-referrals/{r['id']}", headers=clerk).get_json()
    assert seen["status"] == "arrived" and seen["intake_id"]


def test_a_partner_sees_only_its_own_and_staff_pages_are_not_theirs(csrf_off, registration,
                                                                      welfare):
    refer(csrf_off, registration)
    theirs = csrf_off.get("/sent-referrals", headers=german(welfare)).get_data(as_text=True)
    assert "Olena" not in theirs and "noch niemanden zugewiesen" in theirs
    assert csrf_off.get("/inbound-referrals", headers=german(welfare)).status_code == 403
    menu = csrf_off.get("/sent-referrals", headers=german(registration)).get_data(as_text=True)
    assert "Unsere Zuweisungen an das Zentrum" in menu


def test_management_does_not_see_the_partners_page(csrf_off):
    boss = token(csrf_off, "boss", "pw-boss")
    assert csrf_off.get("/sent-referrals", headers=german(boss)).status_code == 403


def test_a_move_from_a_page_a_colleague_has_changed_since_is_refused(csrf_off, clerk,
                                                                       registration):
    """Two clerks have the same referral open; the first invites the person. The second's
    invitation, sent from the page as it was before, does not replace the first one."""
    import re

    r = refer(csrf_off, registration)
    page = csrf_off.get(f"/inbound-referrals/{r['id']}", headers=german(clerk))
    seen = re.search(r'name="seen" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    first = {"date": "09.03.2026", "time": "10:30", "site": "centre", "seen": seen}
    assert "Die Person ist eingeladen." in csrf_off.post(
        f"/inbound-referrals/{r['id']}/invite", headers=german(clerk), data=first,
        follow_redirects=True).get_data(as_text=True)
    second = {**first, "time": "14:00", "site": "infopoint"}
    refused = csrf_off.post(f"/inbound-referrals/{r['id']}/invite", headers=german(clerk),
                            data=second, follow_redirects=True).get_data(as_text=True)
    assert "Die Person ist eingeladen." not in refused and "um 10:30 Uhr" in refused
    sent = csrf_off.get("/sent-referrals", headers=german(registration)).get_data(as_text=True)
    assert "10:30" in sent and "14:00" not in sent
