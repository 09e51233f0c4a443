"""The role matrix, checked on every route of every service with a token of every role.

Every route must be listed here: a new route fails this test until someone decides who may
use it. "Allowed" means the role gets past the guard (any answer but 401/403); partner users
are the welfare association's. Public routes (health, metrics, login, token, signed partner
callbacks, language switch, API docs) are checked to need no role at all. Cross-partner
access (another partner's case or referral: 404) is tested with real data in
test_partner_cases.py, test_referral_api.py and the portal browser test.
"""
from __future__ import annotations

import re

import pytest

from services.cli import migrate_all
from services.embedded import build_network
from shared.auth import Principal, issue_service_token, issue_token

ROLES = {"staff": Principal("staff", "staff"),
         "partner": Principal("welfare", "partner", "welfare"),
         "operator": Principal("operator", "operator"),
         "management": Principal("management", "management"), "admin": Principal("admin", "admin")}
PUBLIC = {"/healthz", "/readyz", "/metrics", "/login", "/logout", "/api/v1/auth/token",
          "/api/v1/partner-callbacks/<partner>", "/ui-language/<lang>", "/"}
EVERYONE = set(ROLES)
# Not a user: another Lotse service with its service credential. It may use the /internal/
# routes only, and those nobody else.
SERVICE = "service"
MATRIX = {
    ("intake", "GET", "/api/v1/intakes"): {'staff', 'admin'},
    ("intake", "GET", "/api/v1/intakes/<uuid:intake_id>"): {'staff', 'admin'},
    ("intake", "GET", "/api/v1/ops/intake/flow"): {'operator', 'admin'},
    ("intake", "GET", "/api/v1/persons"): {'staff', 'admin'},
    ("intake", "GET", "/api/v1/persons/<uuid:person_id>"): {'staff', 'admin'},
    ("intake", "GET", "/api/v1/persons/<uuid:person_id>/consents"): {'staff', 'admin'},
    ("intake", "GET", "/api/v1/persons/<uuid:person_id>/access-log"): {'staff', 'admin'},
    ("intake", "GET", "/api/v1/persons/matches"): {'staff', 'admin'},
    ("intake", "GET", "/api/v1/persons/names"): {'staff', 'admin'},
    ("intake", "GET", "/intakes"): {'staff', 'admin'},
    ("intake", "GET", "/intakes/<uuid:intake_id>"): {'staff', 'admin'},
    ("intake", "GET", "/intakes/new"): {'staff', 'admin'},
    ("intake", "GET", "/persons"): {'staff', 'admin'},
    ("intake", "GET", "/persons/<uuid:person_id>"): {'staff', 'admin'},
    ("intake", "GET", "/persons/<uuid:person_id>/access-log"): {'staff', 'admin'},
    ("intake", "GET", "/persons/<uuid:person_id>/next-steps"): {'staff', 'admin'},
    ("intake", "GET", "/persons/<uuid:person_id>/referrals"): {'staff', 'admin'},
    ("intake", "GET", "/record-of-processing"): {'admin'},
    ("intake", "GET", "/persons/<uuid:person_id>/registration-form/<uuid:referral_id>"):
        {'staff', 'admin'},
    ("intake", "POST", "/api/v1/consents/<uuid:consent_id>/withdraw"): {'staff', 'admin'},
    ("intake", "POST", "/api/v1/auth/logout"):
        {'staff', 'partner', 'operator', 'management', 'admin'},
    ("intake", "POST", "/api/v1/auth/revocations"): {'admin'},
    ("intake", "GET", "/api/v1/auth/throttling"): {'admin'},
    ("intake", "GET", "/internal/v1/token-revocations"): {SERVICE},
    ("intake", "POST", "/api/v1/intakes"): {'staff', 'admin'},
    ("intake", "POST", "/api/v1/intakes/<uuid:intake_id>/facts"): {'staff', 'admin'},
    ("intake", "POST", "/intakes/<uuid:intake_id>/facts"): {'staff', 'admin'},
    ("intake", "POST", "/api/v1/merges/<merge_id>/undo"): {'staff', 'admin'},
    ("intake", "POST", "/api/v1/persons/<uuid:person_id>/consents"): {'staff', 'admin'},
    ("intake", "POST", "/api/v1/persons/<uuid:person_id>/consultations"): {'staff', 'admin'},
    ("intake", "POST", "/api/v1/persons/<uuid:person_id>/merge"): {'staff', 'admin'},
    ("intake", "POST", "/intakes/new"): {'staff', 'admin'},
    ("intake", "POST", "/merges/<merge_id>/undo"): {'staff', 'admin'},
    ("intake", "POST", "/persons/<uuid:person_id>/consents"): {'staff', 'admin'},
    ("intake", "POST", "/persons/<uuid:person_id>/consents/<uuid:consent_id>/withdraw"):
        {'staff', 'admin'},
    ("intake", "POST", "/persons/<uuid:person_id>/merge"): {'staff', 'admin'},
    ("intake", "GET", "/api/v1/persons/<uuid:person_id>/erasure"): {'staff', 'admin'},
    ("intake", "POST", "/api/v1/persons/<uuid:person_id>/erasure"): {'admin'},
    ("intake", "GET", "/persons/<uuid:person_id>/erasure"): {'staff', 'admin'},
    ("intake", "POST", "/persons/<uuid:person_id>/erasure"): {'admin'},
    # the walk-in queue (issue 22): staff; the kiosk and the display have no login, their
    # addresses hold the site's key (a wrong key: 404 for anyone, test_walk_in_pages.py)
    ("intake", "GET", "/api/v1/queue"): {'staff', 'admin'},
    ("intake", "POST", "/api/v1/queue/tickets"): {'staff', 'admin'},
    ("intake", "POST", "/api/v1/queue/call-next"): {'staff', 'admin'},
    ("intake", "POST", "/api/v1/queue/tickets/<uuid:ticket_id>/call"): {'staff', 'admin'},
    ("intake", "POST", "/api/v1/queue/tickets/<uuid:ticket_id>/served"): {'staff', 'admin'},
    ("intake", "POST", "/api/v1/queue/tickets/<uuid:ticket_id>/no-show"): {'staff', 'admin'},
    ("intake", "GET", "/queue"): {'staff', 'admin'},
    ("intake", "POST", "/queue/tickets"): {'staff', 'admin'},
    ("intake", "POST", "/queue/call-next"): {'staff', 'admin'},
    ("intake", "POST", "/queue/tickets/<uuid:ticket_id>/call"): {'staff', 'admin'},
    ("intake", "POST", "/queue/tickets/<uuid:ticket_id>/served"): {'staff', 'admin'},
    ("intake", "POST", "/queue/tickets/<uuid:ticket_id>/no-show"): {'staff', 'admin'},
    ("intake", "GET", "/queue/kiosk/<site>/<key>"): EVERYONE,
    ("intake", "POST", "/queue/kiosk/<site>/<key>"): EVERYONE,
    ("intake", "GET", "/queue/display/<site>/<key>"): EVERYONE,
    ("intake", "GET", "/queue/display/<site>/<key>/numbers"): EVERYONE,
    # inbound referrals (issue 22, item 5): a partner's user refers (admin, with no partner,
    # is refused) and reads its own; staff read all and move them on
    ("intake", "POST", "/api/v1/inbound-referrals"): {'partner'},
    ("intake", "GET", "/api/v1/inbound-referrals"): {'staff', 'partner', 'admin'},
    ("intake", "GET", "/api/v1/inbound-referrals/<uuid:referral_id>"):
        {'staff', 'partner', 'admin'},
    ("intake", "POST", "/api/v1/inbound-referrals/<uuid:referral_id>/invite"): {'staff', 'admin'},
    ("intake", "POST", "/api/v1/inbound-referrals/<uuid:referral_id>/decline"):
        {'staff', 'admin'},
    ("intake", "POST", "/api/v1/inbound-referrals/<uuid:referral_id>/not-reached"):
        {'staff', 'admin'},
    ("intake", "POST", "/api/v1/inbound-referrals/<uuid:referral_id>/arrived"):
        {'staff', 'admin'},
    ("intake", "GET", "/inbound-referrals"): {'staff', 'admin'},
    ("intake", "GET", "/inbound-referrals/<uuid:referral_id>"): {'staff', 'admin'},
    ("intake", "POST", "/inbound-referrals/<uuid:referral_id>/invite"): {'staff', 'admin'},
    ("intake", "POST", "/inbound-referrals/<uuid:referral_id>/decline"): {'staff', 'admin'},
    ("intake", "POST", "/inbound-referrals/<uuid:referral_id>/not-reached"): {'staff', 'admin'},
    ("intake", "GET", "/sent-referrals"): {'partner'},
    ("ops", "GET", "/api/v1/ops/audit"): {'operator', 'admin'},
    ("ops", "GET", "/api/v1/ops/charts"): {'operator', 'admin'},
    ("ops", "GET", "/api/v1/ops/dead-letters"): {'operator', 'admin'},
    ("ops", "GET", "/api/v1/ops/dead-letters/<int:dead_letter_id>"): {'operator', 'admin'},
    ("ops", "GET", "/api/v1/ops/events"): {'operator', 'admin'},
    ("ops", "GET", "/api/v1/ops/ops/flow"): {'operator', 'admin'},
    ("ops", "GET", "/api/v1/ops/overview"): {'operator', 'admin'},
    ("ops", "GET", "/api/v1/ops/replays/<string:batch_id>"): {'operator', 'admin'},
    ("ops", "GET", "/api/v1/ops/trace/<string:any_id>"): {'operator', 'admin'},
    ("ops", "GET", "/ops"): {'operator', 'admin'},
    ("ops", "GET", "/ops/dead-letters"): {'operator', 'admin'},
    ("ops", "GET", "/ops/dead-letters/<int:dead_letter_id>"): {'operator', 'admin'},
    ("ops", "GET", "/ops/replays/<string:batch_id>"): {'operator', 'admin'},
    ("ops", "GET", "/ops/trace"): {'operator', 'admin'},
    ("ops", "POST", "/api/v1/ops/dead-letters/<int:dead_letter_id>/discard"): {'operator', 'admin'},
    ("ops", "POST", "/api/v1/ops/dead-letters/<int:dead_letter_id>/replay"): {'operator', 'admin'},
    ("ops", "POST", "/api/v1/ops/replays"): {'operator', 'admin'},
    ("ops", "POST", "/ops/dead-letters/<int:dead_letter_id>/discard"): {'operator', 'admin'},
    ("ops", "POST", "/ops/dead-letters/<int:dead_letter_id>/replay"): {'operator', 'admin'},
    ("ops", "POST", "/ops/dead-letters/replay"): {'operator', 'admin'},
    ("partner_adapter", "GET", "/api/v1/ops/partner_adapter/flow"): {'operator', 'admin'},
    ("partner_adapter", "GET", "/api/v1/partner-cases"): {'staff', 'partner', 'operator', 'admin'},
    ("partner_adapter", "GET", "/partner/cases"): {'partner', 'operator', 'admin'},
    ("partner_adapter", "POST", "/partner/cases/<uuid:case_id>/report"): {'partner', 'admin'},
    ("referral", "DELETE", "/api/v1/routing-rules/<rule_id>"): {'admin'},
    ("referral", "GET", "/api/v1/ops/referral/flow"): {'operator', 'admin'},
    ("referral", "GET", "/api/v1/referrals"): {'staff', 'partner', 'operator', 'admin'},
    ("referral", "GET", "/api/v1/referrals/<uuid:referral_id>"):
        {'staff', 'partner', 'operator', 'admin'},
    ("referral", "GET", "/api/v1/routing-rules"): {'staff', 'operator', 'admin'},
    ("referral", "GET", "/api/v1/routing-rules/facts-read"): {'staff', 'operator', 'admin'},
    ("referral", "GET", "/api/v1/routing-rules/versions"): {'staff', 'operator', 'admin'},
    ("referral", "GET", "/api/v1/work-queue"): {'staff', 'operator', 'admin'},
    ("referral", "GET", "/referrals"): {'staff', 'operator', 'admin'},
    ("referral", "GET", "/referrals/<uuid:referral_id>"): {'staff', 'operator', 'admin'},
    ("referral", "GET", "/routing-rules"): {'staff', 'operator', 'admin'},
    ("referral", "GET", "/routing-rules/<rule_id>/edit"): {'admin'},
    ("referral", "GET", "/routing-rules/new"): {'admin'},
    ("referral", "GET", "/work-queue"): {'staff', 'operator', 'admin'},
    ("referral", "POST", "/api/v1/referrals"): {'staff', 'admin'},
    ("referral", "POST", "/api/v1/referrals/<uuid:referral_id>/cancel"): {'staff', 'admin'},
    ("referral", "POST", "/api/v1/referrals/<uuid:referral_id>/reassign"): {'staff', 'admin'},
    ("referral", "POST", "/api/v1/routing-rules"): {'admin'},
    ("referral", "POST", "/api/v1/routing-rules/preview"): {'staff', 'operator', 'admin'},
    ("referral", "POST", "/api/v1/routing-rules/replay"): {'admin'},
    ("referral", "POST", "/referrals/<uuid:referral_id>/cancel"): {'staff', 'admin'},
    ("referral", "POST", "/referrals/<uuid:referral_id>/reassign"): {'staff', 'admin'},
    ("referral", "POST", "/referrals/manual"): {'staff', 'admin'},
    ("referral", "POST", "/routing-rules"): {'staff', 'operator', 'admin'},
    ("referral", "POST", "/routing-rules/<rule_id>/edit"): {'admin'},
    ("referral", "POST", "/routing-rules/new"): {'admin'},
    ("referral", "PUT", "/api/v1/routing-rules/<rule_id>"): {'admin'},
    # the course directory (issue 22, item 4): staff and partners read it; partner users keep
    # courses, but only a course provider's users their own provider's (another partner:
    # 403, another provider's course: 403; test_courses.py); staff match and ask for places
    ("referral", "GET", "/api/v1/courses"): {'staff', 'partner', 'admin'},
    ("referral", "POST", "/api/v1/courses"): {'partner', 'admin'},
    ("referral", "GET", "/api/v1/courses/<uuid:course_id>"): {'staff', 'partner', 'admin'},
    ("referral", "PATCH", "/api/v1/courses/<uuid:course_id>"): {'partner', 'admin'},
    ("referral", "POST", "/api/v1/courses/<uuid:course_id>/close"): {'partner', 'admin'},
    ("referral", "GET", "/api/v1/courses/matches"): {'staff', 'admin'},
    ("referral", "POST", "/api/v1/courses/<uuid:course_id>/place-requests"): {'staff', 'admin'},
    ("referral", "GET", "/api/v1/directory/hsds"): EVERYONE,
    ("referral", "GET", "/courses"): {'staff', 'admin'},
    ("referral", "POST", "/courses/<uuid:course_id>/place-request"): {'staff', 'admin'},
    ("referral", "GET", "/partner/courses"): {'partner', 'admin'},
    ("referral", "POST", "/partner/courses"): {'partner', 'admin'},
    ("referral", "GET", "/partner/courses/<uuid:course_id>/edit"): {'partner', 'admin'},
    ("referral", "POST", "/partner/courses/<uuid:course_id>/edit"): {'partner', 'admin'},
    ("referral", "POST", "/partner/courses/<uuid:course_id>/close"): {'partner', 'admin'},
    # the centre's figures: management and admins; a partner its own referrals' figures
    ("reporting", "GET", "/api/v1/ops/reporting/flow"): {'operator', 'admin'},
    ("reporting", "GET", "/api/v1/reports/consultations"): {'management', 'admin'},
    ("reporting", "GET", "/api/v1/reports/referrals"): {'management', 'partner', 'admin'},
    ("reporting", "GET", "/api/v1/reports/queue"): {'management', 'admin'},
    ("reporting", "GET", "/api/v1/reports/summary"): {'management', 'admin'},
    ("reporting", "GET", "/reports"): {'management', 'admin'},
}


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    from tests.conftest import embedded_settings

    settings = embedded_settings(tmp_path_factory.mktemp("matrix"))
    migrate_all(settings)
    network = build_network(settings)
    yield network
    for deps in network.deps.values():
        deps.engine.dispose()


@pytest.fixture(scope="module")
def apps(network):
    return {name: app for name, app in network.wsgi.apps.items() if name != "partner_sandbox"}


def concrete(rule: str) -> str:
    def value(m):
        if m.group(0).startswith("<uuid"):
            return "00000000-0000-0000-0000-000000000000"
        return "1" if m.group(0).startswith("<int") else "welfare"
    return re.sub(r"<[^>]+>", value, rule)


def routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or "swagger" in rule.rule or "openapi" in rule.rule:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule.rule


def allowed(app, method: str, rule: str) -> set[str]:
    app.config["WTF_CSRF_ENABLED"] = False  # the guard, not the form token, is under test
    client, roles = app.test_client(), set()
    credentials = {role: issue_token(app.secret_key, principal)
                   for role, principal in ROLES.items()}
    credentials[SERVICE] = issue_service_token(app.extensions["lotse_service_secret"], "ops")
    for role, credential in credentials.items():
        answer = client.open(concrete(rule), method=method,
                             headers={"Authorization": "Bearer " + credential,
                                      "Accept": "application/json"},
                             json={} if method != "GET" else None,
                             buffered=not rule.endswith("/stream"))
        if answer.status_code not in (401, 403):
            roles.add(role)
        answer.close()
    return roles


@pytest.mark.parametrize("service", ["intake", "referral", "partner_adapter", "ops",
                                     "reporting"])
def test_every_route_answers_each_role_as_the_matrix_says(apps, service):
    app, checked = apps[service], 0
    for method, rule in routes(app):
        if rule in PUBLIC or rule.endswith("/docs") or rule.endswith("/stream"):
            continue
        key = (service, method, rule)
        assert key in MATRIX, f"{key} is not in the role matrix: decide who may use it"
        assert allowed(app, method, rule) == MATRIX[key], key
        checked += 1
    assert checked == len([k for k in MATRIX if k[0] == service])


@pytest.mark.parametrize("service", ["intake", "referral", "partner_adapter", "ops",
                                     "reporting"])
def test_public_routes_need_no_role(apps, service):
    app = apps[service]
    for method, rule in routes(app):
        if method == "GET" and (rule in PUBLIC or rule.endswith("/docs")) \
                and rule not in ("/logout",):
            assert allowed(app, method, rule) == EVERYONE, rule


def test_the_live_stream_is_for_operators(apps):
    app = apps["ops"]
    assert allowed(app, "GET", "/api/v1/ops/events/stream") == {"operator", "admin"}


# What a black-box probe sent: absurd paging values, and a body nested past Python's
# recursion limit. Each must be answered 4xx (or 2xx/3xx), by every route, for every role,
# including a portal partner without a stand-in system in the sandbox.
ABSURD_QUERIES = ("page=1e23", "per_page=1e23", "page=99999999999999999999999",
                  "per_page=-1", "limit=1e23", "after=99999999999999999999999")
DEEP_JSON = "[" * 50_000 + "]" * 50_000
PROBE_ROLES = {**ROLES, "portal partner": Principal("sozialamt", "partner", "sozialamt")}


def _probe(app, method: str, path: str, principal: Principal, **body) -> int:
    """A fresh token each time: the probe of /api/v1/auth/logout revokes the one it sent."""
    credential = issue_token(app.secret_key, principal)
    answer = app.test_client().open(path, method=method,
                                    headers={"Authorization": "Bearer " + credential}, **body)
    answer.close()
    return answer.status_code


@pytest.mark.parametrize("service", ["intake", "referral", "partner_adapter", "ops",
                                     "partner_sandbox"])
def test_no_route_answers_absurd_input_with_a_server_error(network, service):
    app = network.wsgi.apps[service]
    app.config["WTF_CSRF_ENABLED"] = False  # the view, not the form token, is under test
    failures = []
    for method, rule in routes(app):
        if rule.endswith("/stream"):
            continue
        path = concrete(rule)
        probes = ([{"query_string": q} for q in ABSURD_QUERIES] if method == "GET" else
                  [{"data": DEEP_JSON, "content_type": "application/json"}, {"json": {}},
                   {"data": {"reason": "probe", "back": "/"}}])
        for principal in PROBE_ROLES.values():
            for probe in probes:
                status = _probe(app, method, path, principal, **probe)
                if status >= 500:
                    failures.append(f"{method} {path} {probe.get('query_string', '')}: {status}")
    assert not failures, "\n".join(dict.fromkeys(failures))


def test_a_portal_partner_is_told_there_is_no_stand_in_system_for_it(network):
    app = network.wsgi.apps["partner_sandbox"]
    answer = app.test_client().get("/sandbox/", headers={
        "Authorization": "Bearer " + issue_token(app.secret_key, PROBE_ROLES["portal partner"]),
        "Accept-Language": "en"})
    assert answer.status_code == 200  # the page works for every partner (issue 20, item 7)
    page = answer.get_data(as_text=True)
    assert "has no system of its own" in page and "/partner/cases" in page


def test_a_partner_user_never_reads_another_partners_referral(settings, referral_deps):
    """With real referrals: another partner's referral does not exist for a partner user
    (404, so its existence does not leak); lists hold only the partner's own."""
    from services.referral.app import create_app as referral_app
    from shared.bus.delivery import deliver
    from tests.component.test_delivery import OPEN, intake_recorded

    deliver(intake_recorded(), OPEN, referral_deps.uow)
    app = referral_app(settings.for_service("referral"), referral_deps)
    client = app.test_client()

    def as_(principal):
        return {"Authorization": "Bearer " + issue_token(app.secret_key, principal)}
    staff_view = client.get("/api/v1/referrals", headers=as_(ROLES["staff"])).get_json()
    by_partner = {r["partner"]: r["id"] for r in staff_view["items"]}
    assert {"welfare", "registration"} <= set(by_partner)
    welfare = as_(ROLES["partner"])
    assert client.get(f"/api/v1/referrals/{by_partner['welfare']}",
                      headers=welfare).status_code == 200
    other = client.get(f"/api/v1/referrals/{by_partner['registration']}", headers=welfare)
    assert other.status_code == 404
    assert other.get_json()["message"] == client.get(
        "/api/v1/referrals/00000000-0000-0000-0000-000000000000",
        headers=welfare).get_json()["message"]  # the same answer as for no referral at all
    listed = client.get("/api/v1/referrals", headers=welfare).get_json()["items"]
    assert {r["partner"] for r in listed} == {"welfare"}
    asked_for_other = client.get("/api/v1/referrals?partner=jobcenter",
                                 headers=welfare).get_json()["items"]
    assert {r["partner"] for r in asked_for_other} <= {"welfare"}
