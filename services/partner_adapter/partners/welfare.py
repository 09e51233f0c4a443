"""Welfare association case system (MBE / JMD counselling): opens a counselling case."""
from __future__ import annotations

from typing import Any

from services.partner_adapter.partners.base import HttpPartnerGateway


class WelfareCaseSystemGateway(HttpPartnerGateway):
    path = "/api/cases"
    reference_field = "case_id"

    def payload(self, request: dict[str, Any]) -> dict[str, Any]:
        p = request["person"]
        return {"client": {"first_name": p["given_name"], "last_name": p["family_name"],
                           "date_of_birth": p["birth_date"], "languages": p["languages"]},
                "programme": request["service"].upper(), "topic": request["need"],
                "referrer": "Lotse", "client_reference": request["referral_id"]}
