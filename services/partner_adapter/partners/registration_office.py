"""Registration office (Bürgerdienste): registering needs the person in person, so the
adapter requests an appointment rather than a remote case (domain.md §2.6)."""
from __future__ import annotations

from typing import Any

from services.partner_adapter.partners.base import HttpPartnerGateway


class RegistrationOfficeGateway(HttpPartnerGateway):
    path = "/api/appointment-requests"
    reference_field = "booking_reference"

    def payload(self, request: dict[str, Any]) -> dict[str, Any]:
        p = request["person"]
        return {"persons": [{"given_names": p["given_name"], "family_name": p["family_name"],
                             "birth_date": p["birth_date"], "nationality": p["nationality"]}],
                "service": "first_registration", "unit": request["service"],
                "client_reference": request["referral_id"]}
