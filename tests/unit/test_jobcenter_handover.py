"""The Jobcenter handover document and the schema published in shared/defaults/schemas."""
from __future__ import annotations

import pytest

from services.partner_adapter.partners.base import PartnerRefused
from services.partner_adapter.partners.jobcenter import JobcenterGateway, handover_errors
from shared.partners import DIRECTORY

REQUEST = {"referral_id": "6f1c7d3e-2f1a-4f7e-9a51-0c9b9b2b1a11", "intake_reference": "LT-2026-X",
           "need": "living_costs", "service": "sgb2", "residence_status": "TEMP_PROTECTION_24",
           "person": {"given_name": "Olena", "family_name": "Kovalenko",
                      "birth_date": "1987-03-14", "nationality": "UA", "languages": ["uk"]},
           "household": [{"relation": "child", "birth_date": "2021-06-01"}]}


class NoHttp:
    def request(self, *args, **kwargs):
        raise AssertionError("an invalid document must not be sent")


def gateway() -> JobcenterGateway:
    return JobcenterGateway(DIRECTORY["jobcenter"], "http://jobcenter.invalid", "k", NoHttp())


def test_the_household_handover_meets_the_published_schema():
    document = gateway().payload(REQUEST)
    assert handover_errors(document) == []
    assert document["bedarfsgemeinschaft"] == [{"beziehung": "child",
                                                "geburtsdatum": "2021-06-01"}]
    assert document["antragsteller"]["nachname"] == "Kovalenko"


@pytest.mark.parametrize("spoil, where", [
    (lambda r: r["person"].update(family_name="x" * 201), "antragsteller.nachname"),
    (lambda r: r.update(referral_id="not-a-uuid"), "referenz.externe_referenz"),
    (lambda r: r["household"].append({"relation": "cousin", "birth_date": "2000-01-01"}),
     "bedarfsgemeinschaft.1.beziehung"),
])
def test_a_document_breaking_the_schema_is_never_sent(spoil, where):
    import copy

    request = copy.deepcopy(REQUEST)
    spoil(request)
    with pytest.raises(PartnerRefused, match=where.replace(".", r"\.")):
        gateway().open_case(request, "key")
