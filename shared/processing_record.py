"""The record of processing activities (Art. 30(1) GDPR), generated from configuration.

Three files make it up, so it cannot drift from what Lotse does: the processing purposes
(`shared/defaults/processing.json` or the file `LOTSE_PROCESSING_FILE` names: controller,
purposes, data subjects, categories, measures), the partner directory
(`shared/defaults/partners.json`: one referral purpose per partner with its recipient, legal
basis and allow-listed fields) and the retention schedule (`shared/defaults/retention.json`:
the time limits). `lotse record-of-processing` prints it;
`docs/record-of-processing.md` is its committed Markdown form (a test keeps it current).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from shared.defaults import read_text, resource
from shared.partners import PartnerConfig, load_directory
from shared.retention import RetentionRule, load_schedule

DEFAULT_FILE = resource("processing.json")  # shipped in the package
TITLE = "Record of processing activities (Art. 30(1) GDPR)"


class ProcessingConfigError(ValueError):
    """The purposes file is broken or names a retention category that does not exist."""


def build_record(processing_path: Path | str | None = None,
                 partners_path: Path | str | None = None,
                 retention_path: Path | str | None = None,
                 dpo_contact: str | None = None) -> dict[str, Any]:
    """The whole record as plain data (the JSON form)."""
    source = processing_path or os.environ.get("LOTSE_PROCESSING_FILE") or DEFAULT_FILE
    try:
        config = json.loads(read_text(source))
    except (OSError, ValueError) as exc:
        raise ProcessingConfigError(f"processing purposes {source}: {exc}") from None
    partners = load_directory(partners_path)
    schedule = {f"{r.service}/{r.category}": r for r in load_schedule(retention_path)}
    try:
        purposes = [_purpose(p, schedule) for p in config["purposes"]]
        referral = config["referral_purpose"]
        purposes += [_referral_purpose(partner, referral, schedule)
                     for partner in partners.values()]
        return {
            "title": TITLE,
            "controller": config["controller"],
            "data_protection_officer": dpo_contact or config["dpo_placeholder"],
            "data_subjects": config["data_subjects"],
            "purposes": purposes,
            "retention": [_period(key, rule) for key, rule in schedule.items()],
            "third_country_transfers": config["third_country_transfers"],
            "technical_and_organisational_measures":
                config["technical_and_organisational_measures"],
        }
    except KeyError as exc:
        raise ProcessingConfigError(f"processing purposes {source}: missing {exc}") from None


def _periods(owner: str, keys: list[str],
             schedule: dict[str, RetentionRule]) -> list[dict[str, Any]]:
    unknown = [k for k in keys if k not in schedule]
    if unknown:
        raise ProcessingConfigError(f"purpose {owner}: retention_categories: {unknown[0]} is "
                                    "not in the retention schedule")
    return [_period(k, schedule[k]) for k in keys]


def _period(key: str, rule: RetentionRule) -> dict[str, Any]:
    return {"category": key, "covers": rule.covers, "keep_for_days": rule.keep_for_days,
            "measured_from": rule.measured_from, "action": rule.action,
            "legal_reason": rule.legal_reason}


def _purpose(p: dict[str, Any], schedule: dict[str, RetentionRule]) -> dict[str, Any]:
    return {"code": p["code"], "name": p["name"], "description": p["description"],
            "legal_basis": p["legal_basis"], "data_subjects": p["data_subjects"],
            "data_categories": p["data_categories"],
            "special_categories": p["special_categories"], "recipients": p["recipients"],
            "retention": _periods(p["code"], p["retention_categories"], schedule)}


def _referral_purpose(partner: PartnerConfig, referral: dict[str, Any],
                      schedule: dict[str, RetentionRule]) -> dict[str, Any]:
    channel = ("Lotse's partner portal" if not partner.has_system
               else f"the partner's system ({partner.kind}, {partner.channel}, {partner.format})")
    return {"code": f"referral_{partner.code}", "name": f"Referral to {partner.name}",
            "description": referral["description"],
            "legal_basis": partner.legal_basis or referral[
                "legal_basis_without_configured_basis"],
            "data_subjects": referral["data_subjects"],
            "data_categories": list(partner.allow_list), "special_categories": [],
            "recipients": [f"{partner.name} (`{partner.code}`) through {channel}"],
            "retention": _periods(f"referral_{partner.code}", referral["retention_categories"],
                                  schedule)}


def render_json(record: dict[str, Any]) -> str:
    return json.dumps(record, indent=2, ensure_ascii=False)


def _days(days: int) -> str:
    if days == 0:
        return "not kept (next daily run)"
    if days % 365 == 0:
        return f"{days // 365} year{'s' if days // 365 > 1 else ''} ({days} days)"
    return f"{days} days"


def _items(values: list[str]) -> str:
    return "; ".join(values) if values else "none"


def render_markdown(record: dict[str, Any]) -> str:
    c = record["controller"]
    out = [
        f"# {record['title']}", "",
        "Generated from `shared/defaults/processing.json`, `partners.json` and `retention.json` "
        "by `lotse record-of-processing`; do not edit by hand.", "",
        "## Controller", "",
        f"- Name: {c['name']}", f"- Address: {c['address']}",
        f"- Representative: {c['representative']}",
        f"- Data protection officer: {record['data_protection_officer']}", "",
        "## Data subjects", "", *[f"- {s}" for s in record["data_subjects"]], "",
        "## Purposes of processing", "",
        "| purpose | legal basis | recipients |", "|---|---|---|",
        *[f"| `{p['code']}`: {p['name']} | {p['legal_basis']} | {_items(p['recipients'])} |"
          for p in record["purposes"]], "",
    ]
    for p in record["purposes"]:
        out += [
            f"### `{p['code']}`: {p['name']}", "", p["description"], "",
            f"- Legal basis: {p['legal_basis']}",
            f"- Data subjects: {_items(p['data_subjects'])}",
            f"- Categories of personal data: {_items(p['data_categories'])}",
            f"- Special categories (Art. 9): {_items(p['special_categories'])}",
            f"- Recipients: {_items(p['recipients'])}",
            "- Time limits for erasure: " + _items(
                [f"`{r['category']}` {_days(r['keep_for_days'])} after {r['measured_from']}, "
                 f"then {r['action']}" for r in p["retention"]]), "",
        ]
    out += [
        "## Time limits for erasure (retention schedule)", "",
        "| category | covers | kept | from | then | reason |", "|---|---|---|---|---|---|",
        *[f"| `{r['category']}` | {r['covers']} | {_days(r['keep_for_days'])} | "
          f"{r['measured_from']} | {r['action']} | {r['legal_reason']} |"
          for r in record["retention"]], "",
        "## Transfers to third countries", "", record["third_country_transfers"], "",
        "## Technical and organisational measures (Art. 32)", "",
        *[f"- {m}" for m in record["technical_and_organisational_measures"]], "",
    ]
    return "\n".join(out)
