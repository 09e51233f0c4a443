"""What the partner adapter listens to on the bus."""
from __future__ import annotations

from services.partner_adapter import handlers
from shared.bus.topology import Subscription

SUBSCRIPTIONS = (
    Subscription("partner_adapter", "request_partner_case", ("referral.requested",),
                 handlers.request_partner_case),
    Subscription("partner_adapter", "request_reminder", ("referral.reminder_due",),
                 handlers.request_reminder),
    Subscription("partner_adapter", "follow_referral", ("referral.status_changed",),
                 handlers.follow_referral),
)
