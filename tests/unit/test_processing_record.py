"""The Art. 30 record is generated from the partner directory, the retention schedule and the
processing purposes, and the committed docs/record-of-processing.md is its current output."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.partners import load_directory
from shared.processing_record import (DEFAULT_FILE, STARTS, ProcessingConfigError,
                                      build_record, render_json, render_markdown)
from shared.retention import load_schedule

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def record():
    return build_record()


def test_every_partner_is_a_purpose_with_its_legal_basis_and_allowed_fields(record):
    purposes = {p["code"]: p for p in record["purposes"]}
    markdown = render_markdown(record)
    for partner in load_directory().values():
        purpose = purposes[f"referral_{partner.code}"]
        assert purpose["data_categories"] == list(partner.allow_list)
        assert (partner.name_en or partner.name) in purpose["recipients"][0]
        if partner.legal_basis:
            assert purpose["legal_basis"] == partner.legal_basis
        else:
            assert purpose["legal_basis"].startswith("Art. 6(1)(a) GDPR consent")
        assert f"`referral_{partner.code}`" in markdown
        assert purpose["legal_basis"] in markdown
        assert "; ".join(partner.allow_list) in markdown


def test_every_retention_category_appears_with_its_period(record):
    markdown = render_markdown(record)
    listed = {r["category"]: r for r in record["retention"]}
    for rule in load_schedule():
        entry = listed[f"{rule.service}/{rule.category}"]
        assert (entry["keep_for_days"], entry["action"]) == (rule.keep_for_days, rule.action)
        assert f"| `{rule.service}/{rule.category}` | {rule.said_in('en')[0]} |" in markdown


def test_the_purposes_of_the_issue_are_there(record):
    codes = {p["code"] for p in record["purposes"]}
    assert {"intake_consultation", "statistics", "operations_monitoring",
            "user_accounts"} <= codes


def test_the_data_protection_officer_comes_from_the_settings():
    assert build_record(dpo_contact="dpo@stadt.example")["data_protection_officer"] == \
        "dpo@stadt.example"
    assert "LOTSE_DPO_CONTACT" in build_record()["data_protection_officer"]


def test_a_purpose_naming_an_unknown_retention_category_is_refused(tmp_path):
    config = json.loads(DEFAULT_FILE.read_text())
    config["purposes"][0]["retention_categories"] = ["intake/forever"]
    path = tmp_path / "processing.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ProcessingConfigError,
                       match="intake_consultation: retention_categories: intake/forever"):
        build_record(path)


def test_the_json_form_is_the_same_record(record):
    assert json.loads(render_json(record)) == record


@pytest.mark.parametrize(("language", "doc"), [("en", "docs/record-of-processing.md"),
                                               ("de", "docs/record-of-processing.de.md")])
def test_the_committed_record_is_current(language, doc):
    committed = (REPO / doc).read_text()
    assert committed.strip() == render_markdown(build_record(language=language)).strip(), \
        "run `make definitions`"


def test_the_record_reads_in_german_to_the_last_period():
    german = build_record(language="de")
    markdown = render_markdown(german)
    assert markdown.startswith("# Verzeichnis von Verarbeitungstätigkeiten (Art. 30 Abs. 1 DSGVO)")
    purposes = {p["code"]: p for p in german["purposes"]}
    assert purposes["intake_consultation"]["name"] == "Erfassung einer Beratung (Erstberatung)"
    assert purposes["referral_registration"]["legal_basis"].startswith(
        "Art. 6 Abs. 1 lit. e DSGVO i. V. m. §§ 17, 23 BMG")
    assert purposes["referral_welfare"]["name"] == \
        "Weitervermittlung an Wohlfahrtsverbände (MBE/JMD)"
    assert "Einwilligung" in purposes["referral_welfare"]["legal_basis"]
    for rule in load_schedule():
        assert rule.measured_from in STARTS["de"], rule.category
        covers, reason = rule.said_in("de")
        assert (covers, reason) != rule.said_in("en"), rule.category
        assert f"| {covers} |" in markdown
    journal = next(r for r in german["retention"] if r["category"] == "ops/journal")
    assert (journal["then"], journal["kept"].endswith("Tage")) == ("löschen", True)
    english = render_markdown(build_record(language="en"))
    for word in ("GDPR", " the ", "Referral to", "through"):
        assert word not in markdown.replace("`", ""), word
        assert word in english


def test_a_record_in_another_language_is_refused():
    with pytest.raises(ValueError, match="language"):
        build_record(language="fr")


def test_every_shipped_text_of_the_purposes_is_in_german_and_english():
    def bare(value, key=""):
        if key in ("code", "retention_categories"):
            return []
        if isinstance(value, dict):
            if set(value) == {"de", "en"}:
                return []
            return [t for k, v in value.items() for t in bare(v, k)]
        if isinstance(value, list):
            return [t for v in value for t in bare(v, key)]
        return [value] if isinstance(value, str) else []

    assert bare(json.loads(DEFAULT_FILE.read_text())) == []
