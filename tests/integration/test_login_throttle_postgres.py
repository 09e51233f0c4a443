"""Login throttling on PostgreSQL, where several intake processes record attempts at once."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from services.intake.accounts import LoginThrottled, authenticate, save_account
from services.intake.login_throttle import ThrottlePolicy
from services.intake.tables import login_attempts
from shared.clock import utcnow
from shared.db import make_engine, make_session_factory
from tests.integration.conftest import fresh_database

pytestmark = pytest.mark.integration
ONE_FREE_TRY = ThrottlePolicy(free_failures=1, first_delay=timedelta(minutes=5))


@pytest.fixture(scope="module")
def sessions():
    with fresh_database("lotse_login", services=("intake",)) as url:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with factory() as s:
            save_account(s, "admin", "a long and good passphrase", "admin")
            s.commit()
        yield factory
        engine.dispose()


def attempt(sessions, client: str) -> str:
    with sessions() as s:
        try:
            result = authenticate(s, "admin", "wrong guess", client, utcnow(), ONE_FREE_TRY)
        except LoginThrottled:
            return "throttled"
        s.commit()
        return "checked" if result is None else "logged in"


def test_parallel_guesses_from_one_address_are_checked_one_at_a_time(sessions):
    """Each attempt waits for the one before it to be recorded: with one free try, eight
    guesses sent at once get one password check, not eight."""
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: attempt(sessions, "203.0.113.9"), range(8)))
    assert sorted(outcomes) == ["checked"] + ["throttled"] * 7
    with sessions() as s:
        assert s.execute(select(func.count()).where(
            login_attempts.c.client == "203.0.113.9")).scalar_one() == 1


def test_the_addresses_of_one_ipv6_prefix_count_as_one_client(sessions):
    assert attempt(sessions, "2001:db8:aa:bb::1") == "checked"
    assert attempt(sessions, "2001:db8:aa:bb:ffff::2") == "throttled"
    assert attempt(sessions, "2001:db8:aa:cc::1") == "checked"  # another prefix


def test_a_name_with_a_nul_is_refused_like_an_unknown_one(sessions):
    with sessions() as s:  # PostgreSQL's text refuses NUL: looked up, it was a 500
        assert authenticate(s, "ad\x00min", "a long and good passphrase", "198.51.100.1",
                            utcnow(), ONE_FREE_TRY) is None
