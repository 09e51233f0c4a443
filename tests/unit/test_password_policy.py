"""The password policy: at least 12 characters, no common or breached password."""
from __future__ import annotations

import pytest

from services.intake.password_policy import MIN_LENGTH, password_problem


@pytest.mark.parametrize("password", ["1234", "demo", "Sh0rt-but-ok"[:MIN_LENGTH - 1]])
def test_short_passwords_are_refused(password):
    assert f"at least {MIN_LENGTH} characters" in password_problem(password)


@pytest.mark.parametrize("password", [
    "password1234", "123456789012", "qwertyuiop12", "iloveyou2024!", "1q2w3e4r5t6y",
    "Passwort1234", "administrator1"])
def test_common_and_breached_passwords_are_refused(password):
    assert "too common or too easy to guess" in password_problem(password)


def test_the_users_own_name_does_not_make_a_password():
    assert password_problem("sachbearbeitung", ()) is None
    assert password_problem("sachbearbeitung", ["sachbearbeitung"]) is not None


@pytest.mark.parametrize("password", ["mBq7-vk2p-Lr9z", "Wasserturm Hafen Kaffee",
                                      "correct horse battery staple"])
def test_long_uncommon_passwords_pass(password):
    assert password_problem(password) is None


def test_very_long_passwords_are_refused_before_the_estimate():
    assert "at most" in password_problem("x" * 500)
