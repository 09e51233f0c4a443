"""OpenID Connect login (optional): an identity provider of the city (e.g. Keycloak) vouches
for the user, and its ID token's claims say the user's Lotse role and, for partner users,
the partner.

authlib does the protocol: discovery, the authorization-code flow with state, nonce and
PKCE, and the ID token's checks (signature against the provider's JWKS, issuer, expiry,
nonce); the audience is checked against our client id explicitly (authlib checks it only
when asked). This module adds the mapping from claims to a Principal, which refuses rather
than guesses: no Lotse role, more than one, or a partner user without a known partner means
no login. Configuration: shared/config.py OidcSettings, docs/security.md.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from flask import Flask

from shared.auth import ROLES, USERNAME_MAX, Principal
from shared.config import PARTNERS, OidcSettings

if TYPE_CHECKING:  # authlib is imported only where OIDC is configured
    from authlib.integrations.flask_client import FlaskOAuth2App


class OidcRefused(Exception):
    """The identity provider vouched for the user, but not for a Lotse login."""


class OidcUsernameTooLong(OidcRefused):
    """The provider's user name does not fit where Lotse records who did what."""


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by dotted path: "realm_access.roles" -> claims["realm_access"]["roles"]."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def principal_from_claims(claims: Mapping[str, Any], oidc: OidcSettings) -> Principal:
    username = claims.get(oidc.username_claim) or claims.get("sub")
    if not username or not isinstance(username, str):
        raise OidcRefused("the identity provider named no user")
    if len(username) > USERNAME_MAX:  # cut short, two users could become one
        raise OidcUsernameTooLong(f"the user name has more than {USERNAME_MAX} characters")
    role = _lotse_role(claim_at(claims, oidc.role_claim), oidc.role_prefix)
    if role != "partner":
        return Principal(username, role)
    partner = claim_at(claims, oidc.partner_claim)
    if partner not in PARTNERS:
        raise OidcRefused(f"a partner user needs a known partner in the claim "
                          f"{oidc.partner_claim!r}")
    return Principal(username, role, partner)


def _lotse_role(value: Any, prefix: str) -> str:
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    roles = {v[len(prefix):] for v in values
             if isinstance(v, str) and v.startswith(prefix) and v[len(prefix):] in ROLES}
    if not roles:
        raise OidcRefused("the user has no Lotse role")
    if len(roles) > 1:
        raise OidcRefused("the user has more than one Lotse role: "
                          + ", ".join(sorted(roles)))
    return roles.pop()


def oidc_client(app: Flask, oidc: OidcSettings) -> FlaskOAuth2App:
    """authlib's client for the provider, registered on the app (metadata and JWKS are
    fetched on first use and cached)."""
    from authlib.integrations.flask_client import OAuth

    oauth = OAuth(app)
    # authlib's stubs leave OAuth.register untyped; for an OAuth 2 provider it builds this
    client: FlaskOAuth2App = oauth.register(  # type: ignore[no-untyped-call]
        "oidc", client_id=oidc.client_id, client_secret=oidc.client_secret,
        server_metadata_url=oidc.discovery_url,
        client_kwargs={"scope": oidc.scope, "code_challenge_method": "S256",
                       "default_timeout": 10})
    return client


def id_token_checks(oidc: OidcSettings) -> dict[str, dict[str, Any]]:
    """Claims options for authlib: issuer and audience must be ours (and present)."""
    return {"iss": {"essential": True, "values": [oidc.issuer]},
            "aud": {"essential": True, "values": [oidc.client_id]}}
