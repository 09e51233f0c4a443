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
    # "fit_connect": announced first, then the encrypted data arrive (a FIT-Connect
    # destination); "direct": the request is the case
    protocol: str = "direct"
    books_appointments: bool = False  # answers with a slot the person must keep in person
    sends_callbacks: bool = True  # False: only a read API; Lotse polls the case status

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
                                  "booking_reference", "client_reference",
                                  books_appointments=True, sends_callbacks=False),
    "wohnungsamt": PartnerSystem("wohnungsamt", "Wohnungsamt (FIT-Connect destination, WBS)",
                                 "/v1/submissions", "WA",
                                 ("destinationId", "serviceType", "externalReference"),
                                 "submissionId", "externalReference", auth="bearer",
                                 protocol="fit_connect"),
}

# The Wohnungsamt's FIT-Connect destination: what it offers and which data schema it reads.
DESTINATION = {
    "destinationId": "9d0e5a1c-6f43-4c2b-8a59-3c3b2f0d7e11",
    "status": "active",
    "services": [{"name": "Wohnberechtigungsschein (WBS) beantragen",
                  # a stand-in: the real LeiKa key comes from the FIM catalogue
                  "identifier": "urn:de:fim:leika:leistung:sandbox-wbs",
                  "submissionSchemas": [{"schemaUri": "urn:lotse:schema:wbs-antrag-v1",
                                         "mimeType": "application/json"}]}],
}
# what the decrypted application must contain
WBS_REQUIRED = ("referenz", "antragsteller", "anliegen")


# Registering needs the person in person (§ 17 BMG, domain.md §2.6); EU citizens go to the
# central Bürgerdienste, everyone else to the Bürgerdienste International.
REGISTRATION_DOCUMENTS = (
    "Pass oder Personalausweis aller Personen / passports or ID cards of everyone",
    "Wohnungsgeberbestätigung (Bestätigung des Vermieters) / landlord's confirmation",
    "Heiratsurkunde / marriage certificate",
    "Geburtsurkunden der Kinder unter 18 / birth certificates of children under 18",
)
