"""HTTP contract of the referral API."""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from services.referral.domain import REASONS, PensionAge
from shared.reference import DISTRICTS, NEEDS, RESIDENCE_PURPOSES, RESIDENCE_STATUSES, codes
from shared.clock import utcnow
from shared.events.contracts import REFERRAL_STATUSES
from shared.events.vocabulary import values


class HistoryOutSchema(Schema):
    status = fields.String()
    previous_status = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    changed_by = fields.String()
    changed_at = fields.AwareDateTime()


class ReferralOutSchema(Schema):
    """A referral with its history; `attention` says why staff must act (work queue)."""

    id = fields.UUID()
    intake_id = fields.UUID()
    intake_reference = fields.String()
    need = fields.String()
    partner = fields.String(allow_none=True)
    service = fields.String(allow_none=True)
    routing_reason = fields.String(metadata={"description": "why it went where it went"})
    status = fields.String(metadata={"description": "FHIR Task status code"})
    reason = fields.String(allow_none=True)
    partner_case_ref = fields.String(allow_none=True)
    appointment = fields.Dict(allow_none=True, metadata={
        "description": "booked by the partner: starts_at, location, bring (documents)"})
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    outcome = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    superseded_by = fields.String(allow_none=True)
    rule_id = fields.String(allow_none=True)
    rules_version = fields.Integer(allow_none=True)
    waits_for = fields.String(allow_none=True)
    ack_due_at = fields.AwareDateTime(allow_none=True)
    complete_due_at = fields.AwareDateTime(allow_none=True)
    overdue_since = fields.AwareDateTime(allow_none=True)
    attention = fields.Method("_attention", allow_none=True)
    history = fields.List(fields.Nested(HistoryOutSchema))
    for_member = fields.Integer(allow_none=True, metadata={
        "description": "the household member it is for: index in the intake's "
                       "person.household; null: the person"})
    course_id = fields.String(allow_none=True, metadata={
        "description": "a place request: the course (/api/v1/courses) a place is asked in"})
    for_person = fields.Method("_for_person", allow_none=True, metadata={
        "description": "that member: relation, given_name, family_name, birth_date"})

    def _attention(self, referral):
        return referral.attention(utcnow()) if hasattr(referral, "attention") else None

    def _for_person(self, referral):
        member = referral.for_person() if hasattr(referral, "for_person") else None
        return None if member is None else member.wire()


class ReferralListSchema(Schema):
    items = fields.List(fields.Nested(ReferralOutSchema))


class PartnerHistorySchema(Schema):
    status = fields.String()
    previous_status = fields.String(allow_none=True)
    changed_at = fields.AwareDateTime()


class PartnerReferralSchema(Schema):
    """A referral as a partner user sees it (domain.partner_view): the fields the partner's
    allow-list names (id, intake_reference, need, service) and the case's workflow."""

    id = fields.UUID()
    intake_reference = fields.String()
    need = fields.String()
    service = fields.String(allow_none=True)
    partner = fields.String(allow_none=True)
    status = fields.String()
    reason = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    partner_case_ref = fields.String(allow_none=True)
    appointment = fields.Dict(allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    ack_due_at = fields.AwareDateTime(allow_none=True)
    complete_due_at = fields.AwareDateTime(allow_none=True)
    overdue_since = fields.AwareDateTime(allow_none=True)
    history = fields.List(fields.Nested(PartnerHistorySchema))
    course_id = fields.String(allow_none=True)


class ReferralQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    intake_id = fields.UUID(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(REFERRAL_STATUSES))
    partner = fields.String(load_default=None)


class RoutingRuleOutSchema(Schema):
    id = fields.String()
    standing = fields.String(metadata={"description": "today, from valid_from / valid_to: "
                                       "in_force, not_yet or ended"})
    first_issued_from = fields.Date(allow_none=True)
    first_issued_until = fields.Date(allow_none=True)
    nationality_group = fields.String(allow_none=True)
    languages = fields.List(fields.String(), allow_none=True)
    child_under = fields.Integer(allow_none=True)
    districts = fields.List(fields.String(), allow_none=True)
    pension_age = fields.String(allow_none=True)
    purposes = fields.List(fields.String(), allow_none=True)
    arrived_within_months = fields.Integer(allow_none=True)
    requires_need = fields.String(allow_none=True)
    need = fields.String()
    partner = fields.String()
    service = fields.String()
    priority = fields.Integer()
    min_age = fields.Integer(allow_none=True)
    max_age = fields.Integer(allow_none=True, metadata={"description": "exclusive"})
    residence_statuses = fields.List(fields.String(), allow_none=True)
    valid_from = fields.Date(allow_none=True)
    valid_to = fields.Date(allow_none=True)
    citation = fields.String()


class RoutingRuleListSchema(Schema):
    items = fields.List(fields.Nested(RoutingRuleOutSchema))


class CancelSchema(Schema):
    class Meta:
        unknown = RAISE

    reason = fields.String(required=True, validate=validate.OneOf(REASONS["cancelled"]))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class ReassignSchema(Schema):
    class Meta:
        unknown = RAISE

    partner = fields.String(required=True, validate=validate.Length(min=1, max=40))
    service = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z0-9_]{2,60}$", error="A service code: lower-case letters, digits, _."))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class ManualReferralSchema(Schema):
    """A referral staff make by hand (any need, any partner service)."""

    class Meta:
        unknown = RAISE

    intake_id = fields.UUID(required=True)
    need = fields.String(required=True, validate=validate.OneOf(codes(NEEDS)))
    partner = fields.String(required=True, validate=validate.Length(min=1, max=40))
    service = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z0-9_]{2,60}$", error="A service code: lower-case letters, digits, _."))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class WorkQueueQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    kind = fields.String(load_default=None, validate=validate.OneOf(
        ("on_hold", "delivery_failed", "rejected", "overdue")))
    partner = fields.String(load_default=None)
    sort = fields.String(load_default="oldest", validate=validate.OneOf(("oldest", "newest")))


class RoutingRuleInSchema(Schema):
    """A routing rule as admins write it; `max_age` is exclusive (JMD: below 27)."""

    class Meta:
        unknown = RAISE

    id = fields.String(load_default=None, validate=validate.Regexp(
        r"^[a-z0-9-]{3,60}$", error="Lower-case letters, digits and -, 3 to 60 long."))
    need = fields.String(required=True, validate=validate.OneOf(codes(NEEDS)))
    partner = fields.String(required=True, validate=validate.Length(min=1, max=40))
    service = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z0-9_]{2,60}$", error="A service code: lower-case letters, digits, _."))
    priority = fields.Integer(required=True, validate=validate.Range(min=1, max=1000))
    min_age = fields.Integer(load_default=None, allow_none=True,
                             validate=validate.Range(min=0, max=120))
    max_age = fields.Integer(load_default=None, allow_none=True,
                             validate=validate.Range(min=1, max=121))
    residence_statuses = fields.List(fields.String(validate=validate.OneOf(
        codes(RESIDENCE_STATUSES))), load_default=None, allow_none=True)
    valid_from = fields.Date(load_default=None, allow_none=True)
    valid_to = fields.Date(load_default=None, allow_none=True)
    citation = fields.String(required=True, validate=validate.Length(min=3, max=500))
    requires_need = fields.String(load_default=None, allow_none=True,
                                  validate=validate.OneOf(codes(NEEDS)))
    first_issued_from = fields.Date(load_default=None, allow_none=True)
    first_issued_until = fields.Date(load_default=None, allow_none=True)
    nationality_group = fields.String(load_default=None, allow_none=True,
                                      validate=validate.OneOf(("EU", "non_EU")))
    languages = fields.List(fields.String(validate=validate.Regexp(r"^[a-z]{2,3}$")),
                            load_default=None, allow_none=True,
                            metadata={"description": "languages the partner offers"})
    child_under = fields.Integer(load_default=None, allow_none=True,
                                 validate=validate.Range(min=1, max=27))
    districts = fields.List(fields.String(validate=validate.OneOf(codes(DISTRICTS))),
                            load_default=None, allow_none=True,
                            metadata={"description": "the address lies in one of these city "
                                      "districts (none: anywhere)"})
    pension_age = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(values(PensionAge)),
        metadata={"description": "below: up to the statutory pension age by birth year "
                  "(§ 7a SGB II); reached: from the month after (§ 41 (2) SGB XII)"})
    purposes = fields.List(fields.String(validate=validate.OneOf(codes(RESIDENCE_PURPOSES))),
                           load_default=None, allow_none=True, metadata={
                               "description": "the purpose of residence is one of these (not "
                               "recorded: the referral waits, 'fact missing')"})
    arrived_within_months = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=120),
        metadata={"description": "arrived in Germany less than this many months before the "
                  "intake's day (§ 7 Abs. 1 Satz 2 Nr. 1 SGB II: three)"})
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500),
                         metadata={"description": "why the change (kept with the version)"})


class RuleVersionSchema(Schema):
    version = fields.Integer()
    changed_by = fields.String()
    changed_at = fields.AwareDateTime()
    note = fields.String(allow_none=True)


class RuleVersionListSchema(Schema):
    items = fields.List(fields.Nested(RuleVersionSchema))


class PreviewInSchema(Schema):
    class Meta:
        unknown = RAISE

    birth_date = fields.Date(required=True)
    residence_status = fields.String(required=True, validate=validate.OneOf(
        codes(RESIDENCE_STATUSES)))
    nationality = fields.String(load_default="XX", validate=validate.Length(equal=2))
    languages = fields.List(fields.String(), load_default=list)
    needs = fields.List(fields.String(validate=validate.OneOf(codes(NEEDS))), required=True,
                        validate=validate.Length(min=1))
    first_issue_date = fields.Date(load_default=None, allow_none=True)
    nationalities = fields.List(fields.String(validate=validate.Length(equal=2)),
                                load_default=list)
    children_born = fields.List(fields.Date(), load_default=list,
                                metadata={"description": "birth dates of the household's "
                                          "children"})
    district = fields.String(load_default=None, allow_none=True,
                             validate=validate.OneOf(codes(DISTRICTS)))
    arrival_date = fields.Date(load_default=None, allow_none=True)
    residence_purpose = fields.String(load_default=None, allow_none=True,
                                      validate=validate.OneOf(codes(RESIDENCE_PURPOSES)))
    on_date = fields.Date(load_default=None, metadata={"description": "default: today"})

    @validates_schema
    def _born_before(self, data, **kwargs):
        if data.get("on_date") and data["birth_date"] > data["on_date"]:
            raise ValidationError("Born after the day asked about.", "birth_date")


class FactsReadQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    need = fields.List(fields.String(validate=validate.OneOf(codes(NEEDS))), required=True,
                       validate=validate.Length(min=1))
    residence_status = fields.String(required=True, validate=validate.OneOf(
        codes(RESIDENCE_STATUSES)))


class FactReadSchema(Schema):
    fact = fields.String(metadata={"description": "first_issue_date, arrival_date or "
                                   "residence_purpose"})
    needs = fields.List(fields.String(), metadata={"description": "the needs whose rules "
                                                   "read it"})


class FactsReadSchema(Schema):
    items = fields.List(fields.Nested(FactReadSchema))


class PreviewRouteSchema(Schema):
    need = fields.String()
    partner = fields.String(allow_none=True)
    service = fields.String(allow_none=True)
    rule_id = fields.String(allow_none=True)
    reason = fields.String()
    requires_need = fields.String(allow_none=True)
    facts_missing = fields.List(fields.String(), metadata={
        "description": "facts the deciding rule reads that were not given: the referral would "
                       "wait on hold until they are recorded"})


class PreviewSchema(Schema):
    items = fields.List(fields.Nested(PreviewRouteSchema))


class ReplayQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    intakes = fields.Integer(load_default=200, validate=validate.Range(min=1, max=2000),
                             metadata={"description": "how many of the latest intakes"})


class ReplayRouteSchema(Schema):
    partner = fields.String(allow_none=True)
    service = fields.String(allow_none=True)
    rule_id = fields.String()
    facts_missing = fields.List(fields.String(), metadata={
        "description": "on hold: the deciding rule reads facts the intake did not record"})


class ReplayChangeSchema(Schema):
    intake_reference = fields.String()
    need = fields.String()
    before = fields.Nested(ReplayRouteSchema, allow_none=True,
                           metadata={"description": "null: on hold, no rule fits"})
    after = fields.Nested(ReplayRouteSchema, allow_none=True)


class ReplaySchema(Schema):
    replayed_intakes = fields.Integer()
    replayed_needs = fields.Integer()
    changes = fields.List(fields.Nested(ReplayChangeSchema))

