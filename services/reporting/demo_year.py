"""A synthetic year of the centre for the demo (`lotse seed-demo --year 2022`), as events.

The year is the first-year review's (../shared/seeds/): 20,000 consultations at the info point
and 4,100 in the centre with people from Ukraine, 6,000 and 2,000 with other nationalities, the
Ukrainian ones surging from March (the war began on 24 February 2022), on the city's working
days only (Monday to Friday, North Rhine-Westphalia's public holidays closed). Each
consultation is an `intake.recorded` v2 event as the intake service publishes it; each of its
needs a referral, published as the referral service does (`referral.requested`, then the
partner's answers as `referral.status_changed`: received within hours, accepted or rejected
within days, completed within weeks; a rejected need goes to a second partner).

The events are built from their contracts (shared/events/model.py) and checked by them, so
they are what the services would have published. Everything is drawn from one seeded random
generator: the same year, seed and scale give the same events with the same ids (uuid5), so
a second delivery is a duplicate for every consumer. The table site x nationality group is
exact: each cell's count is the review's figure times the scale, rounded, apportioned over
the days by weight (running totals rounded).

How they reach the figures: `deliver_year` hands them to the reporting service's
subscription the way its consumer does (shared/bus/delivery.py: contract check, inbox,
tombstones, one transaction per batch), see its docstring for why not the exchange.
"""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator, Sequence

import holidays

from shared.clock import CITY_TIME
from shared.events.envelope import SOURCE_PREFIX, Envelope
from shared.events.contracts import dump_payload
from shared.events.model import (ConsentV2, IntakeHouseholdMemberV2, IntakeRecordedV2, NeedV2,
                                 PersonV2, ReferralPersonV1, ReferralRequestedV1,
                                 ReferralStatusChangedV1, ResidenceV2)
from shared.events.typed import TypedEvent
from shared.events.vocabulary import ReferralStatus

# The review's table: (site, nationality group) -> consultations in the year.
REVIEW = {("infopoint", "UA"): 20_000, ("centre", "UA"): 4_100,
          ("infopoint", "other"): 6_000, ("centre", "other"): 2_000}
# Each month's weight of a working day: Ukrainians from the war's first days on, the surge in
# March and April, then settling; other nationalities steady, the info point open to them
# all year in this demo (the review: from December; the table counts them there anyway).
MONTH_WEIGHT = {
    "UA": (0.25, 0.6, 9.0, 8.0, 5.5, 4.5, 4.0, 3.5, 3.5, 3.5, 3.0, 3.0),
    "other": (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.9, 0.8, 1.0, 1.1, 1.1, 1.0),
}
WAR_BEGAN = date(2022, 2, 24)

# Nationalities of the other group with their weight, and the languages they consult in.
OTHERS = (("SY", 18, ("ar",)), ("AF", 12, ("fa", "ps")), ("TR", 10, ("tr",)),
          ("RO", 10, ("ro",)), ("BG", 8, ("bg", "tr")), ("PL", 6, ("pl",)),
          ("IQ", 7, ("ar", "ku")), ("AL", 4, ("sq",)), ("ER", 3, ("ti",)),
          ("SO", 3, ("so",)), ("IR", 5, ("fa",)), ("NG", 3, ("en",)),
          ("IN", 3, ("en",)), ("GN", 2, ("fr",)), ("RU", 3, ("ru",)), ("MA", 3, ("ar", "fr")))
# Of the Ukrainians: consult in Ukrainian or Russian; some are nationals of a third country.
UKRAINIAN_LANGUAGES = ((("uk", "ru"), 70), (("ru", "uk"), 30))

# Needs and where each goes: (need, partner, service, weight among the needs of the group).
ROUTES = {
    "address_registration": ("registration", "buergerdienste_international"),
    "residence_permit": ("registration", "auslaenderbehoerde"),
    "orientation_counselling": ("welfare", "mbe"),
    "youth_counselling": ("welfare", "jmd"),
    "living_costs": ("jobcenter", "sgb2"),
    "child_benefit": ("familienkasse", "kindergeld"),
    "language_course": ("course_provider", "integration_course"),
    "kita_place": ("jugendamt", "kita_portal"),
    "school_place": ("dlzb", "school_placement"),
    "health_insurance": ("health_insurer", "gkv"),
    "housing": ("wohnungsamt", "wbs"),
    "local_integration": ("lokal_willkommen", "district_office"),
    "complex_case": ("kim", "case_management"),
}
# What a completed referral achieved, by need (shared.events.vocabulary.REFERRAL_OUTCOMES).
OUTCOMES = {"orientation_counselling": "counselling_started",
            "youth_counselling": "counselling_started", "complex_case": "counselling_started",
            "language_course": "course_place_offered", "kita_place": "place_offered",
            "school_place": "place_offered", "address_registration": "appointment_kept",
            "residence_permit": "appointment_kept", "living_costs": "application_filed",
            "child_benefit": "application_filed", "health_insurance": "application_filed",
            "housing": "application_filed"}
# A rejected need's second partner (the first was not responsible).
REROUTES = {"living_costs": ("sozialamt", "asylblg"), "orientation_counselling":
            ("welfare", "mbe_diakonie"), "youth_counselling": ("welfare", "jmd_diakonie"),
            "address_registration": ("registration", "buergerdienste")}
NEED_WEIGHTS = {
    "UA": {"address_registration": 9, "residence_permit": 9, "living_costs": 8,
           "orientation_counselling": 7, "language_course": 6, "health_insurance": 4,
           "child_benefit": 3, "housing": 3, "school_place": 2, "kita_place": 2,
           "youth_counselling": 1, "local_integration": 1, "complex_case": 0.5},
    "other": {"orientation_counselling": 9, "address_registration": 6, "language_course": 7,
              "living_costs": 5, "residence_permit": 5, "health_insurance": 3, "housing": 3,
              "child_benefit": 2, "youth_counselling": 2,
              "school_place": 1.5, "kita_place": 1.5, "local_integration": 1,
              "complex_case": 1},
}
GIVEN = ("Olena", "Iryna", "Andrii", "Oksana", "Dmytro", "Ahmad", "Fatima", "Mehmet", "Ioana",
         "Elena", "Arben", "Amina", "Yonas", "Hodan", "Karim", "Maria")
FAMILY = ("Kovalenko", "Shevchenko", "Bondarenko", "Haddad", "Rahimi", "Yilmaz", "Popescu",
          "Ivanova", "Krasniqi", "Tesfaye", "Abdi", "Nowak", "Demir", "Karimi")
RETURNING = 0.3  # share of consultations with someone who came before
NAMESPACE = uuid.UUID("5f0c3c8e-6f1e-4d53-9f0e-6a1f4b3d2e01")  # the demo year's ids


@dataclass
class Person:
    id: uuid.UUID
    group: str
    nationality: str
    languages: tuple[str, ...]
    birth_date: date
    household: tuple[IntakeHouseholdMemberV2, ...]
    given: str
    family: str


@dataclass
class Year:
    """The demo year's plan: which consultations on which days, drawn from the seed."""

    year: int
    seed: int = 2022
    scale: float = 1.0
    rng: random.Random = field(init=False)
    serial: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"lotse demo year {self.year} {self.seed} {self.scale}")

    def uid(self, *parts: object) -> uuid.UUID:
        self.serial += 1
        return uuid.uuid5(NAMESPACE, f"{self.year}/{self.seed}/{self.scale}/{self.serial}/"
                                     + "/".join(map(str, parts)))

    def events(self) -> Iterator[Envelope]:
        """Every event of the year, consultation by consultation in time order."""
        people: dict[str, list[Person]] = {"UA": [], "other": []}
        for moment, site, group in self.consultations():
            pool = people[group]
            if pool and self.rng.random() < RETURNING:
                person = self.rng.choice(pool)
            else:
                person = self.person(group, moment.date())
                pool.append(person)
            yield from self.consultation(person, site, moment)

    def consultations(self) -> list[tuple[datetime, str, str]]:
        days = working_days(self.year)
        out = []
        for (site, group), figure in REVIEW.items():
            weights = [day_weight(day, group) for day in days]
            for day, count in zip(days, apportion(round(figure * self.scale), weights),
                                  strict=True):
                out += [(self.moment(day), site, group) for _ in range(count)]
        return sorted(out)

    def moment(self, day: date) -> datetime:
        """A time in opening hours (8:00 to 16:00 in the city)."""
        minutes = self.rng.randrange(8 * 60, 16 * 60)
        local = datetime.combine(day, time(minutes // 60, minutes % 60), CITY_TIME)
        return local.astimezone(timezone.utc)

    def person(self, group: str, seen: date) -> Person:
        rng = self.rng
        if group == "UA":
            nationality = "UA"
            languages = weighted(rng, UKRAINIAN_LANGUAGES)
        else:
            nationality, _, languages = rng.choices(OTHERS, [w for _, w, _ in OTHERS])[0]
            if rng.random() < 0.25:
                languages = (*languages, "en")
        age = rng.choices((16, 20, 30, 40, 50, 60, 70), (3, 12, 30, 25, 15, 10, 5))[0] \
            + rng.randrange(0, 10)
        birth = seen - timedelta(days=age * 365 + rng.randrange(0, 365))
        children = rng.choices((0, 1, 2, 3, 4), (40, 22, 22, 11, 5))[0]
        partner = rng.random() < (0.25 if group == "UA" else 0.5)
        members = [IntakeHouseholdMemberV2(relation="child", birth_date=seen - timedelta(
            days=rng.randrange(365, 17 * 365))) for _ in range(children)]
        if partner:
            members.append(IntakeHouseholdMemberV2(relation="spouse", birth_date=birth))
        return Person(self.uid("person"), group, nationality, languages, birth,
                      tuple(members), rng.choice(GIVEN), rng.choice(FAMILY))

    def consultation(self, person: Person, site: str, at: datetime) -> Iterator[Envelope]:
        rng = self.rng
        intake_id = self.uid("intake")
        interpreter = "none" if person.languages[0] in ("uk", "ru", "ar", "tr", "en") else \
            rng.choices(("video", "on_site", "none"), (6, 2, 2))[0]
        needs = self.needs(person)
        reference = f"LT-{self.year}-{self.serial:06d}"
        channel = rng.choices(("in_person", "phone", "video"), (90, 8, 2))[0]
        consent = ConsentV2(consent_id=self.uid("consent"), partner=None, method="signed_form",
                            language=person.languages[0], purpose="referral",
                            information_version=None)
        residence = ResidenceV2(
            status="TEMP_PROTECTION_24" if person.group == "UA" else rng.choice(
                ("ASYLUM_PENDING", "EU_FREE_MOVEMENT", "FAMILY_REUNION", "WORK")),
            legal_basis=None, document_type=None, valid_until=None, first_issue_date=None)
        yield self.envelope(IntakeRecordedV2(
            intake_id=intake_id, person_id=person.id, reference=reference, recorded_at=at,
            recorded_by="staff", site=site, channel=channel, person=PersonV2(
                given_name=person.given, family_name=person.family,
                birth_date=person.birth_date, nationality=person.nationality,
                nationalities=(person.nationality,), languages=person.languages,
                preferred_language=person.languages[0], interpreter=interpreter,
                household=person.household),
            residence=residence, arrival_date=None,
            needs=tuple(NeedV2(code=n, urgency="normal") for n in needs),
            consents=(consent,)), "intake", at)
        for need in needs:
            yield from self.referral(person, intake_id, reference, need, residence.status,
                                     at + timedelta(seconds=rng.randrange(2, 30)))

    def needs(self, person: Person) -> list[str]:
        weights = NEED_WEIGHTS[person.group]
        codes = [c for c, w in weights.items() if w > 0]
        wanted = self.rng.choices((1, 2, 3, 4, 5), (12, 26, 30, 21, 11))[0]
        chosen: list[str] = []
        while len(chosen) < wanted:
            code = self.rng.choices(codes, [weights[c] for c in codes])[0]
            if code not in chosen:
                chosen.append(code)
        return chosen

    def referral(self, person: Person, intake_id: uuid.UUID, reference: str, need: str,
                 residence: str, at: datetime,
                 route: tuple[str, str] | None = None) -> Iterator[Envelope]:
        rng = self.rng
        partner, service = route or ROUTES[need]
        referral_id = self.uid("referral")
        yield self.envelope(ReferralRequestedV1(
            referral_id=referral_id, intake_id=intake_id, intake_reference=reference,
            need=need, partner=partner, service=service, routing_reason="rule",
            status=ReferralStatus.REQUESTED, referral_version=1, requested_at=at,
            residence_status=residence, person=ReferralPersonV1(
                given_name=person.given, family_name=person.family,
                birth_date=person.birth_date, nationality=person.nationality,
                languages=person.languages), person_id=person.id,
            consent_method="signed_form"), "referral", at)
        steps = [("received", rng.expovariate(1 / 6) + 0.2, None, None)]  # hours after
        if route is None and need in REROUTES and rng.random() < 0.06:
            steps.append(("rejected", rng.expovariate(1 / 40) + 2, "wrong_partner", None))
        elif rng.random() < 0.03:
            steps.append(("rejected", rng.expovariate(1 / 60) + 2, "not_eligible", None))
        else:
            steps.append(("accepted", rng.expovariate(1 / 30) + 1, None, None))
            if rng.random() < 0.7:
                steps.append(("completed", rng.expovariate(1 / 400) + 24, None,
                              OUTCOMES.get(need, "case_closed")))
        previous, when, version = ReferralStatus.REQUESTED, at, 1
        for status, after, reason, outcome in steps:
            when, version = when + timedelta(hours=after), version + 1
            yield self.envelope(ReferralStatusChangedV1(
                referral_id=referral_id, intake_id=intake_id, need=need, partner=partner,
                service=service, status=ReferralStatus(status),
                previous_status=previous.value, reason=reason, partner_case_ref=None,
                referral_version=version, changed_at=when, changed_by=f"partner:{partner}",
                outcome=outcome), "referral", when)
            previous = ReferralStatus(status)
        if previous == ReferralStatus.REJECTED and reason == "wrong_partner":
            yield from self.referral(person, intake_id, reference, need, residence, when,
                                     route=REROUTES[need])

    def envelope(self, event: TypedEvent, producer: str, at: datetime) -> Envelope:
        """The event as its producer publishes it (payload checked by its contract), with a
        stable id; one correlation per consultation is not needed by any consumer."""
        event_id = str(self.uid(event.type))
        return Envelope(type=event.type, schemaversion=event.version,
                        source=SOURCE_PREFIX + producer, subject=event.subject,
                        data=dump_payload(event.type, event.version, event.data()),
                        id=event_id, time=at, correlationid=event_id)


@dataclass
class Delivered:
    events: int = 0
    new: int = 0  # the others were duplicates: delivered before
    consultations: int = 0


def deliver_year(events: Iterable[Envelope], uow_factory: Callable[[], Any],
                 batch: int = 500) -> Delivered:
    """Hand a year's events (Year.events) to the reporting service's subscription as its
    consumer does (serialised, checked by their contracts, deduplicated by the inbox, a
    batch per transaction), so the figures come from the events alone.

    Not through the exchange: every subscriber there would act on them in its own present.
    The referral service would route each 2022 intake again by today's rules and open new
    referrals; the partner adapter would open 96,000 cases in the partners' systems; the
    intake service would track referrals of intakes it never recorded. The year is history:
    it is given to the service that counts history. Stable ids make a second run a duplicate
    (Verdict ACK, "duplicate") for every event."""
    from services.reporting import projection
    from services.reporting.consumers import SUBSCRIPTIONS
    from shared.bus.delivery import Verdict, deliver_batch

    [count] = SUBSCRIPTIONS
    done, pending = Delivered(), []

    def flush() -> None:
        outcomes = deliver_batch([e.to_json() for e in pending], count, uow_factory)
        bad = [o for o in outcomes if o.verdict != Verdict.ACK]
        if bad:
            raise RuntimeError(f"the reporting service refused a demo event: {bad[0].reason}")
        done.events += len(pending)
        done.new += sum(1 for o in outcomes if o.reason != "duplicate")
        pending.clear()

    for envelope in events:
        done.consultations += envelope.type == "intake.recorded"
        pending.append(envelope)
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    with uow_factory() as uow:  # a year's reports planned for a year's rows
        projection.refresh_statistics(uow.session.connection())
        uow.commit()
    return done


def working_days(year: int) -> list[date]:
    """Monday to Friday, without North Rhine-Westphalia's public holidays."""
    closed = holidays.country_holidays("DE", subdiv="NW", years=year)
    day, days = date(year, 1, 1), []
    while day.year == year:
        if day.weekday() < 5 and day not in closed:
            days.append(day)
        day += timedelta(days=1)
    return days


def day_weight(day: date, group: str) -> float:
    weight = MONTH_WEIGHT[group][day.month - 1]
    if group == "UA" and day.month == 2 and day >= WAR_BEGAN:
        weight = MONTH_WEIGHT[group][2] / 2  # the first days of the war
    return weight


def apportion(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split by `weights` into whole numbers summing to it, spread evenly: each
    part is the rounded running total at its end minus that at its start."""
    whole, running, before, counts = sum(weights), 0.0, 0, []
    for weight in weights:
        running += weight
        upto = round(total * running / whole)
        counts.append(upto - before)
        before = upto
    return counts


def weighted(rng: random.Random, options):
    return rng.choices([o for o, _ in options], [w for _, w in options])[0]
