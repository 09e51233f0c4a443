"""Editing the routing table (admins) and previewing where an intake would go."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from typing import Callable, Mapping, Sequence

from services.referral import repository
from services.referral.domain import (FactsMissing, PensionAge, PersonFacts, Route,
                                     RoutingRule, decide_for_household, facts_from,
                                     route_changes, unoffered_service, with_rule)
from shared.partners import services_by_partner


class RuleError(Exception):
    """A rule that cannot be saved; `field` names the input to fix."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def check_rule(rule: RoutingRule, partners: Sequence[str],
               services: Mapping[str, Sequence[str]]) -> None:
    """Rules across fields; the schema has already checked each field on its own. `partners`
    are the referral service's, `services` what each offers (the partner directory)."""
    if rule.partner not in partners:
        raise RuleError("partner", f"unknown partner; known: {', '.join(sorted(partners))}")
    refused = unoffered_service(rule.partner, rule.service, services)
    if refused:
        raise RuleError("service", refused)
    if rule.min_age is not None and rule.max_age is not None and rule.min_age >= rule.max_age:
        raise RuleError("max_age", "must be greater than min_age (it is exclusive)")
    if rule.valid_from and rule.valid_to and rule.valid_from > rule.valid_to:
        raise RuleError("valid_to", "lies before valid_from")
    if rule.requires_need == rule.need:
        raise RuleError("requires_need", "a need cannot wait for itself")
    if rule.first_issued_from and rule.first_issued_until and \
            rule.first_issued_from > rule.first_issued_until:
        raise RuleError("first_issued_until", "lies before first_issued_from")
    if "§" not in rule.citation and "Art." not in rule.citation:
        raise RuleError("citation", "name the paragraph the rule applies (law, §, Abs., Satz)")
    standing_words = _STANDING_WORDS.findall(rule.citation)
    if standing_words:
        raise RuleError("citation", f"says whether the rule is in force ({standing_words[0]!r}):"
                                    " give valid_from / valid_to instead; the table shows it")


# words that state whether a rule is in force, which only its dates may say
_STANDING_WORDS = re.compile(r"⚠|\b(?:planned|geplant|suspended|ausgesetzt|in force|in Kraft"
                             r"|not yet|noch nicht|expired|abgelaufen)\b", re.IGNORECASE)


def save_rule(rule: RoutingRule, staff: str, note: str | None, uow,
              now: Callable[[], datetime], create: bool) -> int:
    """Create or change a rule; the routing table's new state is kept as a version."""
    if create and not rule.id:
        raise RuleError("id", "a new rule needs an id")
    with uow:
        current = {r.id: r for r in repository.rules(uow.session)}
        if create and rule.id in current:
            raise RuleError("id", "a rule with this id exists already")
        if not create and rule.id not in current:
            raise LookupError(rule.id)
        check_rule(rule, list(repository.legal_bases(uow.session)), services_by_partner())
        repository.save_rule(uow.session, rule, exists=not create)
        version = repository.add_rule_version(uow.session, staff, now(), note)
        uow.commit()
    return version


def delete_rule(rule_id: str, staff: str, note: str | None, uow,
                now: Callable[[], datetime]) -> int:
    with uow:
        if not repository.delete_rule(uow.session, rule_id):
            raise LookupError(rule_id)
        version = repository.add_rule_version(uow.session, staff, now(), note)
        uow.commit()
    return version


def preview(session_factory, request: dict, today: date) -> list[dict]:
    """Where would this intake (a PreviewInSchema request) go on its day, and why?"""
    facts = PersonFacts(request["birth_date"], request["nationality"],
                        request["residence_status"], tuple(request["languages"]),
                        request["first_issue_date"], tuple(request["nationalities"]),
                        tuple(request["children_born"]), request["district"],
                        request["arrival_date"], request["residence_purpose"])
    needs, day = request["needs"], request["on_date"] or today
    with session_factory() as s:
        rules = repository.rules(s)
    out = []
    for need in needs:
        decided = decide_for_household(need, facts, rules, day)
        route = decided if isinstance(decided, Route) else None
        missing = decided if isinstance(decided, FactsMissing) else None
        out.append({"need": need, "partner": route.partner if route else None,
                    "service": route.service if route else None,
                    "rule_id": decided.rule_id if decided else None,
                    "reason": decided.reason if decided else "no rule fits: on hold for staff",
                    "requires_need": route.requires_need if route else None,
                    "facts_missing": [str(f) for f in missing.facts] if missing else []})
    return out


def replay(session_factory, rule: RoutingRule, today: date, intakes: int = 200) -> dict:
    """Before saving: the latest intakes' needs replayed against the rules in force today and
    against the table with this rule added or changed; which routes would change."""
    with session_factory() as s:
        check_rule(rule, list(repository.legal_bases(s)), services_by_partner())
        current = repository.rules(s)
        cases = repository.recent_routed_needs(s, intakes)
    changes = route_changes(((ref, need, facts_from(share)) for _, ref, need, share in cases),
                            current, with_rule(current, rule), today)
    return {"replayed_intakes": len({intake for intake, *_ in cases}),
            "replayed_needs": len(cases),
            "changes": [{"intake_reference": c.intake_reference, "need": c.need,
                         "before": _where(c.before), "after": _where(c.after)}
                        for c in changes]}


def _where(decided: Route | FactsMissing | None) -> dict | None:
    if isinstance(decided, FactsMissing):  # on hold until the facts are recorded
        return {"partner": None, "service": None, "rule_id": decided.rule_id,
                "facts_missing": [str(f) for f in decided.facts]}
    return None if decided is None else {"partner": decided.partner, "service": decided.service,
                                         "rule_id": decided.rule_id}


def replayed_rule(data: dict, rule_id: str | None = None) -> RoutingRule:
    """The rule an admin is trying out: the edited one, or a new one (its id, if given)."""
    return rule_from(data, rule_id or data.get("id") or "new-rule")


def rule_from(data: dict, rule_id: str | None = None) -> RoutingRule:
    statuses = data.get("residence_statuses")
    rule = RoutingRule(id=rule_id or data["id"], need=data["need"], partner=data["partner"],
                       service=data["service"], priority=data["priority"],
                       citation=data["citation"].strip(), min_age=data.get("min_age"),
                       max_age=data.get("max_age"),
                       residence_statuses=tuple(statuses) if statuses else None,
                       valid_from=data.get("valid_from"), valid_to=data.get("valid_to"),
                       requires_need=data.get("requires_need"),
                       first_issued_from=data.get("first_issued_from"),
                       first_issued_until=data.get("first_issued_until"),
                       nationality_group=data.get("nationality_group"),
                       languages=tuple(data["languages"]) if data.get("languages") else None,
                       child_under=data.get("child_under"),
                       districts=tuple(data["districts"]) if data.get("districts") else None,
                       pension_age=PensionAge(data["pension_age"])
                       if data.get("pension_age") else None,
                       purposes=tuple(data["purposes"]) if data.get("purposes") else None,
                       arrived_within_months=data.get("arrived_within_months"))
    return replace(rule)
