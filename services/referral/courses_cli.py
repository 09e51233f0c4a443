"""`lotse courses`: the course directory from the command line.

    lotse courses import FILE       import courses (JSON, or CSV with a .csv name); all or none
    lotse courses export-hsds       print the directory as Open Referral HSDS 3.0 JSON

The JSON file is {"courses": [...]} (or the list alone); each entry has the fields of the
API's course (CourseImportSchema): provider (a course provider's partner code), kind,
title, level, schedule, district, childcare, funding, starts_on (YYYY-MM-DD), places,
free_places, optionally address and id (a UUID: importing the file again updates those
courses instead of adding them twice). A CSV file has one course per row with these
columns; childcare is yes/no (or true/false). Every entry is checked before anything is
stored; one bad entry and nothing is imported, the problems listed by entry number (from 0).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

from shared.config import Settings

_TRUE = {"yes", "ja", "true", "1"}
_FALSE = {"no", "nein", "false", "0", ""}


def add_parser(sub) -> None:
    courses = sub.add_parser("courses", help="the course directory: import, HSDS export",
                             description=__doc__,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = courses.add_subparsers(dest="action", required=True)
    p = actions.add_parser("import", help="import courses from a JSON or CSV file (all or "
                                          "none)", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", type=Path)
    p.set_defaults(func=run_import)
    p = actions.add_parser("export-hsds", help="print the directory as HSDS 3.0 JSON")
    p.set_defaults(func=run_export)


def read_entries(path: Path) -> list[Any]:
    """The file's course entries as the API's schema takes them (ValueError: unreadable)."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        rows = []
        for row in csv.DictReader(text.splitlines()):
            entry: dict[str, Any] = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            care = str(entry.get("childcare", "")).lower()
            entry["childcare"] = True if care in _TRUE else False if care in _FALSE else care
            for key in ("address", "id"):
                if not entry.get(key):
                    entry.pop(key, None)
            rows.append(entry)
        return rows
    data = json.loads(text)
    if isinstance(data, dict):
        data = data.get("courses")
    if not isinstance(data, list):
        raise ValueError('the file holds no list of courses ({"courses": [...]})')
    return data


def import_file(deps, path: Path, by: str = "import") -> int:
    from services.referral import courses_store as store
    from services.referral.courses_api import CourseImportSchema

    entries = read_entries(path)
    schema = CourseImportSchema()
    return len(store.import_courses(deps.uow(), entries, by, deps.clock(), schema.load))


def run_import(args) -> None:
    from services.referral import courses_store as store
    from services.referral.bootstrap import bootstrap

    deps = bootstrap(Settings.from_env("referral"))
    try:
        count = import_file(deps, args.file)
    except (OSError, ValueError) as exc:
        if isinstance(exc, store.ImportRefused):
            sys.exit("lotse courses import: nothing imported; problems by entry:\n"
                     + json.dumps(exc.errors, ensure_ascii=False, indent=2))
        sys.exit(f"lotse courses import: nothing imported: {exc}")
    finally:
        deps.engine.dispose()
    print(f"imported {count} courses")


def run_export(_args) -> None:
    from services.referral import courses_store as store
    from services.referral import hsds
    from services.referral.app import create_app

    app = create_app(Settings.from_env("referral"))
    deps = app.extensions["lotse"]
    with app.app_context(), deps.session_factory() as s:
        print(json.dumps(hsds.export(store.all_courses(s)), ensure_ascii=False, indent=2))
