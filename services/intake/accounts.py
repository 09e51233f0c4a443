"""Staff, partner, operator and admin accounts (the intake service is Lotse's front door)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.intake.password_policy import password_problem
from services.intake.tables import accounts
from shared.auth import ROLES, Principal, hash_password, needs_rehash, password_matches
from shared.clock import utcnow
from shared.config import PARTNERS

LOCK_AFTER = 5  # wrong passwords in a row
LOCK_FOR = timedelta(minutes=15)


class AccountError(ValueError):
    """A refused account; `field` names the input at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(f"{field}: {message}" if field else message)
        self.field, self.message = field, message


class AccountLocked(Exception):
    """Too many wrong passwords: no login (not even the right one) until `until`."""

    def __init__(self, until: datetime):
        super().__init__(f"locked until {until.isoformat()}")
        self.until = until


def save_account(session: Session, username: str, password: str, role: str,
                 partner: str | None = None) -> None:
    """Create or reset an account; partner users belong to exactly one partner. No password
    policy: for the seeded demo accounts (and tests); people's passwords go through
    save_checked_account."""
    _check_role(role, partner)
    if len(password) < 4:
        raise AccountError("password is too short")
    values = dict(password_hash=hash_password(password), role=role, partner=partner, active=True,
                  failed_logins=0, locked_until=None)
    exists = session.execute(select(accounts.c.username)
                             .where(accounts.c.username == username)).first()
    if exists:
        session.execute(accounts.update().where(accounts.c.username == username).values(**values))
    else:
        session.execute(accounts.insert().values(username=username, created_at=utcnow(),
                                                 **values))


def _check_role(role: str, partner: str | None) -> None:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if (role == "partner") != (partner is not None):
        raise AccountError("partner users need a partner, other roles must not have one")
    if partner is not None and partner not in PARTNERS:
        raise AccountError(f"partner must be one of {', '.join(PARTNERS)}")


def save_checked_account(session: Session, username: str, password: str, role: str,
                         partner: str | None = None) -> None:
    """Create or reset an account with a password people chose (`lotse user`, any password
    change): the password policy applies. Only the seeded demo accounts bypass it."""
    _check_role(role, partner)
    problem = password_problem(password, (username, role, partner or "", "lotse"))
    if problem:
        raise AccountError(problem, "password")
    save_account(session, username, password, role, partner)


def authenticate(session: Session, username: str, password: str,
                 now: datetime | None = None) -> Principal | None:
    """The account's principal, or None for a wrong user or password; raises AccountLocked
    after LOCK_AFTER wrong passwords in a row, for LOCK_FOR. The caller commits: the count
    of failures is part of the answer."""
    now = now or utcnow()
    row = session.execute(select(accounts).where(accounts.c.username == username,
                                                 accounts.c.active.is_(True))).first()
    if row is None:
        password_matches(None, password)  # the same work as for a real account
        return None
    if row.locked_until is not None and row.locked_until > now:
        raise AccountLocked(row.locked_until)
    this = accounts.update().where(accounts.c.username == username)
    if not password_matches(row.password_hash, password):
        failures = row.failed_logins + 1
        locked = now + LOCK_FOR if failures >= LOCK_AFTER else None
        session.execute(this.values(failed_logins=0 if locked else failures,
                                    locked_until=locked))
        return None
    values: dict = {"failed_logins": 0, "locked_until": None}
    if needs_rehash(row.password_hash):
        values["password_hash"] = hash_password(password)
    session.execute(this.values(**values))
    return Principal(row.username, row.role, row.partner)


DEMO_ACCOUNTS = (
    ("staff", "staff", None), ("operator", "operator", None), ("admin", "admin", None),
    *((partner, "partner", partner) for partner in PARTNERS),  # one user per partner
)
DEMO_PASSWORD = "demo"


def seed_demo_accounts(session: Session) -> list[tuple[str, str, str | None]]:
    for username, role, partner in DEMO_ACCOUNTS:
        save_account(session, username, DEMO_PASSWORD, role, partner)
    return list(DEMO_ACCOUNTS)
