"""Staff, partner, operator and admin accounts (the intake service is Lotse's front door)."""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from services.intake.login_throttle import (DEFAULT_POLICY, PairHistory, ThrottlePolicy,
                                            client_key, plausible_name, verdict)
from services.intake.password_policy import password_problem
from services.intake.walk_in import QueueError, parse_languages
from services.intake.tables import accounts, login_attempts
from shared.auth import ROLES, Principal, hash_password, needs_rehash, password_matches
from shared.clock import utcnow
from shared.config import PARTNERS

class AccountError(ValueError):
    """A refused account; `field` names the input at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(f"{field}: {message}" if field else message)
        self.field, self.message = field, message


class LoginThrottled(Exception):
    """Too many failed logins (of this name from this address, or of all accounts together):
    no password is checked until `until`."""

    def __init__(self, until: datetime, scope: str):
        super().__init__(f"throttled ({scope}) until {until.isoformat()}")
        self.until, self.scope = until, scope


def save_account(session: Session, username: str, password: str, role: str,
                 partner: str | None = None, languages: Sequence[str] | None = None) -> None:
    """Create or reset an account; partner users belong to exactly one partner. No password
    policy: for the seeded demo accounts (and tests); people's passwords go through
    save_checked_account. `languages`: those the person consults in besides German (the
    walk-in queue calls them tickets in these); None keeps an account's languages."""
    _check_role(role, partner)
    if len(password) < 4:
        raise AccountError("password is too short")
    values = dict(password_hash=hash_password(password), role=role, partner=partner, active=True)
    if languages is not None:
        values["languages"] = list(_checked_languages(languages))
    exists = session.execute(select(accounts.c.username)
                             .where(accounts.c.username == username)).first()
    if exists:
        session.execute(accounts.update().where(accounts.c.username == username).values(**values))
    else:
        session.execute(accounts.insert().values(username=username, created_at=utcnow(),
                                                 **values))


def _checked_languages(languages: Sequence[str]) -> tuple[str, ...]:
    try:
        return parse_languages(" ".join(languages))
    except QueueError as exc:
        raise AccountError(exc.message, "languages") from None


def _check_role(role: str, partner: str | None) -> None:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if (role == "partner") != (partner is not None):
        raise AccountError("partner users need a partner, other roles must not have one")
    if partner is not None and partner not in PARTNERS:
        raise AccountError(f"partner must be one of {', '.join(PARTNERS)}")


def save_checked_account(session: Session, username: str, password: str, role: str,
                         partner: str | None = None,
                         languages: Sequence[str] | None = None) -> None:
    """Create or reset an account with a password people chose (`lotse user`, any password
    change): the password policy applies. Only the seeded demo accounts bypass it."""
    _check_role(role, partner)
    problem = password_problem(password, (username, role, partner or "", "lotse"))
    if problem:
        raise AccountError(problem, "password")
    save_account(session, username, password, role, partner, languages)


def authenticate(session: Session, username: str, password: str, client: str,
                 now: datetime | None = None,
                 policy: ThrottlePolicy = DEFAULT_POLICY) -> Principal | None:
    """The account's principal, or None for a wrong user or password. Raises LoginThrottled
    (before any password check) while this name from this client address, or every login,
    must wait (login_throttle.py); unknown names alike. The caller commits: the attempt is
    recorded."""
    now = now or utcnow()
    if not plausible_name(username):
        password_matches(None, password)  # the same work as any unknown name
        return None
    name = username[:60]  # longer names are no account's (accounts.username is 60)
    client = client_key(client)
    _one_attempt_at_a_time(session, name, client)
    throttled = verdict(policy, _pair_history(session, name, client, policy, now),
                        _recent_failures(session, policy, now), now)
    if throttled is not None:
        raise LoginThrottled(throttled.until, throttled.scope)
    row = session.execute(select(accounts).where(accounts.c.username == username,
                                                 accounts.c.active.is_(True))).first()
    # an unknown user costs the same work as a real account
    good = password_matches(row.password_hash if row else None, password) and row is not None
    _record_attempt(session, name, client, now, good)
    if not good:
        return None
    if needs_rehash(row.password_hash):
        session.execute(accounts.update().where(accounts.c.username == username)
                        .values(password_hash=hash_password(password)))
    return Principal(row.username, row.role, row.partner)


def _one_attempt_at_a_time(session: Session, name: str, client: str) -> None:
    """Attempts of one name from one client wait for each other until the first committed
    (PostgreSQL: a transaction-scoped advisory lock), so parallel requests cannot all pass
    the check before any is recorded. SQLite takes its write lock at BEGIN already."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:pair, 0))"),
                        {"pair": f"login|{name}|{client}"})


def _pair_history(session: Session, name: str, client: str, policy: ThrottlePolicy,
                  now: datetime) -> PairHistory:
    pair = (login_attempts.c.username == name) & (login_attempts.c.client == client)
    last_success = session.execute(
        select(func.max(login_attempts.c.at)).where(
            pair, login_attempts.c.succeeded.is_(True),
            login_attempts.c.at >= now - policy.known_address_for)).scalar()
    since = max(filter(None, (last_success, now - policy.counted_for)))
    failures, last_failure = session.execute(
        select(func.count(), func.max(login_attempts.c.at)).where(
            pair, login_attempts.c.succeeded.is_(False), login_attempts.c.at > since)).one()
    return PairHistory(failures, last_failure, last_success is not None)


def _recent_failures(session: Session, policy: ThrottlePolicy, now: datetime) -> int:
    return session.execute(select(func.count()).where(
        login_attempts.c.succeeded.is_(False),
        login_attempts.c.at > now - policy.global_window)).scalar_one()


def _record_attempt(session: Session, name: str, client: str, now: datetime,
                    succeeded: bool) -> None:
    session.execute(login_attempts.insert().values(username=name, client=client, at=now,
                                                   succeeded=succeeded))


def throttling_record(session: Session, now: datetime, policy: ThrottlePolicy,
                      recent: int = 50) -> dict:
    """For admins: the limits, the global count, who waits until when, the latest failures."""
    window = login_attempts.c.at > now - policy.counted_for
    pairs = session.execute(
        select(login_attempts.c.username, login_attempts.c.client)
        .where(window, login_attempts.c.succeeded.is_(False))
        .group_by(login_attempts.c.username, login_attempts.c.client)
        .order_by(func.max(login_attempts.c.at).desc()).limit(200)).all()
    throttles = []
    for name, client in pairs:
        history = _pair_history(session, name, client, policy, now)
        throttled = verdict(policy, history, 0, now)
        if history.failures:
            throttles.append({"username": name, "client": client, "failures": history.failures,
                              "last_failure_at": history.last_failure_at,
                              "until": throttled.until if throttled else None})
    failures = session.execute(
        select(login_attempts.c.at, login_attempts.c.username, login_attempts.c.client)
        .where(login_attempts.c.succeeded.is_(False))
        .order_by(login_attempts.c.at.desc(), login_attempts.c.id.desc()).limit(recent)).all()
    recent_failures = _recent_failures(session, policy, now)
    return {
        "limits": {"free_failures": policy.free_failures,
                   "first_delay_seconds": policy.first_delay.total_seconds(),
                   "max_delay_seconds": policy.max_delay.total_seconds(),
                   "global_failures": policy.global_failures,
                   "global_window_seconds": policy.global_window.total_seconds()},
        "global": {"failures_in_window": recent_failures,
                   "limited": recent_failures >= policy.global_failures},
        "throttles": throttles,
        "recent_failures": [dict(r._mapping) for r in failures],
    }


DEMO_ACCOUNTS = (
    ("staff", "staff", None), ("operator", "operator", None),
    ("management", "management", None), ("admin", "admin", None),
    *((partner, "partner", partner) for partner in PARTNERS),  # one user per partner
)
DEMO_PASSWORD = "demo"
# what the demo's staff consult in besides German: the centre's frequent languages
DEMO_LANGUAGES = {"staff": ("en", "uk", "ru"), "admin": ("en", "ar", "fa")}


def seed_demo_accounts(session: Session) -> list[tuple[str, str, str | None]]:
    for username, role, partner in DEMO_ACCOUNTS:
        save_account(session, username, DEMO_PASSWORD, role, partner,
                     DEMO_LANGUAGES.get(username, ()))
    return list(DEMO_ACCOUNTS)
