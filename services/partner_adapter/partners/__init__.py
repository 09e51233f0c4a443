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


def gateways(sandbox_url: str, default_secret: str,
             directory: Mapping[str, PartnerConfig] = DIRECTORY) -> dict[str, PartnerGateway]:
    """A client per partner with a system; portal partners have none (they answer in Lotse).
    `{sandbox}` in an endpoint is the stand-in systems' URL; a missing credential variable
    falls back to the sandbox key (the sandbox's own check refuses anything else)."""
    return {code: KINDS[p.kind](p, p.url(sandbox_url), p.secret(default=default_secret))
            for code, p in directory.items() if p.has_system}
