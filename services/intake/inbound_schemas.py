"""HTTP contract of inbound referrals (/api/v1/inbound-referrals): the person as the intake
takes one (PersonInSchema), codes checked, unknown fields refused, the consent required."""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate

from services.intake.inbound import InboundStatus
from services.intake.schemas import (NeedField, NeedOutSchema, PersonInSchema, StrictSchema,
                                     _language, _one_of, _text)
from shared.reference import CONSENT_METHODS, NEEDS, RESIDENCE_STATUSES, SITES

PERSON_IN = PersonInSchema()


def _given(value: bool) -> None:
    if value is not True:
        raise ValidationError("The person's consent to passing their data to the centre is "
                              "required.")


class AttestedConsentInSchema(StrictSchema):
    """The sender attests that the person agreed, after the centre's information text."""

    given = fields.Boolean(required=True, truthy={True}, falsy={False}, validate=_given,
                           metadata={"description": "true: the person consented to passing "
                                                    "these data to the centre"})
    method = fields.String(required=True, validate=_one_of(CONSENT_METHODS))
    language = fields.String(required=True, validate=_language,
                             metadata={"description": "language of the information text"})
    information_version = _text(30, metadata={
        "description": "version of the information text the person was given"})


class InboundReferralInSchema(StrictSchema):
    person = fields.Nested(PersonInSchema, required=True)
    residence_status = fields.String(required=True, validate=_one_of(RESIDENCE_STATUSES))
    needs = fields.List(NeedField(), required=True,
                        validate=validate.Length(min=1, max=len(NEEDS)))
    message = _text(2000, required=False, metadata={"description": "a note to the centre"})
    consent = fields.Nested(AttestedConsentInSchema, required=True)


class StatusQuerySchema(StrictSchema):
    status = fields.String(load_default=None, allow_none=True,
                           validate=validate.OneOf([s.value for s in InboundStatus]))


class InviteInSchema(StrictSchema):
    date = fields.Date(required=True)
    time = fields.Time(required=True, format="%H:%M")
    site = fields.String(required=True, validate=_one_of(SITES))


class DeclineInSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class ArrivedInSchema(StrictSchema):
    intake_id = fields.UUID(required=True,
                            metadata={"description": "the intake recorded for the person"})


class AppointmentOutSchema(StrictSchema):
    date = fields.String()
    time = fields.String()
    site = fields.String()


class InboundReferralOutSchema(StrictSchema):
    id = fields.String()
    status = fields.String(validate=validate.OneOf([s.value for s in InboundStatus]))
    sender = fields.String(metadata={"description": "the referring partner's code"})
    sent_by = fields.String()
    person = fields.Dict()
    residence_status = fields.String()
    needs = fields.List(fields.Nested(NeedOutSchema))
    message = fields.String(allow_none=True)
    consent = fields.Dict()
    appointment = fields.Nested(AppointmentOutSchema, allow_none=True)
    decline_reason = fields.String(allow_none=True)
    intake_id = fields.String(allow_none=True, metadata={"description": "staff only"})
    person_id = fields.String(allow_none=True, metadata={"description": "staff only"})
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class InboundReferralListSchema(StrictSchema):
    items = fields.List(fields.Nested(InboundReferralOutSchema))
