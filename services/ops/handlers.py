"""The console's bus handler: every event goes into the journal (masked)."""
from __future__ import annotations

from services.ops import domain, tables
from shared.events.envelope import Envelope


def record_in_journal(envelope: Envelope, uow) -> None:
    uow.session.execute(tables.journal.insert().values(
        **domain.journal_entry(envelope, uow.clock())))
