"""What the partner adapter listens to on the bus."""
from __future__ import annotations

from services.partner_adapter import case_requests, erasure, handlers, notices
from services.partner_adapter.tables import erased
from shared.bus.topology import Subscription
from shared.erasure import guarded

# Events about an erased person are dropped (tombstones), so they cannot recreate a case.
# referral.requested, the busiest queue, is taken set-based (batch_handler); its per-event
# handler is the same code with a batch of one, for a failed batch retried message by message.
SUBSCRIPTIONS = guarded((
    Subscription("partner_adapter", "request_partner_case", ("referral.requested",),
                 handlers.request_partner_case,
                 batch_handler=case_requests.request_partner_cases),
    Subscription("partner_adapter", "request_reminder", ("referral.reminder_due",),
                 handlers.request_reminder),
    Subscription("partner_adapter", "follow_referral", ("referral.status_changed",),
                 handlers.follow_referral, wants=handlers.cancelled_in_lotse),
    Subscription("partner_adapter", "follow_consent_withdrawal", ("consent.withdrawn",),
                 notices.follow_consent_withdrawal),
    Subscription("partner_adapter", "erase_person", ("person.erasure_requested",),
                 erasure.erase_person),
    Subscription("partner_adapter", "erase_late_referrals", ("person.erased",),
                 erasure.erase_late_referrals),
), erased)
