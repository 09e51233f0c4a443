"""Circuit breaker, rate limit and the partner directory's own checks."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from services.partner_adapter.domain import minimise
from services.partner_adapter.guards import CircuitBreaker, RateLimiter
from shared.partners import DEFAULT_FILE, DIRECTORY, PartnerConfigError, load_directory

NOW = datetime(2026, 11, 21, 9, tzinfo=timezone.utc)
WELFARE = {"welfare": replace(DIRECTORY["welfare"], breaker_failures=3,
                              breaker_open_seconds=30, rate_limit_per_minute=60)}


def test_the_breaker_opens_after_failures_in_a_row_and_one_trial_closes_it():
    breaker = CircuitBreaker(WELFARE)
    for _ in range(3):
        assert breaker.allow("welfare", NOW) is None
        breaker.record("welfare", False, NOW)
    assert breaker.allow("welfare", NOW + timedelta(seconds=10)) is not None
    later = NOW + timedelta(seconds=31)
    assert breaker.state("welfare", later) == "half-open"
    assert breaker.allow("welfare", later) is None  # the one trial call
    assert breaker.allow("welfare", later) is not None  # nobody else meanwhile
    breaker.record("welfare", True, later)
    assert breaker.state("welfare", later) == "closed"


def test_a_success_in_between_resets_the_count():
    breaker = CircuitBreaker(WELFARE)
    for ok in (False, False, True, False, False):
        breaker.record("welfare", ok, NOW)
    assert breaker.state("welfare", NOW) == "closed"


def test_the_rate_limit_spreads_calls():
    limiter = RateLimiter(WELFARE)  # 60 a minute: one a second
    assert limiter.take("welfare", NOW) is None
    until = limiter.take("welfare", NOW)
    assert until is not None and until - NOW <= timedelta(seconds=1)
    assert limiter.take("welfare", NOW + timedelta(seconds=1)) is None


def test_minimise_keeps_only_allowed_paths():
    request = {"referral_id": "r", "residence_status": "DULDUNG",
               "person": {"given_name": "Olena", "nationality": "UA"}}
    assert minimise(request, ("referral_id", "person.given_name")) == {
        "referral_id": "r", "person": {"given_name": "Olena"}}


@pytest.mark.parametrize("spoil, complaint", [
    (lambda p: p.update(kind="carrier_pigeon"), "kind"),
    (lambda p: p.pop("endpoint"), "endpoint"),
    (lambda p: p["allow_list"].append("person.religion"), "allow_list"),
    (lambda p: p["allow_list"].remove("referral_id"), "allow_list"),
    (lambda p: p.update(rate_limit_per_minute=0), "rate_limit_per_minute"),
    (lambda p: p["auth"].update(secret_env="lower case"), "secret_env"),
    (lambda p: p.pop("callback_secret_env"), "callback_secret_env"),
])
def test_a_broken_directory_entry_is_refused_naming_the_field(tmp_path, spoil, complaint):
    data = json.loads(DEFAULT_FILE.read_text())
    spoil(data["partners"][0])
    path = tmp_path / "partners.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PartnerConfigError, match=complaint):
        load_directory(path)


def test_a_new_partner_of_a_known_kind_is_only_an_entry(tmp_path):
    from services.partner_adapter.partners import gateways

    data = json.loads(DEFAULT_FILE.read_text())
    data["partners"].append({**data["partners"][0], "code": "caritas_cases",
                             "name": "Caritas case system", "endpoint": "https://caritas.example"})
    path = tmp_path / "partners.json"
    path.write_text(json.dumps(data))
    directory = load_directory(path)
    built = gateways("http://sandbox", {"caritas_cases": "key"}, directory)
    assert built["caritas_cases"].base_url == "https://caritas.example"
