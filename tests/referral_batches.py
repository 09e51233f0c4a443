"""A morning of the referral service's busiest events, for the batch tests on SQLite
(tests/component/test_referral_batches.py) and PostgreSQL (tests/integration/...postgres.py).

Withdrawals that overtook their intakes, then intakes (a person's second intake, a re-sent
one, one of schema v1, consents given and withdrawn), then partner cases opened (one that
releases a referral waiting for it, which then gets its own case in the same batch, a second
notice with an appointment), then partner reports (a completion, re-routes after
rejections, stale and repeated reports, a referral put back on hold and released again).
Every event has a fixed id, correlation and time, so delivering them per event or in
batches must leave the very same rows and outgoing events (`snapshot`).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from services.referral import handlers
from services.referral import tables as t
from services.referral.consumers import SUBSCRIPTIONS
from shared.bus.delivery import Verdict, deliver_batch
from shared.bus.topology import Subscription
from shared.events.envelope import new_envelope
from shared.logging import correlation_scope
from shared.uow import UnitOfWork
from tests.conftest import SMOKE_INTAKE

OPEN, OPENED, REPORT, CONSENTS, *_ = SUBSCRIPTIONS
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # a Monday
NEEDS = ("address_registration", "living_costs", "orientation_counselling")
_NS = uuid.UUID("6f1d3c0e-8a52-4b9e-9d55-0b6f4f3a2c11")


def fixed_id(label: str) -> str:
    return str(uuid.uuid5(_NS, label))


PERSONS = {p: fixed_id(f"person:{p}") for p in ("olena", "ivan", "marta", "leo")}
CONSENT_IDS = {c: fixed_id(f"consent:{c}") for c in ("c1", "c2", "c3", "c4", "c5")}


def envelope(label: str, event_type: str, version: int, producer: str, subject: str,
             data: dict, at: datetime) -> str:
    """An event whose id, correlation and time come from its label and the scenario."""
    built = new_envelope(event_type, version, producer, subject, data)
    return replace(built, id=fixed_id(label), correlationid=fixed_id(f"flow:{label}"),
                   time=at).to_json()


def consent(name: str, partner: str | None) -> dict:
    return {"consent_id": CONSENT_IDS.get(name) or fixed_id(f"consent:{name}"),
            "partner": partner, "method": "signed_form",
            "language": "uk", "purpose": "referral", "information_version": None}


def withdrawal(label: str, name: str, person: str) -> str:
    data = {"consent_id": CONSENT_IDS[name], "person_id": PERSONS[person], "partner": None,
            "withdrawn_at": (T0 - timedelta(hours=1)).isoformat(), "withdrawn_by": "staff",
            "reason": None}
    return envelope(label, "consent.withdrawn", 1, "intake", f"person/{PERSONS[person]}",
                    data, T0 - timedelta(hours=1))


def intake(label: str, intake_name: str, person: str, consents: list[dict],
           needs=NEEDS, status: str = "TEMP_PROTECTION_24") -> str:
    intake_id = fixed_id(f"intake:{intake_name}")
    person_id = PERSONS.get(person) or fixed_id(f"person:{person}")
    data = {
        "intake_id": intake_id, "person_id": person_id, "reference": "LT-2026-ABCDEF",
        "recorded_at": T0.isoformat(), "recorded_by": "staff", "site": "infopoint",
        "channel": "in_person",
        "person": {"given_name": "Olena", "family_name": "Kovalenko",
                   "birth_date": "1987-03-14", "nationality": "UA", "nationalities": ["UA"],
                   "languages": ["uk"], "preferred_language": "uk", "interpreter": "none",
                   "household": [{"relation": "child", "birth_date": "2021-06-01"}]},
        "residence": {"status": status, "legal_basis": None,
                      "document_type": None, "valid_until": None,
                      "first_issue_date": "2022-04-01"},
        "arrival_date": None,
        "needs": [{"code": c, "urgency": "normal"} for c in needs],
        "consents": consents}
    return envelope(label, "intake.recorded", 2, "intake", f"intake/{intake_id}", data, T0)


def intake_v1(label: str, intake_name: str) -> str:
    intake_id = fixed_id(f"intake:{intake_name}")
    data = {"intake_id": intake_id, "reference": "LT-2026-ABCDEG",
            "recorded_at": T0.isoformat(), "recorded_by": "staff", "site": "infopoint",
            "person": SMOKE_INTAKE["person"], "residence_status": SMOKE_INTAKE["residence_status"],
            "needs": SMOKE_INTAKE["needs"], "consent": SMOKE_INTAKE["consent"]}
    return envelope(label, "intake.recorded", 1, "intake", f"intake/{intake_id}", data, T0)


def withdrawals() -> list[str]:
    """Withdrawals whose queue was faster than their intakes'."""
    return [withdrawal("w1", "c3", "marta"), withdrawal("w2", "c5", "leo")]


def intakes() -> list[str]:
    return [
        intake("i1", "i1", "olena", [consent("c1", None)]),
        intake("i2", "i2", "ivan", []),  # no consent: only the registration leaves
        # his second intake consents for welfare: too late for the first one's referrals
        intake("i3", "i3", "ivan", [consent("c2", "welfare")],
               needs=("orientation_counselling",)),
        intake("i1-again", "i1", "olena", [consent("c1", None)]),  # re-sent: routed once
        intake_v1("i4", "i4"),
        intake("i5", "i5", "marta", [consent("c3", None)]),  # withdrawn already
        intake("i6", "i6", "olena", []),  # her consent of the first intake still counts
        # entitled to an integration course (§ 44 (1) AufenthG): the course provider
        intake("i7", "i7", "leo", [consent("c4", "course_provider"), consent("c5", None)],
               needs=("language_course",), status="REFUGEE_RECOGNISED"),
    ]


def current(deps, intake_name: str, need: str, service: str | None = None) -> dict:
    """The referral of an intake's need (to this service) that has not been taken over."""
    r = t.referrals
    query = select(r).where(r.c.intake_id == fixed_id(f"intake:{intake_name}"),
                            r.c.need == need, r.c.superseded_by.is_(None))
    if service:
        query = query.where(r.c.service == service)
    with deps.session_factory() as s:
        [row] = s.execute(query).mappings().all()
    return dict(row)


def by_hand(deps) -> None:
    """Staff refer i6's counselling by hand as well: the need has two referrals, and when
    both are rejected in one batch, the second re-route must skip the service the first
    one's successor went to."""
    at = T0 + timedelta(hours=2)
    uow = UnitOfWork(deps.session_factory, t.outbox, t.inbox, "referral", clock=lambda: at)
    with correlation_scope(fixed_id("flow:by-hand")):
        handlers.refer_by_hand(fixed_id("intake:i6"), "orientation_counselling", "welfare",
                               "jmd_diakonie", "sam", None, uow)


def opened(label: str, referral: dict, case_ref: str, appointment: dict | None = None) -> str:
    data = {"case_id": fixed_id(f"case:{label}"), "referral_id": referral["id"],
            "partner": referral["partner"], "partner_case_ref": case_ref,
            "opened_at": (T0 + timedelta(hours=1)).isoformat(), "appointment": appointment}
    return envelope(label, "partner_case.opened", 1, "partner_adapter",
                    f"partner_case/{data['case_id']}", data, T0 + timedelta(hours=1))


def reported(label: str, referral: dict, status: str, reason: str | None = None,
             outcome: str | None = None, case_ref: str = "WF-1") -> str:
    data = {"case_id": fixed_id(f"case:{label}"), "referral_id": referral["id"],
            "partner": referral["partner"], "partner_case_ref": case_ref, "status": status,
            "reason": reason, "reported_at": (T0 + timedelta(days=1)).isoformat(),
            "outcome": outcome}
    return envelope(label, "partner_case.status_reported", 1, "partner_adapter",
                    f"partner_case/{data['case_id']}", data, T0 + timedelta(days=1))


def failed(label: str, referral: dict) -> str:
    data = {"case_id": fixed_id(f"case:{label}"), "referral_id": referral["id"],
            "partner": referral["partner"], "reason": "no such service",
            "failed_at": (T0 + timedelta(days=1)).isoformat()}
    return envelope(label, "partner_case.failed", 1, "partner_adapter",
                    f"partner_case/{data['case_id']}", data, T0 + timedelta(days=1))


def unknown_referral() -> dict:
    return {"id": fixed_id("referral:nowhere"), "partner": "welfare"}


def cases_opened(deps) -> list[str]:
    def ref(intake_name: str, need: str) -> dict:
        return current(deps, intake_name, need)
    slot = {"starts_at": "2026-11-25T10:00:00+00:00", "location": "Bürgeramt Mitte",
            "bring": ["passport"]}
    return [
        opened("o1", ref("i1", "address_registration"), "BD-1"),  # releases i1's jobcenter
        opened("o2", ref("i1", "living_costs"), "JC-1"),  # released by o1 just now
        opened("o3", ref("i2", "address_registration"), "BD-2"),  # his jobcenter: no consent
        opened("o4", ref("i1", "address_registration"), "BD-1", slot),  # a slot booked
        opened("o5", ref("i6", "address_registration"), "BD-6"),
        opened("o6", ref("i4", "address_registration"), "BD-4"),
        opened("o7", ref("i1", "orientation_counselling"), "WF-1"),
        opened("o8", ref("i3", "orientation_counselling"), "WF-3"),
        opened("o9", current(deps, "i6", "orientation_counselling", "mbe"), "WF-6"),
        opened("o10", ref("i7", "language_course"), "LC-7"),
    ]


def partner_reports(deps) -> list[str]:
    def ref(intake_name: str, need: str) -> dict:
        return current(deps, intake_name, need)
    return [
        reported("r1", ref("i1", "orientation_counselling"), "accepted"),
        reported("r2", ref("i1", "orientation_counselling"), "completed",
                 outcome="counselling_started"),
        reported("r3", ref("i3", "orientation_counselling"), "rejected", "no_capacity"),
        # on hold for a consent: a partner cannot reject it (stale), its case ref stays unset
        reported("r4", ref("i2", "orientation_counselling"), "rejected", "no_capacity",
                 case_ref="WF-X"),
        failed("r5", ref("i2", "orientation_counselling")),
        reported("r6", ref("i6", "living_costs"), "on-hold", "prerequisite_pending"),
        reported("r7", ref("i6", "address_registration"), "accepted"),  # releases it again
        reported("r8", ref("i1", "address_registration"), "accepted"),
        reported("r9", ref("i7", "language_course"), "rejected", "no_capacity"),
        reported("r10", ref("i1", "orientation_counselling"), "accepted"),  # stale
        reported("r11", ref("i1", "orientation_counselling"), "completed",
                 outcome="counselling_started"),  # repeated
        reported("r12", ref("i4", "address_registration"), "in-progress"),
        reported("r13", current(deps, "i6", "orientation_counselling", "mbe"), "rejected",
                 "no_capacity"),  # to mbe_diakonie, the next rule
        reported("r14", current(deps, "i6", "orientation_counselling", "jmd_diakonie"),
                 "rejected", "no_capacity"),  # mbe_diakonie was taken just now: none left
    ]


def crowd(n: int, tag: str) -> list[str]:
    """Intakes of n people, each consenting to share with the partners of their needs."""
    return [intake(f"{tag}-{i}", f"{tag}-{i}", f"{tag}-{i}", [consent(f"{tag}-{i}", None)])
            for i in range(n)]


def crowd_registrations_opened(deps, n: int, tag: str) -> list[str]:
    """Their registrations reached the partner: each releases a jobcenter referral."""
    return [opened(f"{tag}-o{i}", current(deps, f"{tag}-{i}", "address_registration"),
                   f"BD-{i}") for i in range(n)]


def crowd_counselling_rejected(deps, n: int, tag: str) -> list[str]:
    """Their counselling referrals rejected: each is re-routed."""
    return [reported(f"{tag}-r{i}", current(deps, f"{tag}-{i}", "orientation_counselling"),
                     "rejected", "no_capacity") for i in range(n)]


def deliver_all(deps, sub: Subscription, bodies: list[str], batch: int | None,
                poison: str | None = None) -> None:
    """Per event (batch None: the subscription's per-event handler, a transaction each) or
    in batches of `batch` through its batch handler; a poison message (an event the
    handler fails on) joins every batch, which delivery then retries message by message."""
    if batch is None:
        sub = replace(sub, batch_handler=None)
        chunks = [[b] for b in bodies] + ([[poison]] if poison else [])
    else:
        chunks = [bodies[i:i + batch] + ([poison] if poison else [])
                  for i in range(0, len(bodies), batch)]
    for chunk in chunks:
        outcomes = deliver_batch(chunk, sub, deps.uow)
        for body, outcome in zip(chunk, outcomes, strict=True):
            expected = Verdict.PARK if body is poison else Verdict.ACK
            assert outcome.verdict is expected, (json.loads(body)["type"], outcome)


def run(deps, batch: int | None, poison: bool = False) -> None:
    """The whole morning, phase after phase (a phase's events name the referrals the one
    before opened)."""
    deliver_all(deps, CONSENTS, withdrawals(), batch)
    deliver_all(deps, OPEN, intakes(), batch)
    nowhere = unknown_referral()
    deliver_all(deps, OPENED, cases_opened(deps), batch,
                opened("o-poison", nowhere, "X") if poison else None)
    by_hand(deps)
    deliver_all(deps, REPORT, partner_reports(deps), batch,
                reported("r-poison", nowhere, "accepted") if poison else None)


def snapshot(deps) -> dict:
    """Referrals, history, outgoing events, consents and inbox, with the referrals' random
    ids replaced by what they are (intake/need/partner/service) and the columns that only
    say when a row was written left out."""
    with deps.session_factory() as s:
        refs = [dict(r) for r in s.execute(select(t.referrals)).mappings()]
        key = {r["id"]: f"{r['intake_id']}/{r['need']}/{r['partner']}/{r['service']}"
               for r in refs}
        assert len(set(key.values())) == len(key)

        def named(text: str) -> str:
            for referral_id, name in key.items():
                text = text.replace(referral_id, name)
            return text

        referrals = sorted(({**r, "id": key[r["id"]],
                             "superseded_by": key.get(r["superseded_by"])} for r in refs),
                           key=lambda r: r["id"])
        history: dict[str, list[dict]] = {}
        for h in s.execute(select(t.referral_history)
                           .order_by(t.referral_history.c.id)).mappings():
            history.setdefault(key[h["referral_id"]], []).append(
                {k: v for k, v in h.items() if k not in ("id", "referral_id")})
        outbox = []
        for row in s.execute(select(t.outbox).order_by(t.outbox.c.id)):
            event = json.loads(row.body)
            outbox.append((event["type"], named(event["subject"]), event["causationid"],
                           event["correlationid"], named(json.dumps(event["data"],
                                                                    sort_keys=True))))
        consents = sorted(tuple(r) for r in s.execute(select(t.consents)))
        inbox = sorted((r.subscriber, r.event_id) for r in s.execute(select(t.inbox)))
    return {"referrals": referrals, "history": history, "outbox": outbox,
            "consents": consents, "inbox": inbox}


def by_key(snap: dict) -> dict[str, dict]:
    """The referrals of a snapshot by (intake name, need): the one not taken over."""
    names = {fixed_id(f"intake:{n}"): n for n in ("i1", "i2", "i3", "i4", "i5", "i6", "i7")}
    return {(names[r["intake_id"]], r["need"]): r for r in snap["referrals"]
            if r["superseded_by"] is None}

