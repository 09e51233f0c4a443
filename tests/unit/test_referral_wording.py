"""The referral's routing reasons and history notes read in the UI's language (issue 20,
item 1): every sentence the domain builds is recognised and said in German words, with no
code, English word or ISO date left; typed text is shown as typed."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone

import pytest
from flask import Flask
from flask_babel import Babel, force_locale

from services.referral import wording
from services.referral.domain import (FactsMissing, PersonFacts, Referral, Route, RoutingRule,
                                      decide_for_household)
from shared.web import TRANSLATIONS
from tests.e2e.pages import Page, problems
from tests.unit.test_routing_law import CASES

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def app():
    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app)
    with app.app_context(), force_locale("de"):
        yield app


def german(text: str | None) -> list[str]:
    return problems(Page("", 200, [text or ""]))


def facts_of(case) -> PersonFacts:
    return PersonFacts(date.fromisoformat(case.born), case.nationality, case.status, ("uk",),
                       date.fromisoformat(case.first_issued) if case.first_issued else None,
                       children_born=tuple(date.fromisoformat(c) for c in case.children),
                       district=case.district,
                       arrival_date=date.fromisoformat(case.arrived) if case.arrived else None,
                       residence_purpose=case.purpose)


@pytest.mark.parametrize("case", [c for c in CASES if c.expected is not None],
                         ids=lambda c: c.what)
def test_every_routing_reason_of_the_seeded_table_reads_german(app, case, table):
    decided = decide_for_household(case.need, facts_of(case), table, case.day)
    said = wording.routing_reason(decided.reason, "de")
    assert said is not None, decided.reason
    assert not german(said), (said, german(said))


def test_every_condition_of_a_rule_reads_german(app):
    rule = RoutingRule(id="all", need="housing", partner="wohnungsamt", service="wbs",
                       priority=1, citation="§ 18 WFNG NRW", min_age=18, max_age=67,
                       residence_statuses=("WORK",), first_issued_from=date(2020, 1, 1),
                       nationality_group="non_EU", languages=("uk",), child_under=6,
                       districts=("innenstadt_nord",), pension_age="below",
                       purposes=("employment",), arrived_within_months=60)
    facts = PersonFacts(date(1987, 3, 14), "UA", "WORK", ("uk",), date(2022, 4, 1),
                        children_born=(date(2024, 1, 1),), district="innenstadt_nord",
                        arrival_date=date(2022, 3, 1), residence_purpose="employment")
    reason = rule.assess(facts, date(2026, 11, 21))
    assert isinstance(reason, str), reason
    said = wording.routing_reason(reason, "de")
    assert said is not None and not german(said), (reason, said)
    assert "14" not in said and "Alter 39, zwischen 18 und 66" in said


def test_held_and_hand_made_referrals_and_their_notes_read_german(app):
    missing = FactsMissing("x", ("first_issue_date", "arrival_date"), "§ 1 AsylbLG")
    by_hand = Route("welfare", "mbe", "manual", "MBE: referred by hand by anna (urgent)")
    child = Route("dlzb", "school_placement", "school-dlzb",
                  "for the child born 2015-09-09: SCHOOL_PLACEMENT: age 11 within 6–25 "
                  "(§ 34 Abs. 1, 6 SchulG NRW)")
    texts = [missing.reason, by_hand.reason, child.reason, "no rule fits: on hold for staff",
             "no routing rule fits need living_costs",
             "no routing rule fits need school_place for household member 2 (or its partner "
             "is not told whom a case is for)"]
    for text in texts:
        said = wording.routing_reason(text, "de")
        assert said is not None and not german(said), (text, said)
    for route, basis, waits in ((child, None, None), (by_hand, None, "address_registration")):
        from services.referral.domain import SharingBasis
        referral = Referral.open(intake_id=uuid.uuid4(), intake_reference="LT-1", need="x",
                                 route=route, by="lotse-routing", now=NOW,
                                 basis=basis or (SharingBasis(consent_id="c") if waits else
                                                 None), waits_for=waits)
        note = referral.history[0].reason
        said = wording.note(note, "de")
        assert said is not None and not german(said), (note, said)
    for note in ("case opened at partner", "nobody acknowledged the referral in time",
                 "sharing allowed by consent 1234", "the living_costs referral reached its "
                 "partner", "partner told of the erasure (WF-1)", "no_capacity",
                 "partner_notice_consent_withdrawn", f"facts added: {child.reason}"):
        said = wording.note(note, "de")
        assert said is not None and not german(said), (note, said)


def test_typed_text_is_shown_as_typed_and_marked_not_to_translate(app):
    assert wording.note("Person zieht um, bitte warten", "de") is None
    shown = str(wording.shown(None, "Person <zieht> um"))
    assert shown == '<bdi translate="no">Person &lt;zieht&gt; um</bdi>'
    assert 'translate="no"' in str(wording.actor("anna", "de"))
    assert not german(str(wording.actor("partner:welfare", "de")))
    assert wording.attention("on_hold:fact_missing", "de").startswith("zurückgestellt")
