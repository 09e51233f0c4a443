"""Inbox: which events a subscriber has already processed (the idempotent-consumer record)."""
from __future__ import annotations

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table

from shared.db import UTCDateTime


def inbox_table(metadata: MetaData, service: str) -> Table:
    """(subscriber, event_id) is the primary key: a second insert of the same event fails."""
    name = f"{service}_inbox"
    return Table(
        name, metadata,
        Column("subscriber", String(200), nullable=False),
        Column("event_id", String(64), nullable=False),
        Column("processed_at", UTCDateTime, nullable=False),
        PrimaryKeyConstraint("subscriber", "event_id", name=f"pk_{name}"),
    )
