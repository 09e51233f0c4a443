"""What the operator console listens to: every event type of the catalogue.

The journal binds the catalogue's types by name, not with '#', so an event nobody
subscribes to still ends in the unrouted queue and raises its alert.
"""
from __future__ import annotations

from services.ops import handlers
from shared.bus.topology import Subscription
from shared.events.contracts import CONTRACTS

SUBSCRIPTIONS = (
    Subscription("ops", "journal", tuple(sorted({t for t, _ in CONTRACTS})),
                 handlers.record_in_journal),
)
