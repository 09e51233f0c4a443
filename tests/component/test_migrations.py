"""Migrations keep earlier data: intakes recorded before persons existed get their person."""
from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from services.intake import repository
from shared.db import make_engine, make_session_factory

ROOT = Path(__file__).resolve().parents[2]


def alembic(url: str, service: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "services" / service / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade_keeps_intakes(url: str) -> None:
    cfg = alembic(url, "intake")
    command.upgrade(cfg, "0001")
    engine = make_engine(url)
    now = datetime(2026, 3, 1, 9, 0)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO intakes (id, reference, given_name, family_name, birth_date, "
            "nationality, languages, residence_status, site, needs, consent_share, "
            "consent_method, consent_language, recorded_by, recorded_at) VALUES "
            "('11111111-1111-1111-1111-111111111111', 'LT-2026-AAAAAA', 'Olena', 'Kovalenko',"
            " :born, 'UA', '[\"uk\"]', 'TEMP_PROTECTION_24', 'infopoint', "
            "'[\"living_costs\"]', :yes, 'signed_form', 'uk', 'staff', :now)"),
            {"born": date(1987, 3, 14), "yes": True, "now": now})
    command.upgrade(cfg, "head")
    with make_session_factory(engine)() as s:
        record = repository.get_person(s, "11111111-1111-1111-1111-111111111111")
        consents = repository.consents_of(s, "11111111-1111-1111-1111-111111111111")
        intakes = repository.intakes_of(s, "11111111-1111-1111-1111-111111111111")
    assert record.person.family_name == "Kovalenko"
    assert [c.partner for _, c in consents] == [None]
    assert consents[0][1].given_at == now.replace(tzinfo=timezone.utc)
    assert [i.reference for i in intakes] == ["LT-2026-AAAAAA"]
    command.downgrade(cfg, "0001")  # and back: the downgrade works too
    engine.dispose()


def test_upgrading_sqlite_gives_earlier_intakes_a_person_and_a_consent(tmp_path):
    upgrade_keeps_intakes(f"sqlite:///{tmp_path / 'intake.db'}")


def test_every_service_s_tables_have_names_of_their_own():
    """Distributed, the services may share one database: a table name used twice would
    make the second service's migration fail ("relation already exists")."""
    import importlib

    names: dict[str, str] = {}
    for service in ("intake", "referral", "partner_adapter", "partner_sandbox", "ops",
                    "reporting"):
        metadata = importlib.import_module(f"services.{service}.tables").metadata
        for table in metadata.tables:
            assert table not in names, f"{table}: {names.get(table)} and {service}"
            names[table] = service


def test_upgrading_the_referral_service_keeps_only_the_consents_known_to_stand(tmp_path):
    url = f"sqlite:///{tmp_path / 'referral.db'}"
    cfg = alembic(url, "referral")
    command.upgrade(cfg, "0015")
    engine = make_engine(url)
    now = datetime(2026, 3, 1, 9, 0)
    insert = sa.text(
        "INSERT INTO referrals (id, intake_id, intake_reference, need, partner, service, "
        "routing_reason, status, reason, version, created_at, updated_at, person_id, "
        "consent_id, share) VALUES (:id, 'i', 'LT-2026-AAAAAA', 'living_costs', 'welfare', "
        "'mbe', 'r', :status, :reason, 1, :now, :now, 'p', :consent, :share)")
    share = '{"consents": [{"consent_id": "c-coarse", "partner": null}, ' \
            '{"consent_id": "c-welfare", "partner": "welfare"}]}'
    share_more = share.replace("]}", ', {"consent_id": "c-done", "partner": "jobcenter"}]}')
    with engine.begin() as conn:
        conn.execute(insert, dict(id="r1", status="requested", reason=None, now=now,
                                  consent="c-welfare", share=share))
        conn.execute(insert, dict(id="r2", status="cancelled", reason="consent_withdrawn",
                                  now=now, consent="c-coarse", share=share))
        # finished before its consent was withdrawn: that left no trace on the referral
        conn.execute(insert, dict(id="r3", status="completed", reason=None, now=now,
                                  consent="c-done", share=share_more))
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT consent_id, person_id, partner, withdrawn_at "
                                    "FROM referral_consents ORDER BY consent_id")).all()
    # only what an unfinished referral relies on is known to stand; the rest is not trusted
    assert [(r.consent_id, r.person_id, r.partner, r.withdrawn_at) for r in rows] == \
        [("c-welfare", "p", "welfare", None)]
    command.downgrade(cfg, "0015")
    engine.dispose()


def test_a_downgrade_refuses_to_drop_conditions_an_admin_rule_relies_on(tmp_path):
    """Dropping `purposes` would turn an admin's exclusion rule into one that routes
    everybody: the downgrade stops, naming the rule, until it is changed or deleted."""
    import pytest

    url = f"sqlite:///{tmp_path / 'referral.db'}"
    cfg = alembic(url, "referral")
    command.upgrade(cfg, "head")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO routing_rules (id, need, partner, service, priority, citation, "
            "purposes) VALUES ('admin-students', 'living_costs', 'welfare', 'mbe', 1, "
            "'§ 7 Abs. 1 Satz 2 Nr. 1 SGB II', '[\"study\"]')"))
    with pytest.raises(RuntimeError, match="admin-students"):
        command.downgrade(cfg, "0018")
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM routing_rules WHERE id = 'admin-students'"))
    command.downgrade(cfg, "0018")
    engine.dispose()
