"""Benchmark check: a typical scripted intake stays under its time budget (issue 3: < 90 s).

The browser test `test_a_returning_visitor_typed_in_cyrillic_gets_a_new_visit_on_the_same_record`
records keystrokes, clicks and seconds of a complete intake into bench/results/intake_timing.json
(timing is reported there, not asserted in a test). This script reads that report and fails
when the budget is exceeded:

    make test        # or: pytest tests/e2e/test_browser.py -k returning
    python bench/intake_timing.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

RESULT = Path(__file__).parent / "results" / "intake_timing.json"


def main() -> int:
    if not RESULT.exists():
        print(f"no measurement at {RESULT}: run the browser tests first", file=sys.stderr)
        return 2
    result = json.loads(RESULT.read_text(encoding="utf-8"))
    ok = result["seconds"] < result["target_seconds"]
    print(f"typical intake: {result['keystrokes']} keystrokes, {result.get('clicks', '?')} "
          f"clicks, {result['seconds']} s of scripted input; budget {result['target_seconds']} s:"
          f" {'ok' if ok else 'OVER BUDGET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
