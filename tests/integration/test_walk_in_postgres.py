"""The walk-in queue on PostgreSQL, where several intake processes serve the desks at once:
desks calling "next" together never get the same ticket, and tickets drawn together get
distinct numbers."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from services.intake import walk_in_store as store
from services.intake.accounts import save_account
from services.intake.tables import inbox, outbox
from shared.clock import utcnow
from shared.db import make_engine, make_session_factory
from shared.uow import UnitOfWork
from tests.integration.conftest import fresh_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def uows():
    with fresh_database("lotse_queue", services=("intake",)) as url:
        engine = make_engine(url, pool_size=12)
        factory = make_session_factory(engine)
        with factory() as s:
            save_account(s, "anna", "a long and good passphrase", "staff", languages=("uk",))
            save_account(s, "ben", "a long and good passphrase", "staff", languages=("uk",))
            s.commit()
        yield lambda: UnitOfWork(factory, outbox, inbox, producer="intake")
        engine.dispose()


def test_tickets_drawn_at_once_get_distinct_numbers(uows):
    with ThreadPoolExecutor(10) as pool:
        drawn = list(pool.map(lambda _: store.draw(uows, utcnow, "infopoint", "uk", "other"),
                              range(10)))
    assert sorted(t.number for t in drawn) == [f"I-{n:03d}" for n in range(1, 11)]


def test_desks_calling_next_at_once_never_share_a_ticket(uows):
    for _ in range(12):
        store.draw(uows, utcnow, "centre", "uk", "housing")
    with ThreadPoolExecutor(12) as pool:
        called = list(pool.map(
            lambda i: store.call_next(uows, utcnow, "centre", ("anna", "ben")[i % 2]),
            range(12)))
    ids = [t.id for t in called if t is not None]
    assert len(ids) == 12 and len(set(ids)) == 12
    assert store.call_next(uows, utcnow, "centre", "anna") is None
