"""JSON API of the referral service (/api/v1/referrals, /api/v1/routing-rules)."""
from __future__ import annotations

from dataclasses import asdict
from datetime import date

from flask import abort, current_app, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint

from services.referral import handlers, repository, rules
from services.referral.domain import RoutingRule, facts_read, partner_view, shown_to_partner
from services.referral.schemas import (CancelSchema, FactsReadQuerySchema, FactsReadSchema,
                                       ManualReferralSchema, PartnerReferralSchema,
                                       PreviewInSchema, PreviewSchema, ReassignSchema,
                                       ReferralListSchema, ReferralOutSchema,
                                       ReferralQuerySchema, ReplayQuerySchema, ReplaySchema,
                                       RoutingRuleInSchema, RoutingRuleListSchema,
                                       RoutingRuleOutSchema, RuleVersionListSchema,
                                       WorkQueueQuerySchema)
from shared.access import accessed_records, report_access
from shared.auth import api_roles, current_principal
from shared.clock import utcnow
from shared.partners import DIRECTORY
from shared.web import FieldError

blp = Blueprint("referrals", __name__, url_prefix="/api/v1/referrals",
                description="Referrals of intakes to partner services")
queue_blp = Blueprint("work_queue", __name__, url_prefix="/api/v1/work-queue",
                      description="Referrals that need staff now")
rules_blp = Blueprint("routing_rules", __name__, url_prefix="/api/v1/routing-rules",
                      description="The routing table, kept as data")


def deps():
    return current_app.extensions["lotse"]


def _visible_partner(requested: str | None) -> str | None:
    """Partner users only ever see their own partner's referrals."""
    principal = current_principal()
    return principal.partner if principal.role == "partner" else requested


def _as_partner_sees(partner: str, referrals: list):
    """A partner user's answer is built from its allow-list (PartnerReferralSchema), not
    from the staff view: the routing reason, notes and staff names never reach a partner."""
    config = DIRECTORY.get(partner)
    allow_list = config.allow_list if config else ()
    return PartnerReferralSchema(many=True).dump(
        [partner_view(r, allow_list) for r in referrals])


@blp.route("")
class Referrals(MethodView):
    @api_roles("staff", "partner", "operator")
    @blp.arguments(ReferralQuerySchema, location="query")
    @blp.response(200, ReferralListSchema)
    def get(self, query):
        """Referrals, newest first; filter by intake, status or partner. A partner user gets
        its own partner's referrals as it may see them (fields of PartnerReferralSchema)."""
        partner = _visible_partner(query["partner"])
        with deps().session_factory() as s:
            found = repository.find(s, str(query["intake_id"]) if query["intake_id"] else None,
                                    query["status"], partner)
        if current_principal().role == "partner":
            return jsonify({"items": _as_partner_sees(
                partner, [r for r in found if shown_to_partner(r)])})
        return {"items": found}

    @api_roles("staff")
    @blp.arguments(ManualReferralSchema)
    @blp.response(201, ReferralOutSchema)
    def post(self, data):
        """Refer an intake's person by hand to any partner service (consent checked)."""
        new_id = _act(handlers.refer_by_hand, str(data["intake_id"]), data["need"],
                      data["partner"], data["service"], current_principal().username,
                      data["note"])
        return _get(new_id)


@blp.route("/<uuid:referral_id>")
class ReferralById(MethodView):
    @api_roles("staff", "partner", "operator")
    @blp.response(200, ReferralOutSchema)
    def get(self, referral_id):
        """One referral with its full status history (a partner user: as it may see it,
        the fields of PartnerReferralSchema)."""
        with deps().session_factory() as s:
            referral = repository.get(s, str(referral_id))
        partner = _visible_partner(None)
        if referral is None or (partner and (referral.partner != partner
                                             or not shown_to_partner(referral))):
            abort(404, "no referral with this id")
        report_access(deps().uow(), current_principal(), "referral", "viewed", "api",
                      [accessed_records(referral.person_id, referral.intake_id, referral.id)])
        if partner:
            return jsonify(_as_partner_sees(partner, [referral])[0])
        return referral


@blp.route("/<uuid:referral_id>/cancel")
class CancelReferral(MethodView):
    @api_roles("staff")
    @blp.arguments(CancelSchema)
    @blp.response(200, ReferralOutSchema)
    def post(self, data, referral_id):
        """Cancel a referral (coded reason); the partner is told."""
        _act(handlers.cancel_referral, str(referral_id), current_principal().username,
             data["reason"], data["note"])
        return _get(referral_id)


@blp.route("/<uuid:referral_id>/reassign")
class ReassignReferral(MethodView):
    @api_roles("staff")
    @blp.arguments(ReassignSchema)
    @blp.response(201, ReferralOutSchema)
    def post(self, data, referral_id):
        """Refer the same need by hand to another partner service (consent checked)."""
        new_id = _act(handlers.reassign_referral, str(referral_id), data["partner"],
                      data["service"], current_principal().username, data["note"])
        return _get(new_id)


def _act(action, referral_id: str, *args):
    d = deps()
    try:
        return action(referral_id, *args, d.uow())
    except LookupError:
        abort(404, "no referral with this id")
    except handlers.ReferralActionError as exc:
        raise FieldError(exc.field, exc.message) from None


def _get(referral_id):
    with deps().session_factory() as s:
        return repository.get(s, str(referral_id))


@queue_blp.route("")
class WorkQueue(MethodView):
    @api_roles("staff", "operator")
    @queue_blp.arguments(WorkQueueQuerySchema, location="query")
    @queue_blp.response(200, ReferralListSchema)
    def get(self, query):
        """Everything that needs a human now: on hold, delivery failed, rejected with no
        alternative left, overdue. Oldest first unless `sort=newest`."""
        return {"items": work_queue(deps().session_factory, **query)}


def work_queue(session_factory, kind=None, partner=None, sort="oldest") -> list:
    now = utcnow()
    with session_factory() as s:
        items = repository.needing_attention(s, now)
    items = [r for r in items if (not kind or r.attention(now).split(":")[0] == kind)
             and (not partner or r.partner == partner)]
    return sorted(items, key=lambda r: r.overdue_since or r.updated_at,
                  reverse=sort == "newest")


@rules_blp.route("")
class RoutingRules(MethodView):
    @api_roles("staff", "operator")
    @rules_blp.response(200, RoutingRuleListSchema)
    def get(self):
        """The routing rules with their conditions, effective dates and legal citations."""
        with deps().session_factory() as s:
            table = sorted(repository.rules(s), key=lambda r: (r.need, r.priority))
        today = deps().clock().date()
        return {"items": [_rule_out(r, today) for r in table]}

    @api_roles("admin")
    @rules_blp.arguments(RoutingRuleInSchema)
    @rules_blp.response(201, RoutingRuleOutSchema)
    def post(self, data):
        """Add a rule (admins); the table's new state is kept as a version."""
        if not data.get("id"):
            raise FieldError("id", "a new rule needs an id")
        return _save_rule(data, data["id"], create=True)


@rules_blp.route("/<rule_id>")
class RoutingRuleById(MethodView):
    @api_roles("admin")
    @rules_blp.arguments(RoutingRuleInSchema)
    @rules_blp.response(200, RoutingRuleOutSchema)
    def put(self, data, rule_id):
        """Change a rule (admins); versioned."""
        return _save_rule(data, rule_id, create=False)

    @api_roles("admin")
    @rules_blp.response(204)
    def delete(self, rule_id):
        """Remove a rule (admins); the earlier table stays in its version."""
        d = deps()
        try:
            rules.delete_rule(rule_id, current_principal().username,
                              request.args.get("note"), d.uow(), d.clock)
        except LookupError:
            abort(404, "no rule with this id")


def _save_rule(data: dict, rule_id: str, create: bool):
    d = deps()
    rule = rules.rule_from(data, rule_id)
    try:
        rules.save_rule(rule, current_principal().username, data.get("note"), d.uow(),
                        d.clock, create)
    except LookupError:
        abort(404, "no rule with this id")
    except rules.RuleError as exc:
        raise FieldError(exc.field, exc.message) from None
    return _rule_out(rule, d.clock().date())


def _rule_out(rule: RoutingRule, today: date) -> dict:
    """A rule as the API shows it, with its standing today computed from its dates."""
    return {**asdict(rule), "standing": rule.standing_on(today)}


@rules_blp.route("/versions")
class RuleVersions(MethodView):
    @api_roles("staff", "operator")
    @rules_blp.response(200, RuleVersionListSchema)
    def get(self):
        """Every version of the routing table: who changed it, when and why."""
        with deps().session_factory() as s:
            return {"items": [dict(v._mapping) for v in repository.rule_versions(s)]}


@rules_blp.route("/replay")
class Replay(MethodView):
    @api_roles("admin")
    @rules_blp.arguments(RoutingRuleInSchema)
    @rules_blp.arguments(ReplayQuerySchema, location="query")
    @rules_blp.response(200, ReplaySchema)
    def post(self, data, query):
        """Before saving a rule (new, or changed: the same id): the latest intakes' needs
        replayed against today's table and against it with this rule; the routes that would
        change. Nothing is saved."""
        rule = rules.replayed_rule(data)
        try:
            return rules.replay(deps().session_factory, rule, deps().clock().date(),
                                query["intakes"])
        except rules.RuleError as exc:
            raise FieldError(exc.field, exc.message) from None


@rules_blp.route("/facts-read")
class FactsRead(MethodView):
    @api_roles("staff", "operator")
    @rules_blp.arguments(FactsReadQuerySchema, location="query")
    @rules_blp.response(200, FactsReadSchema)
    def get(self, query):
        """The facts an intake may leave unrecorded (first_issue_date, arrival_date,
        residence_purpose) that today's rules read for these needs and this residence
        status, with the needs reading each: the intake form asks for them, since a rule
        deciding on a fact not recorded holds the referral ("fact missing")."""
        with deps().session_factory() as s:
            table = repository.rules(s)
        read = facts_read(query["need"], query["residence_status"], table,
                          deps().clock().date())
        return {"items": [{"fact": str(fact), "needs": needs} for fact, needs in read.items()]}


@rules_blp.route("/preview")
class Preview(MethodView):
    @api_roles("staff", "operator")
    @rules_blp.arguments(PreviewInSchema)
    @rules_blp.response(200, PreviewSchema)
    def post(self, data):
        """Where would this intake go (on a given day), and why?"""
        return {"items": rules.preview(deps().session_factory, data, utcnow().date())}
