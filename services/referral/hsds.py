"""The directory of the partners' services and the courses in Open Referral HSDS 3.0 shape
(https://docs.openreferral.org/en/latest/hsds/): organizations, services (with their
schedules and service_at_locations), locations (with addresses), as JSON objects each
valid against the HSDS 3.0 schema of its table (tests/data/hsds3, checked in a test).

HSDS identifiers are UUIDs: derived (uuid5) from the partner and service codes so an export
names the same organisation with the same id every time; courses keep their own ids. Texts
are German, the directory's language. No personal data: partners' addresses and hours, and
courses.
"""
from __future__ import annotations

import re
import uuid
from typing import Any, Iterable

from flask_babel import force_locale

from services.referral.courses import Course, CourseStatus
from shared.partners import DIRECTORY, PartnerConfig
from shared.reference import DISTRICTS

_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://lotse.invalid/hsds")
_DAYS = {"mon": "MO", "tue": "TU", "wed": "WE", "thu": "TH", "fri": "FR", "sat": "SA",
         "sun": "SU"}
_DISTRICT_NAMES = {d.code: d.de for d in DISTRICTS}
# "Hansastraße 2-4, 44137 Dortmund": street, postcode, city
_ADDRESS = re.compile(r"^\s*(?P<street>.+?),\s*(?P<postcode>\d{5})\s+(?P<city>.+?)\s*$")


def _id(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


def _address(location_id: str, text: str) -> dict[str, Any]:
    found = _ADDRESS.match(text)
    street, postcode, city = ((found["street"], found["postcode"], found["city"]) if found
                              else (text, "", "Dortmund"))
    return {"id": _id("address", location_id), "location_id": location_id,
            "address_1": street, "city": city, "state_province": "Nordrhein-Westfalen",
            "postal_code": postcode, "country": "DE", "address_type": "physical"}


def _location(organization_id: str, name: str, address: str) -> dict[str, Any]:
    location_id = _id("location", address)
    return {"id": location_id, "location_type": "physical", "organization_id": organization_id,
            "name": name, "addresses": [_address(location_id, address)]}


def _partner_hours(partner: PartnerConfig, service_id: str,
                   location_id: str) -> list[dict[str, Any]]:
    hours = partner.visit.hours if partner.visit else ()
    return [{"id": _id("schedule", service_id, str(n)), "service_id": service_id,
             "location_id": location_id, "freq": "WEEKLY",
             "byday": ",".join(_DAYS[d] for d in h.days), "opens_at": h.opens,
             "closes_at": h.closes, "description": "Ortszeit (Europe/Berlin)"}
            for n, h in enumerate(hours)]


def _partner_services(partner: PartnerConfig, organization_id: str,
                      location: dict | None) -> list[dict[str, Any]]:
    services = []
    for service in partner.services:
        service_id = _id("service", partner.code, service.code)
        entry: dict[str, Any] = {"id": service_id, "organization_id": organization_id,
                                 "name": service.name, "status": "active"}
        if service.name_en:
            entry["alternate_name"] = service.name_en
        if location:
            entry["schedules"] = _partner_hours(partner, service_id, location["id"])
            entry["service_at_locations"] = [{"id": _id("service_at_location", service_id),
                                              "service_id": service_id,
                                              "location_id": location["id"]}]
        services.append(entry)
    return services


def _course_service(course: Course, organization_id: str,
                    location: dict | None) -> dict[str, Any]:
    from services.referral import courses_wording as w

    with force_locale("de"):
        kind, funding = str(w.KINDS[course.kind]), str(w.FUNDINGS[course.funding])
    district = _DISTRICT_NAMES.get(course.district, course.district)
    description = (f"{kind}, Niveau {course.level}, Beginn {course.starts_on:%d.%m.%Y}, "
                   f"{course.schedule}, Stadtbezirk {district}, "
                   f"{'mit' if course.childcare else 'ohne'} Kinderbetreuung, "
                   f"freie Plätze: {course.free_places} von {course.places}")
    entry: dict[str, Any] = {
        "id": course.id, "organization_id": organization_id, "name": course.title,
        "description": description,
        "status": "active" if course.status is CourseStatus.OPEN else "inactive",
        "fees_description": funding,
        "schedules": [{"id": _id("schedule", course.id), "service_id": course.id,
                       "valid_from": course.starts_on.isoformat(),
                       "dtstart": course.starts_on.isoformat(), "freq": "WEEKLY",
                       "description": course.schedule}],
        "languages": [{"id": _id("language", course.id), "service_id": course.id,
                       "name": "Deutsch", "code": "de"}],
    }
    if course.updated_at is not None:
        entry["last_modified"] = course.updated_at.isoformat()
    if location:
        entry["service_at_locations"] = [{"id": _id("service_at_location", course.id),
                                          "service_id": course.id,
                                          "location_id": location["id"]}]
    return entry


def export(courses: Iterable[Course]) -> dict[str, Any]:
    """The directory as {"organizations", "services", "locations"} (HSDS 3.0 objects)."""
    organizations, services, locations = [], [], {}
    by_provider: dict[str, list[Course]] = {}
    for course in sorted(courses, key=lambda c: (c.starts_on, c.id)):
        by_provider.setdefault(course.provider, []).append(course)
    for code in sorted(DIRECTORY):
        partner = DIRECTORY[code]
        organization_id = _id("organization", code)
        organization: dict[str, Any] = {"id": organization_id, "name": partner.name,
                                        "description": partner.name_en or partner.name}
        if partner.name_en:
            organization["alternate_name"] = partner.name_en
        location = None
        if partner.visit:
            location = _location(organization_id, partner.name, partner.visit.address)
            locations[location["id"]] = location
            if partner.visit.phone:
                organization["phones"] = [{"id": _id("phone", code),
                                           "organization_id": organization_id,
                                           "number": partner.visit.phone}]
        organizations.append(organization)
        services += _partner_services(partner, organization_id, location)
        for course in by_provider.get(code, ()):
            course_location = None
            if course.address:
                course_location = locations.setdefault(
                    _id("location", course.address),
                    _location(organization_id, course.title, course.address))
            services.append(_course_service(course, organization_id, course_location))
    return {"version": "3.0", "organizations": organizations, "services": services,
            "locations": list(locations.values())}


