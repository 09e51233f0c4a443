"""The data files Lotse ships with, inside the package so an installed Lotse finds them.

`partners.json` (the partner directory; `LOTSE_PARTNERS_FILE` names another), `retention.json`
(the retention schedule; `LOTSE_RETENTION_FILE`), `processing.json` (the record of processing's
purposes; `LOTSE_PROCESSING_FILE`) and `schemas/` (the JSON schemas Lotse publishes, such as the
Jobcenter handover). Read them through `resource()`, never by a path relative to the checkout.
"""
from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

# The languages of the shipped texts; a text in the record of processing or the retention
# schedule is a string (the same in each) or {"de": ..., "en": ...}.
TEXT_LANGUAGES = ("de", "en")


def resource(*parts: str) -> Traversable:
    """A shipped file, e.g. resource("schemas", "jobcenter-handover-v1.schema.json")."""
    node = files(__name__)
    for part in parts:
        node = node.joinpath(part)
    return node


def read_text(source: Path | Traversable | str) -> str:
    """The text of a configured path (str or Path) or of a shipped resource."""
    return (Path(source) if isinstance(source, str) else source).read_text(encoding="utf-8")



def is_text_in_languages(value: object) -> bool:
    return (isinstance(value, dict) and bool(value) and set(value) <= set(TEXT_LANGUAGES)
            and all(isinstance(v, str) for v in value.values()))


def in_language(value: Any, lang: str) -> Any:
    """`value` with every {"de": ..., "en": ...} text in it said in `lang` (or, missing
    that, in the other language)."""
    if is_text_in_languages(value):
        return value.get(lang) or next((v for v in value.values() if v), "")
    if isinstance(value, dict):
        return {k: in_language(v, lang) for k, v in value.items()}
    if isinstance(value, list):
        return [in_language(v, lang) for v in value]
    return value
