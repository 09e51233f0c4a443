"""Property-based: whatever sequence of status changes anyone attempts, a referral never
reaches an illegal state, and every accepted change is in its history and announced."""
from __future__ import annotations

import copy
import uuid
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from services.referral.deadlines import DEFAULT_POLICY, WorkingCalendar
from services.referral.domain import (OUTCOMES, REASONS, SET_BY, TERMINAL, TRANSITIONS,
                                     Referral, Route, SharingBasis, TransitionNotAllowed)

CALENDAR = WorkingCalendar("NW")

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
STATUSES = sorted(TRANSITIONS)
ALL_REASONS = sorted({r for codes in REASONS.values() for r in codes})

attempts = st.lists(st.tuples(
    st.sampled_from(sorted(SET_BY)), st.sampled_from(STATUSES),
    st.one_of(st.none(), st.sampled_from(ALL_REASONS), st.text(max_size=5)),
    st.one_of(st.none(), st.sampled_from(OUTCOMES), st.text(max_size=5))), max_size=25)


def fresh(routed: bool, consent: bool) -> Referral:
    route = Route("welfare", "mbe", "orientation-mbe", "MBE") if routed else None
    return Referral.open(intake_id=uuid.uuid4(), intake_reference="LT-2026-ABCDEF",
                         need="orientation_counselling", route=route, by="routing", now=NOW,
                         basis=SharingBasis(consent_id="c") if consent else None)


@settings(max_examples=400, deadline=None)
@given(routed=st.booleans(), consent=st.booleans(), steps=attempts)
def test_no_sequence_of_changes_reaches_an_illegal_state(routed, consent, steps):
    referral = fresh(routed, consent)
    announced = len(referral.events)
    for i, (actor, status, reason, outcome) in enumerate(steps):
        before = copy.deepcopy(referral)
        try:
            referral.change_status(status, by=actor, reason=reason, outcome=outcome,
                                   actor=actor, now=NOW + timedelta(minutes=i))
        except TransitionNotAllowed:
            assert referral == before, "a refused change must change nothing"
            continue
        announced += 1
        # the change was legal: from where, by whom, and with what it needs
        assert status in TRANSITIONS[before.status] and status in SET_BY[actor]
        assert before.status not in TERMINAL
        if status in REASONS:
            assert referral.reason in REASONS[status]
        if status == "completed":
            assert referral.outcome in OUTCOMES
        if status not in ("on-hold", "cancelled", "failed"):
            assert referral.partner is not None, "only a routed referral can move on"
        assert referral.history[-1].status == status
        assert referral.history[-1].previous_status == before.status
    assert referral.status in TRANSITIONS
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
    assert referral.status in TERMINAL or referral.attention(later) is not None
