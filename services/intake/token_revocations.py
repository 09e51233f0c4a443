"""Revoked API tokens and UI sessions: the intake service keeps them and refuses them at once;
the other services read the unexpired ones (shared/revocations.py).

A revocation names one token or session by its id (jti: a logout, or an admin revoking a
leaked token), or every one of a user issued up to now (jti NULL: an admin locking a user
out). It is kept until everything it covers has expired, then it no longer matters.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Column, Index, Integer, String, Table, and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from services.intake.tables import metadata
from shared.auth import Credential
from shared.clock import Clock
from shared.db import UTCDateTime
from shared.revocations import Revocation, RevocationFeed

token_revocations = Table(
    "token_revocations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("jti", String(64)),  # NULL: every token and session of `username` up to revoked_at
    Column("username", String(60)),  # unknown when an admin revokes a bare jti
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=False),
    Column("revoked_by", String(60), nullable=False),
    Index("ix_token_revocations_jti", "jti"),
    Index("ix_token_revocations_username", "username"),
    Index("ix_token_revocations_revoked_at", "revoked_at"),
)


def revoke_credential(session: Session, credential: Credential, revoked_by: str,
                      now: datetime) -> Revocation:
    """Logging out: this token or session, until it would have expired anyway."""
    expires = datetime.fromtimestamp(credential.expires_at, now.tzinfo)
    return _insert(session, Revocation(credential.jti, credential.principal.username, now,
                                       max(expires, now)), revoked_by)


def revoke_jti(session: Session, jti: str, revoked_by: str, now: datetime,
               ttl_seconds: int) -> Revocation:
    """A token known only by its id: kept as long as any token issued until now can live."""
    return _insert(session, Revocation(jti, None, now, now + timedelta(seconds=ttl_seconds)),
                   revoked_by)


def revoke_user(session: Session, username: str, revoked_by: str, now: datetime,
                ttl_seconds: int) -> Revocation:
    """Every token and session of `username` issued up to now; new logins work again."""
    return _insert(session, Revocation(None, username, now,
                                       now + timedelta(seconds=ttl_seconds)), revoked_by)


def _insert(session: Session, revocation: Revocation, revoked_by: str) -> Revocation:
    session.execute(token_revocations.insert().values(
        jti=revocation.jti, username=revocation.username, expires_at=revocation.expires_at,
        revoked_at=revocation.revoked_at, revoked_by=revoked_by))
    return revocation


def is_revoked(session: Session, credential: Credential, now: datetime) -> bool:
    issued = datetime.fromtimestamp(credential.issued_at, now.tzinfo)
    t = token_revocations
    hit = session.execute(select(t.c.id).where(
        t.c.expires_at > now,
        or_(t.c.jti == credential.jti,
            and_(t.c.jti.is_(None), t.c.username == credential.principal.username,
                 t.c.revoked_at >= issued))).limit(1)).first()
    return hit is not None


def unexpired_revocations(session: Session, now: datetime,
                          since: datetime | None = None) -> list[Revocation]:
    """What the other services need: revocations still in force, newer than `since`."""
    t = token_revocations
    query = select(t.c.jti, t.c.username, t.c.revoked_at, t.c.expires_at).where(
        t.c.expires_at > now)
    if since is not None:
        query = query.where(t.c.revoked_at > since)
    return [Revocation(r.jti, r.username, r.revoked_at, r.expires_at)
            for r in session.execute(query.order_by(t.c.revoked_at, t.c.id))]


class IntakeRevocationCheck:
    """Intake's own check: its table, on every request, so a revocation holds at once."""

    def __init__(self, session_factory: sessionmaker[Session]):
        self.session_factory = session_factory

    def is_revoked(self, credential: Credential, now: datetime) -> bool:
        with self.session_factory() as session:
            return is_revoked(session, credential, now)


def direct_feed(session_factory: sessionmaker[Session], clock: Clock) -> RevocationFeed:
    """The embedded network's feed for the other services: intake's table, read in-process
    (there is no HTTP hop to make inside one process)."""
    def feed(since: datetime | None) -> list[Revocation]:
        with session_factory() as session:
            return unexpired_revocations(session, clock(), since)
    return feed
