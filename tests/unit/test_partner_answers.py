"""What a partner may answer on its case: the referral lifecycle as partners see it."""
from __future__ import annotations

import pytest

from services.partner_adapter.domain import answer_refused
from services.referral.domain import REASONS, SET_BY, TRANSITIONS, Actor, Outcome
from shared.events.vocabulary import (PARTNER_ANSWERS_AFTER, PARTNER_REJECTION_REASONS,
                                      ReferralStatus, values)


def test_a_partner_answer_the_adapter_takes_is_one_the_referral_takes():
    """The partner adapter's table never lets through what the referral would refuse (its
    status then follows the partner's last answer, or 'received' before any)."""
    for before, answers in PARTNER_ANSWERS_AFTER.items():
        referral_status = before or ReferralStatus.RECEIVED
        for answer in answers:
            if answer != referral_status:
                assert answer in TRANSITIONS[referral_status], (before, answer)
                assert answer in SET_BY[Actor.PARTNER], answer


@pytest.mark.parametrize("before, answer, outcome, refused", [
    (None, "rejected", None, False),
    ("accepted", "rejected", None, True),  # once accepted, a case is not rejected
    ("accepted", "accepted", None, False),  # the same answer again changes nothing
    ("completed", "in-progress", None, True),  # its last word
    ("in-progress", "completed", "case_closed", False),
    ("in-progress", "on-hold", "case_closed", True),  # an outcome only on a completion
])
def test_answers_follow_the_last_one(before, answer, outcome, refused):
    assert bool(answer_refused(before and ReferralStatus(before), answer, outcome)) is refused


def test_the_portals_words_cover_every_code_it_sends():
    from services.partner_adapter.ui import ANSWERS, OUTCOMES, PORTAL_OUTCOMES, REJECTION_REASONS

    assert set(REJECTION_REASONS) == set(PARTNER_REJECTION_REASONS)
    assert set(PARTNER_REJECTION_REASONS) == set(values(REASONS[ReferralStatus.REJECTED]))
    assert set(OUTCOMES) == set(PORTAL_OUTCOMES) <= set(values(Outcome))
    assert set(ANSWERS) == {s for answers in PARTNER_ANSWERS_AFTER.values() for s in answers}
