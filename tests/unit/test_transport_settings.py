"""TLS for AMQP and PostgreSQL, and secrets from the environment or secret files
(docs/transport-security.md): the settings reach kombu's Connection and the database driver's
connect arguments, and a broker whose certificate is not trusted is refused."""
from __future__ import annotations

import datetime
import os
import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kombu.exceptions import OperationalError

from shared.bus.amqp import amqp_connection
from shared.config import (PUBLISHED_DEMO_SECRETS, REPORTING_KEY, SecretMissing, Settings,
                           generated_secrets, secret_names)
from shared.db import make_engine
from shared.partners import DIRECTORY

PG = "postgresql+psycopg://lotse:pw@db.example.org:5432/lotse"


def settings(tmp_path, **env) -> Settings:
    return Settings.from_env("intake", {"LOTSE_DATA_DIR": str(tmp_path), **env})


def broker_settings(tmp_path, **env) -> Settings:
    """A distributed process's settings: every secret given, as production requires."""
    return settings(tmp_path, **generated_secrets(), **env)


def connect_args(url: str) -> dict:
    engine = make_engine(url)
    try:
        return engine.dialect.create_connect_args(engine.url)[1]
    finally:
        engine.dispose()


# --- AMQP ---------------------------------------------------------------------------------

def test_an_amqps_broker_is_verified_against_the_named_ca_with_a_client_certificate(tmp_path):
    s = broker_settings(tmp_path,
                        LOTSE_BROKER_URL="amqps://lotse:pw@rabbit.example.org:5671/",
                        LOTSE_BROKER_SSL_CA="/run/secrets/ca.pem",
                        LOTSE_BROKER_SSL_CERT="/run/secrets/client.pem",
                        LOTSE_BROKER_SSL_KEY="/run/secrets/client.key")
    conn = amqp_connection(s)
    assert conn.ssl == {"cert_reqs": ssl.CERT_REQUIRED, "server_hostname": "rabbit.example.org",
                        "ca_certs": "/run/secrets/ca.pem",
                        "certfile": "/run/secrets/client.pem",
                        "keyfile": "/run/secrets/client.key"}
    assert conn.transport_cls == "amqps" and conn.port == 5671


def test_amqps_without_a_ca_still_verifies_against_the_systems_cas(tmp_path):
    s = broker_settings(tmp_path, LOTSE_BROKER_URL="amqps://lotse:pw@rabbit.example.org/")
    assert amqp_connection(s).ssl == {"cert_reqs": ssl.CERT_REQUIRED,
                                      "server_hostname": "rabbit.example.org"}


def test_a_plain_broker_url_has_no_tls_and_certificates_without_amqps_are_refused(tmp_path):
    plain = broker_settings(tmp_path, LOTSE_BROKER_URL="amqp://g:g@h//")
    assert amqp_connection(plain).ssl is False
    with pytest.raises(ValueError, match="amqps://"):
        broker_settings(tmp_path, LOTSE_BROKER_URL="amqp://g:g@h//", LOTSE_BROKER_SSL_CA="/ca.pem")


def _certificate(name: str, issuer=None, issuer_key=None):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.subject if issuer else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=36500)))
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return cert, key


def _write(path, cert, key=None):
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
    return str(path)


@pytest.fixture
def tls_listener(tmp_path):
    """A TLS server for 'localhost' signed by its own CA: it records finished handshakes and
    then closes (no AMQP behind it; the handshake is what is under test)."""
    ca, ca_key = _certificate("Lotse test CA")
    server, server_key = _certificate("localhost", ca, ca_key)
    ca_file = _write(tmp_path / "ca.pem", ca)
    server_file = _write(tmp_path / "server.pem", server, server_key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server_file, str(tmp_path / "server.key"))
    listener = socket.create_server(("127.0.0.1", 0))
    handshakes: list[str] = []

    def serve():
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(sock, server_side=True):
                    handshakes.append("ok")
            except (ssl.SSLError, OSError):
                pass

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1], ca_file, handshakes
    listener.close()


def test_a_broker_certificate_from_an_unknown_ca_or_for_another_host_is_refused(
        tmp_path, tls_listener):
    port, ca_file, handshakes = tls_listener

    def connect(host: str, **env) -> Exception:
        s = broker_settings(tmp_path, LOTSE_BROKER_URL=f"amqps://g:g@{host}:{port}//", **env)
        with amqp_connection(s, heartbeat=0) as conn:
            with pytest.raises(OperationalError) as caught:  # never an AMQP broker behind it
                conn.ensure_connection(max_retries=1, interval_start=0)
        return caught.value

    assert "CERTIFICATE_VERIFY_FAILED" in str(connect("localhost"))  # the system's CAs only
    assert "CERTIFICATE_VERIFY_FAILED" in str(connect("127.0.0.1", LOTSE_BROKER_SSL_CA=ca_file))
    assert handshakes == []  # the certificate names localhost, not 127.0.0.1
    assert "CERTIFICATE_VERIFY_FAILED" not in str(connect("localhost",
                                                          LOTSE_BROKER_SSL_CA=ca_file))
    assert handshakes  # the handshake passed: trusted CA, matching host name


# --- PostgreSQL -----------------------------------------------------------------------------

def test_database_tls_settings_reach_the_drivers_connect_arguments(tmp_path):
    s = settings(tmp_path, LOTSE_DATABASE_URL=PG,
                 LOTSE_DATABASE_SSLROOTCERT="/run/secrets/pg-ca.pem",
                 LOTSE_DATABASE_SSLCERT="/run/secrets/pg-client.pem",
                 LOTSE_DATABASE_SSLKEY="/run/secrets/pg-client.key")
    args = connect_args(s.database_url)
    assert args["sslmode"] == "verify-full"  # a named CA is checked, host name included
    assert (args["sslrootcert"], args["sslcert"], args["sslkey"]) == (
        "/run/secrets/pg-ca.pem", "/run/secrets/pg-client.pem", "/run/secrets/pg-client.key")
    assert args["host"] == "db.example.org" and args["password"] == "pw"


def test_the_urls_own_ssl_parameters_win_and_every_postgres_url_gets_them(tmp_path):
    env = {"LOTSE_DATABASE_URL": PG + "?sslmode=require", "LOTSE_DATABASE_SSLMODE": "verify-ca",
           "LOTSE_DATABASE_SSLROOTCERT": "/ca.pem",
           "LOTSE_BUS_DATABASE_URL": "postgresql+psycopg://bus@db.example.org/bus",
           "LOTSE_REFERRAL_DATABASE_URL": "postgresql+psycopg://ref@db.example.org/ref"}
    s = settings(tmp_path, **env)
    assert connect_args(s.database_url)["sslmode"] == "require"
    assert connect_args(s.bus_url)["sslmode"] == "verify-ca"
    referral = s.for_service("referral", env)
    assert connect_args(referral.database_url)["sslrootcert"] == "/ca.pem"


def test_sqlite_and_plain_postgres_urls_stay_as_they_are(tmp_path):
    assert settings(tmp_path).database_url.startswith("sqlite:///")
    assert "ssl" not in settings(tmp_path, LOTSE_DATABASE_URL=PG).database_url


# --- secrets from the environment or secret files -------------------------------------------

def test_every_secret_can_come_from_a_secret_file(tmp_path):
    secrets = {"LOTSE_SECRET_KEY": "user-token-key", "LOTSE_SERVICE_SECRET": "service-key",
               **{name: f"{name.lower()}-value" for name in secret_names()[2:]},
               "LOTSE_BROKER_URL": "amqp://lotse:pw@rabbit//", "LOTSE_DATABASE_URL": PG,
               "LOTSE_BUS_DATABASE_URL": PG + "_bus",
               "LOTSE_REFERRAL_DATABASE_URL": PG + "_referral"}
    env = {}
    for name, value in secrets.items():
        (tmp_path / name).write_text(value + "\n")  # a trailing newline, as editors leave it
        env[f"{name}_FILE"] = str(tmp_path / name)
    s = settings(tmp_path / "data", **env)
    assert (s.secret_key, s.service_secret) == ("user-token-key", "service-key")
    assert s.partner_credentials["jobcenter"] == "lotse_partner_jobcenter_key-value"
    assert s.callback_secrets["welfare"] == ("lotse_partner_welfare_callback_secret-value",)
    assert (s.broker_url, s.database_url, s.bus_url) == (
        "amqp://lotse:pw@rabbit//", PG, PG + "_bus")
    assert s.for_service("referral", env).database_url == PG + "_referral"
    assert not (tmp_path / "data" / "secret_key").exists()  # nothing generated instead


def test_the_variable_itself_serves_as_well(tmp_path):
    s = settings(tmp_path, LOTSE_SECRET_KEY="k1", LOTSE_PARTNER_WELFARE_CALLBACK_SECRET="c1",
                 LOTSE_PARTNER_JOBCENTER_KEY="a1")
    assert (s.secret_key, s.callback_secrets["welfare"], s.partner_credentials["jobcenter"]) \
        == ("k1", ("c1",), "a1")


def test_partner_credentials_come_from_the_variable_or_its_file(tmp_path):
    welfare = DIRECTORY["welfare"]
    assert welfare.secret_env
    (tmp_path / "token").write_text("from-a-file\n")
    from_file = settings(tmp_path, **{f"{welfare.secret_env}_FILE": str(tmp_path / "token")})
    assert from_file.partner_credentials["welfare"] == "from-a-file"
    from_env = settings(tmp_path, **{welfare.secret_env: "from-the-env"})
    assert from_env.partner_credentials["welfare"] == "from-the-env"


# --- no usable default for a secret outside a demo --------------------------------------------

DISTRIBUTED = {"LOTSE_BROKER_URL": "amqp://lotse:pw@rabbit//", "LOTSE_DATABASE_URL": PG}


def test_a_distributed_process_refuses_to_start_without_any_one_secret_naming_it(tmp_path):
    given = generated_secrets()
    assert set(given) >= {"LOTSE_SECRET_KEY", "LOTSE_SERVICE_SECRET",
                          "LOTSE_PARTNER_WELFARE_TOKEN", "LOTSE_PARTNER_JOBCENTER_KEY",
                          "LOTSE_PARTNER_JOBCENTER_CALLBACK_SECRET"}
    for name in given:
        without = {k: v for k, v in given.items() if k != name}
        with pytest.raises(SecretMissing, match=f"{name} .*is not set"):
            # the reporting service's key: its processes only
            Settings.from_env("reporting" if name == REPORTING_KEY else "intake",
                              {"LOTSE_DATA_DIR": str(tmp_path), **DISTRIBUTED, **without})
    s = settings(tmp_path, **DISTRIBUTED, **given)
    assert s.partner_credentials["jobcenter"] == given["LOTSE_PARTNER_JOBCENTER_KEY"]
    assert list(tmp_path.iterdir()) == []  # nothing generated


def test_a_published_demo_value_is_refused_as_if_unset(tmp_path):
    assert "sandbox-key" in PUBLISHED_DEMO_SECRETS
    for name in ("LOTSE_SECRET_KEY", "LOTSE_PARTNER_JOBCENTER_KEY",
                 "LOTSE_PARTNER_WELFARE_CALLBACK_SECRET_PREVIOUS"):
        for value in PUBLISHED_DEMO_SECRETS:
            with pytest.raises(SecretMissing, match=f"{name} is a published demo value"):
                settings(tmp_path, **DISTRIBUTED, **{**generated_secrets(), name: value})
    for mode in ({"LOTSE_DEMO": "1", **DISTRIBUTED}, {}):  # a demo, or the embedded mode
        with pytest.raises(SecretMissing, match="LOTSE_SECRET_KEY is a published demo value"):
            settings(tmp_path, **mode, LOTSE_SECRET_KEY="demo-only-secret-key-change-me")


def test_demo_mode_and_embedded_mode_keep_generated_secrets_in_the_data_dir(tmp_path):
    demo = settings(tmp_path, **DISTRIBUTED, LOTSE_DEMO="1")
    embedded = settings(tmp_path)
    assert demo.partner_credentials == embedded.partner_credentials
    assert demo.callback_secrets == embedded.callback_secrets
    credentials = list(demo.partner_credentials.values())
    assert all(credentials) and len(set(credentials)) == len(credentials)  # each its own
    assert (tmp_path / "lotse_partner_jobcenter_key").read_text() == \
        demo.partner_credentials["jobcenter"]


def test_the_lotse_command_refuses_to_start_naming_the_missing_secret(tmp_path, monkeypatch):
    from services.cli import main

    monkeypatch.setenv("LOTSE_DATA_DIR", str(tmp_path))
    for name, value in {**DISTRIBUTED, **generated_secrets()}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LOTSE_SERVICE_SECRET")
    with pytest.raises(SystemExit, match="LOTSE_SERVICE_SECRET"):
        main(["migrate"])


# --- files at rest: the data dir and everything in it are the owner's only ------------------

def test_the_data_dir_its_secret_files_and_sqlite_files_are_private_from_the_start(
        tmp_path, permissive_umask):
    data = tmp_path / "var"
    s = settings(data)
    assert data.stat().st_mode & 0o777 == 0o700
    for name in ("secret_key", "service_secret", "lotse_partner_welfare_token"):
        assert (data / name).stat().st_mode & 0o777 == 0o600, name
    for url in (s.database_url, s.bus_url):
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x)")
            conn.exec_driver_sql("INSERT INTO t VALUES ('Zyxtrelda')")
        path = url.split("///", 1)[1]
        for file in (path, f"{path}-wal", f"{path}-shm"):
            assert os.stat(file).st_mode & 0o777 == 0o600, file
        engine.dispose()


def test_lotse_processes_create_every_file_for_the_owner_only(tmp_path, monkeypatch,
                                                               permissive_umask, capsys):
    from services.cli import main

    monkeypatch.setenv("LOTSE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("LOTSE_BROKER_URL", raising=False)
    main(["catalogue"])
    assert os.umask(0o022) == 0o077  # what any file the process creates later gets
