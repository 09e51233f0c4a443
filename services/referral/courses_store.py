"""The course directory on its table: list, keep (add, change, close), import, and a place
request for a person, which is a referral to the course's provider (handlers.refer_by_hand:
the consent in force at that moment checked there). The rules are courses.py's.

Who keeps a course: a partner user of a course-provider partner its own provider's courses,
an admin any provider's. A course provider is a partner that offers a course service in the
partner directory.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import asdict, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Sequence

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.referral import handlers
from services.referral import tables as t
from services.referral.courses import Course, CourseError, CourseStatus
from shared.partners import DIRECTORY
from shared.uow import UnitOfWork

COURSE_SERVICES = ("integration_course",)  # partner services that are language courses
COURSE_NEED = "language_course"


class CourseNotFound(LookupError):
    pass


class NotYourCourse(PermissionError):
    """A partner user asked to keep another provider's course."""


class ImportRefused(ValueError):
    """An import file that is not taken (nothing of it is stored); `errors` per entry."""

    def __init__(self, errors: dict[str, Any]):
        super().__init__(json.dumps(errors, ensure_ascii=False, default=str))
        self.errors = errors


def course_providers() -> dict[str, str]:
    """Partner code -> its course service, for the partners offering one."""
    return {code: service.code for code, partner in DIRECTORY.items()
            for service in partner.services if service.code in COURSE_SERVICES}


def may_keep(role: str, partner: str | None, provider: str) -> bool:
    return role == "admin" or (role == "partner" and partner == provider
                               and provider in course_providers())


def _course(row) -> Course:
    return Course(**dict(row._mapping))


def _values(course: Course) -> dict:
    values = asdict(course)
    for key in ("kind", "level", "funding", "status"):
        values[key] = str(values[key])
    return values


def all_courses(session: Session, provider: str | None = None) -> list[Course]:
    query = select(t.courses)
    if provider is not None:
        query = query.where(t.courses.c.provider == provider)
    return [_course(row) for row in session.execute(query)]


def get(session: Session, course_id: str) -> Course | None:
    row = session.execute(select(t.courses).where(t.courses.c.id == course_id)).first()
    return _course(row) if row else None


def new_course(data: dict, by: str, now: datetime) -> Course:
    """A course from checked input (CourseInSchema), with a new id."""
    course = Course(id=str(uuid.uuid4()), updated_at=now, updated_by=by,
                    status=CourseStatus.OPEN, **data)
    course.check()
    if course.provider not in course_providers():
        raise CourseError("provider", f"{course.provider} is not a course provider")
    return course


def add(uow: UnitOfWork, course: Course) -> Course:
    with uow:
        uow.session.execute(t.courses.insert().values(_values(course)))
        uow.commit()
    return course


def change(uow: UnitOfWork, course_id: str, changes: dict, role: str, partner: str | None,
           by: str, now: datetime) -> Course:
    """A course changed (any of its fields but its provider, or closed) by someone who may
    keep it: NotYourCourse otherwise, CourseError for an inconsistent result."""
    with uow:
        course = get(uow.session, course_id)
        if course is None:
            raise CourseNotFound(course_id)
        if not may_keep(role, partner, course.provider):
            raise NotYourCourse(course_id)
        if "provider" in changes and changes["provider"] != course.provider:
            raise CourseError("provider", "a course stays with its provider")
        changed = replace(course, **{k: v for k, v in changes.items() if k != "provider"},
                          updated_at=now, updated_by=by)
        changed.check()
        uow.session.execute(t.courses.update().where(t.courses.c.id == course_id)
                            .values(_values(changed)))
        uow.commit()
    return changed


def import_courses(uow: UnitOfWork, entries: Sequence[Any], by: str, now: datetime,
                   load: Callable[[Any], dict]) -> list[Course]:
    """Every entry checked first (`load`: the API's schema), then all stored in one
    transaction or none: ImportRefused lists each entry's problems by its index. An entry with
    an `id` already known replaces that course (an import run again updates the directory)."""
    if not isinstance(entries, list) or not entries:
        raise ImportRefused({"courses": ["a list of at least one course"]})
    errors: dict[str, Any] = {}
    courses: list[Course] = []
    for index, entry in enumerate(entries):
        try:
            data = load(entry)
            known_id = data.pop("id", None)
            course = new_course(data, by, now)
            courses.append(replace(course, id=str(known_id)) if known_id else course)
        except ValidationError as exc:
            errors[str(index)] = exc.messages
        except CourseError as exc:
            errors[str(index)] = {exc.field: [exc.message]}
    ids = [c.id for c in courses]
    if len(set(ids)) != len(ids):
        errors.setdefault("courses", ["an id appears twice"])
    if errors:
        raise ImportRefused(errors)
    with uow:
        uow.session.execute(t.courses.delete().where(t.courses.c.id.in_(ids)))
        uow.session.execute(t.courses.insert(), [_values(c) for c in courses])
        uow.commit()
    return courses


def request_place(uow_factory: Callable[[], UnitOfWork], sessions: Callable[[], Session],
                  course_id: str, intake_id: str, staff: str, note: str | None) -> str:
    """A place in this course for the intake's person: a referral for the language-course
    need to the course's provider, carrying the course id; it leaves only if a consent in
    force now (or the provider's legal basis) allows sharing with the provider
    (handlers.ReferralActionError otherwise, naming the field)."""
    with sessions() as session:  # closed before the referral's own transaction begins
        course = get(session, course_id)
    if course is None:
        raise CourseNotFound(course_id)
    if not course.takes_people:
        raise handlers.ReferralActionError("course_id", "this course takes no one now "
                                                        "(closed or no free places)")
    service = course_providers().get(course.provider)
    if service is None:
        raise handlers.ReferralActionError("course_id", "the course's provider is not a "
                                                        "partner Lotse refers to")
    said = course.title + (f"; {note}" if note else "")
    return handlers.refer_by_hand(intake_id, COURSE_NEED, course.provider, service, staff,
                                  said, uow_factory(), course_id=course.id)


def place_requests(session: Session, course_ids: Iterable[str]) -> list[Any]:
    """The place requests (referrals) of these courses, newest first: what the provider may
    see of them without the person (the portal's cases show the person): the intake's
    reference, the status, when."""
    ids = list(course_ids)
    if not ids:
        return []
    r = t.referrals
    return list(session.execute(
        select(r.c.id, r.c.course_id, r.c.intake_reference, r.c.status, r.c.created_at)
        .where(r.c.course_id.in_(ids)).order_by(r.c.created_at.desc())))


def demo_courses(today: date) -> list[Course]:
    """A handful of courses of different kinds, levels and districts for the demo."""
    def course(n, kind, title, level, schedule, district, childcare, funding, weeks,
               places, free):
        return Course(id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"lotse-demo-course-{n}")),
                      provider="course_provider", kind=kind, title=title, level=level,
                      schedule=schedule, district=district, childcare=childcare,
                      funding=funding, starts_on=today + timedelta(weeks=weeks),
                      places=places, free_places=free, address="Hansastraße 2-4, 44137 Dortmund",
                      updated_at=datetime.combine(today, datetime.min.time(), timezone.utc),
                      updated_by="demo")
    return [
        course(1, "integration", "Integrationskurs A1 vormittags", "A1", "Mo–Fr 08:30–11:45",
               "innenstadt_west", False, "bamf_integration", 2, 20, 6),
        course(2, "literacy", "Alphabetisierungskurs A1", "A1", "Mo–Fr 09:00–12:15",
               "innenstadt_nord", True, "bamf_integration", 3, 16, 4),
        course(3, "women", "Frauenkurs A1 mit Kinderbetreuung", "A1", "Mo–Do 09:00–12:00",
               "eving", True, "bamf_integration", 4, 15, 3),
        course(4, "parents", "Elternkurs A2", "A2", "Di und Do 09:00–11:30", "scharnhorst",
               True, "municipal", 1, 14, 5),
        course(5, "youth", "Jugendintegrationskurs B1", "B1", "Mo–Fr 13:00–16:15",
               "innenstadt_ost", False, "bamf_integration", 5, 18, 7),
        course(6, "job", "Berufssprachkurs B2", "B2", "Mo–Fr 17:30–20:45", "hoerde", False,
               "bamf_job", 6, 20, 9),
        course(7, "children", "Deutsch für Kinder (A1)", "A1", "Mi 15:00–16:30", "huckarde",
               False, "municipal", 1, 12, 0),
        course(8, "integration", "Integrationskurs A1 abends (Selbstzahler)", "A1",
               "Mo–Do 18:00–21:00", "innenstadt_west", False, "self_pay", 2, 20, 11),
    ]


def seed_demo(uow: UnitOfWork, today: date) -> int:
    """The demo courses, unless the directory already has courses."""
    with uow:
        if uow.session.execute(select(t.courses.c.id).limit(1)).first():
            return 0
        courses = demo_courses(today)
        uow.session.execute(t.courses.insert(), [_values(c) for c in courses])
        uow.commit()
    return len(courses)
