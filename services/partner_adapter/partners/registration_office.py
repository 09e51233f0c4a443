"""Registration office (Bürgerdienste): registering needs the person in person, so the
adapter requests an appointment rather than a remote case (domain.md §2.6)."""
from __future__ import annotations

from services.partner_adapter.partners.base import HttpPartnerGateway


class RegistrationOfficeGateway(HttpPartnerGateway):
    path = "/api/appointment-requests"
    reference_field = "booking_reference"
    client_reference_field = "client_reference"
    fixed = {"service": "first_registration"}
    fields = {"referral_id": "client_reference", "intake_reference": "referrer_reference",
              "service": "unit", "person.given_name": "persons.0.given_names",
              "person.family_name": "persons.0.family_name",
              "person.birth_date": "persons.0.birth_date",
              "person.nationality": "persons.0.nationality",
              "person.languages": "persons.0.languages"}
