"""Jobcenter (SGB II): a structured handover document for the household, checked against the
schema Lotse publishes (shared/defaults/schemas/jobcenter-handover-v1.schema.json) before it
is sent."""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from services.partner_adapter.domain import pick
from services.partner_adapter.partners.base import HttpPartnerGateway, PartnerRefused, Receipt
from shared.defaults import read_text, resource

SCHEMA_FILE = resource("schemas", "jobcenter-handover-v1.schema.json")  # shipped in the package


@lru_cache(maxsize=1)
def handover_validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(read_text(SCHEMA_FILE)),
                                format_checker=FormatChecker())


def handover_errors(document: dict[str, Any]) -> list[str]:
    """Each violation as 'path: message'; empty when the document is valid."""
    return [f"{'.'.join(map(str, e.absolute_path)) or '(document)'}: {e.message}"
            for e in sorted(handover_validator().iter_errors(document), key=str)]


class JobcenterGateway(HttpPartnerGateway):
    path = "/api/v1/handovers"
    reference_field = "vorgangsnummer"
    client_reference_field = "externe_referenz"
    fixed = {"dokumentart": "UEBERGABE_SGB2", "version": "1.0", "anliegen": "SGB2_ERSTANTRAG"}
    fields = {"referral_id": "referenz.externe_referenz",
              "intake_reference": "referenz.zuweiser_referenz",
              "need": "referenz.bedarf", "service": "referenz.leistung",
              "person.given_name": "antragsteller.vorname",
              "person.family_name": "antragsteller.nachname",
              "person.birth_date": "antragsteller.geburtsdatum",
              "person.nationality": "antragsteller.staatsangehoerigkeit",
              "person.languages": "antragsteller.sprachen",
              "residence_status": "aufenthaltsstatus",
              "household": "bedarfsgemeinschaft"}

    def payload(self, request: dict[str, Any]) -> dict[str, Any]:
        document = super().payload({k: v for k, v in request.items() if k != "household"})
        members = pick(request, "household")
        if members:
            document["bedarfsgemeinschaft"] = [
                {"beziehung": m["relation"], "geburtsdatum": m["birth_date"]} for m in members]
        return document

    notices_path = "mitteilungen"
    NOTICE_KINDS = {"consent_withdrawn": "EINWILLIGUNG_WIDERRUFEN", "erasure": "LOESCHUNG"}

    def notice_body(self, notice: dict[str, Any]) -> dict[str, Any]:
        return {"mitteilungsart": self.NOTICE_KINDS[notice["kind"]],
                "vorgangsnummer": notice["case_reference"],
                "externe_referenz": notice["referral_id"], "grund": notice["reason"],
                "zeitpunkt": notice["occurred_at"]}

    def open_case(self, request: dict[str, Any], idempotency_key: str) -> Receipt:
        errors = handover_errors(self.payload(request))
        if errors:  # never send what the Jobcenter's schema refuses; staff must fix the data
            raise PartnerRefused("handover document breaks its schema: " + "; ".join(errors))
        return super().open_case(request, idempotency_key)
