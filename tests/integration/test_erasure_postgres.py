"""Two erasures of the same person at once, on PostgreSQL (SQLite serialises them at BEGIN)."""
from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from services.intake import erasure as intake_erasure
from services.intake import tables as intake_tables
from services.intake.bootstrap import bootstrap as intake_bootstrap
from tests.component.test_erasure import NOW, person, record
from tests.conftest import embedded_settings
from tests.integration.conftest import fresh_database

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_url():
    """A database of its own: emptying the session's shared one (clean_tables) would also
    empty the routing rules' seed versions that later tests rely on."""
    with fresh_database("lotse_erase") as url:
        yield url


def test_the_second_of_two_concurrent_erasures_of_a_person_is_refused(
        tmp_path, pg_url, monkeypatch):
    deps = intake_bootstrap(replace(embedded_settings(tmp_path),
                                    database_url=pg_url).for_service("intake"))
    record(deps, person())
    with deps.session_factory() as s:
        person_id = s.execute(select(intake_tables.intakes.c.person_id)).scalar()

    locked, go = threading.Event(), threading.Event()
    subjects = intake_erasure._subjects

    def first_pauses_holding_the_person(session, living):
        if threading.current_thread().name == "first":
            locked.set()
            go.wait(10)
        return subjects(session, living)

    monkeypatch.setattr(intake_erasure, "_subjects", first_pauses_holding_the_person)
    outcomes: dict[str, object] = {}

    def erase(name: str) -> None:
        try:
            outcomes[name] = intake_erasure.erase_person(
                deps.uow(), person_id, requested_by=name, reason=name, now=NOW)
        except Exception as exc:  # the outcome is what the test looks at
            outcomes[name] = exc

    first = threading.Thread(target=erase, args=("first",), name="first")
    second = threading.Thread(target=erase, args=("second",), name="second")
    try:
        first.start()
        assert locked.wait(10)
        second.start()
        second.join(0.5)
        assert second.is_alive()  # waits for the first one's lock
    finally:
        go.set()
        first.join(10)
        second.join(10)
        deps.engine.dispose()

    assert isinstance(outcomes["first"], intake_erasure.ErasureRequest)
    assert isinstance(outcomes["second"], intake_erasure.AlreadyErased)
    deps = intake_bootstrap(replace(embedded_settings(tmp_path),
                                    database_url=pg_url).for_service("intake"))
    with deps.session_factory() as s:
        assert s.execute(select(func.count()).select_from(
            intake_tables.erasure_requests)).scalar() == 1
    deps.engine.dispose()
