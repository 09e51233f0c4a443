"""Routing rules as data: the seed table sends each need where domain.md §3 says."""
from __future__ import annotations

import importlib.util
from datetime import date, timedelta

import pytest

from services.referral.domain import (Fact, FactsMissing, PersonFacts, RoutingRule,
                                     RuleStanding, age_on, decide_need, pension_age,
                                     pension_age_reached_on, route_need)
from tests.conftest import REPO


def seed_rules() -> list[RoutingRule]:
    path = REPO / "services/referral/migrations/versions/0002_seed_routing_rules.py"
    spec = importlib.util.spec_from_file_location("seed_rules", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [RoutingRule(**{**r, "residence_statuses": tuple(r["residence_statuses"])
                           if r.get("residence_statuses") else None}) for r in module.RULES]


RULES = seed_rules()
DAY = date(2026, 11, 21)


# a § 24 permit first issued before April 2025 (SGB II, not AsylbLG: the date decides)
ISSUED = date(2022, 4, 1)


def facts(birth: str, status: str = "TEMP_PROTECTION_24", nationality: str = "UA",
          district: str | None = "innenstadt_nord", issued: date | None = ISSUED):
    return PersonFacts(date.fromisoformat(birth), nationality, status, ("uk",), issued,
                       district=district)


def test_smoke_intake_goes_to_registration_jobcenter_and_adult_counselling():
    olena = facts("1987-03-14")
    routes = {need: route_need(need, olena, RULES, DAY) for need in
              ("address_registration", "living_costs", "orientation_counselling")}
    assert routes["address_registration"].partner == "registration"
    assert routes["address_registration"].service == "buergerdienste_international"
    assert routes["living_costs"].partner == "jobcenter"
    assert routes["orientation_counselling"].partner == "welfare"
    assert routes["orientation_counselling"].service == "mbe"


def test_young_person_goes_to_jmd_and_the_reason_says_why():
    route = route_need("orientation_counselling", facts("2007-05-01"), RULES, DAY)
    assert route.service == "jmd"
    assert "age 19 within 12–26" in route.reason


@pytest.mark.parametrize("birth, service", [("1999-11-21", "mbe"), ("1999-11-22", "jmd")])
def test_the_27th_birthday_moves_a_person_from_jmd_to_mbe(birth, service):
    assert route_need("orientation_counselling", facts(birth), RULES, DAY).service == service


def test_temporary_protection_reached_the_jobcenter_only_from_1_june_2022():
    person = facts("1987-03-14")
    assert route_need("living_costs", person, RULES, date(2022, 5, 31)) is None
    assert route_need("living_costs", person, RULES, date(2022, 6, 1)).partner == "jobcenter"


def test_asylum_seekers_are_not_routed_to_the_jobcenter():
    assert route_need("living_costs", facts("1990-01-01", "ASYLUM_PENDING"), RULES, DAY) is None


def test_eu_citizens_register_at_the_central_buergerdienste():
    route = route_need("address_registration", facts("1990-01-01", "EU_FREE_MOVEMENT", "PL"),
                       RULES, DAY)
    assert route.service == "buergerdienste"


def test_a_need_without_a_rule_has_no_route():
    assert route_need("kita_place", facts("1990-01-01"), RULES, DAY) is None


def test_age_counts_completed_years():
    assert age_on(date(2000, 2, 29), date(2027, 2, 28)) == 26
    assert age_on(date(2000, 2, 29), date(2027, 3, 1)) == 27


@pytest.mark.parametrize("birth, service", [
    ("2014-11-22", None),    # 11, one day before the 12th birthday
    ("2014-11-21", "jmd"),   # 12 today
    ("1999-11-22", "jmd"),   # 26, the day before the 27th birthday
    ("1999-11-21", "mbe"),   # 27 today: adult counselling
])
def test_the_jmd_and_mbe_age_boundaries(birth, service):
    route = route_need("orientation_counselling", facts(birth), RULES, DAY)
    assert (route.service if route else None) == service


def test_a_rejected_service_is_skipped_for_the_next_eligible_one():
    olena = facts("1987-03-14")
    route = route_need("orientation_counselling", olena, RULES + SECOND_ASSOCIATION, DAY,
                       exclude=frozenset({("welfare", "mbe")}))
    assert (route.partner, route.service) == ("welfare", "mbe_diakonie")
    none_left = route_need("orientation_counselling", olena, RULES + SECOND_ASSOCIATION, DAY,
                           exclude=frozenset({("welfare", "mbe"), ("welfare", "mbe_diakonie")}))
    assert none_left is None


def _second_association() -> list[RoutingRule]:
    path = REPO / "services/referral/migrations/versions/0006_rerouting.py"
    spec = importlib.util.spec_from_file_location("rerouting", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [RoutingRule(**r) for r in module.RULES]


SECOND_ASSOCIATION = _second_association()



@pytest.mark.parametrize("need, birth, status, partner, service", [
    # one case per row of domain.md §3
    ("address_registration", "1990-01-01", "EU_FREE_MOVEMENT", "registration", "buergerdienste"),
    ("residence_permit", "1990-01-01", "TEMP_PROTECTION_24", "registration",
     "auslaenderbehoerde"),
    ("orientation_counselling", "1980-01-01", "REFUGEE_RECOGNISED", "welfare", "mbe"),
    ("youth_counselling", "2008-01-01", "DULDUNG", "welfare", "jmd"),
    ("living_costs", "1990-01-01", "TEMP_PROTECTION_24", "jobcenter", "sgb2"),
    ("living_costs", "1990-01-01", "ASYLUM_PENDING", "sozialamt", "asylblg"),
    ("living_costs", "1950-01-01", "TEMP_PROTECTION_24", "sozialamt", "sgb12"),
    ("child_benefit", "1990-01-01", "TEMP_PROTECTION_24", "familienkasse", "kindergeld"),
    ("language_course", "1990-01-01", "REFUGEE_RECOGNISED", "course_provider",
     "integration_course"),
    ("school_place", "2012-01-01", "DULDUNG", "dlzb", "school_placement"),
    ("recognition_of_qualifications", "1985-01-01", "WORK", "welfare", "mbe"),
    ("health_insurance", "1990-01-01", "ASYLUM_PENDING", "sozialamt", "health_voucher"),
    ("health_insurance", "1990-01-01", "EU_FREE_MOVEMENT", "health_insurer", "gkv"),
    ("housing", "1990-01-01", "REFUGEE_RECOGNISED", "wohnungsamt", "wbs"),
    ("local_integration", "1990-01-01", "SUBSIDIARY_PROTECTION", "lokal_willkommen",
     "district_office"),
    ("complex_case", "1990-01-01", "DULDUNG", "kim", "case_management"),
])
def test_each_row_of_the_routing_table(need, birth, status, partner, service, table):
    route = route_need(need, facts(birth, status), table, DAY)
    assert (route.partner, route.service) == (partner, service), route


@pytest.mark.parametrize("need, birth, status", [
    ("housing", "1990-01-01", "ASYLUM_PENDING"),     # stay merely temporary: no WBS
    ("housing", "2010-01-01", "REFUGEE_RECOGNISED"),  # under 18
    ("school_place", "1980-01-01", "DULDUNG"),       # past 25
    ("child_benefit", "1990-01-01", "DULDUNG"),      # § 62 EStG excludes Duldung
    ("residence_permit", "1990-01-01", "EU_FREE_MOVEMENT"),  # EU citizens need no permit
])
def test_rows_that_do_not_apply_leave_the_need_for_staff(need, birth, status, table):
    assert route_need(need, facts(birth, status), table, DAY) is None


@pytest.mark.parametrize("district, partner", [
    ("innenstadt_nord", "lokal_willkommen"), ("mengede", "lokal_willkommen"),
    (None, None),  # no address in the city (or the district unclear): staff decide
])
def test_district_offices_serve_people_living_in_the_city(district, partner, table):
    person = facts("1990-01-01", "SUBSIDIARY_PROTECTION", district=district)
    route = route_need("local_integration", person, table, DAY)
    assert (route.partner if route else None) == partner
    if route:
        assert f"lives in {district}" in route.reason


def test_the_jobcenter_rule_requires_the_address_registration_first(table):
    route = route_need("living_costs", facts("1990-01-01"), table, DAY)
    assert route.requires_need == "address_registration"


@pytest.mark.parametrize("first_issued, day, partner", [
    (date(2025, 5, 1), date(2026, 11, 21), "sozialamt"),   # after 31 March 2025, law applies
    (date(2025, 3, 31), date(2026, 11, 21), "jobcenter"),  # earlier permits stay in SGB II
    (date(2025, 5, 1), date(2026, 6, 30), "jobcenter"),    # before the law applies
    (None, date(2026, 6, 30), "jobcenter"),                # before it, the date decides nothing
])
def test_temporary_protection_living_costs_follow_the_first_issue_date(first_issued, day,
                                                                      partner, table):
    person = PersonFacts(date(1987, 3, 14), "UA", "TEMP_PROTECTION_24", ("uk",), first_issued)
    assert route_need("living_costs", person, table, day).partner == partner


def test_an_unknown_first_issue_date_is_asked_for_not_assumed(table):
    """Since 1 July 2026 the first-issue date of a § 24 permit decides SGB II or AsylbLG: a
    referral without it waits, naming the fact and the rule that needs it (issue 19, class 4)."""
    person = PersonFacts(date(1987, 3, 14), "UA", "TEMP_PROTECTION_24", ("uk",))
    decided = decide_need("living_costs", person, table, date(2026, 11, 21))
    assert isinstance(decided, FactsMissing)
    assert decided.facts == (Fact.FIRST_ISSUE_DATE,)
    assert decided.rule_id == "living-costs-asylblg-temp-protection-2025"
    assert "fact missing: first_issue_date" in decided.reason and "AsylbLG" in decided.reason
    assert route_need("living_costs", person, table, date(2026, 11, 21)) is None


def test_a_kita_place_needs_a_young_child_in_the_household(table):
    parent = PersonFacts(date(1990, 1, 1), "UA", "TEMP_PROTECTION_24", ("uk",),
                         children_born=(date(2022, 5, 1),))
    route = route_need("kita_place", parent, table, DAY)
    assert (route.partner, route.service) == ("jugendamt", "kita_portal")
    assert "child under 7" in route.reason
    older = PersonFacts(date(1990, 1, 1), "UA", "TEMP_PROTECTION_24", ("uk",),
                        children_born=(date(2015, 5, 1),))
    assert route_need("kita_place", older, table, DAY) is None


@pytest.mark.parametrize("group, nationality, languages, fits", [
    ("EU", "PL", None, True), ("EU", "UA", None, False), ("non_EU", "UA", None, True),
    (None, "UA", ("uk", "ru"), True), (None, "SY", ("uk", "ru"), False),
])
def test_conditions_on_nationality_group_and_partner_languages(group, nationality, languages,
                                                               fits):
    rule = RoutingRule("r", "orientation_counselling", "welfare", "mbe", 10, "test",
                       nationality_group=group, languages=languages)
    person = PersonFacts(date(1990, 1, 1), nationality, "TEMP_PROTECTION_24",
                         ("uk",) if nationality == "UA" else ("ar",) if nationality == "SY"
                         else ("pl",))
    assert (route_need("orientation_counselling", person, [rule], DAY) is not None) == fits


@pytest.mark.parametrize("district, fits", [("eving", True), ("hoerde", True),
                                            ("mengede", False), (None, False)])
def test_a_rule_can_serve_some_districts_only(district, fits):
    office = RoutingRule("r", "local_integration", "lokal_willkommen", "office_eving", 10,
                        "test", districts=("eving", "hoerde"))
    person = facts("1990-01-01", district=district)
    assert (route_need("local_integration", person, [office], DAY) is not None) == fits


@pytest.mark.parametrize("year, limit", [
    (1946, (65, 0)), (1947, (65, 1)), (1952, (65, 6)), (1957, (65, 11)), (1958, (66, 0)),
    (1959, (66, 2)), (1960, (66, 4)), (1961, (66, 6)), (1962, (66, 8)), (1963, (66, 10)),
    (1964, (67, 0)), (1990, (67, 0))])
def test_the_statutory_pension_age_by_birth_year(year, limit):
    # § 7a SGB II's table (the same as § 41 (2) SGB XII)
    assert pension_age(date(year, 7, 15)) == limit


@pytest.mark.parametrize("birth, reached", [
    ("1946-12-31", "2012-01-01"),  # 65: completed 30 Dec 2011, reached with its month's end
    ("1947-01-15", "2012-03-01"),  # 65 and 1 month
    ("1958-06-01", "2024-06-01"),  # born on the 1st: completes the age a day early, in May
    ("1958-06-02", "2024-07-01"),
    ("1960-03-10", "2026-08-01"),  # 66 and 4 months
    ("1963-12-31", "2030-11-01"),  # 66 and 10 months
    ("1964-01-01", "2031-01-01"),  # 67 from the 1964 cohort
    ("1964-02-29", "2031-03-01"),  # a leap-day birthday in a common year
])
def test_the_pension_age_is_reached_from_the_month_after_it_is_completed(birth, reached):
    assert pension_age_reached_on(date.fromisoformat(birth)) == date.fromisoformat(reached)


@pytest.mark.parametrize("birth", ["1947-01-15", "1958-06-01", "1958-06-02", "1959-09-30",
                                   "1960-03-10", "1961-04-01", "1962-11-20", "1963-05-20",
                                   "1964-01-01"])
def test_living_costs_move_from_the_jobcenter_to_the_sozialamt_at_the_pension_age(
        birth, table):
    born = date.fromisoformat(birth)
    reached = pension_age_reached_on(born)
    person = facts(birth, "REFUGEE_RECOGNISED")
    for day, service in ((reached - timedelta(days=31), "sgb2"),
                         (reached - timedelta(days=1), "sgb2"), (reached, "sgb12"),
                         (reached + timedelta(days=31), "sgb12")):
        route = route_need("living_costs", person, table, day)
        assert route.service == service, (birth, day, route)


def test_born_in_1960_and_66_years_9_months_old_belongs_to_the_sozialamt(table):
    # a fixed 67 sent this person to the Jobcenter
    route = route_need("living_costs", facts("1960-01-10", "REFUGEE_RECOGNISED"), table,
                       date(2026, 10, 12))
    assert (route.partner, route.service) == ("sozialamt", "sgb12")
    assert "pension age (66 years 4 months for 1960) reached" in route.reason
    assert "§ 41 Abs. 2 SGB XII" in route.reason
    younger = route_need("living_costs", facts("1964-03-01", "REFUGEE_RECOGNISED"), table,
                         date(2031, 1, 15))  # 66 years 10 months, born 1964: not yet
    assert younger.service == "sgb2" and "§ 7a SGB II" in younger.reason


def test_every_rule_cites_its_paragraph_and_leaves_its_standing_to_its_dates(table):
    from services.referral.rules import check_rule
    from shared.partners import services_by_partner

    partners = sorted({rule.partner for rule in table})
    for rule in table:  # RuleError: a service the partner does not offer, no paragraph, …
        check_rule(rule, partners, services_by_partner())


@pytest.mark.parametrize("citation", [
    "Kita help for families", "⚠ § 1 AsylbLG (planned from 1 July 2026)",
    "§ 44 Abs. 4 AufenthG: admissions suspended in 2026", "§ 24 SGB VIII, in Kraft ab 2027"])
def test_a_citation_without_a_paragraph_or_saying_its_standing_is_refused(citation):
    from services.referral.rules import RuleError, check_rule

    rule = RoutingRule(id="x", need="kita_place", partner="jugendamt", service="kita_portal",
                       priority=10, citation=citation)
    with pytest.raises(RuleError) as refused:
        check_rule(rule, ["jugendamt"], {"jugendamt": ["kita_portal"]})
    assert refused.value.field == "citation"


def test_a_rules_standing_is_computed_from_its_dates():
    rule = RoutingRule(id="x", need="living_costs", partner="sozialamt", service="asylblg",
                       priority=5, citation="§ 1 AsylbLG", valid_from=date(2026, 7, 1),
                       valid_to=date(2027, 3, 4))
    assert [rule.standing_on(date.fromisoformat(d)) for d in
            ("2026-06-30", "2026-07-01", "2027-03-04", "2027-03-05")] == [
        RuleStanding.NOT_YET, RuleStanding.IN_FORCE, RuleStanding.IN_FORCE, RuleStanding.ENDED]


@pytest.mark.parametrize("birth, status, day, partner, service, cited", [
    # § 44 (1) entitlement: the course provider, whatever the day
    ("1990-01-01", "REFUGEE_RECOGNISED", "2026-11-21", "course_provider", "integration_course",
     "§ 44 Abs. 1"),
    ("1960-01-01", "DE_SPAETAUSSIEDLER", "2026-11-21", "course_provider", "integration_course",
     "§ 9 Abs. 1 BVFG"),
    # § 44 (4) admission on request: until the BAMF's stop of 9 February 2026
    ("1990-01-01", "TEMP_PROTECTION_24", "2026-02-08", "course_provider", "integration_course",
     "§ 44 Abs. 4"),
    ("1990-01-01", "TEMP_PROTECTION_24", "2026-02-09", "welfare", "mbe", "§ 45"),
    ("2004-01-01", "EU_FREE_MOVEMENT", "2026-02-09", "welfare", "jmd", "§ 45"),
    ("1990-01-01", "DULDUNG", "2026-11-21", "welfare", "mbe", "§ 45"),
])
def test_the_integration_course_by_entitlement_and_admission_on_request(
        birth, status, day, partner, service, cited, table):
    route = route_need("language_course", facts(birth, status), table, date.fromisoformat(day))
    assert (route.partner, route.service) == (partner, service), route
    assert cited in route.reason


def test_an_intake_asking_a_school_place_for_the_only_school_age_child_routes_it(table):
    from datetime import datetime, timezone
    import uuid

    from services.referral.domain import open_referrals

    parent = PersonFacts(date(1986, 3, 3), "UA", "TEMP_PROTECTION_24", ("uk",),
                         children_born=(date(2018, 4, 1), date(2025, 1, 1)))
    [school] = open_referrals(intake_id=uuid.uuid4(), intake_reference="LT-2026-SCHOOL",
                              needs=["school_place"], facts=parent, rules=table, by="staff",
                              now=datetime(2026, 11, 21, 9, tzinfo=timezone.utc))
    # (no consent given here: it waits for one, at the child's school placement office)
    assert (school.partner, school.service, school.reason) == ("dlzb", "school_placement",
                                                               "consent_missing")
    assert school.routing_reason.startswith("for the child born 2018-04-01: ")


def test_a_need_goes_to_a_child_only_if_the_child_is_young(table):
    from services.referral.domain import route_for_household

    # a rule only a 30-year-old would meet (made up: no seed rule is like it)
    thirties = RoutingRule(id="x", need="housing", partner="wohnungsamt", service="wbs",
                           priority=1, citation="§ 1 X", min_age=28, max_age=35)
    parent = PersonFacts(date(1960, 1, 1), "SY", "REFUGEE_RECOGNISED", ("ar",),
                         children_born=(date(1996, 1, 1),))
    assert route_for_household("housing", parent, [thirties], DAY) is None
    young = PersonFacts(date(1960, 1, 1), "SY", "REFUGEE_RECOGNISED", ("ar",),
                        children_born=(date(2000, 1, 1),))  # 26
    youth = RoutingRule(id="y", need="housing", partner="wohnungsamt", service="wbs",
                        priority=1, citation="§ 1 X", min_age=20, max_age=27)
    assert route_for_household("housing", young, [youth], DAY).reason.startswith(
        "for the child born 2000-01-01")


# --- needs of household members (issue 19, class 2) ---------------------------------------
FAMILY = PersonFacts(date(1986, 3, 3), "UA", "TEMP_PROTECTION_24", ("uk",),
                     first_issue_date=ISSUED, district="innenstadt_nord",
                     household=(("spouse", date(1985, 1, 1)), ("child", date(2018, 4, 1)),
                                ("child", date(2010, 2, 1)), ("child", date(2023, 6, 1))))


def test_a_need_naming_a_household_member_is_routed_by_that_members_age(table):
    from services.referral.domain import decide_for_household

    school = decide_for_household("school_place", FAMILY, table, DAY, for_member=2)
    assert (school.partner, school.service, school.for_member) == ("dlzb", "school_placement",
                                                                   2)
    assert school.reason.startswith("for the child born 2010-02-01: ")
    # the youngest (3) is no school child: no rule fits them, staff decide; nothing is guessed
    assert decide_for_household("school_place", FAMILY, table, DAY, for_member=3) is None
    kita = decide_for_household("kita_place", FAMILY, table, DAY, for_member=3)
    assert (kita.partner, kita.for_member) == ("jugendamt", 3)
    # an index the household does not have: staff decide
    assert decide_for_household("school_place", FAMILY, table, DAY, for_member=9) is None


def test_a_need_naming_no_one_goes_to_the_one_child_it_fits_and_says_which(table):
    from services.referral.domain import decide_for_household

    # two school-age children: which one is not guessed
    assert decide_for_household("school_place", FAMILY, table, DAY) is None
    one_child = PersonFacts(date(1986, 3, 3), "UA", "TEMP_PROTECTION_24", ("uk",),
                            household=(("spouse", date(1985, 1, 1)),
                                       ("child", date(2018, 4, 1))))
    school = decide_for_household("school_place", one_child, table, DAY)
    assert (school.partner, school.for_member) == ("dlzb", 1)
    # the person's own need stays theirs
    counselling = decide_for_household("orientation_counselling", one_child, table, DAY)
    assert counselling.for_member is None


def test_a_referral_for_a_member_tells_its_partner_whom_it_is_for(table):
    from datetime import datetime, timezone
    import uuid

    from services.referral.domain import Need, open_referrals

    share = {"person": {"given_name": "Olena", "family_name": "Koval",
                        "birth_date": "1986-03-03", "nationality": "UA", "languages": ["uk"]},
             "residence_status": "TEMP_PROTECTION_24", "consent_method": "signed_form",
             "household": [{"relation": "spouse", "birth_date": "1985-01-01",
                            "given_name": "Petro", "family_name": "Koval"},
                           {"relation": "child", "birth_date": "2018-04-01",
                            "given_name": "Taras", "family_name": "Koval"},
                           {"relation": "child", "birth_date": "2010-02-01",
                            "given_name": "Mila", "family_name": "Koval"}]}
    consent = {"consent_id": str(uuid.uuid4()), "partner": None}
    first, second = open_referrals(
        intake_id=uuid.uuid4(), intake_reference="LT-2026-FAMILY",
        needs=[Need("school_place", 1), Need("school_place", 2)], facts=FAMILY, rules=table,
        by="staff", now=datetime(2026, 11, 21, 9, tzinfo=timezone.utc), consents=[consent],
        share=share)
    assert [(r.status, r.for_member) for r in (first, second)] == [("requested", 1),
                                                                  ("requested", 2)]
    [event] = second.events
    assert event.for_member == 2
    assert (event.for_person.given_name, event.for_person.relation,
            event.for_person.birth_date) == ("Mila", "child", date(2010, 2, 1))
    # the household goes on without names (the Jobcenter's benefit household reads it)
    assert all("given_name" not in m for m in event.data()["household"])


def test_a_held_need_for_a_member_still_says_whom_it_is_for(table):
    from datetime import datetime, timezone
    import uuid

    from services.referral.domain import Need, open_referrals

    [held] = open_referrals(intake_id=uuid.uuid4(), intake_reference="LT-2026-HELD",
                            needs=[Need("school_place", 3)], facts=FAMILY, rules=table,
                            by="staff", now=datetime(2026, 11, 21, 9, tzinfo=timezone.utc))
    assert (held.status, held.reason, held.for_member) == ("on-hold", "no_matching_rule", 3)
    [event] = held.events
    assert event.for_member == 3


def test_a_referral_held_for_a_fact_is_decided_again_once_facts_are_added(table):
    from datetime import datetime, timezone
    import uuid

    from services.referral.domain import Referral, Route, SharingBasis, decide_for_household

    now = datetime(2026, 11, 21, 9, tzinfo=timezone.utc)
    unknown = facts("1987-03-14", issued=None)
    missing = decide_for_household("living_costs", unknown, table, DAY)
    assert isinstance(missing, FactsMissing)
    held = Referral.open(intake_id=uuid.uuid4(), intake_reference="LT-2026-FACTS",
                         need="living_costs", route=missing, by="routing", now=now,
                         share={"person": {}})
    held.events.clear()
    # the same fact still missing: nothing to announce
    assert held.decide_again(missing, None, prerequisite_pending=False, by="routing",
                             now=now) == []
    known = decide_for_household("living_costs", facts("1987-03-14"), table, DAY)
    assert isinstance(known, Route) and known.partner == "jobcenter"
    # routed now, but nothing allows sharing yet: on hold for a consent, announced
    [changed] = held.decide_again(known, None, prerequisite_pending=False, by="routing",
                                  now=now)
    assert (held.status, held.reason, held.partner) == ("on-hold", "consent_missing",
                                                        "jobcenter")
    assert (changed.status, changed.reason, changed.referral_version) == (
        "on-hold", "consent_missing", 2)
    # no longer waiting for a fact: a second addition leaves it alone
    assert held.decide_again(known, SharingBasis(consent_id="c"), prerequisite_pending=False,
                             by="routing", now=now) == []


def test_a_members_need_goes_only_to_a_partner_told_whom_a_case_is_for(table):
    """A course for the spouse at a course provider that would only learn the person's own
    name would enrol the wrong one: it waits for staff instead."""
    from datetime import datetime, timezone
    import uuid

    from services.referral.domain import Need, open_referrals

    spouse_course, child_school = open_referrals(
        intake_id=uuid.uuid4(), intake_reference="LT-2026-WHOM",
        needs=[Need("language_course", 0), Need("school_place", 1)], facts=FAMILY,
        rules=table, by="staff", now=datetime(2026, 11, 21, 9, tzinfo=timezone.utc),
        names_members={"dlzb", "jugendamt"})
    assert (spouse_course.status, spouse_course.reason, spouse_course.partner) == (
        "on-hold", "no_matching_rule", None)
    assert "not told whom a case is for" in spouse_course.routing_reason
    assert spouse_course.for_member == 0
    assert (child_school.partner, child_school.for_member) == ("dlzb", 1)
