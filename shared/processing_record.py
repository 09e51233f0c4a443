"""The record of processing activities (Art. 30(1) GDPR), generated from configuration.

Three files make it up, so it cannot drift from what Lotse does: the processing purposes
(`shared/defaults/processing.json` or the file `LOTSE_PROCESSING_FILE` names: controller,
purposes, data subjects, categories, measures), the partner directory
(`shared/defaults/partners.json`: one referral purpose per partner with its recipient, legal
basis and allow-listed fields) and the retention schedule (`shared/defaults/retention.json`:
the time limits). Each text there is said in German and English (a plain string is the same
in both), so the record reads in the city's legal language and in English.
`lotse record-of-processing [--language de]` prints it; `docs/record-of-processing.md` and
`docs/record-of-processing.de.md` are its committed Markdown forms (a test keeps them current).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from shared.defaults import TEXT_LANGUAGES, in_language, read_text, resource
from shared.partners import PartnerConfig, load_directory
from shared.retention import RetentionRule, load_schedule

DEFAULT_FILE = resource("processing.json")  # shipped in the package
LANGUAGES = TEXT_LANGUAGES
# The record's own words (its texts come from the configuration files)
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Record of processing activities (Art. 30(1) GDPR)",
        "referral_to": "Referral to {name}", "portal": "Lotse's partner portal",
        "system": "the partner's system ({kind}, {channel}, {format})",
        "through": "{name} (`{code}`) through {channel}",
        "generated": "Generated from `shared/defaults/processing.json`, `partners.json` and "
                     "`retention.json` by `lotse record-of-processing{option}`; do not edit "
                     "by hand.",
        "controller": "Controller", "name": "Name", "address": "Address",
        "representative": "Representative", "dpo": "Data protection officer",
        "subjects": "Data subjects", "purposes": "Purposes of processing",
        "purpose_head": "| purpose | legal basis | recipients |",
        "legal_basis": "Legal basis", "categories": "Categories of personal data",
        "special": "Special categories (Art. 9)", "recipients": "Recipients",
        "limits": "Time limits for erasure",
        "schedule": "Time limits for erasure (retention schedule)",
        "schedule_head": "| category | covers | kept | from | then | reason |",
        "period": "{days} after {start}, then {action}",
        "transfers": "Transfers to third countries",
        "measures": "Technical and organisational measures (Art. 32)", "none": "none",
        "not_kept": "not kept (next daily run)", "year": "year", "years": "years",
        "days": "days",
    },
    "de": {
        "title": "Verzeichnis von Verarbeitungstätigkeiten (Art. 30 Abs. 1 DSGVO)",
        "referral_to": "Weitervermittlung an {name}", "portal": "das Partnerportal von Lotse",
        "system": "das System des Partners ({kind}, {channel}, {format})",
        "through": "{name} (`{code}`) über {channel}",
        "generated": "Erzeugt aus `shared/defaults/processing.json`, `partners.json` und "
                     "`retention.json` mit `lotse record-of-processing{option}`; nicht von "
                     "Hand bearbeiten.",
        "controller": "Verantwortlicher", "name": "Name", "address": "Anschrift",
        "representative": "Vertretung", "dpo": "Datenschutzbeauftragte(r)",
        "subjects": "Betroffene Personen", "purposes": "Zwecke der Verarbeitung",
        "purpose_head": "| Zweck | Rechtsgrundlage | Empfänger |",
        "legal_basis": "Rechtsgrundlage", "categories": "Kategorien personenbezogener Daten",
        "special": "Besondere Kategorien (Art. 9 DSGVO)", "recipients": "Empfänger",
        "limits": "Löschfristen", "schedule": "Löschfristen (Aufbewahrungsplan)",
        "schedule_head": "| Kategorie | umfasst | aufbewahrt | ab | dann | Grund |",
        "period": "{days} nach {start}, dann {action}",
        "transfers": "Übermittlungen an Drittländer",
        "measures": "Technische und organisatorische Maßnahmen (Art. 32 DSGVO)",
        "none": "keine", "not_kept": "nicht aufbewahrt (nächster täglicher Lauf)",
        "year": "Jahr", "years": "Jahre", "days": "Tage",
    },
}
TITLE = WORDS["en"]["title"]
# Where a retention period starts and what happens then (the schedule's codes)
STARTS: dict[str, dict[str, str]] = {
    "en": {"created_at": "creation", "last_event": "the last event", "recorded_at": "recording",
           "delivered_at": "delivery", "settled_at": "settlement",
           "processed_at": "processing", "sent_at": "sending",
           "last_change_after_end": "the last change after the end", "at": "the entry",
           "last_contact": "the last contact", "withdrawn_at": "the withdrawal",
           "occurred_at": "the event", "drawn_at": "drawing the ticket",
           "updated_at": "the last change"},
    "de": {"created_at": "der Anlage", "last_event": "dem letzten Ereignis",
           "recorded_at": "der Erfassung", "delivered_at": "der Zustellung",
           "settled_at": "der Erledigung", "processed_at": "der Verarbeitung",
           "sent_at": "dem Versand", "last_change_after_end": "der letzten Änderung nach dem "
           "Abschluss", "at": "dem Eintrag", "last_contact": "dem letzten Kontakt",
           "withdrawn_at": "dem Widerruf", "occurred_at": "dem Ereignis",
           "drawn_at": "dem Ziehen der Wartenummer", "updated_at": "der letzten Änderung"},
}
THEN = {"en": {"delete": "delete", "anonymise": "anonymise"},
        "de": {"delete": "löschen", "anonymise": "anonymisieren"}}


class ProcessingConfigError(ValueError):
    """The purposes file is broken or names a retention category that does not exist."""


def build_record(processing_path: Path | str | None = None,
                 partners_path: Path | str | None = None,
                 retention_path: Path | str | None = None,
                 dpo_contact: str | None = None, language: str = "en") -> dict[str, Any]:
    """The whole record as plain data (the JSON form), its texts in `language`."""
    if language not in LANGUAGES:
        raise ValueError(f"language: one of {', '.join(LANGUAGES)}")
    source = processing_path or os.environ.get("LOTSE_PROCESSING_FILE") or DEFAULT_FILE
    try:
        config = in_language(json.loads(read_text(source)), language)
    except (OSError, ValueError) as exc:
        raise ProcessingConfigError(f"processing purposes {source}: {exc}") from None
    partners = load_directory(partners_path)
    schedule = {f"{r.service}/{r.category}": r for r in load_schedule(retention_path)}
    try:
        purposes = [_purpose(p, schedule, language) for p in config["purposes"]]
        referral = config["referral_purpose"]
        purposes += [_referral_purpose(partner, referral, schedule, language)
                     for partner in partners.values()]
        return {
            "title": WORDS[language]["title"], "language": language,
            "controller": config["controller"],
            "data_protection_officer": dpo_contact or config["dpo_placeholder"],
            "data_subjects": config["data_subjects"],
            "purposes": purposes,
            "retention": [_period(key, rule, language) for key, rule in schedule.items()],
            "third_country_transfers": config["third_country_transfers"],
            "technical_and_organisational_measures":
                config["technical_and_organisational_measures"],
        }
    except KeyError as exc:
        raise ProcessingConfigError(f"processing purposes {source}: missing {exc}") from None


def _periods(owner: str, keys: list[str], schedule: dict[str, RetentionRule],
             language: str) -> list[dict[str, Any]]:
    unknown = [k for k in keys if k not in schedule]
    if unknown:
        raise ProcessingConfigError(f"purpose {owner}: retention_categories: {unknown[0]} is "
                                    "not in the retention schedule")
    return [_period(k, schedule[k], language) for k in keys]


def _period(key: str, rule: RetentionRule, language: str) -> dict[str, Any]:
    covers, legal_reason = rule.said_in(language)
    return {"category": key, "covers": covers, "keep_for_days": rule.keep_for_days,
            "kept": _days(rule.keep_for_days, language), "measured_from": rule.measured_from,
            "from": STARTS[language].get(rule.measured_from, rule.measured_from),
            "action": rule.action, "then": THEN[language].get(rule.action, rule.action),
            "legal_reason": legal_reason}


def _purpose(p: dict[str, Any], schedule: dict[str, RetentionRule],
             language: str) -> dict[str, Any]:
    return {"code": p["code"], "name": p["name"], "description": p["description"],
            "legal_basis": p["legal_basis"], "data_subjects": p["data_subjects"],
            "data_categories": p["data_categories"],
            "special_categories": p["special_categories"], "recipients": p["recipients"],
            "retention": _periods(p["code"], p["retention_categories"], schedule, language)}


def _referral_purpose(partner: PartnerConfig, referral: dict[str, Any],
                      schedule: dict[str, RetentionRule], language: str) -> dict[str, Any]:
    words = WORDS[language]
    name = (partner.name_en or partner.name) if language == "en" else partner.name
    basis = (partner.legal_basis_de or partner.legal_basis) if language == "de" \
        else partner.legal_basis
    channel = (words["portal"] if not partner.has_system else words["system"].format(
        kind=partner.kind, channel=partner.channel, format=partner.format))
    return {"code": f"referral_{partner.code}", "name": words["referral_to"].format(name=name),
            "description": referral["description"],
            "legal_basis": basis or referral["legal_basis_without_configured_basis"],
            "data_subjects": referral["data_subjects"],
            "data_categories": list(partner.allow_list), "special_categories": [],
            "recipients": [words["through"].format(name=name, code=partner.code,
                                                   channel=channel)],
            "retention": _periods(f"referral_{partner.code}", referral["retention_categories"],
                                  schedule, language)}


def render_json(record: dict[str, Any]) -> str:
    return json.dumps(record, indent=2, ensure_ascii=False)


def _days(days: int, language: str) -> str:
    words = WORDS[language]
    if days == 0:
        return words["not_kept"]
    if days % 365 == 0:
        years = days // 365
        return f"{years} {words['years' if years > 1 else 'year']} ({days} {words['days']})"
    return f"{days} {words['days']}"


def _items(values: list[str], language: str) -> str:
    return "; ".join(values) if values else WORDS[language]["none"]


def render_markdown(record: dict[str, Any]) -> str:
    language = record.get("language", "en")
    w = WORDS[language]
    c = record["controller"]

    def items(values: list[str]) -> str:
        return _items(values, language)

    out = [
        f"# {record['title']}", "",
        w["generated"].format(option="" if language == "en" else f" --language {language}"),
        "", f"## {w['controller']}", "",
        f"- {w['name']}: {c['name']}", f"- {w['address']}: {c['address']}",
        f"- {w['representative']}: {c['representative']}",
        f"- {w['dpo']}: {record['data_protection_officer']}", "",
        f"## {w['subjects']}", "", *[f"- {s}" for s in record["data_subjects"]], "",
        f"## {w['purposes']}", "",
        w["purpose_head"], "|---|---|---|",
        *[f"| `{p['code']}`: {p['name']} | {p['legal_basis']} | {items(p['recipients'])} |"
          for p in record["purposes"]], "",
    ]
    for p in record["purposes"]:
        out += [
            f"### `{p['code']}`: {p['name']}", "", p["description"], "",
            f"- {w['legal_basis']}: {p['legal_basis']}",
            f"- {w['subjects']}: {items(p['data_subjects'])}",
            f"- {w['categories']}: {items(p['data_categories'])}",
            f"- {w['special']}: {items(p['special_categories'])}",
            f"- {w['recipients']}: {items(p['recipients'])}",
            f"- {w['limits']}: " + items(
                [f"`{r['category']}` " + w["period"].format(days=r["kept"], start=r["from"],
                                                            action=r["then"])
                 for r in p["retention"]]), "",
        ]
    out += [
        f"## {w['schedule']}", "",
        w["schedule_head"], "|---|---|---|---|---|---|",
        *[f"| `{r['category']}` | {r['covers']} | {r['kept']} | "
          f"{r['from']} | {r['then']} | {r['legal_reason']} |"
          for r in record["retention"]], "",
        f"## {w['transfers']}", "", record["third_country_transfers"], "",
        f"## {w['measures']}", "",
        *[f"- {m}" for m in record["technical_and_organisational_measures"]], "",
    ]
    return "\n".join(out)
