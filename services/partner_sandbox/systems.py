"""The three stand-in partner systems: their request shapes and case reference formats."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PartnerSystem:
    code: str
    name: str
    path: str
    prefix: str
    required: tuple[str, ...]
    reference_field: str
    client_reference_field: str
    auth: str = "api_key"  # how Lotse authenticates: X-Api-Key or a bearer token


SYSTEMS = {
    "welfare": PartnerSystem("welfare", "Welfare association case system (MBE/JMD)",
                             "/api/cases", "WF", ("client", "programme", "topic",
                                                  "client_reference"),
                             "case_id", "client_reference", auth="bearer"),
    "jobcenter": PartnerSystem("jobcenter", "Jobcenter Dortmund (SGB II)", "/api/v1/leads",
                               "JC", ("person", "anliegen", "externe_referenz"),
                               "vorgangsnummer", "externe_referenz"),
    "registration": PartnerSystem("registration", "Bürgerdienste (appointment booking)",
                                  "/api/appointment-requests", "BD",
                                  ("persons", "service", "client_reference"),
                                  "booking_reference", "client_reference"),
}
