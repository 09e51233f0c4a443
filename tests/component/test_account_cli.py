"""`lotse user`: the password policy, with a clear error line and no traceback."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from services.cli import main
from services.intake.bootstrap import bootstrap
from services.intake.tables import accounts


@pytest.fixture
def env(lotse_command_env):
    return lotse_command_env("intake")


def lotse_user(monkeypatch, password: str, *args: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    main(["user", "alice", "--role", "staff", "--password-stdin", *args])


def usernames(settings) -> list[str]:
    with bootstrap(settings.for_service("intake")).session_factory() as s:
        return list(s.execute(select(accounts.c.username)).scalars())


@pytest.mark.parametrize("password, why", [
    ("1234", "at least 12 characters"),
    ("password1234", "too common"),
    ("lotsealice123", "too common"),  # the user's own name and the product
])
def test_weak_passwords_are_refused_with_an_error_line(env, monkeypatch, capsys, password, why):
    with pytest.raises(SystemExit) as refused:
        lotse_user(monkeypatch, password)
    assert refused.value.code != 0
    message = str(refused.value.code)
    assert message.startswith("lotse user: password: ") and why in message
    assert "Traceback" not in capsys.readouterr().err
    assert "alice" not in usernames(env)


def test_a_good_password_is_saved(env, monkeypatch, capsys):
    lotse_user(monkeypatch, "Wasserturm Hafen Kaffee")
    assert "saved alice" in capsys.readouterr().out
    assert "alice" in usernames(env)
