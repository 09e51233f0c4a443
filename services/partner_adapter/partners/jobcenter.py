"""Jobcenter (SGB II): announces a first application so the Jobcenter invites the person."""
from __future__ import annotations

from services.partner_adapter.partners.base import HttpPartnerGateway


class JobcenterGateway(HttpPartnerGateway):
    path = "/api/v1/leads"
    reference_field = "vorgangsnummer"
    client_reference_field = "externe_referenz"
    fixed = {"anliegen": "SGB2_ERSTANTRAG"}
    fields = {"referral_id": "externe_referenz", "intake_reference": "referenz_zuweiser",
              "need": "bedarf", "service": "leistung",
              "person.given_name": "person.vorname", "person.family_name": "person.nachname",
              "person.birth_date": "person.geburtsdatum",
              "person.nationality": "person.staatsangehoerigkeit",
              "person.languages": "person.sprachen",
              "residence_status": "aufenthaltsstatus"}
