"""The course directory's rules: who may join which course, and which courses fit a person."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from services.referral.courses import (Course, CourseError, CourseStatus, Eligibility, Funding,
                                       Why, eligibility, filter_courses, match_courses)

BEFORE_STOP, DURING_STOP, AFTER_STOP = date(2025, 10, 1), date(2026, 11, 20), date(2027, 1, 4)


def course(n=1, **changes) -> Course:
    base = Course(id=f"c{n}", provider="course_provider", kind="integration",
                  title=f"Kurs {n}", level="A1", schedule="Mo–Fr 9–12", district="eving",
                  childcare=False, funding="bamf_integration", starts_on=date(2027, 2, 1),
                  places=20, free_places=5)
    return replace(base, **changes)


@pytest.mark.parametrize("status", ["REFUGEE_RECOGNISED", "SUBSIDIARY_PROTECTION", "WORK",
                                    "FAMILY_REUNION"])
def test_section_44_1_statuses_are_entitled_whatever_the_day(status):
    for day in (BEFORE_STOP, DURING_STOP, AFTER_STOP):
        assert eligibility(Funding.BAMF_INTEGRATION, status, day) == (Eligibility.ENTITLED,
                                                                       Why.ENTITLED_44)


def test_resettlers_are_entitled_under_the_bvfg():
    assert eligibility(Funding.BAMF_INTEGRATION, "DE_SPAETAUSSIEDLER", DURING_STOP) == (
        Eligibility.ENTITLED, Why.ENTITLED_BVFG)


@pytest.mark.parametrize("status", ["EU_FREE_MOVEMENT", "TEMP_PROTECTION_24", "ASYLUM_PENDING",
                                    "DULDUNG"])
def test_admission_on_request_is_stopped_through_2026(status):
    assert eligibility(Funding.BAMF_INTEGRATION, status, BEFORE_STOP) == (
        Eligibility.ON_REQUEST, Why.ON_REQUEST_44_4)
    assert eligibility(Funding.BAMF_INTEGRATION, status, date(2026, 2, 9)) == (
        Eligibility.SELF_PAY, Why.ADMISSION_STOPPED)
    assert eligibility(Funding.BAMF_INTEGRATION, status, date(2026, 12, 31))[0] \
        is Eligibility.SELF_PAY
    assert eligibility(Funding.BAMF_INTEGRATION, status, AFTER_STOP)[0] \
        is Eligibility.ON_REQUEST


@pytest.mark.parametrize("status", ["ASYLUM_ARRIVAL", "VISA_FREE_SHORT",
                                    "UNKNOWN_UNDOCUMENTED"])
def test_no_bamf_funding_before_a_status_only_paying_oneself(status):
    assert eligibility(Funding.BAMF_INTEGRATION, status, BEFORE_STOP) == (
        Eligibility.SELF_PAY, Why.NOT_FUNDED)
    assert eligibility(Funding.BAMF_JOB, status, BEFORE_STOP) == (Eligibility.NONE,
                                                                   Why.NOT_FUNDED)


def test_free_courses_are_open_to_everyone_and_self_pay_courses_to_payers():
    for status in ("UNKNOWN_UNDOCUMENTED", "DULDUNG", None):
        assert eligibility(Funding.MUNICIPAL, status, DURING_STOP) == (Eligibility.ENTITLED,
                                                                        Why.OPEN_TO_ALL)
        assert eligibility(Funding.SELF_PAY, status, DURING_STOP)[0] is Eligibility.SELF_PAY


def test_job_courses_by_access_to_work():
    assert eligibility(Funding.BAMF_JOB, "TEMP_PROTECTION_24", DURING_STOP)[0] \
        is Eligibility.ENTITLED
    assert eligibility(Funding.BAMF_JOB, "DULDUNG", DURING_STOP) == (
        Eligibility.ON_REQUEST, Why.JOB_COURSE_ON_REQUEST)


def test_an_unknown_status_leaves_the_funding_open():
    assert eligibility(Funding.BAMF_INTEGRATION, None, BEFORE_STOP) == (
        Eligibility.SELF_PAY, Why.STATUS_UNKNOWN)


def test_matches_keep_to_level_childcare_free_places_and_start():
    courses = [course(1), course(2, level="A2"), course(3, free_places=0),
               course(4, status="closed"), course(5, starts_on=date(2025, 9, 1)),
               course(6, childcare=True)]
    found = match_courses(courses, "A1", "REFUGEE_RECOGNISED", None, False, BEFORE_STOP)
    assert [m.course.id for m in found] == ["c1", "c6"]
    found = match_courses(courses, "A1", "REFUGEE_RECOGNISED", None, True, BEFORE_STOP)
    assert [m.course.id for m in found] == ["c6"]
    assert Why.CHILDCARE in found[0].reasons and Why.LEVEL_FITS in found[0].reasons
    assert len(match_courses(courses, None, "WORK", None, False, BEFORE_STOP)) == 3


def test_matches_rank_by_way_in_then_district_then_start():
    courses = [course(1, funding="self_pay", district="eving"),
               course(2, district="hoerde", starts_on=date(2027, 1, 10)),
               course(3, district="eving", starts_on=date(2027, 3, 1)),
               course(4, district="eving", kind="job", funding="bamf_job")]
    found = match_courses(courses, "A1", "FAMILY_REUNION", "eving", False, BEFORE_STOP)
    assert [m.course.id for m in found] == ["c4", "c3", "c2", "c1"]
    assert found[0].reasons[0] is Why.JOB_COURSE
    assert found[1].reasons[:2] == (Why.ENTITLED_44, Why.LEVEL_FITS)
    assert Why.SAME_DISTRICT in found[0].reasons and Why.OTHER_DISTRICT in found[2].reasons
    assert found[-1].eligibility is Eligibility.SELF_PAY


def test_courses_nobody_of_the_status_may_join_are_left_out():
    job = course(1, kind="job", funding="bamf_job")
    assert match_courses([job], "A1", "VISA_FREE_SHORT", None, False, BEFORE_STOP) == []


@pytest.mark.parametrize("changes, field", [
    ({"title": " "}, "title"), ({"places": 0}, "places"), ({"free_places": 21}, "free_places"),
    ({"free_places": -1}, "free_places"), ({"kind": "job"}, "funding"),
    ({"funding": "bamf_job"}, "funding")])
def test_an_inconsistent_course_is_refused_naming_the_field(changes, field):
    with pytest.raises(CourseError) as refused:
        course(**changes).check()
    assert refused.value.field == field


def test_a_course_read_back_has_its_codes_as_enums():
    c = course(status="closed")
    assert c.status is CourseStatus.CLOSED and c.funding is Funding.BAMF_INTEGRATION
    assert not c.takes_people


def test_filters():
    courses = [course(1), course(2, level="B1", district="hoerde", childcare=True),
               course(3, status="closed"), course(4, free_places=0, funding="municipal")]
    assert [c.id for c in filter_courses(courses)] == ["c1", "c2", "c4"]
    assert [c.id for c in filter_courses(courses, level="B1")] == ["c2"]
    assert [c.id for c in filter_courses(courses, childcare=True)] == ["c2"]
    assert [c.id for c in filter_courses(courses, with_free_places=True)] == ["c1", "c2"]
    assert [c.id for c in filter_courses(courses, funding="municipal")] == ["c4"]
    assert [c.id for c in filter_courses(courses, include_closed=True, district="eving")] \
        == ["c1", "c3", "c4"]
    assert filter_courses(courses, starts_from=date(2027, 3, 1)) == []
