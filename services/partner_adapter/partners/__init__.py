"""One module per partner system kind; the partner directory says which partner is which."""
from __future__ import annotations

from typing import Mapping

from services.partner_adapter.partners.base import HttpPartnerGateway, PartnerGateway
from services.partner_adapter.partners.jobcenter import JobcenterGateway
from services.partner_adapter.partners.registration_office import RegistrationOfficeGateway
from services.partner_adapter.partners.secure_submission import SecureSubmissionGateway
from services.partner_adapter.partners.welfare import WelfareCaseSystemGateway
from shared.partners import DIRECTORY, PartnerConfig

KINDS: dict[str, type[HttpPartnerGateway]] = {
    "welfare_case_api": WelfareCaseSystemGateway,
    "jobcenter_handover": JobcenterGateway,
    "appointment_booking": RegistrationOfficeGateway,
    "secure_submission": SecureSubmissionGateway,
}


def gateways(sandbox_url: str, credentials: Mapping[str, str],
             directory: Mapping[str, PartnerConfig] = DIRECTORY) -> dict[str, PartnerGateway]:
    """A client per partner with a system; portal partners have none (they answer in Lotse).
    `{sandbox}` in an endpoint is the stand-in systems' URL; each client carries its own
    partner's credential (Settings.partner_credentials), never another's."""
    return {code: KINDS[p.kind](p, p.url(sandbox_url), credentials.get(code, ""))
            for code, p in directory.items() if p.has_system}
