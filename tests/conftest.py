"""Fixtures every test tier shares: embedded settings in a temp dir, waiting, the smoke intake."""
from __future__ import annotations

import copy
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import pytest

from bench.ports import free_port  # noqa: F401 (the tests' import of it)
from shared.config import Settings

SMOKE_INTAKE = {
    "person": {"given_name": "Olena", "family_name": "Kovalenko", "birth_date": "1987-03-14",
               "nationality": "UA", "languages": ["uk", "ru"]},
    "residence_status": "TEMP_PROTECTION_24",
    "site": "infopoint",
    "needs": ["address_registration", "living_costs", "orientation_counselling"],
    "consent": {"share_with_partners": True, "method": "signed_form", "language": "uk"},
}
# Olena as the README's smoke request records her, plus the first-issue date of her § 24
# permit: since 1 July 2026 that date decides Jobcenter (SGB II) or Sozialamt (AsylbLG), so
# without it her living-costs referral waits ("fact missing"); with it each need reaches a
# partner. Tests that follow the three partners' channels post this one.
OLENA = {**copy.deepcopy(SMOKE_INTAKE), "residence": {"first_issue_date": "2022-03-20"}}
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def smoke_intake() -> dict:
    return copy.deepcopy(SMOKE_INTAKE)


@pytest.fixture
def olena_intake() -> dict:
    return copy.deepcopy(OLENA)


def embedded_settings(data_dir: Path, env: dict | None = None, **overrides) -> Settings:
    """Embedded-mode settings confined to one folder (env vars of the machine are ignored)."""
    base = {"LOTSE_DATA_DIR": str(data_dir), "LOTSE_RETRY_DELAYS": "0.05,0.1,0.2",
            "LOTSE_MAX_ATTEMPTS": "4", "LOTSE_LOG_FORMAT": "text",
            "LOTSE_PARTNER_POLL_SECONDS": "0.5"}
    return replace(Settings.from_env("intake", {**base, **(env or {})}), **overrides)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return embedded_settings(tmp_path)


def wait_until(predicate: Callable[[], object], timeout: float = 10.0,
               interval: float = 0.05, message: str = "condition") -> object:
    """Poll instead of sleeping a fixed time; fail with a clear message on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)




def in_ci() -> bool:
    """CI is set (as CI systems set it: true, 1, yes); CI=0 or CI=false is not CI."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


@pytest.fixture
def permissive_umask():
    """A umask that lets files be world-readable unless Lotse asks for less."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)
