"""HTTP contract of the intake API (marshmallow; unknown fields are refused, every string
has a maximum length, every code is checked against its list)."""
from __future__ import annotations

from marshmallow import (EXCLUDE, RAISE, Schema, ValidationError, fields, post_load, validate,
                         validates_schema)

from services.intake.domain import (CHANNELS, CONTACT_CHANNELS, INTERPRETER, RELATIONS,
                                    URGENCIES, name_problem)
from shared.config import PARTNERS
from shared.reference import (CONSENT_METHODS, DISTRICTS, NEEDS, RESIDENCE_PURPOSES,
                              RESIDENCE_STATUSES, SITES, codes, districts_for_postcode,
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


def _one_of(allowed) -> validate.OneOf:
    allowed = codes(allowed) if allowed and hasattr(allowed[0], "code") else tuple(allowed)
    return validate.OneOf(allowed, error="Must be one of: " + ", ".join(allowed) + ".")


def _text(max_length: int, required: bool = True, **kw) -> fields.String:
    if required:
        return fields.String(required=True, validate=validate.Length(min=1, max=max_length), **kw)
    return fields.String(load_default=None, allow_none=True,
                         validate=validate.Length(max=max_length), **kw)


def _person_name(value: str) -> None:
    problem = name_problem(value)
    if problem:
        raise ValidationError(problem)


def _name(**kw) -> fields.String:
    """A person's name (given or family, passport or other spelling, household member)."""
    return fields.String(required=True, validate=[validate.Length(max=200), _person_name],
                         **kw)


class OtherNameSchema(StrictSchema):
    given_name = _name()
    family_name = _name()


class AddressSchema(StrictSchema):
    street = _text(200)
    postcode = fields.String(required=True, validate=validate.Regexp(
        r"^\d{5}$", error="A German postcode has five digits."))
    city = _text(100)
    district = fields.String(load_default=None, allow_none=True, validate=_one_of(DISTRICTS),
                             metadata={"description": "the city district (Stadtbezirk); left "
                                       "out, it follows from the postcode where that lies in "
                                       "only one district"})

    @validates_schema
    def _district_matches_postcode(self, data, **kwargs):
        district, postcode = data.get("district"), data.get("postcode")
        if not district or not postcode:
            return
        candidates = districts_for_postcode(postcode)
        if not candidates:
            raise ValidationError(f"Postcode {postcode} is not in the city: leave the district "
                                  "empty.", "district")
        if district not in candidates:
            raise ValidationError(f"Postcode {postcode} lies in " + " or ".join(candidates)
                                  + f", not in {district}.", "district")


class ContactSchema(StrictSchema):
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(
        r"^\+?[0-9 ()/-]{5,30}$", error="Not a phone number (digits, spaces, + ( ) / -)."))
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=200))
    address = fields.Nested(AddressSchema, load_default=None, allow_none=True)
    no_fixed_address = fields.Boolean(load_default=False)
    preferred_channel = fields.String(load_default=None, allow_none=True,
                                      validate=_one_of(CONTACT_CHANNELS))

    @validates_schema
    def _address_or_none(self, data, **kwargs):
        if data.get("address") and data.get("no_fixed_address"):
            raise ValidationError("Give an address or 'no fixed address', not both.", "address")
        channel = data.get("preferred_channel")
        if channel in ("phone", "sms") and not data.get("phone"):
            raise ValidationError("The preferred channel needs a phone number.", "phone")
        if channel == "email" and not data.get("email"):
            raise ValidationError("The preferred channel needs an e-mail address.", "email")


class HouseholdMemberSchema(StrictSchema):
    given_name = _name()
    family_name = _name()
    relation = fields.String(required=True, validate=_one_of(RELATIONS))
    birth_date = fields.Date(required=True)


class PersonInSchema(StrictSchema):
    given_name = _name(metadata={"description": "exactly as in the passport"})
    family_name = _name(metadata={"description": "exactly as in the passport"})
    birth_date = fields.Date(required=True)
    nationality = fields.String(required=True, validate=_country)
    languages = fields.List(fields.String(validate=_language), required=True,
                            validate=validate.Length(min=1, max=10))
    other_names = fields.List(fields.Nested(OtherNameSchema), load_default=list,
                              validate=validate.Length(max=10),
                              metadata={"description": "other spellings, native script"})
    nationalities = fields.List(fields.String(validate=_country), load_default=list,
                                validate=validate.Length(max=5),
                                metadata={"description": "further nationalities"})
    preferred_language = fields.String(load_default=None, allow_none=True, validate=_language)
    interpreter = fields.String(load_default="none", validate=_one_of(INTERPRETER))
    contact = fields.Nested(ContactSchema, load_default=None, allow_none=True)
    household = fields.List(fields.Nested(HouseholdMemberSchema), load_default=list,
                            validate=validate.Length(max=20))


class ResidenceSchema(StrictSchema):
    legal_basis = _text(100, required=False, metadata={"example": "§ 24 AufenthG"})
    document_type = _text(60, required=False, metadata={"example": "eAT"})
    valid_until = fields.Date(load_default=None, allow_none=True)
    first_issue_date = fields.Date(load_default=None, allow_none=True)
    purpose = fields.String(load_default=None, allow_none=True,
                            validate=_one_of(RESIDENCE_PURPOSES), metadata={
                                "description": "why the person is in Germany, as benefits law "
                                               "asks (job-seeking alone excludes SGB II)"})


class FactsResidenceSchema(StrictSchema):
    first_issue_date = fields.Date(load_default=None, allow_none=True)
    purpose = fields.String(load_default=None, allow_none=True,
                            validate=_one_of(RESIDENCE_PURPOSES))


class IntakeFactsInSchema(StrictSchema):
    """Routing facts the consultation left out, named as in an intake; at least one. A fact
    recorded already is not changed here (a new consultation records a change)."""

    residence = fields.Nested(FactsResidenceSchema, load_default=dict)
    arrival_date = fields.Date(load_default=None, allow_none=True)

    @validates_schema
    def _some_fact(self, data, **kwargs):
        residence = data.get("residence") or {}
        if data.get("arrival_date") is None and not any(residence.values()):
            raise ValidationError("Give at least one fact: residence.first_issue_date, "
                                  "residence.purpose or arrival_date.")

    @post_load
    def _as_facts(self, data, **kwargs):
        residence = data.get("residence") or {}
        return {"first_issue_date": residence.get("first_issue_date"),
                "purpose": residence.get("purpose"), "arrival_date": data.get("arrival_date")}


class NeedSchema(StrictSchema):
    code = fields.String(required=True, validate=_one_of(NEEDS))
    urgency = fields.String(load_default="normal", validate=_one_of(URGENCIES))
    note = _text(500, required=False)
    for_member = fields.Integer(load_default=None, allow_none=True, strict=True,
                                validate=validate.Range(min=0, max=19), metadata={
        "description": "the household member the need is for: their index in "
                       "person.household, counted from 0 (a child's school place). Omitted: "
                       "the person, or the one household child the need fits"})


# Schemas on the intake's hot path are built once: an instance (with its nested schemas) can
# load any number of bodies, and building one costs more than a load.
NEED = NeedSchema()


class NeedField(fields.Field):
    """A need code, or an object with code, urgency and note."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = {"code": value}
        if not isinstance(value, dict):
            raise ValidationError("A need code or an object with a code.")
        return NEED.load(value)


class ConsentInSchema(StrictSchema):
    """Coarse consent: covers the partners the needs are routed to."""

    share_with_partners = fields.Boolean(required=True, truthy={True}, falsy={False})
    method = fields.String(required=True, validate=_one_of(CONSENT_METHODS))
    language = fields.String(required=True, validate=_language,
                             metadata={"description": "language of the information text"})
    information_version = _text(30, required=False)


class PartnerConsentSchema(StrictSchema):
    """Consent for one recipient partner and purpose."""

    partner = fields.String(required=True, validate=_one_of(PARTNERS))
    purpose = fields.String(load_default="referral", validate=validate.Length(min=1, max=60))
    method = fields.String(required=True, validate=_one_of(CONSENT_METHODS))
    language = fields.String(required=True, validate=_language)
    information_version = _text(30, required=False)


class IntakeInSchema(StrictSchema):
    person = fields.Nested(PersonInSchema, required=True)
    person_id = fields.UUID(load_default=None, allow_none=True,
                            metadata={"description": "a returning visitor's person id"})
    residence_status = fields.String(required=True, validate=_one_of(RESIDENCE_STATUSES))
    residence = fields.Nested(ResidenceSchema, load_default=None, allow_none=True)
    arrival_date = fields.Date(load_default=None, allow_none=True)
    site = fields.String(required=True, validate=_one_of(SITES))
    channel = fields.String(load_default="in_person", validate=_one_of(CHANNELS))
    notes = _text(2000, required=False)
    needs = fields.List(NeedField(), required=True, validate=validate.Length(max=len(NEEDS)))
    consent = fields.Nested(ConsentInSchema, load_default=None, allow_none=True)
    consents = fields.List(fields.Nested(PartnerConsentSchema), load_default=list,
                           validate=validate.Length(max=len(PARTNERS)))


class ConsultationInSchema(IntakeInSchema):
    """A returning visitor's new consultation; the person's details are confirmed again."""

    class Meta:
        unknown = RAISE
        exclude = ("person_id",)


class IdempotencyHeaderSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # every other header

    idempotency_key = fields.String(
        data_key="Idempotency-Key", load_default=None,
        validate=[validate.Length(min=1, max=255), validate.Regexp(
            r"^[!-~]+$", error="Visible ASCII characters only (e.g. a UUID).")],
        metadata={"description": "Repeat a request safely: the same key (per user) with the "
                  "same body answers the intake recorded the first time, with the same 201 "
                  "body, and records nothing new; with another body 409. Kept 24 hours."})


INTAKE_IN = IntakeInSchema()
CONSULTATION_IN = ConsultationInSchema()


# --- output ----------------------------------------------------------------------------------

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


class PartnerConsentOutSchema(Schema):
    id = fields.UUID()
    partner = fields.String(allow_none=True,
                            metadata={"description": "null: the partners the needs go to"})
    purpose = fields.String()
    method = fields.String()
    language = fields.String()
    information_version = fields.String(allow_none=True)
    given_at = fields.AwareDateTime()
    recorded_by = fields.String()
    derived_from = fields.UUID(allow_none=True)
    withdrawn_at = fields.AwareDateTime(allow_none=True)
    withdrawn_by = fields.String(allow_none=True)
    withdrawal_reason = fields.String(allow_none=True)
    valid = fields.Boolean()


class ReferralOutSchema(Schema):
    referral_id = fields.UUID()
    need = fields.String()
    partner = fields.String(allow_none=True)
    service = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "FHIR Task status code"})
    reason = fields.String(allow_none=True)
    partner_case_ref = fields.String(allow_none=True)
    updated_at = fields.AwareDateTime()
    overdue_since = fields.AwareDateTime(allow_none=True)
    appointment = fields.Dict(allow_none=True, metadata={
        "description": "booked by the partner: starts_at, location, bring (documents)"})
    for_member = fields.Integer(allow_none=True, metadata={
        "description": "the household member it is for (index in person.household); null: "
                       "the person"})


class NeedOutSchema(Schema):
    code = fields.String()
    urgency = fields.String()
    note = fields.String(allow_none=True)
    for_member = fields.Integer(allow_none=True, metadata={
        "description": "index in the person's household; null: the person"})


class IntakeOutSchema(Schema):
    id = fields.UUID()
    reference = fields.String()
    person_id = fields.UUID()
    person = fields.Nested(PersonOutSchema)
    residence_status = fields.String()
    site = fields.String()
    channel = fields.String()
    arrival_date = fields.Date(allow_none=True)
    notes = fields.String(allow_none=True)
    needs = fields.List(fields.String())
    need_details = fields.List(fields.Nested(NeedOutSchema))
    consent = fields.Nested(ConsentOutSchema)
    recorded_by = fields.String()
    recorded_at = fields.AwareDateTime()
    referrals = fields.List(fields.Nested(ReferralOutSchema))


class IntakePageSchema(Schema):
    items = fields.List(fields.Nested(IntakeOutSchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


MAX_PAGE = 1_000_000


class PageQuerySchema(StrictSchema):
    # bounded: the offset it makes must fit the database's integers
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class TokenRequestSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=60))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200),
                             load_only=True)


class TokenSchema(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    jti = fields.String(metadata={"description": "the token's id: what a revocation names"})
