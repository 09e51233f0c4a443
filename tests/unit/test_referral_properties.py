"""Property-based: whatever sequence of status changes anyone attempts, a referral never
reaches an illegal state, and every accepted change is in its history and announced."""
from __future__ import annotations

import copy
import uuid
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from services.referral.deadlines import DEFAULT_POLICY, WorkingCalendar
from services.referral.domain import Referral, Route, SharingBasis, TransitionNotAllowed

CALENDAR = WorkingCalendar("NW")

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)

# The lifecycle as the referral's users expect it (FHIR Task codes), written here on its own
# rather than read from the domain's tables, so the tests check the domain against it.
ENDED = {"rejected", "cancelled", "failed", "completed"}
ALLOWED_MOVES = {
    "draft": "requested cancelled",
    "requested": "received accepted rejected cancelled failed on-hold in-progress completed",
    "received": "accepted rejected cancelled failed in-progress on-hold completed",
    "accepted": "in-progress on-hold completed cancelled failed",
    "in-progress": "on-hold completed failed cancelled",
    "on-hold": "requested received accepted in-progress completed cancelled failed",
    **{ended: "" for ended in ENDED},
}
WHO_SETS = {  # partners report on their case, staff steer, Lotse routes and records
    "partner": "received accepted rejected in-progress on-hold completed cancelled",
    "staff": "requested on-hold cancelled completed failed",
    "system": "requested received on-hold cancelled failed",
}
NEEDS_A_CODED_REASON = {
    "rejected": "not_eligible no_capacity person_unreachable wrong_partner duplicate other",
    "cancelled": "consent_withdrawn person_withdrew duplicate created_in_error superseded "
                 "expired other",
    "failed": "delivery_failed partner_refused_request expired other",
    "on-hold": "no_matching_rule consent_missing prerequisite_pending waiting_for_person "
               "partner_paused other",
}
COMPLETION_OUTCOMES = ("counselling_started course_place_offered appointment_kept "
                       "application_filed place_offered case_closed other").split()
STATUSES = sorted(ALLOWED_MOVES)
ALL_REASONS = sorted({r for codes in NEEDS_A_CODED_REASON.values() for r in codes.split()})

attempts = st.lists(st.tuples(
    st.sampled_from(sorted(WHO_SETS)), st.sampled_from(STATUSES),
    st.one_of(st.none(), st.sampled_from(ALL_REASONS), st.text(max_size=5)),
    st.one_of(st.none(), st.sampled_from(COMPLETION_OUTCOMES), st.text(max_size=5))),
    max_size=25)


def allowed(before: str, after: str, actor: str, reason, outcome) -> bool:
    """May `actor` move a referral from `before` to `after` with this reason and outcome?"""
    return (after in ALLOWED_MOVES[before].split() and after in WHO_SETS[actor].split()
            and (after not in NEEDS_A_CODED_REASON
                 or reason in NEEDS_A_CODED_REASON[after].split())
            and (after != "completed" or outcome in COMPLETION_OUTCOMES))


# What a referral passes on to its partner (what the intake recorded).
SHARE = {"person": {"given_name": "Amina", "family_name": "Haddad", "birth_date": "1987-03-14",
                    "nationality": "SY", "languages": ["ar", "de"]},
         "residence_status": "TEMP_PROTECTION_24", "consent_method": "signed_form",
         "consents": []}


def fresh(routed: bool, consent: bool) -> Referral:
    route = Route("welfare", "mbe", "orientation-mbe", "MBE") if routed else None
    return Referral.open(intake_id=uuid.uuid4(), intake_reference="LT-2026-ABCDEF",
                         need="orientation_counselling", route=route, by="routing", now=NOW,
                         basis=SharingBasis(consent_id=str(uuid.uuid4())) if consent else None,
                         share=SHARE)


def in_status(status: str) -> Referral:
    referral = fresh(routed=True, consent=True)
    referral.status = status
    return referral


def test_every_move_by_every_actor_is_allowed_exactly_as_the_lifecycle_says():
    """Exhaustive: each status to each status by each actor, with a valid code where one is
    needed, is accepted or refused as ALLOWED_MOVES and WHO_SETS say."""
    for before in STATUSES:
        for after in STATUSES:
            for actor in WHO_SETS:
                reason = (NEEDS_A_CODED_REASON[after].split()[0]
                          if after in NEEDS_A_CODED_REASON else None)
                outcome = COMPLETION_OUTCOMES[0] if after == "completed" else None
                referral = in_status(before)
                try:
                    referral.change_status(after, by=actor, reason=reason, outcome=outcome,
                                           actor=actor, now=NOW)
                    accepted = True
                except TransitionNotAllowed:
                    accepted = False
                assert accepted == allowed(before, after, actor, reason, outcome), \
                    (before, after, actor)


@settings(max_examples=400, deadline=None)
@given(routed=st.booleans(), consent=st.booleans(), steps=attempts)
def test_no_sequence_of_changes_reaches_an_illegal_state(routed, consent, steps):
    referral = fresh(routed, consent)
    announced = len(referral.events)
    for i, (actor, status, reason, outcome) in enumerate(steps):
        before = copy.deepcopy(referral)
        routed_enough = status in ("on-hold", "cancelled", "failed") or before.partner
        expected = allowed(before.status, status, actor, reason, outcome) and routed_enough
        try:
            referral.change_status(status, by=actor, reason=reason, outcome=outcome,
                                   actor=actor, now=NOW + timedelta(minutes=i))
        except TransitionNotAllowed:
            assert not expected, (before.status, status, actor, reason, outcome)
            assert referral == before, "a refused change must change nothing"
            continue
        assert expected, (before.status, status, actor, reason, outcome)
        announced += 2 if status == "requested" else 1  # requested: it leaves for its partner
        assert referral.events[-1].status == status
        assert before.status not in ENDED
        if status in NEEDS_A_CODED_REASON:
            assert referral.reason == reason
        if status == "completed":
            assert referral.outcome == outcome
        if status not in ("on-hold", "cancelled", "failed"):
            assert referral.partner is not None, "only a routed referral can move on"
        assert referral.history[-1].status == status
        assert referral.history[-1].previous_status == before.status
    assert referral.status in ALLOWED_MOVES
    assert len(referral.history) == referral.version
    assert len(referral.events) == announced
    assert [h.status for h in referral.history][-1] == referral.status
    assert all(b.previous_status == a.status
               for a, b in zip(referral.history, referral.history[1:], strict=False))


@settings(max_examples=300, deadline=None)
@given(routed=st.booleans(), consent=st.booleans(), steps=attempts)
def test_every_referral_ends_terminal_or_visible_in_the_work_queue(routed, consent, steps):
    """Whatever happened, once enough time passed without news a referral is either
    finished or in front of staff: nothing silently waits forever."""
    referral = fresh(routed, consent)
    referral.plan_deadlines(DEFAULT_POLICY, CALENDAR, NOW)
    for i, (actor, status, reason, outcome) in enumerate(steps):
        at = NOW + timedelta(hours=i)
        try:
            referral.change_status(status, by=actor, reason=reason, outcome=outcome,
                                   actor=actor, now=at)
        except TransitionNotAllowed:
            continue
        referral.plan_deadlines(DEFAULT_POLICY, CALENDAR, at)
    later = NOW + timedelta(days=365)
    referral.check_deadlines(DEFAULT_POLICY, CALENDAR, later)
    assert referral.status in ENDED or referral.attention(later) is not None
