"""Staff, partner, operator and admin accounts (the intake service is Lotse's front door)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.intake.tables import accounts
from shared.auth import ROLES, Principal, hash_password, password_matches
from shared.clock import utcnow
from shared.config import PARTNERS


class AccountError(ValueError):
    pass


def save_account(session: Session, username: str, password: str, role: str,
                 partner: str | None = None) -> None:
    """Create or reset an account; partner users belong to exactly one partner."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if (role == "partner") != (partner is not None):
        raise AccountError("partner users need a partner, other roles must not have one")
    if partner is not None and partner not in PARTNERS:
        raise AccountError(f"partner must be one of {', '.join(PARTNERS)}")
    if len(password) < 4:
        raise AccountError("password is too short")
    values = dict(password_hash=hash_password(password), role=role, partner=partner, active=True)
    exists = session.execute(select(accounts.c.username)
                             .where(accounts.c.username == username)).first()
    if exists:
        session.execute(accounts.update().where(accounts.c.username == username).values(**values))
    else:
        session.execute(accounts.insert().values(username=username, created_at=utcnow(),
                                                 **values))


def authenticate(session: Session, username: str, password: str) -> Principal | None:
    row = session.execute(select(accounts).where(accounts.c.username == username,
                                                 accounts.c.active.is_(True))).first()
    if row is None or not password_matches(row.password_hash, password):
        return None
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
