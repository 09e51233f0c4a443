"""What the operator console listens to: every event type of the catalogue.

The journal binds the catalogue's types by name, not with '#', so an event nobody
subscribes to still ends in the unrouted queue and raises its alert. It takes its events in
batches (one insert per batch, handlers.py), one by one when a batch is retried.
"""
from __future__ import annotations

from services.ops import erasure, handlers
from services.ops.tables import erased
from shared.bus.topology import Subscription
from shared.erasure import guarded
from shared.events.contracts import CONTRACTS

# Events about an erased person are not journalled (tombstones).
SUBSCRIPTIONS = guarded((
    Subscription("ops", "journal", tuple(sorted({t for t, _ in CONTRACTS})),
                 handlers.record_in_journal, batch_handler=handlers.record_batch_in_journal),
    Subscription("ops", "erase_person", ("person.erasure_requested",), erasure.erase_person),
    Subscription("ops", "erase_late_referrals", ("person.erased",), erasure.note_referrals),
), erased)
