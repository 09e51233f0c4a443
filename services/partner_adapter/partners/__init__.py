"""One client per partner system; each speaks that system's own case API."""
from __future__ import annotations

from services.partner_adapter.partners.base import PartnerGateway
from services.partner_adapter.partners.jobcenter import JobcenterGateway
from services.partner_adapter.partners.registration_office import RegistrationOfficeGateway
from services.partner_adapter.partners.welfare import WelfareCaseSystemGateway


def gateways(base_url: str, api_key: str) -> dict[str, PartnerGateway]:
    return {
        "welfare": WelfareCaseSystemGateway(f"{base_url}/welfare", api_key),
        "jobcenter": JobcenterGateway(f"{base_url}/jobcenter", api_key),
        "registration": RegistrationOfficeGateway(f"{base_url}/registration", api_key),
    }
