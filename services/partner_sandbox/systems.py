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
    schema: str | None = None  # a published JSON schema (deploy/schemas) requests must meet

    def client_reference(self, request: dict) -> str:
        node = request
        for part in self.client_reference_field.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return str(node or "")

    @property
    def lookup_parameter(self) -> str:
        return self.client_reference_field.rsplit(".", 1)[-1]


SYSTEMS = {
    "welfare": PartnerSystem("welfare", "Welfare association case system (MBE/JMD)",
                             "/api/cases", "WF", ("client", "programme", "topic",
                                                  "client_reference"),
                             "case_id", "client_reference", auth="bearer"),
    "jobcenter": PartnerSystem("jobcenter", "Jobcenter Dortmund (SGB II)", "/api/v1/handovers",
                               "JC", ("antragsteller", "anliegen", "referenz"),
                               "vorgangsnummer", "referenz.externe_referenz",
                               schema="jobcenter-handover-v1.schema.json"),
    "registration": PartnerSystem("registration", "Bürgerdienste (appointment booking)",
                                  "/api/appointment-requests", "BD",
                                  ("persons", "service", "client_reference"),
                                  "booking_reference", "client_reference"),
}
