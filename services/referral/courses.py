"""The course directory's rules: what a language course is, and which courses fit a person.

Plain domain code (no Flask, no SQLAlchemy). Who may take a course depends on who pays for
it (domain.md §2.7): integration courses are the BAMF's, open by right to some residence
statuses (§ 44 Abs. 1 AufenthG, § 9 BVFG) and to others only on request within free places
(§ 44 Abs. 4), which the BAMF stopped admitting on 9 Feb 2026 for the rest of the budget year
(provider circular 02/26); job-related German courses are the BAMF's too (§ 45a AufenthG,
DeuFöV); courses the city or a provider funds itself are open to everyone; a person may
always pay themself. The words for each reason are the UI's (courses_wording.py); here each
reason is a code so the API can carry both.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Iterable, Sequence


class CourseKind(enum.StrEnum):
    INTEGRATION = "integration"  # general integration course (BAMF)
    JOB = "job"  # job-related German course (Berufssprachkurs, DeuFöV)
    LITERACY = "literacy"  # integration course with literacy (Alphabetisierung)
    WOMEN = "women"
    PARENTS = "parents"
    YOUTH = "youth"
    CHILDREN = "children"


class Level(enum.StrEnum):
    """The CEFR level a course leads to."""

    A1 = "A1"
    A2 = "A2"
    B1 = "B1"
    B2 = "B2"
    C1 = "C1"


class Funding(enum.StrEnum):
    BAMF_INTEGRATION = "bamf_integration"  # § 43 ff. AufenthG
    BAMF_JOB = "bamf_job"  # § 45a AufenthG, DeuFöV
    MUNICIPAL = "municipal"  # the city or the provider pays: open to everyone
    SELF_PAY = "self_pay"


class CourseStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # no longer offered (kept: place requests name it)


class Eligibility(enum.IntEnum):
    """How the person may join, best first (the order ranks the matches)."""

    ENTITLED = 0
    ON_REQUEST = 1
    SELF_PAY = 2
    NONE = 3


class Why(enum.StrEnum):
    """A reason a course fits a person or not; words in courses_wording.py."""

    ENTITLED_44 = "entitled_44"
    ENTITLED_BVFG = "entitled_bvfg"
    ON_REQUEST_44_4 = "on_request_44_4"
    ADMISSION_STOPPED = "admission_stopped"
    JOB_COURSE = "job_course"
    JOB_COURSE_ON_REQUEST = "job_course_on_request"
    OPEN_TO_ALL = "open_to_all"
    SELF_PAYER = "self_payer"
    NOT_FUNDED = "not_funded"
    STATUS_UNKNOWN = "status_unknown"
    LEVEL_FITS = "level_fits"
    SAME_DISTRICT = "same_district"
    OTHER_DISTRICT = "other_district"
    CHILDCARE = "childcare"
    FREE_PLACES = "free_places"


# § 44 Abs. 1 AufenthG: a right to an integration course with these statuses (work, family
# and the humanitarian permits it names); § 9 BVFG for resettlers.
ENTITLED_STATUSES = frozenset({"REFUGEE_RECOGNISED", "SUBSIDIARY_PROTECTION", "WORK",
                               "FAMILY_REUNION"})
RESETTLERS = frozenset({"DE_SPAETAUSSIEDLER"})
# § 44 Abs. 4: admitted on request, within free places (EU citizens, § 24, asylum seekers
# with good prospects, some Geduldete, Germans with a migration background, other permits).
ON_REQUEST_STATUSES = frozenset({"DE_CITIZEN", "EU_FREE_MOVEMENT", "EU_FAMILY_3RD",
                                 "TEMP_PROTECTION_24", "ASYLUM_PENDING", "DULDUNG",
                                 "DEPORTATION_BAN", "HUMANITARIAN_OTHER", "SETTLED",
                                 "STUDY_TRAINING", "FIKTION"})
# BAMF provider circular 02/26: no § 44(4) admissions from 9 Feb 2026 to the budget year's end.
ADMISSION_STOP = (date(2026, 2, 9), date(2026, 12, 31))
# Job-related courses (§ 45a, § 4 DeuFöV): people with access to work, registered with the
# Jobcenter or employment agency or in work; asylum seekers and Geduldete only with access to
# the labour market, on request.
JOB_COURSE_STATUSES = ENTITLED_STATUSES | RESETTLERS | frozenset({
    "DE_CITIZEN", "EU_FREE_MOVEMENT", "EU_FAMILY_3RD", "TEMP_PROTECTION_24",
    "DEPORTATION_BAN", "HUMANITARIAN_OTHER", "SETTLED"})
JOB_COURSE_ON_REQUEST = frozenset({"ASYLUM_PENDING", "DULDUNG", "FIKTION"})


class CourseError(ValueError):
    """A course that cannot be kept as given; `field` names the input to fix."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field, self.message = field_name, message


@dataclass(frozen=True)
class Course:
    id: str
    provider: str  # the partner code of the course provider
    kind: CourseKind
    title: str
    level: Level
    schedule: str  # e.g. "Mo–Fr 08:30–11:45"
    district: str
    childcare: bool
    funding: Funding
    starts_on: date
    places: int
    free_places: int
    status: CourseStatus = CourseStatus.OPEN
    address: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None

    def __post_init__(self) -> None:  # read back from a table: the codes as strings
        object.__setattr__(self, "kind", CourseKind(self.kind))
        object.__setattr__(self, "level", Level(self.level))
        object.__setattr__(self, "funding", Funding(self.funding))
        object.__setattr__(self, "status", CourseStatus(self.status))

    def check(self) -> None:
        """The course's own consistency (the schema checks each field alone)."""
        if not self.title.strip():
            raise CourseError("title", "a course needs a title")
        if self.places < 1:
            raise CourseError("places", "a course has at least one place")
        if not 0 <= self.free_places <= self.places:
            raise CourseError("free_places", "free places are between 0 and the places")
        if self.kind is CourseKind.JOB and self.funding is Funding.BAMF_INTEGRATION:
            raise CourseError("funding", "a job-related course is not an integration course")
        if self.kind is not CourseKind.JOB and self.funding is Funding.BAMF_JOB:
            raise CourseError("funding", "only job-related courses are funded under DeuFöV")

    @property
    def takes_people(self) -> bool:
        return self.status is CourseStatus.OPEN and self.free_places > 0


def eligibility(funding: Funding, residence_status: str | None,
                today: date) -> tuple[Eligibility, Why]:
    """How a person of this residence status may join a course paid for this way, and why."""
    if funding is Funding.MUNICIPAL:
        return Eligibility.ENTITLED, Why.OPEN_TO_ALL
    if funding is Funding.SELF_PAY:
        return Eligibility.SELF_PAY, Why.SELF_PAYER
    if residence_status is None:
        return Eligibility.SELF_PAY, Why.STATUS_UNKNOWN
    if funding is Funding.BAMF_JOB:
        if residence_status in JOB_COURSE_STATUSES:
            return Eligibility.ENTITLED, Why.JOB_COURSE
        if residence_status in JOB_COURSE_ON_REQUEST:
            return Eligibility.ON_REQUEST, Why.JOB_COURSE_ON_REQUEST
        return Eligibility.NONE, Why.NOT_FUNDED
    if residence_status in ENTITLED_STATUSES:
        return Eligibility.ENTITLED, Why.ENTITLED_44
    if residence_status in RESETTLERS:
        return Eligibility.ENTITLED, Why.ENTITLED_BVFG
    if residence_status in ON_REQUEST_STATUSES:
        if ADMISSION_STOP[0] <= today <= ADMISSION_STOP[1]:
            return Eligibility.SELF_PAY, Why.ADMISSION_STOPPED
        return Eligibility.ON_REQUEST, Why.ON_REQUEST_44_4
    # before the asylum application, a visa-free stay, no papers: no BAMF course yet
    return Eligibility.SELF_PAY, Why.NOT_FUNDED


@dataclass(frozen=True)
class Match:
    course: Course
    eligibility: Eligibility
    reasons: tuple[Why, ...] = field(default=())

    def rank(self) -> tuple[Eligibility, bool, date, str]:
        return (self.eligibility, Why.OTHER_DISTRICT in self.reasons,
                self.course.starts_on, self.course.title)


def match_courses(courses: Iterable[Course], level: Level | str | None,
                  residence_status: str | None, district: str | None,
                  needs_childcare: bool, today: date) -> list[Match]:
    """The courses a person may join, best first: open with free places, not started before
    `today`, at the level asked (any if None), with childcare if the person needs it; ranked
    by how the person may join (by right, on request, paying themself), then their district
    first, then the earliest start. Each match says why, as codes (Why)."""
    wanted = Level(level) if level else None
    found = []
    for course in courses:
        if not course.takes_people or course.starts_on < today:
            continue
        if wanted is not None and course.level is not wanted:
            continue
        if needs_childcare and not course.childcare:
            continue
        how, why = eligibility(course.funding, residence_status, today)
        if how is Eligibility.NONE:
            continue
        reasons = [why]
        if wanted is not None:
            reasons.append(Why.LEVEL_FITS)
        if district:
            reasons.append(Why.SAME_DISTRICT if course.district == district
                           else Why.OTHER_DISTRICT)
        if needs_childcare:
            reasons.append(Why.CHILDCARE)
        reasons.append(Why.FREE_PLACES)
        found.append(Match(course, how, tuple(reasons)))
    return sorted(found, key=Match.rank)


def filter_courses(courses: Sequence[Course], *, level: str | None = None,
                   kind: str | None = None, district: str | None = None,
                   childcare: bool | None = None, funding: str | None = None,
                   starts_from: date | None = None, with_free_places: bool = False,
                   include_closed: bool = False) -> list[Course]:
    """The directory's list filters, earliest start first."""
    return sorted((c for c in courses
                   if (include_closed or c.status is CourseStatus.OPEN)
                   and (level is None or c.level == level)
                   and (kind is None or c.kind == kind)
                   and (district is None or c.district == district)
                   and (childcare is None or c.childcare == childcare)
                   and (funding is None or c.funding == funding)
                   and (starts_from is None or c.starts_on >= starts_from)
                   and (not with_free_places or c.free_places > 0)),
                  key=lambda c: (c.starts_on, c.title))
