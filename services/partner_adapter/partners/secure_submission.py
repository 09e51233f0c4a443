"""Secure submission modelled on FIT-Connect (domain.md §5.6): the application data and its
metadata travel end-to-end encrypted to the destination's published key.

Flow per referral: read the destination (its encryption key id and service), fetch and check
the key (RSA, RSA-OAEP-256, 4096 bits), announce the submission (POST, idempotent by key),
then submit the encrypted metadata and data (PUT). A retry repeats both steps with the same
idempotency key: the announcement returns the same submission and the PUT completes it, so an
interrupted submission is finished rather than duplicated. The partner answers through the
signed status callbacks every partner uses.

Simplified against production FIT-Connect, and named here so nobody mistakes it: an access
token from the directory's credential instead of OAuth2 client credentials, the key not yet
checked against a Verwaltungs-PKI certificate chain (not required in FIT-Connect's TEST
environment), and a lookup by our referral id (`externalReference`) that the sandbox offers.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from services.partner_adapter.domain import pick
from services.partner_adapter.partners.base import (HttpPartnerGateway, PartnerAnswerLost,
                                                    PartnerUnavailable, Receipt)
from shared import secure_submission as crypto

DESTINATION_TTL_SECONDS = 300.0  # keys rotate: read the destination again now and then


@dataclass(frozen=True)
class Destination:
    id: str
    key: RSAKey
    service_type: dict[str, str]
    schema_uri: str


class SecureSubmissionGateway(HttpPartnerGateway):
    path = "/v1/submissions"
    reference_field = "submissionId"
    client_reference_field = "externalReference"
    fields = {"referral_id": "referenz.externe_referenz",
              "intake_reference": "referenz.zuweiser_referenz",
              "need": "anliegen.bedarf", "service": "anliegen.leistung",
              "person.given_name": "antragsteller.vorname",
              "person.family_name": "antragsteller.familienname",
              "person.birth_date": "antragsteller.geburtsdatum",
              "person.nationality": "antragsteller.staatsangehoerigkeit",
              "residence_status": "antragsteller.aufenthaltsstatus",
              "household": "haushalt"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._destination: tuple[float, Destination] | None = None
        self._lock = threading.Lock()

    def payload(self, request: dict[str, Any]) -> dict[str, Any]:
        data = super().payload({k: v for k, v in request.items() if k != "household"})
        members = pick(request, "household")
        if members is not None:  # a WBS depends on who moves in together
            data["haushalt"] = {"personen": 1 + len(members), "mitglieder": [
                {"beziehung": m["relation"], "geburtsdatum": m["birth_date"]}
                for m in members]}
        return data

    def destination(self) -> Destination:
        with self._lock:
            if self._destination and time.monotonic() - self._destination[0] < \
                    DESTINATION_TTL_SECONDS:
                return self._destination[1]
        dest_id = self.config.destination_id
        info = self._json(self._send("GET", f"/v1/destinations/{dest_id}", None))
        if info.get("status") != "active":
            raise PartnerUnavailable(f"destination {dest_id} is {info.get('status')!r}")
        kid = info.get("encryptionKid")
        jwk = self._json(self._send("GET", f"/v1/destinations/{dest_id}/keys/{kid}", None))
        try:
            key = crypto.encryption_key(jwk)
        except (crypto.UnusableKey, ValueError, TypeError, JoseError) as exc:
            # never encrypt to a doubtful key
            raise PartnerUnavailable(f"destination {dest_id} key {kid}: {exc}") from None
        if key.kid != kid:
            raise PartnerUnavailable(f"destination {dest_id} announced key {kid} but "
                                     f"published {key.kid}")
        try:
            service = info["services"][0]
            destination = Destination(dest_id, key, {"name": service["name"],
                                                     "identifier": service["identifier"]},
                                      service["submissionSchemas"][0]["schemaUri"])
        except (KeyError, IndexError, TypeError) as exc:
            raise PartnerUnavailable(f"destination {dest_id} answer incomplete: {exc!r}") \
                from None
        with self._lock:
            self._destination = (time.monotonic(), destination)
        return destination

    def open_case(self, request: dict[str, Any], idempotency_key: str) -> Receipt:
        destination = self.destination()
        announced = self._json(self._send("POST", self.path, idempotency_key, {
            "destinationId": destination.id, "serviceType": destination.service_type,
            "announcedAttachments": [], "externalReference": request["referral_id"]}),
            lost=True)
        submission_id = str(announced.get("submissionId") or "")
        if not submission_id:
            raise PartnerAnswerLost("the announcement's answer names no submissionId")
        data = crypto.canonical(self.payload(request))
        metadata = crypto.canonical(crypto.metadata_for(data, destination.schema_uri))
        try:
            self._send("PUT", f"{self.path}/{submission_id}", idempotency_key, {
                "encryptedMetadata": crypto.encrypt(metadata, destination.key),
                "encryptedData": crypto.encrypt(data, destination.key)})
        except PartnerUnavailable:
            self._destination = None  # perhaps the key rotated: read it again next time
            raise
        return Receipt(submission_id)

    # A notice is an event about the submission (SET-like), not a new submission: it holds
    # ids and codes only, so there is nothing to encrypt.
    notices_path = "events"

    def notice_body(self, notice: dict[str, Any]) -> dict[str, Any]:
        return {"type": f"urn:lotse:notice:{notice['kind'].replace('_', '-')}",
                "submissionId": notice["case_reference"],
                "externalReference": notice["referral_id"], "reason": notice["reason"],
                "issuedAt": notice["occurred_at"]}

    @staticmethod
    def _json(response, lost: bool = False) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise (PartnerAnswerLost if lost else PartnerUnavailable)(
                f"unreadable answer: {exc}") from None
        if not isinstance(body, dict):
            raise PartnerUnavailable("unexpected answer")
        return body
