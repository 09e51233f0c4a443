"""Revoked API tokens and UI sessions: the intake service keeps them; it and the other services
refuse them from an in-memory copy of the unexpired ones (shared/revocations.py), intake's own
refreshed every second and the recording process's at once.

A revocation names one token or session by its id (jti: a logout, or an admin revoking a
leaked token), or every one of a user issued up to now (jti NULL: an admin locking a user
out). It is kept until everything it covers has expired, then it no longer matters.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.intake.tables import token_revocations
from shared.auth import Credential
from shared.clock import Clock
from shared.revocations import Revocation, RevocationFeed, RevocationList


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


# Intake's own copy is refreshed this often: its other worker processes refuse a revocation
# within about a second (one small indexed query a second each); the process that records
# one refuses it at once (token_api.py adds it to its copy). Every other service refreshes every
# LOTSE_REVOCATION_REFRESH_SECONDS, so "everywhere within seconds" is unchanged.
OWN_REFRESH_SECONDS = 1.0


def own_revocation_list(session_factory: sessionmaker[Session], clock: Clock) -> RevocationList:
    """Intake's check: its table, kept in memory like the other services' copies instead of
    one query per request (that query and its pool checkout were a tenth of an intake's
    cost)."""
    return RevocationList(direct_feed(session_factory, clock), OWN_REFRESH_SECONDS)


def direct_feed(session_factory: sessionmaker[Session], clock: Clock) -> RevocationFeed:
    """Intake's table read in-process: intake's own feed, and the other services' in the
    embedded network (there is no HTTP hop to make inside one process)."""
    def feed(since: datetime | None) -> list[Revocation]:
        with session_factory() as session:
            return unexpired_revocations(session, clock(), since)
    return feed
