"""The database TLS settings reach libpq on a real connection: with a CA named (verify-full),
this machine's PostgreSQL (no TLS, or a certificate from another CA) is refused; without
them the same URL connects."""
from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from shared.config import Settings
from shared.db import make_engine, ping
from tests.integration.conftest import require

URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def test_a_named_ca_makes_the_connection_insist_on_verified_tls(tmp_path):
    require("127.0.0.1", 5432, "PostgreSQL")
    (tmp_path / "ca.pem").write_text("")  # trusts nothing
    env = {"LOTSE_DATA_DIR": str(tmp_path), "LOTSE_DATABASE_URL": URL}
    plain = make_engine(Settings.from_env("intake", env).database_url)
    ping(plain)
    plain.dispose()
    tls = make_engine(Settings.from_env("intake", {
        **env, "LOTSE_DATABASE_SSLROOTCERT": str(tmp_path / "ca.pem")}).database_url)
    with pytest.raises(OperationalError, match="(?i)ssl|certificate"):
        ping(tls)
    tls.dispose()
