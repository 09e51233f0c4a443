"""What the intake service listens to on the bus."""
from __future__ import annotations

from services.intake import handlers
from shared.bus.topology import Subscription

SUBSCRIPTIONS = (
    Subscription("intake", "track_referral", ("referral.requested", "referral.status_changed"),
                 handlers.track_referral),
    Subscription("intake", "note_overdue", ("referral.overdue",), handlers.note_overdue),
)
