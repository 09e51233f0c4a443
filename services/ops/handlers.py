"""The console's bus handlers: every event goes into the journal (masked), and the referral
service's events into the referral projection (projection.py).

`record_batch_in_journal` takes a batch of new events in one transaction (one multi-row
insert, one set-based upsert); `record_in_journal` takes one event, when a failed batch is
retried message by message. Both end in the same rows.
"""
from __future__ import annotations

from typing import Sequence

from services.ops import domain, projection
from shared.events.envelope import Envelope


def record_batch_in_journal(envelopes: Sequence[Envelope], uow) -> None:
    now = uow.clock()
    projection.append_to_journal(uow.session,
                                 [domain.journal_entry(e, now) for e in envelopes])
    facts = domain.fold(domain.referral_facts(e) for e in envelopes)
    if facts:
        projection.apply_referral_facts(uow.session, facts.values(), now)


def record_in_journal(envelope: Envelope, uow) -> None:
    record_batch_in_journal([envelope], uow)
