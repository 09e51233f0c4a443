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


def resource(*parts: str) -> Traversable:
    """A shipped file, e.g. resource("schemas", "jobcenter-handover-v1.schema.json")."""
    node = files(__name__)
    for part in parts:
        node = node.joinpath(part)
    return node


def read_text(source: Path | Traversable | str) -> str:
    """The text of a configured path (str or Path) or of a shipped resource."""
    return (Path(source) if isinstance(source, str) else source).read_text(encoding="utf-8")

