"""The reporting service's pseudonym key: its own secret, not the session secret."""
from __future__ import annotations

import pytest

from services.reporting.bootstrap import bootstrap
from shared.config import REPORTING_KEY, SecretMissing, Settings, generated_secrets
from tests.conftest import embedded_settings


def distributed_env(tmp_path, **given: str) -> dict[str, str]:
    env = {"LOTSE_DATA_DIR": str(tmp_path), "LOTSE_BROKER_URL": "amqp://broker//",
           "LOTSE_DATABASE_URL": "postgresql+psycopg://lotse:pw@db/lotse",
           **generated_secrets()}
    del env[REPORTING_KEY]
    return {**env, **given}


def test_a_distributed_reporting_process_refuses_to_start_without_its_key(tmp_path):
    with pytest.raises(SecretMissing, match=REPORTING_KEY):
        Settings.from_env("reporting", distributed_env(tmp_path))
    assert Settings.from_env("reporting", distributed_env(
        tmp_path, LOTSE_REPORTING_KEY="k" * 40)).reporting_key == "k" * 40


def test_other_services_do_not_hold_the_reporting_key(tmp_path):
    env = distributed_env(tmp_path, LOTSE_REPORTING_KEY="k" * 40)
    intake = Settings.from_env("intake", {k: v for k, v in env.items() if k != REPORTING_KEY})
    assert intake.reporting_key == ""
    with pytest.raises(SecretMissing, match=REPORTING_KEY):
        bootstrap(intake.for_service("reporting", {}))


def test_pseudonyms_stay_when_the_session_secret_is_rotated(tmp_path):
    def keyer(secret_key: str, reporting_key: str):
        deps = bootstrap(embedded_settings(tmp_path, {"LOTSE_SECRET_KEY": secret_key,
                                                      REPORTING_KEY: reporting_key}))
        deps.engine.dispose()
        return deps.keyer

    before = keyer("session secret one " * 3, "reporting key " * 3)
    after = keyer("session secret two " * 3, "reporting key " * 3)
    assert before("person", "p-1") == after("person", "p-1")
    assert keyer("session secret two " * 3, "another key " * 3)("person", "p-1") != \
        before("person", "p-1")


def test_embedded_mode_generates_the_reporting_key_once(tmp_path):
    first = embedded_settings(tmp_path)
    assert first.reporting_key and first.reporting_key != first.secret_key
    assert embedded_settings(tmp_path).reporting_key == first.reporting_key


def test_lotse_secrets_prints_a_reporting_key(capsys):
    from services.cli import cmd_secrets

    cmd_secrets(None)
    printed = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert len(printed[REPORTING_KEY]) >= 40
    assert printed[REPORTING_KEY] != printed["LOTSE_SECRET_KEY"]
