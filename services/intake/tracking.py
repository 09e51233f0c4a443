"""The intake's view of its referrals, kept from the referral service's events in batches.

`track_referrals` takes the new referral.requested and referral.status_changed events of a
batch (or one event, when a failed batch is retried message by message) in one transaction,
with set-based statements: one SELECT of the stored views of the batch's referrals, the
newest incoming view of each (domain.newer: the higher referral version) inserted in one
multi-row statement or updated in one executemany, rows in referral id order; a request
carrying a coarse consent (for the routed partners) gets a copy of it for its partner, the
coarse consents and the copies made before read in two SELECTs and the new copies added in
one insert. One by one or in a batch, the same events end in the same rows.
"""
from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Sequence

from services.intake import repository
from services.intake.domain import Consent, ReferralView, newer
from shared.events.envelope import Envelope
from shared.events.model import ReferralRequestedV1, ReferralStatusChangedV1, typed


def track_referrals(envelopes: Sequence[Envelope], uow) -> None:
    """Keep the intake's view of these events' referrals current (status, partner, case
    reference); a coarse consent becomes a recorded consent for each partner a need was
    routed to. `envelopes` in delivery order."""
    events: list[tuple[ReferralRequestedV1 | ReferralStatusChangedV1, Envelope]] = [
        (typed(e), e) for e in envelopes]
    _update_views([ReferralView.learnt_from(event, e.time) for event, e in events], uow)
    _materialise_consents([(str(event.consent_id), event.partner) for event, _ in events
                           if isinstance(event, ReferralRequestedV1) and event.consent_id],
                          uow)


def track_referral(envelope: Envelope, uow) -> None:
    """One event (a failed batch retried message by message): a batch of one."""
    track_referrals([envelope], uow)


def _update_views(incoming: list[ReferralView], uow) -> None:
    stored = repository.referral_views(uow.session, {str(v.referral_id) for v in incoming})
    best: dict[str, ReferralView | None] = dict(stored)
    for view in incoming:  # as one by one: each against the newest before it
        key = str(view.referral_id)
        if newer(best.get(key), view):
            best[key] = view
    changed = [view for key, view in best.items()
               if view is not None and view is not stored.get(key)]
    repository.save_referral_views(
        uow.session, new=[v for v in changed if str(v.referral_id) not in stored],
        stored=[v for v in changed if str(v.referral_id) in stored])


def _materialise_consents(wanted: list[tuple[str, str]], uow) -> None:
    """(consent id, partner) of each request in order: a copy of a coarse consent for the
    partner unless one was made before (a consent for one partner needs no copy)."""
    if not wanted:
        return
    coarse = repository.coarse_consents(uow.session, {consent_id for consent_id, _ in wanted})
    if not coarse:
        return
    copied = {(str(c.derived_from), c.partner, person_id) for person_id, c in
              repository.consents_derived_from(uow.session,
                                               {person for person, _ in coarse.values()},
                                               coarse)}
    copies: list[tuple[str, Consent]] = []
    for consent_id, partner in wanted:
        if consent_id not in coarse:
            continue
        person_id, consent = coarse[consent_id]
        if (consent_id, partner, person_id) in copied:
            continue
        copied.add((consent_id, partner, person_id))
        copies.append((person_id, replace(consent, id=uuid.uuid4(), partner=partner,
                                          derived_from=consent.id)))
    repository.add_consents_of_persons(uow.session, copies)
