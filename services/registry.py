"""The services of a Lotse network and the bus topology their subscriptions make up."""
from __future__ import annotations

from services.intake.consumers import SUBSCRIPTIONS as INTAKE
from services.ops.consumers import SUBSCRIPTIONS as OPS
from services.partner_adapter.consumers import SUBSCRIPTIONS as PARTNER_ADAPTER
from services.referral.consumers import SUBSCRIPTIONS as REFERRAL
from services.reporting.consumers import SUBSCRIPTIONS as REPORTING
from shared.bus.topology import Topology, build_topology
from shared.config import Settings

SUBSCRIPTIONS = INTAKE + REFERRAL + PARTNER_ADAPTER + OPS + REPORTING
BUS_SERVICES = ("intake", "referral", "partner_adapter", "ops", "reporting")


def topology(settings: Settings) -> Topology:
    return build_topology(settings.bus_prefix, SUBSCRIPTIONS, settings.retry_delays)

# Which service answers which path: the embedded dispatcher and the distributed gateway both
# route by this table (longest prefix wins; everything else goes to the intake service).
ROUTES = (
    ("/api/v1/referrals", "referral"),
    ("/api/v1/routing-rules", "referral"),
    ("/api/v1/referral/", "referral"),
    ("/api/v1/ops/referral/", "referral"),
    ("/referrals", "referral"),
    ("/api/v1/work-queue", "referral"),
    ("/work-queue", "referral"),
    ("/routing-rules", "referral"),
    ("/api/v1/courses", "referral"),
    ("/api/v1/directory/", "referral"),
    ("/courses", "referral"),
    ("/partner/courses", "referral"),
    ("/api/v1/partner-cases", "partner_adapter"),
    ("/api/v1/partner-callbacks", "partner_adapter"),
    ("/api/v1/partner-adapter/", "partner_adapter"),
    ("/api/v1/ops/partner_adapter/", "partner_adapter"),
    ("/partner/", "partner_adapter"),
    ("/api/v1/ops/", "ops"),
    ("/api/v1/ops/intake/", "intake"),
    ("/ops", "ops"),
    ("/sandbox", "partner_sandbox"),
    ("/api/v1/reports", "reporting"),
    ("/api/v1/reporting/", "reporting"),
    ("/api/v1/ops/reporting/", "reporting"),
    ("/reports", "reporting"),
)
DEFAULT_ROUTE = "intake"


def route_for(path: str) -> str:
    matches = [(len(prefix), service) for prefix, service in ROUTES if path.startswith(prefix)]
    return max(matches)[1] if matches else DEFAULT_ROUTE
