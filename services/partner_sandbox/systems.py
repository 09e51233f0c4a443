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
    schema: str | None = None  # a published schema (shared/defaults/schemas) requests must meet
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

    def credential_headers(self, credential: str) -> dict[str, str]:
        """How a caller presents this system's credential: bearer token or API key."""
        return ({"Authorization": f"Bearer {credential}"} if self.auth == "bearer"
                else {"X-Api-Key": credential})

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


@dataclass(frozen=True)
class NoticeFormat:
    """How a partner system takes notices about a case it holds (consent withdrawn, erase the
    data): the path under the case, the field naming the notice's kind and its codes, and the
    only fields a notice may carry (anything else, e.g. a name, is refused)."""

    path: str
    kind_field: str
    kinds: dict[str, str]  # the system's code -> consent_withdrawn | erasure
    client_reference_field: str
    allowed: tuple[str, ...]


NOTICE_FORMATS = {
    "welfare": NoticeFormat("notices", "kind", {"consent_withdrawn": "consent_withdrawn",
                                                "erasure": "erasure"}, "referral_id",
                            ("kind", "referral_id", "case_reference", "reason", "occurred_at")),
    "registration": NoticeFormat("notices", "kind", {"consent_withdrawn": "consent_withdrawn",
                                                     "erasure": "erasure"}, "referral_id",
                                 ("kind", "referral_id", "case_reference", "reason",
                                  "occurred_at")),
    "jobcenter": NoticeFormat("mitteilungen", "mitteilungsart",
                              {"EINWILLIGUNG_WIDERRUFEN": "consent_withdrawn",
                               "LOESCHUNG": "erasure"}, "externe_referenz",
                              ("mitteilungsart", "vorgangsnummer", "externe_referenz", "grund",
                               "zeitpunkt")),
    # a FIT-Connect destination hears about a submission through events (SET-like)
    "wohnungsamt": NoticeFormat("events", "type",
                                {"urn:lotse:notice:consent-withdrawn": "consent_withdrawn",
                                 "urn:lotse:notice:erasure": "erasure"}, "externalReference",
                                ("type", "submissionId", "externalReference", "reason",
                                 "issuedAt")),
}
