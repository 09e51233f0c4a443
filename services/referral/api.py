"""JSON API of the referral service (/api/v1/referrals, /api/v1/routing-rules)."""
from __future__ import annotations

from dataclasses import asdict

from flask import abort, current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from services.referral import repository
from services.referral.schemas import (ReferralListSchema, ReferralOutSchema,
                                       ReferralQuerySchema, RoutingRuleListSchema)
from shared.auth import api_roles, current_principal

blp = Blueprint("referrals", __name__, url_prefix="/api/v1/referrals",
                description="Referrals of intakes to partner services")
rules_blp = Blueprint("routing_rules", __name__, url_prefix="/api/v1/routing-rules",
                      description="The routing table, kept as data")


def deps():
    return current_app.extensions["lotse"]


def _visible_partner(requested: str | None) -> str | None:
    """Partner users only ever see their own partner's referrals."""
    principal = current_principal()
    return principal.partner if principal.role == "partner" else requested


@blp.route("")
class Referrals(MethodView):
    @api_roles("staff", "partner", "operator")
    @blp.arguments(ReferralQuerySchema, location="query")
    @blp.response(200, ReferralListSchema)
    def get(self, query):
        """Referrals, newest first; filter by intake, status or partner."""
        with deps().session_factory() as s:
            found = repository.find(s, str(query["intake_id"]) if query["intake_id"] else None,
                                    query["status"], _visible_partner(query["partner"]))
        return {"items": [asdict(r) for r in found]}


@blp.route("/<uuid:referral_id>")
class ReferralById(MethodView):
    @api_roles("staff", "partner", "operator")
    @blp.response(200, ReferralOutSchema)
    def get(self, referral_id):
        """One referral with its full status history."""
        with deps().session_factory() as s:
            referral = repository.get(s, str(referral_id))
        partner = _visible_partner(None)
        if referral is None or (partner and referral.partner != partner):
            abort(404, "no referral with this id")
        return asdict(referral)


@rules_blp.route("")
class RoutingRules(MethodView):
    @api_roles("staff", "operator")
    @rules_blp.response(200, RoutingRuleListSchema)
    def get(self):
        """The routing rules with their conditions, effective dates and legal citations."""
        with deps().session_factory() as s:
            return {"items": [asdict(r) for r in sorted(repository.rules(s),
                                                        key=lambda r: (r.need, r.priority))]}
