"""The referrals one batch of partner answers reads and changes, in a constant number of
statements however many events the batch holds.

A batch handler (handlers.py) locks the referrals its events name, with those waiting for
their needs, in two statements (`ReferralBatch.locking`, rows in id order). Every event of
the batch then works on the same objects in delivery order, so an event sees what the
events before it did, as if each had been handled alone; the consents and the partner
services a need was already referred to are read once, when first needed. `write` stores
what changed at the end: one insert of new referrals, one executemany update, one insert
of their history (repository.write).
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy.orm import Session

from services.referral import repository
from services.referral.consents import ConsentBook
from services.referral.domain import Referral
from shared.events.vocabulary import ReferralStatus


class ReferralBatch:
    """One object per referral for the whole batch (an identity map), and what to write."""

    def __init__(self, session: Session):
        self.session = session
        self._loaded: dict[str, Referral] = {}
        self._new: dict[str, Referral] = {}
        self._changed: set[str] = set()
        self._waits_read: set[tuple[str, str]] = set()
        self._tried: dict[tuple[str, str], set[tuple[str, str, int | None]]] | None = None
        self._consents: ConsentBook | None = None

    @classmethod
    def locking(cls, session: Session, referral_ids: Iterable[str]) -> "ReferralBatch":
        """The named referrals and those on hold for their needs, locked."""
        batch = cls(session)
        batch._loaded.update(repository.lock(session, referral_ids))
        batch._read_waiting({(str(r.intake_id), r.need) for r in batch._loaded.values()})
        return batch

    def _read_waiting(self, pairs: set[tuple[str, str]]) -> None:
        pairs -= self._waits_read
        if pairs:
            for referral_id, referral in repository.waiting_for_any(self.session,
                                                                    pairs).items():
                self._loaded.setdefault(referral_id, referral)  # ours may have changed
            self._waits_read |= pairs

    def get(self, referral_id: str) -> Referral:
        referral = self._loaded.get(referral_id)
        if referral is None:
            # The referral row commits before its events leave, so this is not an ordering race.
            raise LookupError(f"no referral {referral_id}")
        return referral

    def waiting_for(self, referral: Referral) -> list[Referral]:
        """Referrals of its intake on hold until its need reaches its partner, as they stand
        now in this batch (the rows read on hold, and any the batch put on hold since)."""
        intake_id = str(referral.intake_id)
        self._read_waiting({(intake_id, referral.need)})
        return [r for _, r in sorted(self._loaded.items())
                if str(r.intake_id) == intake_id and r.waits_for == referral.need
                and r.status == ReferralStatus.ON_HOLD]

    def tried_for_need(self, referral: Referral) -> frozenset[tuple[str, str]]:
        """Partner services its intake's need was already referred to for the same person
        (two children's Kita places are tried apart), the referrals this batch opened
        included (read once, for the needs of all the batch's referrals)."""
        key = (str(referral.intake_id), referral.need)
        if self._tried is None:
            self._tried = repository.tried_for_needs(
                self.session, {(str(r.intake_id), r.need) for r in self._loaded.values()}
                | {key})
        elif key not in self._tried:
            self._tried.update(repository.tried_for_needs(self.session, {key}))
        whom = referral.for_member
        opened = {(r.partner, r.service) for r in self._new.values()
                  if (str(r.intake_id), r.need) == key and r.partner is not None
                  and r.for_member == whom}
        return frozenset({(p, s) for p, s, m in self._tried[key] if m == whom} | opened)

    @property
    def consents(self) -> ConsentBook:
        """The consents of the batch's people, read once, when first asked for."""
        if self._consents is None:
            self._consents = ConsentBook(self.session)
            referrals = list(self._loaded.values())
            self._consents.cover([r.person_id for r in referrals],
                                 [c["consent_id"] for r in referrals
                                  for c in (r.share or {}).get("consents", ())])
        return self._consents

    def add(self, referral: Referral) -> None:
        """A new referral, inserted by `write`."""
        self._new[str(referral.id)] = self._loaded[str(referral.id)] = referral

    def changed(self, referral: Referral) -> None:
        """A read referral to update (with the history it gained) by `write`."""
        if str(referral.id) not in self._new:
            self._changed.add(str(referral.id))

    def write(self) -> None:
        """Store the new and changed referrals (read without their history: all the history
        they hold is new)."""
        repository.write(self.session, list(self._new.values()),
                         [(self._loaded[i], 0) for i in self._changed])
        self._new, self._changed = {}, set()
