"""What the reporting service listens to: the events it counts, and the erasure events.

One queue for all of them, so that an erasure request is taken in order with the facts
before it (they are re-keyed with the rest, handlers.py). Events about an erased person are
dropped (tombstones).
"""
from __future__ import annotations

from services.reporting import handlers
from services.reporting.domain import COUNTED_TYPES
from services.reporting.tables import erased
from shared.bus.topology import Subscription
from shared.erasure import guarded

SUBSCRIPTIONS = guarded((
    Subscription("reporting", "count", (*COUNTED_TYPES, "person.erased"), handlers.record,
                 batch_handler=handlers.record_batch),
), erased)
