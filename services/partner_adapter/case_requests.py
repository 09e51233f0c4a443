"""The partner cases the referral service asks for (referral.requested), recorded in batches.

`request_partner_cases` takes the new referral.requested events of a batch (or one event,
when a failed batch is retried message by message) in the delivery's transaction, with two
statements however many events: one SELECT of the cases the batch's (partner, referral)
pairs already have, one INSERT of the new pending cases (an executemany: see
repository.add_requested). A referral gets at most one case at a partner: of several events
asking for it, the first in delivery order makes it, as one by one. A case committed
meanwhile by a racing batch (PostgreSQL, several workers) is skipped by the insert (ON
CONFLICT DO NOTHING on the pair), which waits for that batch's commit instead of failing;
rows go in (partner, referral id) order, so two such batches cannot deadlock.

No partner call happens here: the messages are acked as soon as the pending cases commit,
so a slow or down partner never holds a message unacked (the case opener calls partners).
"""
from __future__ import annotations

from datetime import datetime
from typing import Mapping, Sequence

from services.partner_adapter import repository
from services.partner_adapter.domain import PartnerCase, minimise
from shared.events.envelope import Envelope
from shared.events.model import ReferralRequestedV1, typed
from shared.partners import DIRECTORY, PartnerConfig


def request_partner_cases(envelopes: Sequence[Envelope], uow,
                          directory: Mapping[str, PartnerConfig] = DIRECTORY) -> None:
    """Record the pending case each of these events asks for, unless its partner has one for
    the referral, keeping only what the partner's allow-list names. `envelopes` in delivery
    order. Nothing is announced, so no event needs a cause (uow.caused_by)."""
    requests: list[tuple[ReferralRequestedV1, Envelope]] = [(typed(e), e) for e in envelopes]
    known = repository.requested(uow.session, [(r.partner, str(r.referral_id))
                                               for r, _ in requests])
    new: list[PartnerCase] = []
    for requested, envelope in requests:
        key = (requested.partner, str(requested.referral_id))
        if key not in known:
            known.add(key)
            new.append(_pending_case(requested, envelope, uow.clock(), directory))
    repository.add_requested(uow.session, new)


def _pending_case(requested: ReferralRequestedV1, envelope: Envelope, now: datetime,
                  directory: Mapping[str, PartnerConfig]) -> PartnerCase:
    config = directory.get(requested.partner)
    if config is None:  # routed to a partner the directory does not know: a bug, park it
        raise LookupError(f"partner {requested.partner!r} is not in the partner directory")
    basis = (f"consent {requested.consent_id}" if requested.consent_id
             else requested.legal_basis or f"consent ({requested.consent_method})")
    return PartnerCase.requested(
        referral_id=requested.referral_id, partner=requested.partner,
        service=requested.service, request=minimise(requested.data(), config.allow_list),
        now=now, basis=basis, flow=(envelope.correlationid, envelope.id))
