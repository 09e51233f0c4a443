"""Partner case state machine: one idempotency key per referral, retries, refusals, reports."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from services.partner_adapter.domain import CaseStatus, PartnerCase, idempotency_key
from shared.events.model import PartnerCaseFailedV1
from shared.events.vocabulary import ReferralStatus

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)


def case():
    return PartnerCase.requested(referral_id=uuid.uuid4(), partner="jobcenter", service="sgb2",
                                 request={}, now=NOW)


def test_the_idempotency_key_is_the_same_for_the_same_referral_and_partner():
    rid = uuid.uuid4()
    assert idempotency_key("welfare", rid) == idempotency_key("welfare", rid)
    assert idempotency_key("welfare", rid) != idempotency_key("jobcenter", rid)


def test_an_unavailable_partner_is_tried_again_later_with_growing_waits():
    c = case()
    c.attempt_failed("HTTP 503", NOW)
    first = c.next_attempt_at - NOW
    c.attempt_failed("HTTP 503", NOW)
    assert c.status == "pending" and c.attempts == 2
    assert c.next_attempt_at - NOW > first
    c.attempts = 50
    c.attempt_failed("HTTP 503", NOW)
    assert c.next_attempt_at - NOW == timedelta(hours=3)  # the longest wait


def test_the_default_attempts_outlast_an_outage_of_an_hour_not_just_minutes():
    c, waited = case(), timedelta()
    while c.status == "pending":
        before = c.next_attempt_at
        c.attempt_failed("HTTP 503", before, max_attempts=8)
        waited += (c.next_attempt_at - before) if c.status == "pending" else timedelta()
    assert c.attempts == 8 and waited > timedelta(hours=1)


def test_a_refusal_fails_the_case_for_good_and_says_so():
    c = case()
    announced = c.refused("HTTP 422: missing field", NOW)
    assert c.status is CaseStatus.FAILED and c.status == "failed"
    assert announced == c.events
    assert isinstance(announced[0], PartnerCaseFailedV1)
    assert announced[0].reason == "HTTP 422: missing field" and announced[0].case_id == c.id


def test_opening_twice_announces_once():
    c = case()
    assert c.opened("JC-1", NOW)
    assert c.opened("JC-1", NOW) == []
    assert [e.type for e in c.events] == ["partner_case.opened"]
    assert c.events[0].subject == f"partner_case/{c.id}"


def test_a_report_that_overtakes_the_opening_opens_the_case_first():
    c = case()
    announced = c.reported("accepted", None, "JC-9", NOW)
    assert c.status == "opened" and c.partner_case_ref == "JC-9"
    assert [e.type for e in announced] == ["partner_case.opened",
                                           "partner_case.status_reported"]
    assert announced == c.events
    assert c.partner_status is ReferralStatus.ACCEPTED
    assert announced[-1].status is ReferralStatus.ACCEPTED
