"""What Lotse reads at run time lies inside its packages, so an installed Lotse finds it: the
partner directory, the retention schedule, the processing record and the published schemas
(shared/defaults), each still replaceable by its setting."""
from __future__ import annotations

import json
from pathlib import Path

import services
import shared
from services.partner_adapter.partners import jobcenter
from services.partner_sandbox import app as sandbox_app
from services.partner_sandbox.systems import SYSTEMS
from shared import partners, processing_record, retention

PACKAGES = (Path(shared.__file__).parent, Path(services.__file__).parent)


def inside_a_package(resource) -> bool:
    path = Path(str(resource)).resolve()
    return path.is_file() and any(path.is_relative_to(root) for root in PACKAGES)


def test_the_default_files_ship_inside_the_package():
    for resource in (partners.DEFAULT_FILE, retention.DEFAULT_FILE,
                     processing_record.DEFAULT_FILE, jobcenter.SCHEMA_FILE):
        assert inside_a_package(resource), f"{resource} is outside services/ and shared/"


def test_every_schema_a_stand_in_system_checks_against_ships_inside_the_package():
    schemas = {s.schema for s in SYSTEMS.values() if s.schema}
    assert schemas
    for name in schemas:
        assert inside_a_package(sandbox_app.SCHEMAS / name), name
        assert sandbox_app._validator(name) is not None


def test_the_processing_record_reads_the_file_its_setting_names(tmp_path, monkeypatch):
    config = json.loads(processing_record.DEFAULT_FILE.read_text(encoding="utf-8"))
    config["controller"]["name"] = "Stadt Beispielstadt"
    own = tmp_path / "processing.json"
    own.write_text(json.dumps(config))
    monkeypatch.setenv("LOTSE_PROCESSING_FILE", str(own))
    assert processing_record.build_record()["controller"]["name"] == "Stadt Beispielstadt"
    monkeypatch.delenv("LOTSE_PROCESSING_FILE")
    assert processing_record.build_record()["controller"]["name"] != "Stadt Beispielstadt"
