"""Signed partner callbacks: HMAC-SHA512 over "<timestamp>.<body>", as FIT-Connect does.

The receiver rejects timestamps older than five minutes (replay protection) and compares in
constant time.
"""
from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "Callback-Timestamp"
SIGNATURE_HEADER = "Callback-Authentication"
MAX_AGE_SECONDS = 300


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha512).hexdigest()
    return {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: digest}


def verify(secret: str, body: bytes, timestamp: str | None, signature: str | None,
           now: float | None = None) -> bool:
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > MAX_AGE_SECONDS:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body,
                        hashlib.sha512).hexdigest()
    return hmac.compare_digest(expected, signature)
