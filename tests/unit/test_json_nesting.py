"""The nesting check every service runs before parsing a body (shared/web.py)."""
from __future__ import annotations

import json

import pytest

from shared.web import MAX_JSON_DEPTH, json_too_deep


def nested(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


def test_bodies_up_to_the_limit_pass_and_deeper_ones_do_not():
    assert not json_too_deep(nested(MAX_JSON_DEPTH))
    assert json_too_deep(nested(MAX_JSON_DEPTH + 1))
    assert json_too_deep(b"[" * (MAX_JSON_DEPTH + 1))  # never closed


def test_brackets_inside_strings_do_not_count():
    body = json.dumps({"note": "[" * 500 + "{" * 500, "list": [[1], {"a": "]]]"}]}).encode()
    assert not json_too_deep(body)


@pytest.mark.timeout(60)  # scanning on from each unclosed quote took over an hour for 1 MiB
def test_a_body_of_unclosed_strings_is_judged_in_one_pass():
    body = b"[" * (MAX_JSON_DEPTH + 1) + b'"' + b'\\"' * (512 * 1024)
    assert json_too_deep(body)
    assert json_too_deep(b'[' * 40 + b'"x' * (256 * 1024))
