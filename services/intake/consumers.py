"""What the intake service listens to on the bus."""
from __future__ import annotations

from services.intake import access_log, erasure, handlers, tracking
from services.intake.tables import erased
from shared.bus.topology import Subscription
from shared.erasure import guarded

# Events about an erased person are dropped (tombstones), so they cannot recreate data.
SUBSCRIPTIONS = guarded((
    # in batches (set-based, tracking.py); one by one when a failed batch is retried
    Subscription("intake", "track_referral", ("referral.requested", "referral.status_changed"),
                 tracking.track_referral, batch_handler=tracking.track_referrals),
    Subscription("intake", "note_overdue", ("referral.overdue",), handlers.note_overdue),
    Subscription("intake", "erasure_confirmations", ("person.erased",),
                 erasure.record_confirmation),
), erased) + (
    # one access event names many people: its handler drops the erased ones' records itself
    Subscription("intake", "record_access", ("personal_data.accessed",),
                 access_log.record_reported_access),
)
