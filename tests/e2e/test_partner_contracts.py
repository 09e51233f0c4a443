"""Contract tests per channel against the sandbox: what each partner system received, field
by field, is exactly what its allow-list names, in the partner's own format."""
from __future__ import annotations

from typing import Any

import pytest

from services.partner_adapter.domain import pick
from services.partner_adapter.partners import KINDS
from shared.config import API_PARTNERS
from shared.partners import DIRECTORY
from tests.e2e.client import LotseClient

pytestmark = pytest.mark.e2e


def leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    """{'persons.0.family_name': 'Kovalenko', 'client.languages': ['uk', 'ru'], ...}"""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(leaves(inner, f"{prefix}{key}."))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for i, inner in enumerate(value):
            out.update(leaves(inner, f"{prefix}{i}."))
        return out
    return {prefix[:-1]: value}


def test_each_partner_system_receives_exactly_its_allow_listed_fields(network, olena_intake):
    client = LotseClient(network)
    olena_intake["person"]["household"] = [
        {"given_name": "Andrii", "family_name": "Kovalenko", "relation": "spouse",
         "birth_date": "1985-01-02"},
        {"given_name": "Maria", "family_name": "Kovalenko", "relation": "child",
         "birth_date": "2021-06-01"}]
    olena_intake["needs"].append("housing")  # a WBS: the Wohnungsamt's FIT-Connect channel
    intake = client.post_intake(olena_intake)
    client.wait_referred(intake["id"], 4, timeout=20)
    ours_by_partner = {}
    for ref in client.referrals(intake["id"]):
        ours_by_partner[ref["partner"]] = {
            "referral_id": ref["id"], "intake_reference": intake["reference"],
            "need": ref["need"], "service": ref["service"], "person": olena_intake["person"],
            "residence_status": olena_intake["residence_status"],
            "household": [{"relation": m["relation"], "birth_date": m["birth_date"]}
                          for m in olena_intake["person"]["household"]]}
    assert set(ours_by_partner) == set(API_PARTNERS)
    for partner, ours in ours_by_partner.items():
        [case] = client.sandbox_cases(partner, client_reference=ours["referral_id"])
        received = leaves(case["request"])
        if DIRECTORY[partner].kind == "secure_submission":
            # in the clear only the announcement; the application arrived encrypted
            data = case["request"].pop("data")
            assert case["request"] == {
                "destinationId": DIRECTORY[partner].destination_id,
                "serviceType": {"name": "Wohnberechtigungsschein (WBS) beantragen",
                                "identifier": "urn:de:fim:leika:leistung:sandbox-wbs"},
                "announcedAttachments": [], "externalReference": ours["referral_id"]}
            received = leaves(data)
        kind, allowed = KINDS[DIRECTORY[partner].kind], DIRECTORY[partner].allow_list
        seen = set()
        for path, value in received.items():
            if path in kind.fixed:
                assert value == kind.fixed[path], (partner, path)
                continue
            [field] = [f for f, theirs in kind.fields.items()
                       if path == theirs or path.startswith(theirs + ".")] or [None]
            assert field in allowed, (partner, path, "not on the allow-list")
            seen.add(field)
            if kind.fields[field] == path:
                assert value == pick(ours, field), (partner, path)
        expected = {f for f in allowed if f in kind.fields and pick(ours, f) is not None}
        assert seen == expected, partner
        # the household never leaves for partners whose allow-list lacks it
        assert ("household" in seen) == ("household" in allowed)
    assert "household" in DIRECTORY["jobcenter"].allow_list
