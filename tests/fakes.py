"""Fakes for our own ports (not mocks): partner gateways and a recording publisher."""
from __future__ import annotations

from services.partner_adapter.partners.base import (PartnerAnswerLost, PartnerRefused,
                                                    PartnerUnavailable, Receipt)


class FakePartnerGateway:
    """Counts calls per idempotency key; can fail a number of times or refuse."""

    def __init__(self, fail_times: int = 0, refuse: bool = False, prefix: str = "FK",
                 lose_answers: int = 0):
        self.fail_times, self.refuse, self.prefix = fail_times, refuse, prefix
        self.lose_answers = lose_answers  # create the case, but the answer never arrives
        self.calls: list[str] = []
        self.lookups: list[str] = []
        self.cases: dict[str, str] = {}
        self.by_referral: dict[str, str] = {}
        self.reminders: list[tuple[str, str]] = []
        self.cancellations: list[tuple[str, str]] = []

    def open_case(self, request: dict, idempotency_key: str) -> Receipt:
        self.calls.append(idempotency_key)
        if self.refuse:
            raise PartnerRefused("HTTP 422: client.date_of_birth missing")
        if self.fail_times:
            self.fail_times -= 1
            raise PartnerUnavailable("HTTP 503")
        ref = self.cases.setdefault(idempotency_key, f"{self.prefix}-{len(self.cases) + 1}")
        self.by_referral[str(request.get("referral_id"))] = ref
        if self.lose_answers:
            self.lose_answers -= 1
            raise PartnerAnswerLost("ReadTimeout: no answer within 10 s")
        return Receipt(ref)

    def payload(self, request: dict) -> dict:
        return dict(request)

    def find_case(self, referral_id: str) -> Receipt | None:
        self.lookups.append(referral_id)
        ref = self.by_referral.get(referral_id)
        return Receipt(ref) if ref else None

    def remind(self, case_ref: str, idempotency_key: str) -> None:
        self.reminders.append((case_ref, idempotency_key))

    def cancel(self, case_ref: str, idempotency_key: str) -> None:
        self.cancellations.append((case_ref, idempotency_key))


class RecordingPublisher:
    def __init__(self, fail: bool = False):
        self.published: list = []
        self.fail = fail

    def publish_batch(self, messages):
        if self.fail:
            raise ConnectionError("broker down")
        self.published.extend(messages)
        return [True] * len(messages)

    def heartbeat(self) -> None:
        pass

    def close(self) -> None:
        pass
