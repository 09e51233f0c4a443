"""Jobcenter (SGB II): announces a first application so the Jobcenter invites the person."""
from __future__ import annotations

from typing import Any

from services.partner_adapter.partners.base import HttpPartnerGateway


class JobcenterGateway(HttpPartnerGateway):
    path = "/api/v1/leads"
    reference_field = "vorgangsnummer"

    def payload(self, request: dict[str, Any]) -> dict[str, Any]:
        p = request["person"]
        return {"person": {"vorname": p["given_name"], "nachname": p["family_name"],
                           "geburtsdatum": p["birth_date"],
                           "staatsangehoerigkeit": p["nationality"]},
                "anliegen": "SGB2_ERSTANTRAG",
                "aufenthaltsstatus": request["residence_status"],
                "sprache": p["languages"][0] if p["languages"] else None,
                "externe_referenz": request["referral_id"]}
