"""Which passwords an account may have: long enough, and neither common nor from a breach.

Common and breached passwords come from zxcvbn's ranked lists, shipped with that package
(30,000 passwords of leaked password sets, and frequent words and names); its estimate also
catches their variants (l33t, appended years, keyboard walks, the user's own name)."""
from __future__ import annotations

import threading
from typing import Iterable

MIN_LENGTH = 12
MAX_LENGTH = 128  # zxcvbn's matching grows with the square of the length
# zxcvbn score 3: more than 10^8 guesses, "safely unguessable" against online attacks and
# moderately against a stolen slow hash (Argon2id here)
MIN_SCORE = 3

_estimating = threading.Lock()  # zxcvbn keeps the user inputs in a module-level dictionary


def password_problem(password: str, user_inputs: Iterable[str] = ()) -> str | None:
    """Why `password` is refused, or None; `user_inputs` (user name, role ...) count as
    known words."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters long"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters long"
    from zxcvbn import zxcvbn  # builds its dictionaries on first import

    with _estimating:
        estimate = zxcvbn(password, user_inputs=[u for u in user_inputs if u],
                          max_length=MAX_LENGTH)
    if estimate["score"] >= MIN_SCORE:
        return None
    warning = estimate["feedback"]["warning"] or "it is too easy to guess"
    return f"is too common or too easy to guess ({warning.rstrip('.')})"
