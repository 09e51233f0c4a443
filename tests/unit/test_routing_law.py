"""Golden table: legal cases, written from the statutes rather than from Lotse's rules, run
against the routing table as the migrations leave it, on the day each case is set.

Each row names the paragraph it checks; the route's reason must cite it. `None` means no rule
may send the person anywhere: the referral waits on hold for staff; ("fact_missing", fact)
means the rule that decides reads a fact the intake did not record: the referral waits for it
(its reason names the fact and cites the rule). (A need naming its household member, issue 19
class 2, gets its rows when it is built.)
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from services.referral.domain import PersonFacts, decide_for_household, destination

BEFORE_24_CHANGE, AFTER_24_CHANGE = date(2026, 6, 30), date(2026, 7, 1)
TODAY = date(2026, 11, 21)


@dataclass(frozen=True)
class Case:
    what: str
    need: str
    born: str
    status: str
    expected: tuple[str, str] | None  # (partner, service), or on hold
    cites: str  # what the route's reason must cite ("" when on hold)
    nationality: str = "UA"
    day: date = TODAY
    first_issued: str | None = None
    children: tuple[str, ...] = ()
    district: str | None = "innenstadt_nord"
    arrived: str | None = None
    purpose: str | None = None


CASES = [
    # § 17 BMG: everyone moving in registers; EU citizens and non-EU citizens at two offices
    Case("German returnee registers", "address_registration", "1980-02-02", "DE_CITIZEN",
         ("registration", "buergerdienste"), "§ 17 Abs. 1 BMG", nationality="DE"),
    Case("Polish worker registers", "address_registration", "1990-05-05", "EU_FREE_MOVEMENT",
         ("registration", "buergerdienste"), "§ 17 Abs. 1 BMG", nationality="PL"),
    Case("§ 24 holder registers", "address_registration", "1987-03-14", "TEMP_PROTECTION_24",
         ("registration", "buergerdienste_international"), "§ 17 Abs. 1 BMG"),
    Case("asylum seeker registers", "address_registration", "1995-01-01", "ASYLUM_PENDING",
         ("registration", "buergerdienste_international"), "§ 17 Abs. 1 BMG",
         nationality="SY"),
    Case("skilled worker registers", "address_registration", "1992-09-09", "WORK",
         ("registration", "buergerdienste_international"), "§ 17 Abs. 1 BMG",
         nationality="IN"),
    # §§ 71, 81 AufenthG: residence titles for non-EU citizens only
    Case("§ 24 holder extends the title", "residence_permit", "1987-03-14",
         "TEMP_PROTECTION_24", ("registration", "auslaenderbehoerde"), "§ 71 Abs. 1"),
    Case("family reunion title", "residence_permit", "1993-03-03", "FAMILY_REUNION",
         ("registration", "auslaenderbehoerde"), "§ 81 AufenthG", nationality="TR"),
    Case("Duldung holder", "residence_permit", "1999-04-04", "DULDUNG",
         ("registration", "auslaenderbehoerde"), "§ 71 Abs. 1", nationality="AF"),
    Case("EU citizen needs no title", "residence_permit", "1990-05-05", "EU_FREE_MOVEMENT",
         None, "", nationality="PL"),
    Case("German needs no title", "residence_permit", "1980-02-02", "DE_CITIZEN", None, "",
         nationality="DE"),
    # § 45 AufenthG: MBE for adults from 27, JMD from the 12th to the 27th birthday
    Case("adult counselling at 27", "orientation_counselling", "1999-11-21",
         "REFUGEE_RECOGNISED", ("welfare", "mbe"), "§ 45 Satz 1 AufenthG", nationality="SY"),
    Case("youth counselling the day before 27", "orientation_counselling", "1999-11-22",
         "REFUGEE_RECOGNISED", ("welfare", "jmd"), "JUGEND STÄRKEN", nationality="SY"),
    Case("youth counselling at 12", "orientation_counselling", "2014-11-21", "DULDUNG",
         ("welfare", "jmd"), "§ 83 Abs. 1 SGB VIII", nationality="AF"),
    Case("no counselling service under 12", "youth_counselling", "2014-11-22", "DULDUNG",
         None, "", nationality="AF"),
    Case("young adult with a Duldung", "youth_counselling", "2003-01-01", "DULDUNG",
         ("welfare", "jmd"), "jeder rechtmäßige Aufenthalt oder Duldung", nationality="AF"),
    Case("recognition advice for an adult", "recognition_of_qualifications", "1985-01-01",
         "WORK", ("welfare", "mbe"), "§ 45 Satz 1 AufenthG", nationality="IN"),
    Case("recognition advice at 20", "recognition_of_qualifications", "2006-01-01",
         "FAMILY_REUNION", ("welfare", "jmd"), "§ 45 Satz 1 AufenthG", nationality="TR"),
    # § 7 (1) SGB II: from 15 to the pension age, with a status that opens SGB II
    Case("recognised refugee, 30", "living_costs", "1996-01-01", "REFUGEE_RECOGNISED",
         ("jobcenter", "sgb2"), "§ 7 Abs. 1 Satz 1 Nr. 1 SGB II", nationality="SY"),
    Case("subsidiary protection, 45", "living_costs", "1981-06-06", "SUBSIDIARY_PROTECTION",
         ("jobcenter", "sgb2"), "§ 7a SGB II", nationality="ER"),
    Case("settled, 50", "living_costs", "1976-06-06", "SETTLED", ("jobcenter", "sgb2"),
         "§ 7 Abs. 1 Satz 1 Nr. 1 SGB II", nationality="TR"),
    Case("15th birthday today", "living_costs", "2011-11-21", "REFUGEE_RECOGNISED",
         ("jobcenter", "sgb2"), "§ 7a SGB II", nationality="SY"),
    Case("the day before the 15th birthday", "living_costs", "2011-11-22",
         "REFUGEE_RECOGNISED", None, "", nationality="SY"),
    # § 74 SGB II: § 24 holders in SGB II from 1 June 2022
    Case("§ 24 holder, 31 May 2022", "living_costs", "1987-03-14", "TEMP_PROTECTION_24",
         None, "", day=date(2022, 5, 31), first_issued="2022-04-01"),
    Case("§ 24 holder, 1 June 2022", "living_costs", "1987-03-14", "TEMP_PROTECTION_24",
         ("jobcenter", "sgb2"), "§ 74 SGB II", day=date(2022, 6, 1),
         first_issued="2022-04-01"),
    # § 1 (1) AsylbLG as amended: § 24 titles first issued after 31 March 2025 leave SGB II
    # from the day the change applies
    Case("§ 24 first issued 31 March 2025, after the change", "living_costs", "1987-03-14",
         "TEMP_PROTECTION_24", ("jobcenter", "sgb2"), "§ 74 SGB II", day=AFTER_24_CHANGE,
         first_issued="2025-03-31"),
    Case("§ 24 first issued 1 April 2025, before the change", "living_costs", "1987-03-14",
         "TEMP_PROTECTION_24", ("jobcenter", "sgb2"), "§ 74 SGB II", day=BEFORE_24_CHANGE,
         first_issued="2025-04-01"),
    Case("§ 24 first issued 1 April 2025, after the change", "living_costs", "1987-03-14",
         "TEMP_PROTECTION_24", ("sozialamt", "asylblg"), "§ 1 Abs. 1 AsylbLG",
         day=AFTER_24_CHANGE, first_issued="2025-04-01"),
    Case("§ 24 first issued 2022, long after the change", "living_costs", "1987-03-14",
         "TEMP_PROTECTION_24", ("jobcenter", "sgb2"), "§ 74 SGB II", first_issued="2022-04-01"),
    Case("§ 24 first issue date not recorded, after the change", "living_costs",
         "1987-03-14", "TEMP_PROTECTION_24", ("fact_missing", "first_issue_date"),
         "§ 1 Abs. 1 AsylbLG", day=AFTER_24_CHANGE),
    Case("§ 24 first issue date not recorded, before the change", "living_costs",
         "1987-03-14", "TEMP_PROTECTION_24", ("jobcenter", "sgb2"), "§ 74 SGB II",
         day=BEFORE_24_CHANGE),
    # § 7 Abs. 1 Satz 2 SGB II, § 23 Abs. 3 SGB XII: EU citizens excluded by purpose and time
    Case("EU citizen looking for work", "living_costs", "1988-08-08", "EU_FREE_MOVEMENT",
         ("welfare", "mbe"), "§ 7 Abs. 1 Satz 2 Nr. 2 Buchst. b SGB II", nationality="RO",
         arrived="2024-01-10", purpose="job_seeking"),
    Case("EU citizen, 22, looking for work", "living_costs", "2004-08-08", "EU_FREE_MOVEMENT",
         ("welfare", "jmd"), "§ 23 Abs. 3 Satz 1 Nr. 2 SGB XII", nationality="BG",
         arrived="2025-01-10", purpose="job_seeking"),
    Case("EU citizen looking for work, six years here", "living_costs", "1988-08-08",
         "EU_FREE_MOVEMENT", ("jobcenter", "sgb2"), "§ 7 Abs. 1 Satz 1 Nr. 1 SGB II",
         nationality="RO", arrived="2020-06-01", purpose="job_seeking"),
    Case("EU citizen looking for work, arrival not recorded", "living_costs", "1988-08-08",
         "EU_FREE_MOVEMENT", ("fact_missing", "arrival_date"), "§ 7 Abs. 1 Satz 4 SGB II",
         nationality="RO", purpose="job_seeking"),
    Case("EU citizen not working, arrived 30 November, on 28 February", "living_costs",
         "1988-08-08", "EU_FREE_MOVEMENT", ("welfare", "mbe"),
         "§ 7 Abs. 1 Satz 2 Nr. 1 SGB II", nationality="RO", arrived="2026-11-30",
         purpose="other", day=date(2027, 2, 28)),
    Case("EU citizen not working, arrived 28 November, on 28 February", "living_costs",
         "1988-08-08", "EU_FREE_MOVEMENT", ("jobcenter", "sgb2"), "§ 7a SGB II",
         nationality="RO", arrived="2026-11-28", purpose="other", day=date(2027, 2, 28)),
    Case("EU worker", "living_costs", "1988-08-08", "EU_FREE_MOVEMENT", ("jobcenter", "sgb2"),
         "§ 7 Abs. 1 Satz 1 Nr. 1 SGB II", nationality="RO", arrived="2026-10-01",
         purpose="work"),
    Case("EU self-employed in the first month", "living_costs", "1988-08-08",
         "EU_FREE_MOVEMENT", ("jobcenter", "sgb2"), "§ 7a SGB II", nationality="PL",
         arrived="2026-11-01", purpose="self_employment"),
    Case("EU citizen not working, second month", "living_costs", "1988-08-08",
         "EU_FREE_MOVEMENT", ("welfare", "mbe"), "§ 7 Abs. 1 Satz 2 Nr. 1 SGB II",
         nationality="RO", arrived="2026-09-22", purpose="other"),
    Case("EU citizen not working, three months passed", "living_costs", "1988-08-08",
         "EU_FREE_MOVEMENT", ("jobcenter", "sgb2"), "§ 7 Abs. 1 Satz 1 Nr. 1 SGB II",
         nationality="RO", arrived="2026-08-21", purpose="other"),
    Case("EU citizen not working, last day of the three months", "living_costs", "1988-08-08",
         "EU_FREE_MOVEMENT", ("welfare", "mbe"), "§ 23 Abs. 3 Satz 1 Nr. 1 SGB XII",
         nationality="RO", arrived="2026-08-22", purpose="other"),
    Case("EU family member joining a worker", "living_costs", "1990-01-01",
         "EU_FAMILY_3RD", ("jobcenter", "sgb2"), "§ 7 Abs. 1 Satz 1 Nr. 1 SGB II",
         nationality="MD", arrived="2026-11-01", purpose="family"),
    Case("EU citizen, purpose not recorded", "living_costs", "1988-08-08", "EU_FREE_MOVEMENT",
         ("fact_missing", "residence_purpose"), "§ 7 Abs. 1 Satz 2 Nr. 2", nationality="RO",
         arrived="2024-01-10"),
    Case("EU citizen not working, arrival not recorded", "living_costs", "1988-08-08",
         "EU_FREE_MOVEMENT", ("fact_missing", "arrival_date"), "§ 7 Abs. 1 Satz 2 Nr. 1",
         nationality="RO", purpose="other"),
    Case("recognised refugee in the first month: humanitarian titles are not excluded",
         "living_costs", "1996-01-01", "REFUGEE_RECOGNISED", ("jobcenter", "sgb2"),
         "§ 7 Abs. 1 Satz 1 Nr. 1 SGB II", nationality="SY", arrived="2026-11-01",
         purpose="protection"),
    # § 1 (1) AsylbLG: Gestattung, arrival certificate, Duldung
    Case("asylum seeker with a Gestattung", "living_costs", "1995-01-01", "ASYLUM_PENDING",
         ("sozialamt", "asylblg"), "§ 1 Abs. 1 Nr. 1, 1a, 4, 5 AsylbLG", nationality="SY"),
    Case("asylum seeker before the application", "living_costs", "1995-01-01",
         "ASYLUM_ARRIVAL", ("sozialamt", "asylblg"), "§ 1 Abs. 1", nationality="SY"),
    Case("Duldung", "living_costs", "1999-04-04", "DULDUNG", ("sozialamt", "asylblg"),
         "§ 1 Abs. 1", nationality="AF"),
    Case("Duldung at 70 stays in AsylbLG", "living_costs", "1955-04-04", "DULDUNG",
         ("sozialamt", "asylblg"), "§ 1 Abs. 1", nationality="AF"),
    # § 41 (2) SGB XII with § 7a SGB II: from the month after the statutory pension age
    Case("born 1959, 66 years 3 months", "living_costs", "1959-08-10", "SETTLED",
         ("sozialamt", "sgb12"), "§ 41 Abs. 2 SGB XII", nationality="TR"),
    Case("born 1960, 66 years 3 months: not yet", "living_costs", "1960-08-10", "SETTLED",
         ("jobcenter", "sgb2"), "§ 7a SGB II", nationality="TR"),
    Case("born 1960, 66 years 9 months", "living_costs", "1960-02-10", "REFUGEE_RECOGNISED",
         ("sozialamt", "sgb12"), "§ 41 Abs. 2 SGB XII", nationality="SY"),
    Case("born 1960, 66 years 4 months in the month", "living_costs", "1960-07-10",
         "REFUGEE_RECOGNISED", ("jobcenter", "sgb2"), "§ 7a SGB II", nationality="SY"),
    Case("born 1962, 66 years 8 months completed in the month", "living_costs", "1962-03-15",
         "REFUGEE_RECOGNISED", ("jobcenter", "sgb2"), "§ 7a SGB II", nationality="SY",
         day=date(2028, 11, 30)),
    Case("born 1962, the month after", "living_costs", "1962-03-15", "REFUGEE_RECOGNISED",
         ("sozialamt", "sgb12"), "§ 41 Abs. 2 SGB XII", nationality="SY",
         day=date(2028, 12, 1)),
    Case("born 1950, long retired, § 24", "living_costs", "1950-01-01", "TEMP_PROTECTION_24",
         ("sozialamt", "sgb12"), "§ 41 Abs. 2 SGB XII", first_issued="2022-04-01"),
    # § 62 EStG: Kindergeld
    Case("§ 24 holder's Kindergeld", "child_benefit", "1987-03-14", "TEMP_PROTECTION_24",
         ("familienkasse", "kindergeld"), "§ 62 Abs. 1 EStG"),
    Case("EU worker's Kindergeld", "child_benefit", "1990-05-05", "EU_FREE_MOVEMENT",
         ("familienkasse", "kindergeld"), "§ 62 Abs. 1 EStG", nationality="PL"),
    Case("no Kindergeld with a Duldung", "child_benefit", "1990-01-01", "DULDUNG", None, "",
         nationality="AF"),
    Case("no Kindergeld with a Gestattung", "child_benefit", "1990-01-01", "ASYLUM_PENDING",
         None, "", nationality="SY"),
    # § 44 AufenthG: integration courses
    Case("entitled: recognised refugee", "language_course", "1990-01-01",
         "REFUGEE_RECOGNISED", ("course_provider", "integration_course"),
         "§ 44 Abs. 1 Satz 1 AufenthG", nationality="SY"),
    Case("entitled: family reunion", "language_course", "1993-03-03", "FAMILY_REUNION",
         ("course_provider", "integration_course"), "§ 44 Abs. 1", nationality="TR"),
    Case("Spätaussiedler", "language_course", "1970-01-01", "DE_SPAETAUSSIEDLER",
         ("course_provider", "integration_course"), "§ 9 Abs. 1 BVFG", nationality="KZ"),
    Case("admission on request before the stop", "language_course", "1987-03-14",
         "TEMP_PROTECTION_24", ("course_provider", "integration_course"),
         "§ 44 Abs. 4 Satz 1", day=date(2026, 2, 8)),
    Case("admission on request after the stop: MBE", "language_course", "1987-03-14",
         "TEMP_PROTECTION_24", ("welfare", "mbe"), "§ 45 Satz 1 AufenthG",
         day=date(2026, 2, 9)),
    Case("asylum seeker after the stop, 20: JMD", "language_course", "2006-01-01",
         "ASYLUM_PENDING", ("welfare", "jmd"), "§ 45 Satz 1 AufenthG", nationality="SY"),
    Case("EU citizen after the stop", "language_course", "1990-05-05", "EU_FREE_MOVEMENT",
         ("welfare", "mbe"), "§ 45 Satz 1 AufenthG", nationality="PL"),
    # § 24 (2), (3) SGB VIII: a Kita place for a child under school age
    Case("Kita for a 2-year-old", "kita_place", "1987-03-14", "TEMP_PROTECTION_24",
         ("jugendamt", "kita_portal"), "§ 24 Abs. 2, 3 SGB VIII", children=("2024-05-01",)),
    Case("Kita for a 6-year-old not yet at school", "kita_place", "1987-03-14",
         "ASYLUM_PENDING", ("jugendamt", "kita_portal"), "§ 24 Abs. 2, 3 SGB VIII",
         nationality="SY", children=("2020-01-10",)),
    Case("no Kita without a young child", "kita_place", "1987-03-14", "TEMP_PROTECTION_24",
         None, "", children=("2015-01-01",)),
    # § 34 SchulG NRW: compulsory schooling whatever the status
    Case("school at 10 with a Duldung", "school_place", "2016-03-03", "DULDUNG",
         ("dlzb", "school_placement"), "§ 34 Abs. 1, 6 SchulG NRW", nationality="AF"),
    Case("school at 17, § 24", "school_place", "2009-03-03", "TEMP_PROTECTION_24",
         ("dlzb", "school_placement"), "§ 34 Abs. 1, 6 SchulG NRW"),
    Case("no school placement at 40", "school_place", "1986-03-03", "WORK", None, "",
         nationality="IN"),
    # a need belongs to a person: a parent asking for their only school-age child's place
    Case("school place for the 8-year-old of a parent", "school_place", "1986-03-03",
         "TEMP_PROTECTION_24", ("dlzb", "school_placement"), "for the child born 2018-04-01",
         children=("2018-04-01", "2025-01-01")),
    Case("two school-age children: staff ask whose", "school_place", "1986-03-03",
         "TEMP_PROTECTION_24", None, "", children=("2018-04-01", "2015-02-02")),
    Case("youth counselling for a parent's 15-year-old", "youth_counselling", "1980-01-01",
         "REFUGEE_RECOGNISED", ("welfare", "jmd"), "for the child born 2011-05-05",
         nationality="SY", children=("2011-05-05",)),
    # §§ 4, 6 AsylbLG against § 5 (1) SGB V
    Case("treatment voucher with a Gestattung", "health_insurance", "1995-01-01",
         "ASYLUM_PENDING", ("sozialamt", "health_voucher"), "§§ 4, 6 AsylbLG",
         nationality="SY"),
    Case("statutory insurance for an EU worker", "health_insurance", "1990-05-05",
         "EU_FREE_MOVEMENT", ("health_insurer", "gkv"), "§ 5 Abs. 1 SGB V", nationality="PL"),
    Case("statutory insurance for a § 24 holder", "health_insurance", "1987-03-14",
         "TEMP_PROTECTION_24", ("health_insurer", "gkv"), "§ 5 Abs. 1 SGB V"),
    # § 18 WFNG NRW: WBS from 18, stay not merely temporary
    Case("WBS for a recognised refugee", "housing", "1990-01-01", "REFUGEE_RECOGNISED",
         ("wohnungsamt", "wbs"), "§ 18 WFNG NRW", nationality="SY"),
    Case("no WBS with a Gestattung", "housing", "1990-01-01", "ASYLUM_PENDING", None, "",
         nationality="SY"),
    Case("no WBS at 17", "housing", "2009-01-01", "REFUGEE_RECOGNISED", None, "",
         nationality="SY"),
    # Art. 28 (2) GG: municipal programmes, by district
    Case("lokal willkommen in a city district", "local_integration", "1990-01-01",
         "SUBSIDIARY_PROTECTION", ("lokal_willkommen", "district_office"),
         "Art. 28 Abs. 2 GG", nationality="ER"),
    Case("no district office without an address in the city", "local_integration",
         "1990-01-01", "SUBSIDIARY_PROTECTION", None, "", nationality="ER", district=None),
    Case("case management across benefit systems", "complex_case", "1990-01-01", "DULDUNG",
         ("kim", "case_management"), "Art. 28 Abs. 2 GG", nationality="AF"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.what for c in CASES])
def test_the_law_routes_each_case(case: Case, table):
    facts = PersonFacts(date.fromisoformat(case.born), case.nationality, case.status, ("uk",),
                        first_issue_date=date.fromisoformat(case.first_issued)
                        if case.first_issued else None,
                        children_born=tuple(date.fromisoformat(c) for c in case.children),
                        district=case.district,
                        arrival_date=date.fromisoformat(case.arrived) if case.arrived else None,
                        residence_purpose=case.purpose)
    decided = decide_for_household(case.need, facts, table, case.day)
    if case.expected is None:
        assert decided is None, decided
        return
    assert decided is not None, "no rule"
    assert destination(decided) == case.expected, decided
    assert case.cites in decided.reason, decided.reason


def test_the_table_has_at_least_sixty_cases_each_with_its_citation():
    assert len(CASES) >= 60
    assert all(c.cites for c in CASES if c.expected is not None)
