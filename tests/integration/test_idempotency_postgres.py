"""Two POST /api/v1/intakes with the same Idempotency-Key at once, on PostgreSQL: the second
waits on the first's claim of the key (its unique index) and answers the same intake."""
from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from services.intake import tables
from services.intake.accounts import save_account
from services.intake.app import create_app
from services.intake.bootstrap import bootstrap
from tests.component.conftest import post_twice_at_once, token
from tests.conftest import OLENA, embedded_settings
from tests.integration.conftest import fresh_database

pytestmark = pytest.mark.integration


@pytest.fixture
def intake_app(tmp_path):
    with fresh_database("lotse_idem", services=("intake",)) as url:
        settings = replace(embedded_settings(tmp_path), database_url=url).for_service("intake")
        deps = bootstrap(settings)
        with deps.session_factory() as s:
            save_account(s, "staff", "pw-staff-long-enough", "staff")
            s.commit()
        app = create_app(settings, deps)
        yield app, deps
        deps.engine.dispose()


def test_two_requests_with_the_same_key_at_once_record_one_intake(intake_app, monkeypatch):
    app, deps = intake_app
    staff = token(app.test_client(), "staff", "pw-staff-long-enough")
    first, second = post_twice_at_once(app, {**staff, "Idempotency-Key": "pg-at-once"},
                                       OLENA, monkeypatch)
    assert first.status_code == second.status_code == 201, (first.get_json(),
                                                            second.get_json())
    assert first.get_json() == second.get_json()
    with deps.session_factory() as s:
        assert s.execute(select(func.count()).select_from(tables.intakes)).scalar() == 1
        assert s.execute(select(func.count()).select_from(
            tables.intake_idempotency_keys)).scalar() == 1


def test_the_same_key_with_another_body_at_once_is_a_conflict(intake_app, monkeypatch):
    app, deps = intake_app
    staff = token(app.test_client(), "staff", "pw-staff-long-enough")
    other = {**OLENA, "needs": ["living_costs"]}
    bodies = iter([OLENA, other])
    client_post = app.test_client().__class__.post

    def one_body_each(self, *args, **kwargs):
        return client_post(self, *args, **{**kwargs, "json": next(bodies)})

    monkeypatch.setattr(app.test_client().__class__, "post", one_body_each)
    first, second = post_twice_at_once(app, {**staff, "Idempotency-Key": "pg-clash"},
                                       OLENA, monkeypatch)
    assert (first.status_code, second.status_code) == (201, 409)
    with deps.session_factory() as s:
        assert s.execute(select(func.count()).select_from(tables.intakes)).scalar() == 1
