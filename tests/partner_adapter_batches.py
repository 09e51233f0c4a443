"""Partner adapter scenarios for the batch tests on SQLite (tests/component/
test_partner_adapter_batches.py, test_case_opener_batches.py) and PostgreSQL
(tests/integration/test_partner_adapter_batches_postgres.py).

Requests: referral.requested events as the referral service publishes them, for partners of
every kind, on a consent, a statutory duty or an old coarse consent, one republished with a
new id, one delivered twice, one for a referral whose case was recorded before. A round:
pending cases whose calls end every way a call can end (opened, with an appointment, at a
portal partner, unavailable, on their last attempt, refused, answer lost, found after a lost
answer, withheld on a consent withdrawn before, a consent withdrawn or the referral
cancelled during the call, deferred by the partner's guards, not pending any more).

Every event has a fixed id, correlation and time and the clock stands still, so handling
them one by one or in batches must leave the very same rows and outgoing events
(`snapshot`), up to the cases' random ids (named after their referral there).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import event, select, update

from services.partner_adapter import case_requests, handlers, notices, repository
from services.partner_adapter import tables as t
from services.partner_adapter.consumers import SUBSCRIPTIONS
from services.partner_adapter.partners.base import (PartnerAnswerLost, PartnerRefused,
                                                    PartnerUnavailable, Receipt)
from shared.events.envelope import new_envelope, parse_envelope
from tests.conftest import SMOKE_INTAKE

REQUEST = next(s for s in SUBSCRIPTIONS if s.name == "request_partner_case")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
_NS = uuid.UUID("0d5b3f8e-4c1a-4e0b-9a77-5e2f6c1d8b34")


def fixed_id(label: str) -> str:
    return str(uuid.uuid5(_NS, label))


def referral_id(name: str) -> str:
    return fixed_id(f"referral:{name}")


def consent_id(name: str) -> str:
    return fixed_id(f"consent:{name}")


def still(deps):
    """The service's handles with a clock standing still at T0."""
    return replace(deps, clock=lambda: T0)


class Statements:
    """The statements an engine runs (BEGIN aside), by kind."""

    def __init__(self, engine):
        self.seen: list[str] = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, *_args):
        kind = statement.split(None, 1)[0].upper()
        if kind != "BEGIN":
            self.seen.append(kind)


# -- requests ---------------------------------------------------------------------------------

def request(label: str, partner: str = "jobcenter", *, referral: str | None = None,
            consent: str | None = None, legal_basis: str | None = None,
            need: str = "living_costs", service: str = "sgb2") -> str:
    """A referral.requested event whose id and correlation come from its label."""
    rid = referral_id(referral or label)
    data = {"referral_id": rid, "intake_id": fixed_id(f"intake:{referral or label}"),
            "intake_reference": "LT-2026-ABCDEF", "need": need, "partner": partner,
            "service": service, "routing_reason": "rule", "status": "requested",
            "version": 1, "requested_at": T0.isoformat(),
            "residence_status": "TEMP_PROTECTION_24", "person": SMOKE_INTAKE["person"],
            "consent_method": "signed_form", "person_id": fixed_id("person"),
            "consent_id": consent_id(consent) if consent else None,
            "legal_basis": legal_basis,
            "household": [{"relation": "child", "birth_date": "2021-06-01"}]}
    built = new_envelope("referral.requested", 1, "referral", f"referral/{rid}", data)
    return replace(built, id=fixed_id(label), correlationid=fixed_id(f"flow:{label}"),
                   time=T0).to_json()


def requests() -> list[str]:
    """The requests in the order the partner adapter receives them."""
    first = request("a", consent="a")
    return [
        first,
        request("b", "welfare", legal_basis="§ 69 SGB X"),  # a statutory duty
        request("c", "sozialamt", need="social_assistance", service="sgb12"),  # old, coarse
        request("d", "registration", consent="d", need="address_registration",
                service="anmeldung"),
        request("a republished", referral="a", consent="a"),  # a new id: still one case
        request("known again", referral="known", consent="known"),  # its case exists
        request("e", "wohnungsamt", consent="e", need="housing", service="wbs"),
        first,  # the very same event again
        *(request(f"more {i}", ("jobcenter", "welfare", "jugendamt")[i % 3], consent=f"m{i}",
                  need=("living_costs", "living_costs", "kita_place")[i % 3])
          for i in range(6)),
    ]


def seed_requests(deps) -> None:
    """A case recorded before the scenario (referral "known")."""
    feed(deps, [request("known first", referral="known", consent="known")], batch=1)


def feed(deps, bodies: list[str], batch: int | None) -> None:
    """Through the per-event handler (`batch` None) or the batch handler, `batch` a time."""
    envelopes = [parse_envelope(b) for b in bodies]
    size = batch or 1
    for start in range(0, len(envelopes), size):
        with deps.uow() as uow:
            if batch is None:
                handlers.request_partner_case(envelopes[start], uow)
            else:
                case_requests.request_partner_cases(envelopes[start:start + size], uow)
            uow.commit()


def clear(deps) -> None:
    with deps.engine.begin() as conn:
        for table in (t.partner_cases, t.disclosures, t.partner_notices, t.withdrawn_consents,
                      t.outbox, t.inbox):
            conn.execute(table.delete())


# -- the rows ---------------------------------------------------------------------------------

def snapshot(deps) -> dict[str, list]:
    """Every row the partner adapter writes here, a case's id (and the portal reference made
    of it) replaced by its referral's."""
    with deps.session_factory() as s:
        names: dict[str, str] = {}
        for r in s.execute(select(t.partner_cases.c.id, t.partner_cases.c.referral_id)):
            names[r.id] = f"case of {r.referral_id}"
            names[f"HO-{r.id[:8].upper()}"] = f"HO of {r.referral_id}"

        def named(value):
            if isinstance(value, str):
                for case_id, name in names.items():
                    value = value.replace(case_id, name)
            return value

        def rows(table, leave_out=("id",), key=("referral_id",)) -> list[dict]:
            found = [{k: named(v) for k, v in r._mapping.items() if k not in leave_out}
                     for r in s.execute(select(table))]
            return sorted(found, key=lambda r: tuple(str(r[k]) for k in key))

        outbox = sorted(({**_without_id(named(r.body)), "status": r.status,
                          "correlation_id": r.correlation_id}
                         for r in s.execute(select(t.outbox))),
                        key=lambda e: (e["subject"], e["type"]))
        return {"cases": rows(t.partner_cases, key=("referral_id", "partner")),
                "disclosures": rows(t.disclosures, key=("referral_id", "channel")),
                "notices": rows(t.partner_notices, key=("referral_id", "kind")),
                "withdrawn": rows(t.withdrawn_consents, leave_out=(), key=("consent_id",)),
                "outbox": outbox}


def _without_id(body: str) -> dict:
    event = json.loads(body)
    event.pop("id")
    event.pop("time")  # when the event was staged (the envelope's own clock)
    return event


# -- a round of calls -------------------------------------------------------------------------

# label: (partner, consent or None for a statutory duty, what its partner does)
ROUND = {
    "opens": ("jobcenter", "opens", "open"),
    "statutory": ("welfare", None, "open"),
    "books": ("registration", "books", "appointment"),
    "portal": ("sozialamt", "portal", "open"),  # no system: taken over in the portal
    "unavailable": ("jobcenter", "unavailable", "unavailable"),
    "last attempt": ("welfare", "last attempt", "unavailable"),
    "refused": ("jobcenter", "refused", "refuse"),
    "lost": ("welfare", "lost", "lose the answer"),
    "found": ("jobcenter", "found", "open"),  # an earlier answer was lost: looked up
    "withdrawn before": ("jobcenter", "withdrawn before", "open"),
    "withdrawn during": ("welfare", "withdrawn during", "withdraw during the call"),
    "cancelled during": ("jobcenter", "cancelled during", "cancel during the call"),
    "rate limited": ("wohnungsamt", "rate limited", "open"),
    "opened before": ("jobcenter", "opened before", "open"),
}
SYSTEMS = ("jobcenter", "welfare", "registration", "wohnungsamt")


def seed_round(deps) -> list[str]:
    """The round's pending cases (and the states before it); their ids in ROUND's order,
    then the id of a case that does not exist."""
    feed(deps, [request(label, partner, consent=consent,
                        legal_basis=None if consent else "§ 69 SGB X")
                for label, (partner, consent, _) in ROUND.items()], batch=len(ROUND))
    with deps.uow() as uow:
        cases = {str(c.referral_id): c for c in repository.listing(uow.session)}
        uow.session.execute(update(t.partner_cases).where(
            t.partner_cases.c.referral_id == referral_id("last attempt")).values(attempts=7))
        uow.session.execute(update(t.partner_cases).where(
            t.partner_cases.c.referral_id == referral_id("found")).values(answer_lost=True))
        uow.session.execute(update(t.partner_cases).where(
            t.partner_cases.c.referral_id == referral_id("opened before")).values(
            status="opened", partner_case_ref="JC-OLD"))
        notices.record_withdrawal(uow.session, consent_id("withdrawn before"), T0, T0)
        uow.commit()
    return [str(cases[referral_id(label)].id) for label in ROUND] + [fixed_id("no case")]


class Partners:
    """Every partner system of the round, answering each referral as ROUND says, in any
    order of calls; `during(label)` runs inside the call of that referral's case."""

    def __init__(self, deps):
        self.deps = deps
        self.labels = {referral_id(label): label for label in ROUND}
        self.calls: list[str] = []
        self.lookups: list[str] = []

    def gateways(self) -> dict:
        return {partner: self for partner in SYSTEMS}

    def payload(self, request: dict) -> dict:
        return {"case": dict(request)}

    def find_case(self, referral: str) -> Receipt | None:
        self.lookups.append(self.labels[referral])
        return Receipt(f"REF-{referral[:8]}") if self.labels[referral] == "found" else None

    def open_case(self, request: dict, idempotency_key: str) -> Receipt:
        label = self.labels[str(request["referral_id"])]
        self.calls.append(label)
        does = ROUND[label][2]
        if does == "unavailable":
            raise PartnerUnavailable("HTTP 503")
        if does == "refuse":
            raise PartnerRefused("HTTP 422: client.date_of_birth missing")
        if does == "lose the answer":
            raise PartnerAnswerLost("ReadTimeout: no answer within 10 s")
        if does == "withdraw during the call":
            self._withdraw(label)
        if does == "cancel during the call":
            self._cancel(label)
        appointment = {"starts_at": (T0 + timedelta(days=2)).isoformat(),
                       "location": "Bürgeramt Mitte, Raum 2",
                       "bring": ["passport"]} if does == "appointment" else None
        return Receipt(f"REF-{request['referral_id'][:8]}", appointment)

    def _withdraw(self, label: str) -> None:
        withdrawn = new_envelope("consent.withdrawn", 1, "intake", "person/p", {
            "consent_id": consent_id(label), "person_id": fixed_id("person"), "partner": None,
            "withdrawn_at": T0.isoformat(), "withdrawn_by": "staff", "reason": None})
        with self.deps.uow() as uow:
            notices.follow_consent_withdrawal(replace(withdrawn, time=T0), uow)
            uow.commit()

    def _cancel(self, label: str) -> None:
        with self.deps.uow() as uow:
            case = repository.for_referral(uow.session, ROUND[label][0], referral_id(label))
            case.cancel_requested(uow.clock())
            repository.save(uow.session, case)
            uow.commit()


class RateLimited:
    """Partner guards that defer every call to the Wohnungsamt (a rate limit) and let the
    others through."""

    def before(self, partner: str, now: datetime) -> tuple[datetime, str] | None:
        if partner == "wohnungsamt":
            return now + timedelta(minutes=5), "rate limit: 60 calls a minute"
        return None

    def after(self, partner: str, reachable: bool, now: datetime) -> None:
        pass


def open_round(deps, case_ids: list[str], partners: Partners,
               together: bool, pool=None) -> dict[str, str]:
    """The round's outcomes by label: each case on its own, or all in one round."""
    common: dict[str, Callable | object] = dict(
        gateways=partners.gateways(), guards=RateLimited(), clock=deps.clock)
    if together:
        outcomes = handlers.open_partner_cases(case_ids, deps.uow, pool=pool, **common)
    else:
        outcomes = {i: handlers.open_partner_case(i, deps.uow, **common) for i in case_ids}
    labels = dict(zip(case_ids, [*ROUND, "no case"], strict=True))
    return {labels[i]: str(outcome) for i, outcome in outcomes.items()}


EXPECTED_OUTCOMES = {
    "opens": "opened", "statutory": "opened", "books": "opened", "portal": "opened",
    "unavailable": "retry", "last attempt": "failed", "refused": "refused", "lost": "retry",
    "found": "opened", "withdrawn before": "withheld", "withdrawn during": "opened",
    "cancelled during": "opened", "rate limited": "deferred", "opened before": "not pending",
    "no case": "not pending"}
