"""Welfare association case system (MBE / JMD counselling): JSON REST with a bearer token."""
from __future__ import annotations

from services.partner_adapter.partners.base import HttpPartnerGateway


class WelfareCaseSystemGateway(HttpPartnerGateway):
    path = "/api/cases"
    reference_field = "case_id"
    client_reference_field = "client_reference"
    fixed = {"referrer": "Lotse"}
    fields = {"referral_id": "client_reference", "intake_reference": "referrer_reference",
              "need": "topic", "service": "programme",
              "person.given_name": "client.first_name", "person.family_name": "client.last_name",
              "person.birth_date": "client.date_of_birth", "person.languages": "client.languages",
              "person.nationality": "client.nationality",
              "residence_status": "client.residence_category",
              # a young household member's own counselling (JMD): the client is the parent
              # who came; the case is the member's
              "for_person": "beneficiary"}
