"""Erasure (Art. 17) in the reporting service: the counts stay, the link to the person goes.

Reporting holds no names or contact data, only keys computed from the person's, intakes' and
referrals' ids, and of the consents they withdrew (domain.Keyer). An erasure request replaces
each of those keys, in the fact log and the figure tables alike, by a random one: a
consultation is still counted (and still "returning" if it was), but nothing computed from
the person's ids finds it again. Tombstones (ids only, shared/erasure.py) drop the person's
events that arrive later, and the service answers the request with `person.erased`.
"""
from __future__ import annotations

import secrets
from typing import Iterable

from services.reporting import projection
from services.reporting.domain import Keyer
from services.reporting.tables import erased
from shared.erasure import add_tombstones, confirm, subjects_of
from shared.events.envelope import Envelope

SERVICE = "reporting"


def erase_person(envelope: Envelope, uow) -> None:
    """`person.erasure_requested`: re-key the person, their intakes and referrals; confirm."""
    d, now = envelope.data, uow.clock()
    subjects = subjects_of(d)
    new_keys = replacements(uow.key, subjects)
    # facts of the person or their intakes in progress elsewhere finish first; later ones
    # wait, then find the tombstones
    projection.serialise(uow.session.connection(), new_keys)
    add_tombstones(uow.session, erased, str(d["request_id"]), subjects, now)
    # the consents they withdrew are keyed by the consent's id, which the request does not
    # name: found through the person's key, re-keyed with the rest
    persons = [uow.key("person", p) for p in subjects["person"]]
    new_keys |= {k: secrets.token_hex(16)
                 for k in projection.consent_keys(uow.session.connection(), persons)}
    projection.rekey(uow.session.connection(), new_keys)
    confirm(uow, {"request_id": str(d["request_id"]), "person_id": str(d["person_id"])},
            SERVICE, now)


def note_referrals(envelope: Envelope, uow) -> None:
    """`person.erased` from the referral service: referrals the intake service had not
    heard of are re-keyed too."""
    d, now = envelope.data, uow.clock()
    if d["service"] != "referral" or not d.get("referral_ids"):
        return
    subjects = {"person": [], "intake": [], "referral": [str(i) for i in d["referral_ids"]]}
    add_tombstones(uow.session, erased, str(d["request_id"]), subjects, now)
    projection.rekey(uow.session.connection(), replacements(uow.key, subjects))


def keys_to_serialise(envelope: Envelope, key: Keyer) -> list[str]:
    """The keys an erasure request locks before it re-keys (erase_person)."""
    return [key(kind, subject_id) for kind, ids in subjects_of(envelope.data).items()
            for subject_id in ids]


def replacements(key: Keyer, subjects: dict[str, Iterable[str]]) -> dict[str, str]:
    """Each key computed from the ids named, and the random key that replaces it."""
    return {key(kind, subject_id): secrets.token_hex(16)
            for kind, ids in subjects.items() for subject_id in ids}
