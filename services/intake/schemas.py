"""HTTP contract of the intake API (marshmallow; unknown fields are refused)."""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from shared.reference import (CONSENT_METHODS, NEEDS, RESIDENCE_STATUSES, SITES, codes,
                              is_country, is_language)


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


def _country(value: str) -> None:
    if not is_country(value):
        raise ValidationError("Not an ISO 3166-1 alpha-2 country code (e.g. UA, SY, DE).")


def _language(value: str) -> None:
    if not is_language(value):
        raise ValidationError("Not an ISO 639 language code (e.g. uk, ar, prs, ckb).")


def _one_of(items) -> validate.OneOf:
    allowed = codes(items)
    return validate.OneOf(allowed, error="Must be one of: " + ", ".join(allowed) + ".")


class PersonInSchema(StrictSchema):
    given_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    family_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    birth_date = fields.Date(required=True)
    nationality = fields.String(required=True, validate=_country)
    languages = fields.List(fields.String(validate=_language), required=True,
                            validate=validate.Length(min=1, max=10))


class ConsentInSchema(StrictSchema):
    share_with_partners = fields.Boolean(required=True, truthy={True}, falsy={False})
    method = fields.String(required=True, validate=_one_of(CONSENT_METHODS))
    language = fields.String(required=True, validate=_language)


class IntakeInSchema(StrictSchema):
    person = fields.Nested(PersonInSchema, required=True)
    residence_status = fields.String(required=True, validate=_one_of(RESIDENCE_STATUSES))
    site = fields.String(required=True, validate=_one_of(SITES))
    needs = fields.List(fields.String(validate=_one_of(NEEDS)), required=True,
                        validate=validate.Length(max=len(NEEDS)))
    consent = fields.Nested(ConsentInSchema, required=True)


class PersonOutSchema(Schema):
    given_name = fields.String()
    family_name = fields.String()
    birth_date = fields.Date()
    nationality = fields.String()
    languages = fields.List(fields.String())


class ConsentOutSchema(Schema):
    share_with_partners = fields.Boolean()
    method = fields.String()
    language = fields.String()


class ReferralOutSchema(Schema):
    referral_id = fields.UUID()
    need = fields.String()
    partner = fields.String(allow_none=True)
    service = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "FHIR Task status code"})
    reason = fields.String(allow_none=True)
    partner_case_ref = fields.String(allow_none=True)
    updated_at = fields.AwareDateTime()


class IntakeOutSchema(Schema):
    id = fields.UUID()
    reference = fields.String()
    person = fields.Nested(PersonOutSchema)
    residence_status = fields.String()
    site = fields.String()
    needs = fields.List(fields.String())
    consent = fields.Nested(ConsentOutSchema)
    recorded_by = fields.String()
    recorded_at = fields.AwareDateTime()
    referrals = fields.List(fields.Nested(ReferralOutSchema))


class IntakePageSchema(Schema):
    items = fields.List(fields.Nested(IntakeOutSchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


class PageQuerySchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class TokenRequestSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=60))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200),
                             load_only=True)


class TokenSchema(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
