"""schemathesis over the OpenAPI document of every service: no 5xx, and every answer keeps to
the document (status code, content type, headers, body schema).

Each service's app runs in-process on SQLite (as in the role matrix), called with an admin
token so the handlers run instead of stopping at 401. Generation is derandomized, so a run is
repeatable; valid (positive) and invalid (negative) inputs are generated for every operation,
a bounded number each, so the whole run stays within a few minutes on two cores. The cases are
counted: the issue asks for at least 1,000 in total.

The partner sandbox publishes a document without operations (its APIs stand in for partner
systems and are described by the partners' own contracts, tests/e2e/test_partner_contracts.py);
the test checks that it still has none, so an operation added there gets fuzzed too.
The operator console's live stream (/api/v1/ops/events/stream, server-sent events) is not in
any document: it never ends, so it cannot be fuzzed request by request.
"""
from __future__ import annotations

import logging
import re
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_headers_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from services.cli import migrate_all
from services.embedded import build_network
from services.intake.accounts import save_account
from shared.auth import Principal, issue_token
from shared.bus.delivery import deliver

DOCUMENTS = {"intake": "/api/v1/openapi.json",
             "referral": "/api/v1/referral/openapi.json",
             "partner_adapter": "/api/v1/partner-adapter/openapi.json",
             "ops": "/api/v1/ops/console/openapi.json",
             "reporting": "/api/v1/reporting/openapi.json"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
EXAMPLES = {GenerationMode.POSITIVE: 40, GenerationMode.NEGATIVE: 25}  # per operation
EXAMPLES_ON_A_RECORD = 40
MINIMUM_CASES = 1000


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    from tests.conftest import embedded_settings

    settings = embedded_settings(tmp_path_factory.mktemp("fuzz"))
    migrate_all(settings)
    network = build_network(settings)
    with network.deps["intake"].session_factory() as s:
        save_account(s, "staff", "pw-staff", "staff")  # the token endpoint has someone to find
        s.commit()
    yield network
    for deps in network.deps.values():
        deps.engine.dispose()


@pytest.fixture(scope="module")
def known(network) -> dict[str, dict[str, str]]:
    """Ids of records that exist, per service: operations on one record are also fuzzed with
    a real id, so their handlers run past the lookup (random ids only ever reach the 404)."""
    from tests.component.test_delivery import OPEN, intake_recorded
    from tests.conftest import SMOKE_INTAKE

    intake = network.wsgi.apps["intake"].test_client()
    recorded = intake.post("/api/v1/intakes", json=SMOKE_INTAKE,
                           headers=_admin(network, "intake"))
    assert recorded.status_code == 201
    person_id = recorded.get_json()["person_id"]
    consents = intake.get(f"/api/v1/persons/{person_id}/consents",
                          headers=_admin(network, "intake")).get_json()
    deliver(intake_recorded(recorded.get_json()["id"]), OPEN, network.deps["referral"].uow)
    referral = network.wsgi.apps["referral"].test_client()
    referrals = referral.get("/api/v1/referrals", headers=_admin(network, "referral")).get_json()
    rules = referral.get("/api/v1/routing-rules", headers=_admin(network, "referral")).get_json()
    return {"intake": {"intake_id": recorded.get_json()["id"], "person_id": person_id,
                       "consent_id": consents["items"][0]["id"]},
            "referral": {"referral_id": referrals["items"][0]["id"],
                         "rule_id": rules["items"][0]["id"]},
            "partner_adapter": {"partner": "welfare"}}


def _admin(network, service: str) -> dict:
    app = network.wsgi.apps[service]
    return {"Authorization": "Bearer " + issue_token(app.secret_key,
                                                      Principal("admin", "admin"))}


def fuzz(network, service: str, known: dict[str, str]) -> tuple[int, list[str]]:
    """Every operation of the service's document: (cases run, failure reports)."""
    app = network.wsgi.apps[service]
    auth = _admin(network, service)
    schema = schemathesis.openapi.from_wsgi(DOCUMENTS[service], app, headers=auth)
    cases, failures = 0, []
    operations = [result.ok() for result in schema.get_all_operations()]
    # deleting the known record last keeps it there for the other operations on it
    for operation in sorted(operations, key=lambda op: op.method.upper() == "DELETE"):
        passes = [(mode.value, mode, examples, None) for mode, examples in EXAMPLES.items()]
        names = set(re.findall(r"{(\w+)}", operation.path))
        if names and names <= set(known):
            passes.append(("known record", GenerationMode.POSITIVE, EXAMPLES_ON_A_RECORD,
                           {name: known[name] for name in names}))
        for label, mode, examples, path_parameters in passes:
            @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
            @given(case=operation.as_strategy(generation_mode=mode,
                                              path_parameters=path_parameters))
            def run(case):
                nonlocal cases
                cases += 1
                # the generated security header would stop most cases at 401: always admin
                case.headers = {**(case.headers or {}), **auth}
                case.call_and_validate(checks=CHECKS)

            try:
                run()
            except Exception as failure:  # noqa: BLE001 - collected, reported together below
                failures.append(f"{label} {operation.label}: {failure}")
    return cases, failures


def test_every_document_holds_under_generated_requests(network, known, caplog):
    caplog.set_level(logging.CRITICAL)  # the handlers' logs of refused input are noise here
    per_service, failures = Counter(), []
    for service in DOCUMENTS:
        cases, found = fuzz(network, service, known.get(service, {}))
        per_service[service] = cases
        failures += found
    print(f"schemathesis cases per service: {dict(per_service)}")
    assert not failures, "\n\n".join(failures)
    assert sum(per_service.values()) >= MINIMUM_CASES, per_service


def test_the_sandbox_document_has_no_operations_to_fuzz(network):
    app = network.wsgi.apps["partner_sandbox"]
    document = app.test_client().get("/sandbox/api/openapi.json",
                                     headers=_admin(network, "partner_sandbox")).get_json()
    assert document["paths"] == {}
