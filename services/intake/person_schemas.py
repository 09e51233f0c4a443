"""HTTP contract of the person, consent and merge endpoints."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.intake.schemas import IntakeOutSchema, PartnerConsentOutSchema, StrictSchema


class NameOutSchema(Schema):
    given_name = fields.String()
    family_name = fields.String()


class AddressOutSchema(Schema):
    street = fields.String()
    postcode = fields.String()
    city = fields.String()
    district = fields.String(allow_none=True, metadata={
        "description": "the city district (Stadtbezirk); null: outside the city or unclear"})


class ContactOutSchema(Schema):
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    address = fields.Nested(AddressOutSchema, allow_none=True)
    no_fixed_address = fields.Boolean()
    preferred_channel = fields.String(allow_none=True)


class HouseholdOutSchema(Schema):
    given_name = fields.String()
    family_name = fields.String()
    relation = fields.String()
    birth_date = fields.Date()


class PersonDetailsSchema(Schema):
    given_name = fields.String()
    family_name = fields.String()
    birth_date = fields.Date()
    nationality = fields.String()
    nationalities = fields.List(fields.String(), attribute="all_nationalities")
    languages = fields.List(fields.String())
    preferred_language = fields.String(allow_none=True)
    interpreter = fields.String()
    other_names = fields.List(fields.Nested(NameOutSchema))
    contact = fields.Nested(ContactOutSchema)
    household = fields.List(fields.Nested(HouseholdOutSchema))


class PersonSummarySchema(Schema):
    id = fields.UUID()
    person = fields.Nested(PersonDetailsSchema)
    merged_into = fields.UUID(allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class TimelineEntrySchema(Schema):
    at = fields.AwareDateTime()
    kind = fields.String(metadata={"description": "consultation | consent | consent_withdrawn "
                                                  "| referral | merge"})
    summary = fields.String()
    ref = fields.String(allow_none=True)


class MergeOutSchema(Schema):
    id = fields.String()
    survivor_id = fields.String()
    merged_id = fields.String()
    merged_by = fields.String()
    merged_at = fields.AwareDateTime()
    reason = fields.String(allow_none=True)
    undone_by = fields.String(allow_none=True)
    undone_at = fields.AwareDateTime(allow_none=True)


class PersonRecordSchema(PersonSummarySchema):
    consultations = fields.List(fields.Nested(IntakeOutSchema))
    consents = fields.List(fields.Nested(PartnerConsentOutSchema))
    merges = fields.List(fields.Nested(MergeOutSchema))
    timeline = fields.List(fields.Nested(TimelineEntrySchema))


class PersonListSchema(Schema):
    items = fields.List(fields.Nested(PersonSummarySchema))


class PersonSearchQuerySchema(StrictSchema):
    q = fields.String(required=True, validate=validate.Length(min=2, max=200),
                      metadata={"description": "name, date of birth (YYYY-MM-DD or DD.MM.YYYY)"
                                               " or reference"})


class PersonNamesQuerySchema(StrictSchema):
    id = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1, max=100),
                     metadata={"description": "person ids (the parameter repeated, at most "
                                              "100): the names lists of referrals show"})


class PersonNameSchema(Schema):
    id = fields.String()
    given_name = fields.String()
    family_name = fields.String()


class PersonNameListSchema(Schema):
    items = fields.List(fields.Nested(PersonNameSchema))


class MatchQuerySchema(StrictSchema):
    given_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    family_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    birth_date = fields.Date(load_default=None)


class MatchOutSchema(Schema):
    person = fields.Nested(PersonSummarySchema)
    score = fields.Float()
    reasons = fields.List(fields.String())


class MatchListSchema(Schema):
    items = fields.List(fields.Nested(MatchOutSchema))


class WithdrawSchema(StrictSchema):
    reason = fields.String(load_default=None, allow_none=True,
                           validate=validate.Length(max=500))


class MergeInSchema(StrictSchema):
    duplicate_id = fields.UUID(required=True)
    reason = fields.String(load_default=None, allow_none=True,
                           validate=validate.Length(max=500))


class ConsentListSchema(Schema):
    items = fields.List(fields.Nested(PartnerConsentOutSchema))


