"""Referrals, their FHIR Task lifecycle and need routing: plain domain code."""
from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Container, Iterable, Mapping, Sequence

from shared.events.model import (HouseholdMemberV2, ReferralMemberV1, ReferralOverdueV1,
                                 ReferralPersonV1, ReferralReminderDueV1, ReferralRequestedV1,
                                 ReferralStatusChangedV1)
from shared.events.vocabulary import DeadlinePhase, NoticeKind, ReferralStatus
from shared.reference import CHILD_RELATIONS

if TYPE_CHECKING:  # for annotations only: the methods import it where they use it
    from services.referral.deadlines import DeadlinePolicy, WorkingCalendar

# FHIR Task status codes (http://hl7.org/fhir/task-status, shared/events/vocabulary.py);
# "ready" and "entered-in-error" are not used by Lotse.
_S = ReferralStatus
TERMINAL = frozenset({_S.REJECTED, _S.CANCELLED, _S.FAILED, _S.COMPLETED})
TRANSITIONS: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    _S.DRAFT: frozenset({_S.REQUESTED, _S.CANCELLED}),
    _S.REQUESTED: frozenset({_S.RECEIVED, _S.ACCEPTED, _S.REJECTED, _S.CANCELLED, _S.FAILED,
                             _S.ON_HOLD, _S.IN_PROGRESS, _S.COMPLETED}),
    _S.RECEIVED: frozenset({_S.ACCEPTED, _S.REJECTED, _S.CANCELLED, _S.FAILED,
                            _S.IN_PROGRESS, _S.ON_HOLD, _S.COMPLETED}),
    _S.ACCEPTED: frozenset({_S.IN_PROGRESS, _S.ON_HOLD, _S.COMPLETED, _S.CANCELLED,
                            _S.FAILED}),
    _S.IN_PROGRESS: frozenset({_S.ON_HOLD, _S.COMPLETED, _S.FAILED, _S.CANCELLED}),
    _S.ON_HOLD: frozenset({_S.REQUESTED, _S.RECEIVED, _S.ACCEPTED, _S.IN_PROGRESS,
                           _S.COMPLETED, _S.CANCELLED, _S.FAILED}),
    **{s: frozenset() for s in TERMINAL},
}


class Actor(enum.StrEnum):
    """Who sets a status: partners report on their case, staff steer, Lotse itself routes,
    records deliveries and follows consents."""

    PARTNER = "partner"
    STAFF = "staff"
    SYSTEM = "system"


SET_BY: dict[Actor, frozenset[ReferralStatus]] = {
    Actor.PARTNER: frozenset({_S.RECEIVED, _S.ACCEPTED, _S.REJECTED, _S.IN_PROGRESS,
                              _S.ON_HOLD, _S.COMPLETED, _S.CANCELLED}),
    Actor.STAFF: frozenset({_S.REQUESTED, _S.ON_HOLD, _S.CANCELLED, _S.COMPLETED, _S.FAILED}),
    Actor.SYSTEM: frozenset({_S.REQUESTED, _S.RECEIVED, _S.ON_HOLD, _S.CANCELLED, _S.FAILED}),
}


class Reason(enum.StrEnum):
    """Coded reasons of a referral rejected, cancelled, failed or on hold (REASONS says
    which status takes which); free text goes into the note next to them."""

    NOT_ELIGIBLE = "not_eligible"
    NO_CAPACITY = "no_capacity"
    PERSON_UNREACHABLE = "person_unreachable"
    WRONG_PARTNER = "wrong_partner"
    DUPLICATE = "duplicate"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    PERSON_WITHDREW = "person_withdrew"
    CREATED_IN_ERROR = "created_in_error"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"
    DELIVERY_FAILED = "delivery_failed"
    PARTNER_REFUSED_REQUEST = "partner_refused_request"
    NO_MATCHING_RULE = "no_matching_rule"
    FACT_MISSING = "fact_missing"  # the deciding rule reads a fact the intake did not record
    CONSENT_MISSING = "consent_missing"
    PREREQUISITE_PENDING = "prerequisite_pending"
    WAITING_FOR_PERSON = "waiting_for_person"
    PARTNER_PAUSED = "partner_paused"
    OTHER = "other"


_R = Reason
REASONS: dict[ReferralStatus, tuple[Reason, ...]] = {
    _S.REJECTED: (_R.NOT_ELIGIBLE, _R.NO_CAPACITY, _R.PERSON_UNREACHABLE, _R.WRONG_PARTNER,
                  _R.DUPLICATE, _R.OTHER),
    _S.CANCELLED: (_R.CONSENT_WITHDRAWN, _R.PERSON_WITHDREW, _R.DUPLICATE,
                   _R.CREATED_IN_ERROR, _R.SUPERSEDED, _R.EXPIRED, _R.OTHER),
    _S.FAILED: (_R.DELIVERY_FAILED, _R.PARTNER_REFUSED_REQUEST, _R.EXPIRED, _R.OTHER),
    _S.ON_HOLD: (_R.NO_MATCHING_RULE, _R.FACT_MISSING, _R.CONSENT_MISSING, _R.PREREQUISITE_PENDING,
                 _R.WAITING_FOR_PERSON, _R.PARTNER_PAUSED, _R.OTHER),
}
# Holds only routing decides: a partner's case was routed, and a partner's "fact missing"
# would be lifted by routing once the intake's fact is added, so they count as 'other'. (A
# partner may hold a case for a consent or a prerequisite: those release it as for routing.)
ROUTING_HOLDS = frozenset({_R.NO_MATCHING_RULE, _R.FACT_MISSING})
PREREQUISITE_PATIENCE = timedelta(days=5)  # then a waiting referral needs a person
# What a partner may see of a referral (API and views): the fields its allow-list names (an
# allow-list entry -> the referral's attribute carrying it) and the case's workflow, never the
# routing reason (it names the person's age, status, nationality), notes or staff names.
PARTNER_ALLOWED_ATTRIBUTES = {"referral_id": "id", "intake_reference": "intake_reference",
                              "need": "need", "service": "service"}
PARTNER_WORKFLOW_FIELDS = ("partner", "status", "reason", "outcome", "partner_case_ref",
                           "appointment", "created_at", "updated_at", "ack_due_at",
                           "complete_due_at", "overdue_since", "history",
                           "course_id")  # the course a place is asked in: no personal data
PARTNER_HISTORY_FIELDS = ("status", "previous_status", "changed_at")


def shown_to_partner(referral: "Referral") -> bool:
    """A partner sees a referral once it was requested from it (it left on a consent or a
    legal basis); one held for a consent or a prerequisite is none of its business yet."""
    return referral.status == _S.REQUESTED or any(h.status == _S.REQUESTED
                                                  for h in referral.history)


def partner_view(referral: Referral, allow_list: Container[str]) -> dict[str, Any]:
    """A referral as its partner may see it: built from the partner's allow-list."""
    view = {attribute: getattr(referral, attribute)
            for entry, attribute in PARTNER_ALLOWED_ATTRIBUTES.items() if entry in allow_list}
    view.update({name: getattr(referral, name) for name in PARTNER_WORKFLOW_FIELDS})
    view["history"] = [{name: getattr(h, name) for name in PARTNER_HISTORY_FIELDS}
                       for h in referral.history]
    return view


class Outcome(enum.StrEnum):
    """Coded outcome of a completed referral."""

    COUNSELLING_STARTED = "counselling_started"
    COURSE_PLACE_OFFERED = "course_place_offered"
    APPOINTMENT_KEPT = "appointment_kept"
    APPLICATION_FILED = "application_filed"
    PLACE_OFFERED = "place_offered"
    CASE_CLOSED = "case_closed"
    OTHER = "other"


OUTCOMES = tuple(Outcome)


class DeadlineOutcome(enum.StrEnum):
    """What a deadline check did to a referral."""

    EXPIRED = "expired"
    OVERDUE = "overdue"
    REMINDED = "reminded"


class ReferralError(Exception):
    pass


class TransitionNotAllowed(ReferralError):
    def __init__(self, current: str, new: str, why: str = ""):
        super().__init__(f"a referral cannot go from {current} to {new}{why}")
        self.current, self.new = current, new


def check_transition(current: ReferralStatus, new: ReferralStatus, actor: Actor,
                     reason: str | None, outcome: str | None) -> None:
    """The lifecycle's guard: allowed next status, allowed actor, coded reason or outcome."""
    if new not in TRANSITIONS.get(current, ()):
        raise TransitionNotAllowed(current, new)
    if new not in SET_BY.get(actor, ()):
        raise TransitionNotAllowed(current, new, f" (not for {actor})")
    if new in REASONS and reason not in REASONS[new]:
        raise TransitionNotAllowed(current, new, f" without a reason code ({reason!r})")
    if new == _S.COMPLETED and outcome not in OUTCOMES:
        raise TransitionNotAllowed(current, new, f" without an outcome code ({outcome!r})")


CHILDREN = CHILD_RELATIONS  # household relations that count as the person's children


@dataclass(frozen=True)
class PersonFacts:
    """What routing may look at; the person's name is not among it."""

    birth_date: date
    nationality: str
    residence_status: str
    languages: tuple[str, ...]
    first_issue_date: date | None = None  # of the residence document (dated rules)
    nationalities: tuple[str, ...] = ()
    children_born: tuple[date, ...] = ()  # the household's children (Kita, school)
    district: str | None = None  # city district of the address (district offices)
    arrival_date: date | None = None  # in Germany (benefit exclusions of the first months)
    residence_purpose: str | None = None  # shared.reference.RESIDENCE_PURPOSES
    # the household as the intake listed it, (relation, birth date): a need may be a member's
    household: tuple[tuple[str, date], ...] = ()

    def __post_init__(self) -> None:
        # facts given with the children's birth dates only (older referrals, the rule
        # editor's preview): the household is those children, in that order
        if self.children_born and not self.household:
            object.__setattr__(self, "household",
                               tuple((CHILDREN[0], born) for born in self.children_born))

    def of_member(self, index: int) -> PersonFacts:
        """The facts routing reads for a need of household member `index`: their age, the
        household's residence and address (a member's own status is not recorded); a child
        is the one child a household condition looks at (a Kita place for this child)."""
        relation, born = self.household[index]
        return replace(self, birth_date=born, household=(),
                       children_born=(born,) if relation in CHILDREN else ())


class Fact(enum.StrEnum):
    """Facts a rule may read that an intake need not have recorded: a rule deciding on one
    that is missing holds the referral ("fact missing") rather than guessing."""

    FIRST_ISSUE_DATE = "first_issue_date"
    ARRIVAL_DATE = "arrival_date"
    RESIDENCE_PURPOSE = "residence_purpose"


@dataclass(frozen=True)
class FactsMissing:
    """The rule that would decide a need reads facts the intake did not record."""

    rule_id: str
    facts: tuple[Fact, ...]
    citation: str

    @property
    def reason(self) -> str:
        return (f"fact missing: {', '.join(self.facts)} (decides by {self.rule_id}: "
                f"{self.citation})")


def age_on(birth_date: date, day: date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


class RuleStanding(enum.StrEnum):
    """A routing rule on a given day, computed from its validity dates."""

    IN_FORCE = "in_force"
    NOT_YET = "not_yet"  # valid from a later day
    ENDED = "ended"  # valid until an earlier day


class PensionAge(enum.StrEnum):
    """A rule condition on the statutory pension age (§ 7a SGB II, § 41 (2) SGB XII)."""

    BELOW = "below"  # SGB II: up to the end of the month the person reaches it
    REACHED = "reached"  # SGB XII basic income in old age: from the month after


def pension_age(birth_date: date) -> tuple[int, int]:
    """The statutory pension age by birth year, as (years, months): § 7a SGB II (the same
    table as § 41 (2) SGB XII). 65 for those born before 1947, then one month more per
    birth year to 66 for 1958, two months more per year to 67 from the 1964 cohort."""
    year = birth_date.year
    if year < 1947:
        return 65, 0
    if year <= 1958:
        return (65, year - 1946) if year < 1958 else (66, 0)
    if year <= 1963:
        return 66, 2 * (year - 1958)
    return 67, 0


def _plus_months(day: date, months: int) -> date:
    """The same day so many months later (the month's last day if it has no such day)."""
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def pension_age_reached_on(birth_date: date) -> date:
    """The first day at or over the pension age. The limit is reached "mit Ablauf des
    Monats", at the end of the month in which the person completes it; an age is completed
    on the day before the birthday (§ 187 (2), § 188 (2) BGB), so someone born on the 1st
    reaches it a month earlier than someone born on the 2nd."""
    years, months = pension_age(birth_date)
    completed = _plus_months(birth_date, 12 * years + months) - timedelta(days=1)
    return _plus_months(completed.replace(day=1), 1)


@dataclass(frozen=True)
class RoutingRule:
    """One row of the routing table: if need and conditions hold, refer to partner/service."""

    id: str
    need: str
    partner: str
    service: str
    priority: int
    citation: str
    min_age: int | None = None
    max_age: int | None = None  # exclusive: JMD serves up to the 27th birthday
    residence_statuses: tuple[str, ...] | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    requires_need: str | None = None  # e.g. the Jobcenter after the address registration
    # the residence document was first issued in this range (unknown date: no match)
    first_issued_from: date | None = None
    first_issued_until: date | None = None
    nationality_group: str | None = None  # "EU" (EU/EEA/CH) or "non_EU"
    languages: tuple[str, ...] | None = None  # the partner offers counselling in these
    child_under: int | None = None  # the household has a child younger than this
    districts: tuple[str, ...] | None = None  # the address lies in one of these districts
    pension_age: PensionAge | None = None  # below or at the statutory pension age
    purposes: tuple[str, ...] | None = None  # the purpose of residence is one of these
    arrived_within_months: int | None = None  # arrived in Germany less than N months ago

    def _household_and_origin(self, facts: PersonFacts, day: date) -> str | None:
        """'' when no such condition is set, its explanation when met, None when not met."""
        from shared.reference import EU_EEA_CH

        parts = []
        if self.nationality_group:
            eu = any(n in EU_EEA_CH for n in (facts.nationality, *facts.nationalities))
            if eu != (self.nationality_group == "EU"):
                return None
            parts.append("EU citizen" if eu else "non-EU citizen")
        if self.languages:
            spoken = [lang for lang in facts.languages if lang in self.languages]
            if not spoken:
                return None
            parts.append(f"counselling in {spoken[0]}")
        if self.child_under is not None:
            young = [b for b in facts.children_born if age_on(b, day) < self.child_under]
            if not young:
                return None
            parts.append(f"child under {self.child_under}")
        if self.districts:
            if facts.district not in self.districts:
                return None  # unknown district: no match
            parts.append(f"lives in {facts.district}")
        return ", ".join(parts)

    def effective_on(self, day: date) -> bool:
        return self.standing_on(day) is RuleStanding.IN_FORCE

    def standing_on(self, day: date) -> RuleStanding:
        """Whether the rule is in force on a day, from its dates alone (a citation never
        says so: "planned from 1 July 2026" would still say it after that day)."""
        if self.valid_from is not None and day < self.valid_from:
            return RuleStanding.NOT_YET
        if self.valid_to is not None and day > self.valid_to:
            return RuleStanding.ENDED
        return RuleStanding.IN_FORCE

    def facts_read(self) -> tuple[Fact, ...]:
        """The facts an intake may leave unrecorded that this rule's conditions read."""
        return tuple(fact for fact, read in (
            (Fact.FIRST_ISSUE_DATE, self.first_issued_from or self.first_issued_until),
            (Fact.ARRIVAL_DATE, self.arrived_within_months is not None),
            (Fact.RESIDENCE_PURPOSE, self.purposes is not None)) if read)

    def assess(self, facts: PersonFacts, day: date) -> str | FactsMissing | None:
        """Why this rule applies ("JMD: age 19 within 12–26"); None if a recorded fact rules
        it out; FactsMissing if every recorded fact fits but it reads one that was not
        recorded (it cannot say)."""
        age = age_on(facts.birth_date, day)
        if self.min_age is not None and age < self.min_age:
            return None
        if self.max_age is not None and age >= self.max_age:
            return None
        if self.residence_statuses is not None and facts.residence_status not in \
                self.residence_statuses:
            return None
        missing: list[Fact] = []
        dated = self.first_issued_from or self.first_issued_until
        issued = facts.first_issue_date
        if dated and issued is None:
            missing.append(Fact.FIRST_ISSUE_DATE)
        elif issued is not None and (
                (self.first_issued_from and issued < self.first_issued_from)
                or (self.first_issued_until and issued > self.first_issued_until)):
            return None
        arrived = facts.arrival_date
        if self.arrived_within_months is not None:
            if arrived is None:
                missing.append(Fact.ARRIVAL_DATE)
            # the arrival day is the first day (§ 26 SGB X, § 187 Abs. 2 BGB): N months
            # end the day before the same date N months on, or the month's last day
            elif day > _plus_months(arrived - timedelta(days=1), self.arrived_within_months):
                return None
        if self.purposes is not None:
            if facts.residence_purpose is None:
                missing.append(Fact.RESIDENCE_PURPOSE)
            elif facts.residence_purpose not in self.purposes:
                return None
        condition = self._household_and_origin(facts, day)
        if condition is None:
            return None
        parts = [condition] if condition else []
        if self.pension_age is not None:
            reached = day >= pension_age_reached_on(facts.birth_date)
            if reached != (self.pension_age is PensionAge.REACHED):
                return None
            years, months = pension_age(facts.birth_date)
            limit = f"{years} years" + (f" {months} months" if months else "")
            parts.append(f"pension age ({limit} for {facts.birth_date.year}) "
                         + ("reached" if reached else "not reached"))
        if missing:
            return FactsMissing(self.id, tuple(missing), self.citation)
        if self.min_age is not None or self.max_age is not None:
            low = self.min_age if self.min_age is not None else 0
            high = f"{self.max_age - 1}" if self.max_age is not None else "+"
            parts.append(f"age {age} within {low}–{high}" if self.max_age is not None
                         else f"age {age} ≥ {low}")
        if self.residence_statuses is not None:
            parts.append(f"status {facts.residence_status}")
        if dated and issued is not None:
            parts.append(f"first issued {issued.isoformat()}")
        if self.purposes is not None:
            parts.append(f"purpose {facts.residence_purpose}")
        if self.arrived_within_months is not None and arrived is not None:
            parts.append(f"arrived {arrived.isoformat()}, within "
                         f"{self.arrived_within_months} months")
        condition = ", ".join(parts) or "no conditions"
        return f"{self.service.upper()}: {condition} ({self.citation})"


@dataclass(frozen=True)
class Route:
    partner: str
    service: str
    rule_id: str
    reason: str
    requires_need: str | None = None
    for_member: int | None = None  # the household member the need is for; None: the person


@dataclass(frozen=True)
class Need:
    """A need as the intake recorded it: for the person, or for one household member."""

    code: str
    for_member: int | None = None  # index in the intake's household


def decide_need(need: str, facts: PersonFacts, rules: Iterable[RoutingRule], day: date,
                exclude: frozenset[tuple[str, str]] = frozenset(),
                ) -> Route | FactsMissing | None:
    """The highest-priority effective rule for this need that the person meets, skipping
    partner services already tried (a rejection moves on to the next one); FactsMissing when
    that rule reads a fact the intake did not record (no lower rule is guessed instead)."""
    for rule in sorted((r for r in rules if r.need == need and r.effective_on(day)
                        and (r.partner, r.service) not in exclude),
                       key=lambda r: (r.priority, r.id)):
        verdict = rule.assess(facts, day)
        if isinstance(verdict, FactsMissing):
            return verdict
        if verdict:
            return Route(rule.partner, rule.service, rule.id, verdict, rule.requires_need)
    return None


def route_need(need: str, facts: PersonFacts, rules: Iterable[RoutingRule],
               day: date, exclude: frozenset[tuple[str, str]] = frozenset()) -> Route | None:
    """decide_need, where a missing fact counts as no route."""
    decided = decide_need(need, facts, rules, day, exclude)
    return decided if isinstance(decided, Route) else None


def facts_read(needs: Iterable[str], residence_status: str, rules: Iterable[RoutingRule],
               day: date) -> dict[Fact, list[str]]:
    """Which facts an intake may leave unrecorded the rules in force on `day` read for these
    needs of a person of this status, and for which needs: what the intake form asks for
    (a missing one would hold the referral)."""
    wanted, read = set(needs), dict[Fact, list[str]]()
    for rule in rules:
        if rule.need in wanted and rule.effective_on(day) and (
                rule.residence_statuses is None or residence_status in rule.residence_statuses):
            for fact in rule.facts_read():
                needs_reading = read.setdefault(fact, [])
                if rule.need not in needs_reading:
                    needs_reading.append(rule.need)
    return read


def unoffered_service(partner: str, service: str,
                      offered: Mapping[str, Sequence[str]]) -> str | None:
    """Why a rule or a referral by hand may not name this service of this partner (what
    each partner offers: the partner directory), or None when it may."""
    services = offered.get(partner, ())
    if service in services:
        return None
    return f"{partner} offers no service {service!r}; known: {', '.join(services) or 'none'}"


YOUNG_UNTIL = 27  # JMD serves up to the 27th birthday, the oldest of the services for the young


def route_for_household(need: str, facts: PersonFacts, rules: Sequence[RoutingRule],
                        day: date, exclude: frozenset[tuple[str, str]] = frozenset(),
                        for_member: int | None = None) -> Route | None:
    """decide_for_household, where a missing fact counts as no route."""
    decided = decide_for_household(need, facts, rules, day, exclude, for_member)
    return decided if isinstance(decided, Route) else None


def decide_for_household(need: str, facts: PersonFacts, rules: Sequence[RoutingRule],
                         day: date, exclude: frozenset[tuple[str, str]] = frozenset(),
                         for_member: int | None = None) -> Route | FactsMissing | None:
    """The need's route for whom it is: the household member the intake named
    (`for_member`), with the rules looking at that member's age; else the person; else, when
    no rule fits the person but exactly one of the household's children, that child (a
    parent asking for their 8-year-old's school place). Two children fitting: staff decide.
    Only children under 27 (the services for young people end there): a grown-up child's
    living costs are not what a parent asks for. A fact missing is asked for."""
    if for_member is not None:
        if for_member >= len(facts.household):
            return None  # the intake named no such member: staff decide
        decided = decide_need(need, facts.of_member(for_member), rules, day, exclude)
        return _for(decided, for_member, facts)
    decided = decide_need(need, facts, rules, day, exclude)
    if decided is not None:
        return decided
    fits = [(i, found) for i, (relation, born) in enumerate(facts.household)
            if relation in CHILDREN and age_on(born, day) < YOUNG_UNTIL
            and (found := route_need(need, facts.of_member(i), rules, day, exclude))]
    if len(fits) != 1:
        return None
    index, found = fits[0]
    return _for(found, index, facts)


def told_whom(decided: Route | FactsMissing | None,
              names_members: Container[str] | None) -> Route | FactsMissing | None:
    """A household member's route to a partner that is not told whom a case is for (its
    allow-list lacks for_person) would open the case as the person's: no route, staff
    decide. `names_members`: the partners told (None: all)."""
    if isinstance(decided, Route) and decided.for_member is not None \
            and names_members is not None and decided.partner not in names_members:
        return None
    return decided


def _for(decided: Route | FactsMissing | None, index: int,
         facts: PersonFacts) -> Route | FactsMissing | None:
    """A member's route says whose it is (and why: their relation and age decided)."""
    if not isinstance(decided, Route):
        return decided
    relation, born = facts.household[index]
    return replace(decided, for_member=index,
                   reason=f"for the {relation} born {born.isoformat()}: {decided.reason}")


@dataclass(frozen=True)
class SharingBasis:
    """Why the person's data may go to the partner: a consent, or another legal basis."""

    consent_id: str | None = None
    legal_basis: str | None = None

    def describe(self) -> str:
        if self.consent_id:
            return f"consent {self.consent_id}"
        return f"legal basis: {self.legal_basis}"


def sharing_basis(partner: str, consents: Sequence[Mapping[str, Any]],
                  legal_bases: dict[str, str | None]) -> SharingBasis | None:
    """The partner's configured legal basis if it has one (consent is then not the basis,
    and withdrawing one does not stop a duty), else a consent for this partner, else a coarse
    consent (partners the needs go to); None: the referral must wait for a consent."""
    if legal_bases.get(partner):
        return SharingBasis(legal_basis=legal_bases[partner])
    for wanted in (partner, None):
        for consent in consents:
            if consent.get("partner") == wanted:
                return SharingBasis(consent_id=str(consent["consent_id"]))
    return None


@dataclass(frozen=True)
class HistoryEntry:
    status: ReferralStatus
    previous_status: ReferralStatus | None
    reason: str | None  # a coded Reason, else the note (or what a partner was told)
    changed_by: str
    changed_at: datetime
    note: str | None = None
    outcome: str | None = None

    def __post_init__(self) -> None:  # read back from a table: the statuses as strings
        object.__setattr__(self, "status", ReferralStatus(self.status))
        if self.previous_status is not None:
            object.__setattr__(self, "previous_status", ReferralStatus(self.previous_status))


# What a referral announces: its status changes, that it was requested from its partner,
# that its deadline is near or has passed.
ReferralEvent = (ReferralStatusChangedV1 | ReferralRequestedV1 | ReferralReminderDueV1
                 | ReferralOverdueV1)


@dataclass
class Referral:
    id: uuid.UUID
    intake_id: uuid.UUID
    intake_reference: str
    need: str
    partner: str | None
    service: str | None
    routing_reason: str
    status: ReferralStatus
    # a coded Reason; referrals from before reasons were coded may hold free text
    reason: str | None
    partner_case_ref: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    history: list[HistoryEntry] = field(default_factory=list)
    person_id: str | None = None
    consent_id: str | None = None
    legal_basis: str | None = None
    share: dict[str, Any] | None = None
    outcome: Outcome | None = None
    note: str | None = None
    superseded_by: str | None = None
    waits_for: str | None = None
    rule_id: str | None = None
    rules_version: int | None = None
    ack_due_at: datetime | None = None
    complete_due_at: datetime | None = None
    expires_at: datetime | None = None
    reminded_at: datetime | None = None
    overdue_since: datetime | None = None
    appointment: dict[str, Any] | None = None  # booked by the partner: starts_at, location, bring
    for_member: int | None = None  # the household member it is for (index); None: the person
    course_id: str | None = None  # a place request: the course (courses.py) it asks a place in
    # announced, not yet published: the handler stages them with the change (uow.publish)
    events: list[ReferralEvent] = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:  # read back from a table: the codes as strings
        self.status = ReferralStatus(self.status)
        if self.outcome is not None:
            self.outcome = Outcome(self.outcome)

    @classmethod
    def open(cls, *, intake_id: uuid.UUID, intake_reference: str, need: str,
             route: Route | FactsMissing | None, by: str, now: datetime,
             basis: SharingBasis | None = None,
             person_id: str | None = None, share: dict[str, Any] | None = None,
             waits_for: str | None = None, for_member: int | None = None) -> Referral:
        """A referral for one need: requested from its partner; on hold when no rule fits,
        when the deciding rule reads a fact not recorded, when nothing (consent or legal
        basis) allows sharing with that partner, or while the referral it depends on
        (`waits_for`, a need) has not reached its partner. It is for the household member
        the route found or the intake named (`for_member`), else the person. It announces
        either (referral.requested or referral.status_changed)."""
        missing = route if isinstance(route, FactsMissing) else None
        route = route if isinstance(route, Route) else None
        held = (Reason.FACT_MISSING if missing else
                Reason.NO_MATCHING_RULE if route is None else
                Reason.CONSENT_MISSING if not basis else
                Reason.PREREQUISITE_PENDING if waits_for else None)
        status = _S.ON_HOLD if held else _S.REQUESTED
        whom = for_member if route is None and not missing else None
        reason = (missing.reason if missing else route.reason if route
                  else f"no routing rule fits need {need}" + (
                      "" if whom is None else f" for household member {whom + 1} (or its "
                      "partner is not told whom a case is for)"))
        referral = cls(id=uuid.uuid4(), intake_id=intake_id, intake_reference=intake_reference,
                       need=need, partner=route.partner if route else None,
                       service=route.service if route else None, routing_reason=reason,
                       status=status, reason=held, partner_case_ref=None, version=1,
                       created_at=now, updated_at=now, person_id=person_id,
                       consent_id=basis.consent_id if basis else None,
                       legal_basis=basis.legal_basis if basis else None, share=share,
                       waits_for=waits_for,
                       rule_id=route.rule_id if route else missing.rule_id if missing else None,
                       for_member=route.for_member if route and route.for_member is not None
                       else for_member)
        notes = {Reason.CONSENT_MISSING: f"{reason}; waiting for the person's consent to "
                                         f"share with {route.partner if route else ''}",
                 Reason.PREREQUISITE_PENDING: f"{reason}; waits for the {waits_for} referral"}
        note = notes.get(held, reason) if held else reason
        referral.history.append(HistoryEntry(status, None, note, by, now))
        referral.events.append(referral._status_changed(None, by) if held
                               else referral._requested())
        return referral

    def resume_with(self, basis: SharingBasis, *, by: str, now: datetime,
                    prerequisite_met: bool = True) -> list[ReferralEvent]:
        """A consent arrived for a referral that waited for one: it may leave now, unless it
        still waits for the referral it depends on. Returns what it announced (nothing: it
        did not leave)."""
        if self.status != _S.ON_HOLD or self.reason != Reason.CONSENT_MISSING:
            return []
        self.consent_id, self.legal_basis = basis.consent_id, basis.legal_basis
        if self.waits_for and not prerequisite_met:
            self.reason, self.updated_at = Reason.PREREQUISITE_PENDING, now
            return []
        return self.change_status(_S.REQUESTED, by=by, reason=None,
                                  note=f"sharing allowed by {basis.describe()}", now=now)

    def decide_again(self, decided: Route | FactsMissing | None,
                     basis: SharingBasis | None, *, prerequisite_pending: bool, by: str,
                     now: datetime) -> list[ReferralEvent]:
        """Held for a missing fact, decided again once facts were added: it leaves for the
        partner the rules now name if something allows sharing and the referral its rule
        waits for has reached its partner (`prerequisite_pending` says it has not), or it
        stays on hold with the reason that holds it now (another fact missing, no rule
        fits, consent missing, prerequisite pending), announced either way. Returns what it
        announced (nothing: it was not waiting for a fact)."""
        if self.status != _S.ON_HOLD or self.reason != Reason.FACT_MISSING \
                or self.superseded_by:
            return []
        route = decided if isinstance(decided, Route) else None
        missing = decided if isinstance(decided, FactsMissing) else None
        if missing and missing.reason == self.routing_reason:
            return []  # the same fact still missing: nothing changed
        self.partner = route.partner if route else None
        self.service = route.service if route else None
        self.rule_id = route.rule_id if route else missing.rule_id if missing else None
        self.rules_version = None  # the table in force now decided (set when planned)
        self.routing_reason = (missing.reason if missing else route.reason if route
                               else f"no routing rule fits need {self.need}")
        if route and route.for_member is not None:
            self.for_member = route.for_member
        self.consent_id = basis.consent_id if basis else None
        self.legal_basis = basis.legal_basis if basis else None
        self.waits_for = route.requires_need if route and prerequisite_pending else None
        held = (Reason.FACT_MISSING if missing else
                Reason.NO_MATCHING_RULE if route is None else
                Reason.CONSENT_MISSING if not basis else
                Reason.PREREQUISITE_PENDING if self.waits_for else None)
        note = f"facts added: {self.routing_reason}"
        if held is None:
            return self.change_status(_S.REQUESTED, by=by, reason=None, note=note, now=now)
        # still on hold, for another reason now: a change staff and the intake must see
        self.reason, self.note, self.updated_at = held, note, now
        self.version += 1
        self.history.append(HistoryEntry(_S.ON_HOLD, _S.ON_HOLD, held, by, now, note=note))
        announced: list[ReferralEvent] = [self._status_changed(_S.ON_HOLD, by)]
        self.events += announced
        return announced

    def prerequisite_met(self, need: str, basis: SharingBasis | None, *, by: str,
                         now: datetime) -> list[ReferralEvent]:
        """The referral this one waited for reached its partner: this one may leave now, on
        the basis that allows sharing at this moment; with none it waits for a consent.
        Returns what it announced (nothing: it did not leave)."""
        if self.status != _S.ON_HOLD or self.reason != Reason.PREREQUISITE_PENDING \
                or self.waits_for != need:
            return []
        self.consent_id = basis.consent_id if basis else None
        self.legal_basis = basis.legal_basis if basis else None
        if basis is None:
            self.reason, self.updated_at = Reason.CONSENT_MISSING, now
            return []
        return self.change_status(_S.REQUESTED, by=by, reason=None,
                                  note=f"the {need} referral reached its partner", now=now)

    def stop_sharing(self, *, by: str, now: datetime) -> list[ReferralEvent]:
        """Its consent was withdrawn: an unfinished referral is cancelled. Returns what it
        announced (nothing: it had ended already)."""
        if self.status in TERMINAL:
            return []
        return self.change_status(_S.CANCELLED, by=by, reason=Reason.CONSENT_WITHDRAWN,
                                  now=now)

    def change_status(self, new: ReferralStatus, *, by: str, reason: str | None,
                      now: datetime, actor: Actor = Actor.SYSTEM,
                      outcome: Outcome | None = None,
                      note: str | None = None) -> list[ReferralEvent]:
        """Move along the lifecycle; every change is in the history and announced
        (referral.status_changed; on a move to 'requested', referral.requested before it,
        which takes the referral to its partner). Returns what it announced."""
        check_transition(self.status, new, actor, reason, outcome)
        if self.partner is None and new not in (_S.ON_HOLD, _S.CANCELLED, _S.FAILED):
            raise TransitionNotAllowed(self.status, new, " before it has a partner")
        previous, self.status = self.status, ReferralStatus(new)
        # (to a status in REASONS, check_transition let only one of its codes through)
        self.reason = Reason(reason) if new in REASONS and reason else reason or None
        self.outcome = Outcome(outcome) if new == _S.COMPLETED and outcome else None
        self.note = note
        self.version += 1
        self.updated_at = now
        self.history.append(HistoryEntry(self.status, previous, reason if reason else note,
                                         by, now, note=note, outcome=self.outcome))
        announced: list[ReferralEvent] = [self._requested()] if new == _S.REQUESTED else []
        announced.append(self._status_changed(previous, by))
        self.events += announced
        return announced

    # --- deadlines -----------------------------------------------------------------------
    def plan_deadlines(self, policy: DeadlinePolicy | None, calendar: WorkingCalendar,
                       now: datetime) -> None:
        """Due times for the phase the referral is in (acknowledgement, then completion)."""
        from services.referral.deadlines import ACK_STATUSES, WORK_STATUSES

        if policy is None:
            return
        if self.status in ACK_STATUSES and self.ack_due_at is None:
            self.ack_due_at = calendar.add_working_days(now, policy.ack_days)
            if policy.expire_days:
                self.expires_at = calendar.add_working_days(now, policy.expire_days)
        elif self.status in WORK_STATUSES and self.complete_due_at is None:
            self.complete_due_at = calendar.add_working_days(now, policy.completion_days)
            self.reminded_at = self.overdue_since = None  # a new phase, a new clock

    def check_deadlines(self, policy: DeadlinePolicy | None, calendar: WorkingCalendar,
                        now: datetime) -> DeadlineOutcome | None:
        """Expire, flag overdue or remind (announced: referral.status_changed,
        referral.overdue, referral.reminder_due); returns what happened (None: nothing
        due)."""
        from services.referral.deadlines import ACK_STATUSES, WORK_STATUSES

        if self.status in ACK_STATUSES and self.expires_at and now >= self.expires_at:
            self.change_status(_S.CANCELLED, by="lotse-deadlines", reason=Reason.EXPIRED,
                               now=now, note="nobody acknowledged the referral in time")
            return DeadlineOutcome.EXPIRED
        phase, due = ((DeadlinePhase.ACKNOWLEDGEMENT, self.ack_due_at)
                      if self.status in ACK_STATUSES else
                      (DeadlinePhase.COMPLETION, self.complete_due_at)
                      if self.status in WORK_STATUSES else (None, None))
        if phase is None or due is None:
            return None
        if now >= due:
            if self.overdue_since is None:
                self.overdue_since = now
                self.events.append(self._deadline(ReferralOverdueV1, phase, due, now))
                return DeadlineOutcome.OVERDUE
            return None
        remind = policy.remind_days_before if policy else 1
        if self.reminded_at is None and calendar.working_days_between(now, due) <= remind:
            self.reminded_at = now
            self.events.append(self._deadline(ReferralReminderDueV1, phase, due, now))
            return DeadlineOutcome.REMINDED
        return None

    def _deadline(self, kind: type[ReferralOverdueV1] | type[ReferralReminderDueV1],
                  phase: DeadlinePhase, due: datetime,
                  now: datetime) -> ReferralOverdueV1 | ReferralReminderDueV1:
        return kind(referral_id=self.id, intake_id=self.intake_id, partner=self.partner,
                    service=self.service, partner_case_ref=self.partner_case_ref,
                    status=self.status, phase=phase, due_at=due, noticed_at=now)

    def attention(self, now: datetime | None = None) -> str | None:
        """Why staff must act on this referral now (the work queue), or None."""
        if self.superseded_by:
            return None  # another referral took over its need
        if self.status == _S.ON_HOLD and self.reason == Reason.PREREQUISITE_PENDING:
            waited = (now - self.updated_at) if now else timedelta(0)
            return "on_hold:prerequisite_pending" if waited > PREREQUISITE_PATIENCE else None
        if self.status == _S.ON_HOLD:
            return f"on_hold:{self.reason or Reason.OTHER}"
        if self.status == _S.FAILED:
            return "delivery_failed"
        if self.status == _S.REJECTED:
            return "rejected"
        if self.overdue_since and self.status not in TERMINAL:
            return "overdue"
        return None

    def partner_notified(self, kind: str, case_ref: str, *, by: str, at: datetime) -> None:
        """The partner was told that the consent was withdrawn or that the data must be
        erased: kept in the history (who was told what, when); the status stays."""
        told: dict[str, str] = {NoticeKind.CONSENT_WITHDRAWN: "consent withdrawal",
                                NoticeKind.ERASURE: "erasure"}
        what = told.get(kind, kind)
        self.history.append(HistoryEntry(self.status, self.status, f"partner_notice_{kind}",
                                         by, at, note=f"partner told of the {what} ({case_ref})"))

    def record_partner_case(self, case_ref: str, *, by: str, now: datetime,
                            appointment: dict[str, Any] | None = None) -> list[ReferralEvent]:
        """The partner opened its case: remember its reference (and the appointment it
        booked); 'received' if not further yet. Returns what it announced."""
        self.partner_case_ref = case_ref
        booked = appointment and appointment != self.appointment
        self.appointment = appointment or self.appointment
        if self.status == _S.REQUESTED:
            return self.change_status(_S.RECEIVED, by=by, reason=None,
                                      note="case opened at partner", now=now,
                                      actor=Actor.PARTNER)
        self.updated_at = now
        if not booked:
            return []
        # the status moved on already: still tell the intake of the slot
        self.version += 1
        announced: list[ReferralEvent] = [self._status_changed(self.status, by)]
        self.events += announced
        return announced

    def _status_changed(self, previous: ReferralStatus | None,
                        by: str) -> ReferralStatusChangedV1:
        return ReferralStatusChangedV1(
            referral_id=self.id, intake_id=self.intake_id, need=self.need,
            partner=self.partner, service=self.service, status=self.status,
            previous_status=previous, reason=self.reason,
            partner_case_ref=self.partner_case_ref, referral_version=self.version,
            changed_at=self.updated_at, changed_by=by, outcome=self.outcome, note=self.note,
            appointment=self.appointment, for_member=self.for_member)

    def _requested(self) -> ReferralRequestedV1:
        """The referral as its partner (through the partner adapter) receives it: with the
        data to pass on (`share`), without which it cannot leave."""
        share, partner, service = self.share, self.partner, self.service
        if not share:
            raise ReferralError(f"referral {self.id} has no data to pass on to its partner")
        if partner is None or service is None:  # routed referrals have both
            raise ReferralError(f"referral {self.id} has no partner service to go to")
        household = share.get("household")
        return ReferralRequestedV1(
            referral_id=self.id, intake_id=self.intake_id,
            intake_reference=self.intake_reference, need=self.need, partner=partner,
            service=service, routing_reason=self.routing_reason, status=self.status,
            referral_version=self.version, requested_at=self.updated_at,
            residence_status=share["residence_status"],
            person=ReferralPersonV1.from_wire(share["person"]),
            consent_method=share["consent_method"],
            person_id=uuid.UUID(self.person_id) if self.person_id else None,
            consent_id=uuid.UUID(self.consent_id) if self.consent_id else None,
            legal_basis=self.legal_basis,
            household=None if household is None else tuple(
                HouseholdMemberV2.from_wire(m) for m in household),
            for_member=self.for_member, for_person=self.for_person())

    def for_person(self) -> ReferralMemberV1 | None:
        """Who the referral is for when it is a household member's: what its partner needs
        to know of them (None: the person, or a member the kept data does not name)."""
        members = (self.share or {}).get("household") or ()
        if self.for_member is None or self.for_member >= len(members):
            return None
        member = members[self.for_member]
        return ReferralMemberV1(relation=member["relation"],
                                given_name=member.get("given_name"),
                                family_name=member.get("family_name"),
                                birth_date=date.fromisoformat(member["birth_date"]))


def open_referrals(*, intake_id: uuid.UUID, intake_reference: str,
                   needs: Sequence[str | Need],
                   facts: PersonFacts, rules: Sequence[RoutingRule], by: str, now: datetime,
                   consents: Sequence[Mapping[str, Any]] = (),
                   legal_bases: dict[str, str | None] | None = None,
                   person_id: str | None = None,
                   share: dict[str, Any] | None = None,
                   names_members: Container[str] | None = None) -> list[Referral]:
    """One referral per need (a need for a household member is theirs), each routed by the
    rules in force on the intake's day and leaving only with a consent for its partner or
    the partner's other legal basis; a member's only to a partner told whom a case is for
    (`names_members`, see told_whom)."""
    wanted = [n if isinstance(n, Need) else Need(n) for n in needs]
    routes = [(need, told_whom(decide_for_household(need.code, facts, rules, now.date(),
                                                    for_member=need.for_member),
                               names_members)) for need in wanted]
    routed_needs = {need.code for need, route in routes if isinstance(route, Route)}
    referrals = []
    for need, route in routes:
        routed = route if isinstance(route, Route) else None
        basis = sharing_basis(routed.partner, consents, legal_bases or {}) if routed else None
        # a prerequisite counts only if this intake refers that need somewhere too
        waits_for = (routed.requires_need if routed and routed.requires_need in routed_needs
                     else None)
        referrals.append(Referral.open(intake_id=intake_id, intake_reference=intake_reference,
                                       need=need.code, route=route, by=by, now=now,
                                       basis=basis, person_id=person_id, share=share,
                                       waits_for=waits_for, for_member=need.for_member))
    return referrals


def coded(new: str, reason: str | None) -> tuple[Reason | None, str | None]:
    """A partner's or operator's reason as (code, note): known codes stay, text and the holds
    only routing sets become a note under the code 'other'."""
    if new not in REASONS:
        return None, reason
    if reason in REASONS[ReferralStatus(new)] and reason not in ROUTING_HOLDS:
        return Reason(reason), None
    return Reason.OTHER, reason


@dataclass(frozen=True)
class RouteChange:
    """Where a recorded intake's need would go under the edited rules, where it goes now."""

    intake_reference: str
    need: str
    before: Route | FactsMissing | None
    after: Route | FactsMissing | None


def route_changes(cases: Iterable[tuple[str, str, PersonFacts]],
                  current: Sequence[RoutingRule], edited: Sequence[RoutingRule],
                  day: date) -> list[RouteChange]:
    """Replay (intake reference, need, facts) against both tables on one day: the needs whose
    partner or service would change (on hold counts as a destination)."""
    changes = []
    for reference, need, facts in cases:
        before = decide_for_household(need, facts, current, day)
        after = decide_for_household(need, facts, edited, day)
        where = [destination(r) for r in (before, after)]
        if where[0] != where[1]:
            changes.append(RouteChange(reference, need, before, after))
    return changes


def destination(decided: Route | FactsMissing | None) -> tuple[str, ...] | None:
    """Where a need goes: (partner, service), ("fact_missing", fact, ...), or None (on hold,
    no rule fits)."""
    if isinstance(decided, Route):
        return decided.partner, decided.service
    if isinstance(decided, FactsMissing):
        return (Reason.FACT_MISSING.value, *decided.facts)
    return None


def with_rule(rules: Sequence[RoutingRule], rule: RoutingRule) -> list[RoutingRule]:
    """The table with `rule` added, or replacing the rule of its id."""
    return [r for r in rules if r.id != rule.id] + [rule]


def facts_from(share: Mapping[str, Any]) -> PersonFacts:
    """The routing facts a referral keeps (for re-routing and manual referrals)."""
    person = share["person"]
    issued, arrived = share.get("first_issue_date"), share.get("arrival_date")
    return PersonFacts(date.fromisoformat(person["birth_date"]), person["nationality"],
                       share["residence_status"], tuple(person["languages"]),
                       date.fromisoformat(issued) if issued else None,
                       tuple(share.get("nationalities", ())),
                       tuple(date.fromisoformat(b) for b in share.get("children_born", ())),
                       share.get("district"), date.fromisoformat(arrived) if arrived else None,
                       share.get("residence_purpose"),
                       tuple((m["relation"], date.fromisoformat(m["birth_date"]))
                             for m in share.get("household") or ()))


def follow_up(previous: Referral, route: Route | None, basis: SharingBasis | None, *,
              by: str, now: datetime) -> Referral:
    """A new referral for the same need taking over from `previous` (re-routed after a
    rejection, or re-assigned by staff); `previous` points to it and leaves the work queue."""
    successor = Referral.open(intake_id=previous.intake_id,
                              intake_reference=previous.intake_reference, need=previous.need,
                              route=route, by=by, now=now, basis=basis,
                              person_id=previous.person_id, share=previous.share,
                              for_member=previous.for_member)
    previous.superseded_by = str(successor.id)
    return successor
