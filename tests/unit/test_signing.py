"""Signed partner callbacks (HMAC-SHA512 over timestamp.body, five-minute window)."""
from __future__ import annotations

from shared.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify


def test_a_signed_body_verifies():
    headers = sign("secret", b'{"a":1}', timestamp=1_000_000)
    assert verify("secret", b'{"a":1}', headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER],
                  now=1_000_010)


def test_a_changed_body_a_wrong_secret_or_an_old_timestamp_fail():
    h = sign("secret", b"body", timestamp=1_000_000)
    ts, sig = h[TIMESTAMP_HEADER], h[SIGNATURE_HEADER]
    assert not verify("secret", b"bodY", ts, sig, now=1_000_000)
    assert not verify("other", b"body", ts, sig, now=1_000_000)
    assert not verify("secret", b"body", ts, sig, now=1_000_000 + 301)
    assert not verify("secret", b"body", None, sig, now=1_000_000)
